"""benchmarks/scaling.py at a tiny size: the table's structure and its deterministic parts.

Times are only checked to be positive and finite: they are noisy and nothing here asserts a speed.
Peak memory and element counts are deterministic, so their growth with K is checked exactly.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch

import jaclab
from jaclab_benchmarks.harness import peak_memories, peak_memory
from jaclab_benchmarks.scaling import (
    METHODS,
    Measurement,
    autograd_jacobian_rows,
    count_ops,
    exact_polynomial,
    format_table,
    inputs,
    loglog_slope,
    measure_scaling,
    methods_for,
    plot_scaling,
    polynomial_degree,
    series,
    slopes,
)

KS, B = [4, 8, 16, 32], 8


@pytest.fixture(scope="module")
def rows() -> list[Measurement]:
    return measure_scaling(KS, B, budget_s=0.2, min_rounds=2)


def test_one_row_per_method_and_K_in_order(rows):
    assert [(r.method, r.K) for r in rows] == [(m, K) for m in METHODS for K in KS]
    assert all(r.B == B for r in rows)


def test_fields_have_the_right_types_and_signs(rows):
    for r in rows:
        assert isinstance(r.peak_bytes, int) and isinstance(r.elements, int)
        assert math.isfinite(r.seconds) and r.seconds > 0
        assert r.peak_bytes > 0 and r.elements > 0


def test_full_jacobian_memory_is_exactly_quadratic_with_J_inside(rows):
    itemsize = torch.float32.itemsize
    Ks, peaks = series(rows, "full Jacobian", "peak_bytes")
    c2 = exact_polynomial(Ks, peaks, 2)[2]
    # The K² coefficient is a whole number of B·itemsize: a whole number of (B, K, K) float32 tensors,
    # at least one (J itself) and at most a few.
    copies = c2 / (B * itemsize)
    assert copies.denominator == 1 and 1 <= copies <= 4
    assert all(p >= B * K * K * itemsize for K, p in zip(Ks, peaks))


def test_J_has_B_K_squared_entries():
    for K in KS:
        z, _ = inputs(B, K)
        J = jaclab.softmax_jacobian(z)
        assert J.shape == (B, K, K) and J.numel() * J.element_size() == B * K * K * 4


def test_vjp_memory_and_elements_are_exactly_linear(rows):
    for field in ("peak_bytes", "elements"):
        assert polynomial_degree(*series(rows, "VJP", field)) == 1


def test_jacobian_methods_are_exactly_quadratic(rows):
    for m in ("full Jacobian", "autograd loop", "vmap(jacrev)"):
        for field in ("peak_bytes", "elements"):
            assert polynomial_degree(*series(rows, m, field)) == 2, (m, field)


def test_memory_slopes(rows):
    upper = [r for r in rows if r.K >= 8]
    s = slopes(upper, "peak_bytes")
    assert abs(s["VJP"] - 1) < 0.15
    for m in ("full Jacobian", "autograd loop", "vmap(jacrev)"):
        assert abs(s[m] - 2) < 0.25, (m, s[m])


def test_the_loop_runs_one_softmax_backward_per_class():
    for K in (3, 7):
        z, g = inputs(B, K)
        fns = methods_for(z, g)
        assert count_ops(fns["autograd loop"]).ops["_softmax_backward_data"] == K
        assert count_ops(fns["VJP"]).ops["_softmax_backward_data"] == 0
        assert count_ops(fns["full Jacobian"]).ops["_softmax_backward_data"] == 0


def test_autograd_rows_are_the_jacobian():
    z, _ = inputs(5, 6, dtype=torch.float64)
    torch.testing.assert_close(autograd_jacobian_rows(z), jaclab.softmax_jacobian(z), rtol=0, atol=1e-15)


def test_methods_agree_and_leave_inputs_unchanged():
    z, g = inputs(4, 9, dtype=torch.float64)
    z0, g0 = z.clone(), g.clone()
    expected = jaclab.softmax_vjp(g, torch.softmax(z, -1))
    for name, fn in methods_for(z, g).items():
        torch.testing.assert_close(fn(), expected, rtol=0, atol=1e-14, msg=name)
    assert torch.equal(z, z0) and torch.equal(g, g0)


def test_count_ops_counts_reads_and_writes_not_views():
    a, b = torch.ones(3, 4), torch.ones(3, 4)
    assert count_ops(lambda: a + b).elements == 36  # two inputs and one output of 12 elements
    assert count_ops(lambda: a.unsqueeze(0).mT).elements == 0


def test_peak_memories_matches_peak_memory():
    fns = {"small": lambda: torch.empty(10, 100), "big": lambda: torch.empty(100, 1000, dtype=torch.float64)}
    for fn in fns.values():
        fn()
    assert peak_memories(fns) == {"small": 4000, "big": 800_000}
    assert peak_memory(fns["big"]) == 800_000


def test_exact_polynomial():
    xs = [1, 2, 3, 5, 8]
    assert exact_polynomial(xs, [3 * x * x - x + 7 for x in xs], 2) == [7, -1, 3]
    assert exact_polynomial(xs, [3 * x * x - x + 7 for x in xs], 1) is None
    assert exact_polynomial(xs, [x**3 for x in xs], 2) is None
    assert exact_polynomial([1, 2, 4], [Fraction(1, 2), 1, 2], 1) == [0, Fraction(1, 2)]
    assert polynomial_degree(xs, [5] * 5) == 0
    with pytest.raises(ValueError, match="cannot test a polynomial of degree 2"):
        exact_polynomial([1, 2, 3], [1, 4, 9], 2)


def test_loglog_slope_of_a_power_law():
    xs = [2.0, 4.0, 8.0, 16.0]
    assert loglog_slope(xs, [5 * x**1.5 for x in xs]) == pytest.approx(1.5)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown method"):
        measure_scaling([4], 2, budget_s=0.01, methods=["Newton"])


def test_threads_are_restored():
    before = torch.get_num_threads()
    measure_scaling([4, 8], 2, budget_s=0.01, methods=["VJP"], min_rounds=1)
    assert torch.get_num_threads() == before


def test_table_and_figure(rows):
    text = format_table(rows)
    assert text.count("\n") >= len(rows) and "slopes" in text
    fig = plot_scaling(rows, fields=("seconds", "peak_bytes", "elements"))
    assert len(fig.axes) == 3
    for ax in fig.axes:
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log" and ax.get_xlabel()
    labels = fig.axes[-1].get_legend_handles_labels()[1]
    assert set(METHODS) <= set(labels)
