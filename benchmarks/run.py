"""``make bench``: jaclab against PyTorch's own kernels, in time and peak memory, printed as ratios;
then how the cost of the softmax gradient grows with K for four methods (scaling.py); then how
long one slider move takes in jaclab.explore, in Python and in the browser.

float32 on CPU. Both sides of every comparison run in the same process, on the same
inputs, in interleaved rounds (see harness.time_interleaved); times are medians.
A ratio is always jaclab / PyTorch, so below 1 means jaclab is faster or smaller.
The explorer's update times are absolute (milliseconds per update), with absolute targets.

This prints figures; it is not a test and asserts nothing about speed. It does check
that both sides of each comparison compute the same numbers before timing them.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.autograd.functional import jacobian as autograd_jacobian

import jaclab
from jaclab import _validate
from jaclab.explore import panel_html
from jaclab.products import apply_jacobian

from jaclab_benchmarks.harness import (
    MiB,
    Skipped,
    busy_warning,
    machine_header,
    offline_page,
    peak_memory,
    time_interleaved,
)
from jaclab_benchmarks.scaling import (
    METHODS,
    format_table,
    measure_scaling,
    plot_scaling,
    polynomial_degree,
    series,
)

VJP_SHAPES = [(256, 4096), (4096, 1000)]
VJP_TARGET = 1.5  # jaclab.softmax_vjp may take at most 1.5× PyTorch's native backward
JAC_B, JAC_K = 64, 256
SCALING_B, SCALING_KS = 64, [16, 32, 64, 128, 256, 512, 1024]  # the chapter runs B=64, K=8..256
SCALING_BUDGET_S = 15.0
EXPLORER_K = 8  # the most classes the explorer offers: its slowest update
EXPLORER_PY_TARGET_MS = 50.0  # one slider move in the Python widget: recompute, redraw, PNG
EXPLORER_JS_TARGET_MS = 5.0  # one slider move in the book's static panel: recompute, DOM
EXPLORER_PY_MOVES = 50
EXPLORER_JS_MOVES = 200


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


@dataclass
class Timing:
    """One explorer update time against an absolute target (not a ratio)."""

    name: str  # e.g. "explorer K=8 Python"
    label: str  # what was timed
    ms: float | None  # the median in milliseconds; None when the measurement was skipped
    target_ms: float  # met when ms <= target_ms
    detail: str = ""  # how it was measured
    skipped: str = ""  # why it was skipped

    @property
    def met(self) -> bool:
        return self.ms is not None and self.ms <= self.target_ms


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


def timing_line(t: Timing) -> str:
    if t.ms is None:
        return f"{t.name:<20} {t.label}: skipped: {t.skipped}"
    verdict = "OK" if t.met else "MISSED"
    return (
        f"{t.name:<20} {t.label}: median {t.ms:.3g} ms per update "
        f"(target ≤ {t.target_ms:g} ms) {verdict} | {t.detail}"
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


def bench_explorer_python(K: int) -> Timing:
    """jaclab.explore's Python widget: one logit-slider move at K classes (recompute, redraw, PNG)."""
    median = jaclab.explore.bench_python_update(K=K, n=EXPLORER_PY_MOVES)
    result = Timing(
        f"explorer K={K} Python",
        "ipywidgets explorer",
        median,
        EXPLORER_PY_TARGET_MS,
        detail=f"median of {EXPLORER_PY_MOVES} logit-slider moves set from Python: the observer a drag "
        f"runs (jaclab, matplotlib redraw, PNG encode), without the websocket",
    )
    print(timing_line(result), flush=True)
    return result


def _drive_panel(page, K: int, moves: int) -> list[float]:
    """Switch the panel to K classes with its K button, then move its logit sliders with the
    keyboard; after every key press read the panel's data-last-update-ms. Returns the times."""
    page.wait_for_selector(".jx-panel[data-mounted][data-updates]")
    panel = page.locator(".jx-panel")
    pid = panel.get_attribute("id")
    panel.locator(f'button[data-k="{K}"]').click()
    if panel.get_attribute("data-k") != str(K):
        raise RuntimeError(f"the K={K} button did not switch the panel to {K} classes")
    read = "el => [Number(el.dataset.updates), Number(el.dataset.lastUpdateMs)]"
    updates, _ = panel.evaluate(read)
    times = []
    per_slider = -(-moves // K)  # ceil
    for i in range(K):
        page.locator(f"#{pid}-z{i}").focus()
        # One warm-up press, then right and left in turns: every press changes z_i by ±0.05.
        for j in range(per_slider + 1):
            page.keyboard.press("ArrowRight" if j % 2 == 0 else "ArrowLeft")
            count, last_ms = panel.evaluate(read)
            if count != updates + 1:
                raise RuntimeError(f"a key press on z{i + 1} updated the panel {count - updates} times, not once")
            updates = count
            if j > 0:
                times.append(last_ms)
    return times[:moves]


def bench_explorer_js(K: int) -> Timing:
    """The book's static panel in headless Chromium: one logit-slider move at K classes."""
    name, label = f"explorer K={K} JS", "static panel in Chromium"
    ex = jaclab.explore()  # the default explorer; its panel starts at K = 4
    body = panel_html(ex.z.tolist(), ex.temperature, ex.g.tolist())
    with tempfile.TemporaryDirectory(prefix="jaclab-bench-") as tmp:
        path = Path(tmp) / "panel.html"
        path.write_text(
            f'<!doctype html><html><head><meta charset="utf-8"><title>jaclab.explore panel</title></head>'
            f"<body>{body}</body></html>",
            encoding="utf-8",
        )
        try:
            with offline_page(path) as (page, blocked):
                times = _drive_panel(page, K, EXPLORER_JS_MOVES)
        except Skipped as why:
            result = Timing(name, label, None, EXPLORER_JS_TARGET_MS, skipped=str(why))
            print(timing_line(result), flush=True)
            return result
    deciles = statistics.quantiles(times, n=10)
    result = Timing(
        name,
        label,
        statistics.median(times),
        EXPLORER_JS_TARGET_MS,
        detail=f"median of {len(times)} keyboard moves of the {K} logit sliders (p90 {deciles[-1]:.2g} ms, "
        f"max {max(times):.2g} ms), read from the panel's data-last-update-ms: recompute and DOM "
        f"writes, not layout or paint; Chromium's clock ticks in 0.1 ms; "
        f"{len(blocked)} network requests blocked",
    )
    print(timing_line(result), flush=True)
    return result


def bench_scaling(B: int, Ks: list[int]) -> None:
    """The cost of the softmax gradient against K: the full-size table of benchmarks/scaling.py, and its figure."""
    t0 = time.perf_counter()
    rows = measure_scaling(Ks, B, budget_s=SCALING_BUDGET_S, min_rounds=3)
    print(format_table(rows))
    degrees = []
    for m in METHODS:
        degrees.append(f"{m}: peak memory {polynomial_degree(*series(rows, m, 'peak_bytes'))}, "
                       f"elements {polynomial_degree(*series(rows, m, 'elements'))}")
    print("exact polynomial degree in K (deterministic): " + "; ".join(degrees))
    path = Path(tempfile.gettempdir()) / "jaclab-bench-scaling.png"
    plot_scaling(rows, fields=("seconds", "peak_bytes", "elements")).savefig(path, dpi=110)
    print(f"figure: {path} (took {time.perf_counter() - t0:.0f} s)", flush=True)


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

    print(
        f"\nScaling: the gradient J^T g of softmax for B={SCALING_B} rows, from logits z and upstream gradient g, "
        f"against K; float32, one intra-op thread (benchmarks/scaling.py)."
    )
    for name, what in METHODS.items():
        print(f"  {name:<15} {what}")
    bench_scaling(SCALING_B, SCALING_KS)

    print(
        f"\nExplorer: one logit-slider move in jaclab.explore at K={EXPLORER_K}, the most classes it offers.\n"
        f"  Python: the ipywidgets explorer recomputes with jaclab, redraws its matplotlib figure and encodes "
        f"a PNG (jaclab.explore.bench_python_update).\n"
        f"  JS: the book's static panel (jaclab.explore's panel_html) in headless Chromium, offline, switched to "
        f"K={EXPLORER_K} with its own K button and driven with the keyboard."
    )
    timings = [bench_explorer_python(EXPLORER_K), bench_explorer_js(EXPLORER_K)]

    print("\nTargets")
    for r in results:
        verdict = "OK    " if r.met else "MISSED"
        print(
            f"  {verdict} {r.name}: {r.ours.label} / {r.theirs.label} time ratio "
            f"{r.time_ratio:.2f} (target {r.target_text})"
            + (f"; {r.note}" if r.note and not r.met else "")
        )
    for t in timings:
        if t.ms is None:
            print(f"  SKIPPED {t.name}: {t.skipped}")
        else:
            verdict = "OK    " if t.met else "MISSED"
            print(f"  {verdict} {t.name}: {t.label} median {t.ms:.3g} ms per update (target ≤ {t.target_ms:g} ms)")
    measured = len(results) + sum(t.ms is not None for t in timings)
    met = sum(r.met for r in results) + sum(t.met for t in timings)
    skipped = len(timings) + len(results) - measured
    print(
        f"{met} of {measured} targets met" + (f" ({skipped} skipped)" if skipped else "")
        + f"; benchmark took {time.perf_counter() - start:.0f} s; "
        f"load average at the end {os.getloadavg()[0]:.2f}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
