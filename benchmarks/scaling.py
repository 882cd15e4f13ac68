r"""How the cost of the softmax gradient grows with the number of classes K, for four ways to compute it.

Every method turns the same logits ``z`` and upstream gradient ``g`` (both ``(B, K)``)
into the same gradient :math:`\partial L/\partial z = J^\top g`, one row per example:

* ``full Jacobian``: ``J = jaclab.softmax_jacobian(z)``, the ``(B, K, K)`` tensor, then
  :math:`J^\top g` by a batched matrix-vector product.
* ``VJP``: ``jaclab.softmax_vjp(g, jaclab.softmax(z))``, the O(K)-per-row formula
  :math:`\sigma \odot (g - \langle g, \sigma\rangle)`; no K×K matrix anywhere.
* ``autograd loop``: ``torch.softmax`` on a leaf copy of ``z``, then K calls of
  ``torch.autograd.grad(sigma[:, i].sum(), z, retain_graph=True)``; call i returns row i of
  every example's J. The rows fill a ``(B, K, K)`` tensor, then :math:`J^\top g` as above.
  This is the naive way to get a Jacobian out of reverse mode: K backward passes.
* ``vmap(jacrev)``: ``torch.func.vmap(torch.func.jacrev(row_softmax))(z)``, the same K
  backward passes batched into one, then :math:`J^\top g` as above.

:func:`measure_scaling` returns, for every method and K, the median time of one call, the
peak tensor memory of one call (harness.peak_memory) and the number of tensor elements its
PyTorch operations read and write (:func:`count_ops`). The last two are deterministic; the
time is not. :func:`plot_scaling` draws time and peak memory against K on log-log axes.

Imported by ``benchmarks/run.py`` (``make bench``), by the book's chapter on the cost of
Jacobians and by ``tests/test_benchmarks.py``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import torch
from matplotlib.figure import Figure
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import jaclab

from .harness import MiB, peak_memories, time_interleaved

#: The methods, in the order they are measured and drawn, with what each one computes.
METHODS: dict[str, str] = {
    "full Jacobian": "jaclab.softmax_jacobian(z), then J^T g (batched matmul)",
    "VJP": "jaclab.softmax_vjp(g, jaclab.softmax(z))",
    "autograd loop": "K x torch.autograd.grad(sigma[:, i].sum(), z, retain_graph=True) -> J, then J^T g",
    "vmap(jacrev)": "torch.func.vmap(torch.func.jacrev(row_softmax))(z), then J^T g",
}

#: Colours of the methods in :func:`plot_scaling` (colour-blind safe, legible on white).
COLOURS = {"full Jacobian": "#0072B2", "VJP": "#D55E00", "autograd loop": "#009E73", "vmap(jacrev)": "#CC79A7"}


@dataclass(frozen=True)
class Measurement:
    """One method at one K: a row of the table :func:`measure_scaling` returns."""

    method: str
    K: int
    B: int
    seconds: float  # median wall time of one call
    peak_bytes: int  # the most tensor memory held at once during one call, result included, inputs excluded
    elements: int  # tensor elements read plus written by the call's PyTorch operations (count_ops)


def _row_softmax(v: torch.Tensor) -> torch.Tensor:
    return torch.softmax(v, dim=-1)


_jacrev_rows = torch.func.vmap(torch.func.jacrev(_row_softmax))


def _apply(J: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """J^T g for every row: (B, K, K) and (B, K) -> (B, K)."""
    return (J.mT @ g.unsqueeze(-1)).squeeze(-1)


def full_jacobian(z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return _apply(jaclab.softmax_jacobian(z), g)


def vjp(z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return jaclab.softmax_vjp(g, jaclab.softmax(z))


def autograd_jacobian_rows(z: torch.Tensor) -> torch.Tensor:
    """J of every row of ``z``, by K reverse-mode passes.

    sigma[b, i] depends on row b of z only, so the gradient of
    sum_b sigma[b, i] is row i of every J_b: pass i fills J[:, i, :].
    """
    B, K = z.shape
    leaf = z.detach().requires_grad_()
    sigma = torch.softmax(leaf, dim=-1)
    J = torch.empty(B, K, K, dtype=z.dtype)
    for i in range(K):
        (J[:, i, :],) = torch.autograd.grad(sigma[:, i].sum(), leaf,
                                            retain_graph=True)
    return J


def autograd_loop(z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return _apply(autograd_jacobian_rows(z), g)


def vmap_jacrev(z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return _apply(_jacrev_rows(z), g)


_FUNCTIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "full Jacobian": full_jacobian,
    "VJP": vjp,
    "autograd loop": autograd_loop,
    "vmap(jacrev)": vmap_jacrev,
}


@dataclass(frozen=True)
class OpCount:
    """What :func:`count_ops` saw: the elements read plus written, and how often each operation ran."""

    elements: int
    ops: Counter


class _Counting(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.elements = 0
        self.ops: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.ops[func.overloadpacket.__name__] += 1
        if not func.is_view:  # a view reads and writes no element
            inputs, _ = tree_flatten((args, kwargs or {}))
            outputs, _ = tree_flatten(out)
            self.elements += sum(t.numel() for t in inputs + outputs if isinstance(t, torch.Tensor))
        return out


def count_ops(fn: Callable[[], object]) -> OpCount:
    """Run ``fn`` once and count, over every PyTorch (aten) operation it runs, backward passes included,
    the elements of its tensor arguments and results: a deterministic measure of memory traffic.

    View operations (``unsqueeze``, ``select``, ``expand``, ...) move no data and count zero elements,
    though they are listed in ``ops`` (operation name -> number of calls).
    """
    with _Counting() as mode:
        fn()
    return OpCount(mode.elements, mode.ops)


def inputs(B: int, K: int, *, dtype: torch.dtype = torch.float32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded logits ``z`` and upstream gradient ``g``, both ``(B, K)``."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + K)
    return torch.randn(B, K, generator=gen, dtype=dtype), torch.randn(B, K, generator=gen, dtype=dtype)


def methods_for(z: torch.Tensor, g: torch.Tensor, names: Iterable[str] = METHODS) -> dict[str, Callable[[], torch.Tensor]]:
    """The methods as argument-free calls on fixed ``z`` and ``g``, ready to time."""
    return {name: (lambda f=_FUNCTIONS[name]: f(z, g)) for name in names}


def measure_scaling(
    Ks: Sequence[int],
    B: int,
    *,
    budget_s: float,
    methods: Sequence[str] = tuple(METHODS),
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    min_rounds: int = 5,
    threads: int | None = 1,
) -> list[Measurement]:
    """Measure every method at every K, for a batch of B rows.

    At each K the methods first have to agree on J^T g (``torch.testing.assert_close``),
    then they are timed together in interleaved rounds (harness.time_interleaved, one
    warm-up call each) with ``budget_s / len(Ks)`` seconds per K; ``min_rounds`` rounds
    are run even when that takes longer. Then each method's peak memory
    (harness.peak_memories, one profiler session for all) and element count (:func:`count_ops`)
    are read from one call each.

    ``threads``: PyTorch's intra-op thread count during the measurement (restored after);
    one by default, so the curves show the arithmetic rather than thread scheduling, which
    on a busy machine inflates the many small multi-threaded ops of the loops most.
    ``None`` keeps the current setting.

    Returns one :class:`Measurement` per (method, K), ordered by method, then K.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
    saved_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        calls: dict[tuple[str, int], Callable[[], torch.Tensor]] = {}
        seconds: dict[tuple[str, int], float] = {}
        for K in Ks:
            z, g = inputs(B, K, dtype=dtype, seed=seed)
            fns = methods_for(z, g, methods)
            expected = vjp(z, g)
            for name, fn in fns.items():
                torch.testing.assert_close(fn(), expected, msg=lambda m, where=f"{name}, K={K}": f"{where}: {m}")
                calls[name, K] = fn
            medians = time_interleaved(fns, budget_s=budget_s / len(Ks), min_rounds=min_rounds, warmup=1)
            seconds.update({(name, K): t for name, t in medians.items()})
        peaks = peak_memories(calls)
        rows = [Measurement(name, K, B, seconds[name, K], peaks[name, K], count_ops(fn).elements)
                for (name, K), fn in calls.items()]
    finally:
        torch.set_num_threads(saved_threads)
    order = {m: i for i, m in enumerate(methods)}
    return sorted(rows, key=lambda r: (order[r.method], r.K))


def series(rows: Iterable[Measurement], method: str, field: str) -> tuple[list[int], list[float]]:
    """The Ks and the values of ``field`` (``"seconds"``, ``"peak_bytes"`` or ``"elements"``) of one method."""
    picked = sorted((r.K, getattr(r, field)) for r in rows if r.method == method)
    return [k for k, _ in picked], [v for _, v in picked]


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The least-squares slope of log y against log x: the p in y ≈ c x^p."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def slopes(rows: Iterable[Measurement], field: str, *, K_min: int = 0) -> dict[str, float]:
    """The log-log slope of ``field`` against K for every method, fitted on the K >= ``K_min``."""
    rows = [r for r in rows if r.K >= K_min]
    return {m: loglog_slope(*series(rows, m, field)) for m in dict.fromkeys(r.method for r in rows)}


def exact_polynomial(xs: Sequence[int], ys: Sequence[int], degree: int) -> list[Fraction] | None:
    """The coefficients [c0, c1, ...] of the polynomial of the given degree through all points (xs, ys),
    in exact rational arithmetic, or None when no such polynomial exists.

    The first ``degree + 1`` points determine it (Lagrange interpolation); every further point must lie on it.
    """
    if len(xs) < degree + 2:
        raise ValueError(f"{len(xs)} points cannot test a polynomial of degree {degree}: give at least {degree + 2}")
    px, py = [Fraction(x) for x in xs[: degree + 1]], [Fraction(y) for y in ys[: degree + 1]]
    coeffs = [Fraction(0)] * (degree + 1)
    for i, (xi, yi) in enumerate(zip(px, py)):
        basis = [Fraction(1)]  # the coefficients of prod_{j != i} (x - x_j) / (x_i - x_j)
        for j, xj in enumerate(px):
            if j != i:
                basis = [(a - xj * b) / (xi - xj) for a, b in zip([Fraction(0)] + basis, basis + [Fraction(0)])]
        coeffs = [c + yi * b for c, b in zip(coeffs, basis)]
    for x, y in zip(xs, ys):
        if sum(c * Fraction(x) ** k for k, c in enumerate(coeffs)) != y:
            return None
    return coeffs


def polynomial_degree(xs: Sequence[int], ys: Sequence[int], max_degree: int = 3) -> int | None:
    """The lowest degree d <= ``max_degree`` of a polynomial through all points, by :func:`exact_polynomial`;
    None when there is none (or too few points to tell)."""
    return next((d for d in range(max_degree + 1) if len(xs) >= d + 2 and exact_polynomial(xs, ys, d)), None)


def _time(seconds: float) -> str:
    return f"{seconds * 1e6:.3g} µs" if seconds < 1e-3 else f"{seconds * 1e3:.3g} ms"


def _bytes(n: int) -> str:
    return f"{n / 1024:.3g} KiB" if n < MiB else f"{n / MiB:.3g} MiB"


def format_table(rows: Sequence[Measurement]) -> str:
    """The table as text: one line per (method, K), then the fitted log-log slopes."""
    lines = [f"{'method':<15}{'K':>6}{'median time':>14}{'peak memory':>14}{'elements':>15}"]
    for r in rows:
        lines.append(f"{r.method:<15}{r.K:>6}{_time(r.seconds):>14}{_bytes(r.peak_bytes):>14}{r.elements:>15,}")
    Ks = sorted({r.K for r in rows})
    if len(Ks) >= 2:
        upper = Ks[len(Ks) // 2]
        t_all, t_up, m_all = slopes(rows, "seconds"), slopes(rows, "seconds", K_min=upper), slopes(rows, "peak_bytes")
        lines.append(f"log-log slopes against K: time (all K; K >= {upper}), peak memory (all K)")
        for m in t_all:
            lines.append(f"  {m:<15} time {t_all[m]:.2f}; {t_up[m]:.2f}   peak memory {m_all[m]:.2f}")
    return "\n".join(lines)


#: How :func:`plot_scaling` draws each field: scale factor, axis label, panel title.
_FIELDS = {
    "seconds": (1e3, "median time of one call (ms)", "Time"),
    "peak_bytes": (1 / MiB, "peak tensor memory (MiB)", "Peak memory"),
    "elements": (1.0, "elements read + written", "Memory traffic"),
}
_STYLES = {"full Jacobian": ("o", "-"), "VJP": ("s", "-"), "autograd loop": ("^", "--"), "vmap(jacrev)": ("D", "-.")}


def plot_scaling(rows: Sequence[Measurement], *, fields: Sequence[str] = ("seconds", "peak_bytes"),
                 title: str | None = None) -> Figure:
    """One log-log panel per field against K (``"seconds"``, ``"peak_bytes"``, ``"elements"``), one line per
    method, with grey reference lines ∝ K through the VJP's last point and ∝ K² through the full Jacobian's."""
    fig = Figure(figsize=(4.75 * len(fields), 3.8), facecolor="white", layout="constrained")
    axes = fig.subplots(1, len(fields), squeeze=False)[0]
    methods = list(dict.fromkeys(r.method for r in rows))
    all_Ks = sorted({r.K for r in rows})
    for ax, field in zip(axes, fields):
        scale, ylabel, name = _FIELDS[field]
        for m in methods:
            Ks, ys = series(rows, m, field)
            marker, line = _STYLES.get(m, ("o", "-"))
            ax.plot(Ks, [y * scale for y in ys], marker=marker, ls=line, color=COLOURS.get(m), label=m,
                    lw=1.6, ms=4.5, alpha=0.9)
        for ref, power, style in [("VJP", 1, ":"), ("full Jacobian", 2, (0, (6, 3)))]:
            if ref in methods:
                Ks, ys = series(rows, ref, field)
                K1, y1 = Ks[-1], ys[-1] * scale
                ax.plot(Ks, [y1 * (k / K1) ** power for k in Ks], ls=style, color="0.5", lw=1.1,
                        label=f"∝ K{'²' if power == 2 else ''} (reference)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(all_Ks, [str(k) for k in all_Ks])
        ax.minorticks_off()
        ax.set_xlabel("number of classes K")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{name} against K (B = {rows[0].B})", fontsize=11)
        ax.grid(True, which="major", alpha=0.3)
    axes[-1].legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title)
    return fig
