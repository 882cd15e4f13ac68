"""``make bench``: jaclab against PyTorch's own kernels, in time and peak memory, printed as ratios.

float32 on CPU. Both sides of every comparison run in the same process, on the same
inputs, in interleaved rounds (see harness.time_interleaved); times are medians.
A ratio is always jaclab / PyTorch, so below 1 means jaclab is faster or smaller.

This prints figures; it is not a test and asserts nothing about speed. It does check
that both sides of each comparison compute the same numbers before timing them.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import torch
from torch.autograd.functional import jacobian as autograd_jacobian

import jaclab
from jaclab import _validate
from jaclab.products import apply_jacobian

from harness import MiB, busy_warning, machine_header, peak_memory, time_interleaved

VJP_SHAPES = [(256, 4096), (4096, 1000)]
VJP_TARGET = 1.5  # jaclab.softmax_vjp may take at most 1.5× PyTorch's native backward
JAC_B, JAC_K = 64, 256


@dataclass
class Side:
    label: str
    seconds: float  # median
    peak_bytes: int


@dataclass
class Result:
    name: str  # e.g. "vjp 256×4096"
    ours: Side
    theirs: Side
    target: float  # the time ratio must be <= target (vjp) or < target (jacobian)
    strict: bool  # True: ratio < target; False: ratio <= target
    note: str = ""  # printed after the verdict in the summary

    @property
    def time_ratio(self) -> float:
        return self.ours.seconds / self.theirs.seconds

    @property
    def memory_ratio(self) -> float:
        return self.ours.peak_bytes / self.theirs.peak_bytes

    @property
    def met(self) -> bool:
        r = self.time_ratio
        return r < self.target if self.strict else r <= self.target

    @property
    def target_text(self) -> str:
        return f"{'<' if self.strict else '≤'} {self.target:g}"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def mib(nbytes: int) -> str:
    return f"{nbytes / MiB:.3g} MiB"


def line(r: Result) -> str:
    verdict = "OK" if r.met else "MISSED"
    return (
        f"{r.name:<20} {r.ours.label} {ms(r.ours.seconds)}, peak {mib(r.ours.peak_bytes)} | "
        f"{r.theirs.label} {ms(r.theirs.seconds)}, peak {mib(r.theirs.peak_bytes)} | "
        f"time ratio {r.time_ratio:.2f} (target {r.target_text}) {verdict} | "
        f"memory ratio {r.memory_ratio:.2f}"
    )


def bench_vjp(B: int, K: int) -> Result:
    """jaclab.softmax_vjp(g, sigma) against torch._softmax_backward_data on the same (B, K) inputs."""
    gen = torch.Generator().manual_seed(B * K)
    sigma = torch.softmax(torch.randn(B, K, generator=gen), dim=-1)
    g = torch.randn(B, K, generator=gen)

    def ours():
        return jaclab.softmax_vjp(g, sigma)

    def theirs():
        return torch._softmax_backward_data(g, sigma, -1, torch.float32)

    # The two parts of ours, timed in the same rounds so the breakdown adds up.
    def validation():
        _validate.probabilities(sigma, -1)
        _validate.finite(g, -1, "grad_output")

    def arithmetic():
        return apply_jacobian(g, sigma, -1)

    torch.testing.assert_close(ours(), theirs())

    t = time_interleaved(
        {"ours": ours, "theirs": theirs, "validation": validation, "arithmetic": arithmetic},
        budget_s=6.0,
    )
    result = Result(
        f"vjp  B×K={B}×{K}",
        Side("jaclab.softmax_vjp", t["ours"], peak_memory(ours)),
        Side("torch._softmax_backward_data", t["theirs"], peak_memory(theirs)),
        VJP_TARGET,
        strict=False,
        note=f"of jaclab's {ms(t['ours'])}, input validation takes {ms(t['validation'])} and the "
        f"arithmetic {ms(t['arithmetic'])} (ratio {t['arithmetic'] / t['theirs']:.2f} on its own)",
    )
    print(line(result))
    print(
        f"{'':<20} └ inside jaclab.softmax_vjp: input validation {ms(t['validation'])}, "
        f"arithmetic (apply_jacobian) {ms(t['arithmetic'])}, peak {mib(peak_memory(arithmetic))}; "
        f"arithmetic alone vs torch: time ratio {t['arithmetic'] / t['theirs']:.2f}",
        flush=True,
    )
    return result


def bench_jacobian(B: int, K: int) -> list[Result]:
    """jaclab.softmax_jacobian(z) against PyTorch's two generic ways to get the (B, K, K) per-row Jacobians."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(B, K, generator=gen)

    def softmax_row(v):
        return torch.softmax(v, dim=-1)

    jac_rows = torch.func.vmap(torch.func.jacrev(softmax_row))

    def ours():
        return jaclab.softmax_jacobian(z)

    def func_vmap_jacrev():
        return jac_rows(z)

    def autograd_per_row():
        return torch.stack([autograd_jacobian(softmax_row, z[b], vectorize=True) for b in range(B)])

    expected = ours()
    torch.testing.assert_close(func_vmap_jacrev(), expected)
    torch.testing.assert_close(autograd_per_row(), expected)

    t = time_interleaved(
        {"ours": ours, "vmap": func_vmap_jacrev, "autograd": autograd_per_row},
        budget_s=12.0,
        min_rounds=5,
    )
    ours_side = Side("jaclab.softmax_jacobian", t["ours"], peak_memory(ours))
    results = [
        Result(
            f"jacobian B={B} K={K}",
            ours_side,
            Side("torch.func.vmap(jacrev(torch.softmax))", t["vmap"], peak_memory(func_vmap_jacrev)),
            1.0,
            strict=True,
        ),
        Result(
            f"jacobian B={B} K={K}",
            ours_side,
            Side(f"autograd.functional.jacobian ×{B} rows", t["autograd"], peak_memory(autograd_per_row)),
            1.0,
            strict=True,
        ),
    ]
    for r in results:
        print(line(r), flush=True)
    return results


def main() -> int:
    start = time.perf_counter()
    torch.manual_seed(0)
    print(machine_header())
    warning = busy_warning()
    if warning:
        print(warning)
    print(
        "float32, CPU. Times are medians of interleaved repeated runs after warm-up; peak = the most "
        "tensor memory held at once during one call (PyTorch CPU allocator, via torch.profiler), "
        "result included, inputs excluded. Ratios are jaclab / PyTorch."
    )
    probe = peak_memory(lambda: torch.empty(JAC_B, JAC_K, JAC_K))
    print(
        f"Memory method check: torch.empty({JAC_B}, {JAC_K}, {JAC_K}) peaks at {mib(probe)} "
        f"(expected {mib(JAC_B * JAC_K * JAC_K * 4)}).\n"
    )

    print(
        "VJP: jaclab.softmax_vjp(g, sigma) (input validation included) vs PyTorch's native softmax "
        "backward, torch._softmax_backward_data(g, sigma, -1, torch.float32), on the same inputs."
    )
    results = [bench_vjp(B, K) for B, K in VJP_SHAPES]

    full = JAC_B * JAC_K * JAC_K * 4
    print(
        f"\nJacobian: (B, K) = ({JAC_B}, {JAC_K}) logits → the (B, K, K) per-row Jacobians "
        f"({full / MiB:.3g} MiB in float32). jaclab.softmax_jacobian(z) vs\n"
        f"  torch.func.vmap(torch.func.jacrev(row_softmax))(z), and\n"
        f"  torch.stack([torch.autograd.functional.jacobian(row_softmax, z[b], vectorize=True) "
        f"for b in range({JAC_B})]): one row at a time, since\n"
        f"  jacobian(softmax, z) on the whole batch would build the (B, K, B, K) tensor "
        f"({JAC_B * JAC_K * JAC_B * JAC_K * 4 / 2**30:.3g} GiB), mostly cross-row zeros."
    )
    results += bench_jacobian(JAC_B, JAC_K)

    print("\nTargets")
    for r in results:
        verdict = "OK    " if r.met else "MISSED"
        print(
            f"  {verdict} {r.name}: {r.ours.label} / {r.theirs.label} time ratio "
            f"{r.time_ratio:.2f} (target {r.target_text})"
            + (f"; {r.note}" if r.note and not r.met else "")
        )
    met = sum(r.met for r in results)
    print(
        f"{met} of {len(results)} targets met; benchmark took {time.perf_counter() - start:.0f} s; "
        f"load average at the end {os.getloadavg()[0]:.2f}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
