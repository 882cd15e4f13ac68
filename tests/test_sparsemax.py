"""jaclab.sparsemax, sparsemax_jacobian, sparsemax_vjp: the projection onto the simplex and its derivative."""

import numpy as np
import pytest
import torch
from _strategies import (
    FLOAT_DTYPES,
    HALF_DTYPES,
    NEG_INF,
    NUMPY_FLOAT_DTYPES,
    call_unchanged,
    compute_dtype,
    like,
    logits,
    tol,
)
from hypothesis import given
from hypothesis import strategies as st

import jaclab
from jaclab.sparsemax import project_onto_simplex

# ----------------------------------------------------------------------------------------------
# An independent reference: Michelot's algorithm, one row at a time in numpy float64
# ----------------------------------------------------------------------------------------------


def michelot_row(z: np.ndarray) -> tuple[np.ndarray, float]:
    """Projection of one row onto the simplex, and its threshold, without sorting.

    Start with every finite class, set tau to make those sum to 1, drop the classes at or below
    tau, and repeat until nothing is dropped (Michelot 1986). Each round removes at least one
    class or stops, and the kept set always contains the true support.
    """
    keep = np.isfinite(z)
    while True:
        tau = (z[keep].sum() - 1) / keep.sum()
        new = keep & (z > tau)
        if new.sum() == keep.sum():
            break
        keep = new
    p = np.where(keep, z - tau, 0.0)
    return p, tau


def reference(z: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(p, tau) in float64 for z as given (after rounding to its dtype); tau has dim removed."""
    rows = z.double().movedim(dim, -1).numpy()
    flat = rows.reshape(-1, rows.shape[-1])
    out = [michelot_row(r) for r in flat]
    p = np.array([o[0] for o in out]).reshape(rows.shape)
    tau = np.array([o[1] for o in out]).reshape(rows.shape[:-1])
    return torch.from_numpy(p).movedim(-1, dim), torch.from_numpy(tau)


def support_jacobian64(p: torch.Tensor) -> torch.Tensor:
    """diag(s) - s s^T/|S| in float64 from the support of p (class axis last), entry by entry."""
    s = (p > 0).double().numpy()
    K = s.shape[-1]
    size = s.sum(-1)[..., None, None]
    return torch.from_numpy(s[..., :, None] * (np.eye(K) - s[..., None, :] / size))


def value_tol(dtype, K, z):
    """p is exact up to rounding of the entries within 1 of the row maximum (they stay O(1 + |max|))."""
    finite = z.double()[torch.isfinite(z)]
    scale = 1.0 + (finite.abs().max().item() if finite.numel() else 0.0) * torch.finfo(compute_dtype(dtype)).eps
    return tol(dtype, K) * scale * 4


# ----------------------------------------------------------------------------------------------
# Values
# ----------------------------------------------------------------------------------------------


@given(logits())
def test_sparsemax_matches_michelot_reference(case):
    z, dim = case.z, case.dim
    p = jaclab.sparsemax(z, dim=dim)
    assert p.shape == z.shape and p.dtype == z.dtype
    expected, _ = reference(z, dim)
    err = (p.double() - expected).abs().max().item() if z.numel() else 0.0
    assert err <= value_tol(z.dtype, case.K, z), err


@given(logits(dtypes=(torch.float64, torch.float32)))
def test_kkt_conditions_hold(case):
    """p >= 0, sum 1, and one tau per row with z_i - p_i = tau on the support and z_j <= tau off it."""
    z, dim, K = case.z, case.dim, case.K
    p = jaclab.sparsemax(z, dim=dim).double()
    t = value_tol(z.dtype, K, z)
    assert (p >= 0).all()
    assert ((p.sum(dim) - 1).abs() <= t).all()
    zd = z.double()
    on = p > 0
    gap = torch.where(on, zd - p, NEG_INF)  # z_i - p_i on the support
    tau = gap.amax(dim, keepdim=True)
    assert ((zd - p - tau).abs()[on] <= t).all()  # the same tau for every supported class
    assert (zd[~on] <= tau.expand_as(zd)[~on] + t).all()  # no excluded class lies above tau


@given(logits(dtypes=(torch.float64,), max_abs=30.0, masks=False), st.integers(0, 2**32 - 1))
def test_sparsemax_is_the_closest_point_of_the_simplex(case, seed):
    """For every q in the simplex, ||p - z||^2 + ||q - p||^2 <= ||q - z||^2 (the obtuse-angle property)."""
    z, dim = case.z.movedim(case.dim, -1), -1
    p = jaclab.sparsemax(z, dim=dim)
    rng = np.random.default_rng(seed)
    q = torch.from_numpy(rng.dirichlet(np.full(case.K, 0.5), size=(64, *z.shape[:-1])))
    d_p = ((p - z) ** 2).sum(-1)
    d_q = ((q - z) ** 2).sum(-1)
    assert (d_p <= d_q + 1e-9).all()
    assert (d_p + ((q - p) ** 2).sum(-1) <= d_q + 1e-9 * (1 + d_q)).all()


@given(logits(dtypes=(torch.float64,), max_abs=1e3), st.floats(-1e3, 1e3))
def test_shift_invariance(case, shift):
    z, dim = case.z, case.dim
    p = jaclab.sparsemax(z, dim=dim)
    assert torch.allclose(jaclab.sparsemax(z + shift, dim=dim), p, rtol=0, atol=1e-9)


@given(logits(dtypes=(torch.float64, torch.float32)))
def test_logits_at_least_one_below_the_maximum_get_exactly_zero(case):
    z, dim = case.z, case.dim
    p = jaclab.sparsemax(z, dim=dim)
    far = z <= z.amax(dim, keepdim=True) - 1
    assert torch.all(p[far] == 0)


def test_gap_of_one_gives_one_hot_and_gap_below_one_gives_two_classes():
    z = torch.tensor([[2.0, 1.0, -5.0], [2.0, 1.5, -5.0]], dtype=torch.float64)
    p = jaclab.sparsemax(z)
    assert torch.equal(p, torch.tensor([[1.0, 0.0, 0.0], [0.75, 0.25, 0.0]], dtype=torch.float64))


@given(logits(dtypes=(torch.float64,), masks=True))
def test_masked_classes_get_exactly_zero_and_the_rest_is_sparsemax_of_the_finite_entries(case):
    z, dim = case.z.movedim(case.dim, -1), -1
    p = jaclab.sparsemax(z, dim=dim)
    masked = torch.isneginf(z)
    assert torch.isfinite(p).all()
    assert torch.all(p[masked] == 0)
    for row_z, row_p in zip(z.reshape(-1, case.K), p.reshape(-1, case.K)):
        keep = torch.isfinite(row_z)
        assert torch.allclose(row_p[keep], jaclab.sparsemax(row_z[keep]), rtol=0, atol=1e-12)


def test_large_logits_in_float32_do_not_overflow_or_lose_the_support():
    z = torch.tensor([1e4, 1e4 - 0.5, -1e4], dtype=torch.float32)
    p = jaclab.sparsemax(z)
    assert torch.allclose(p, torch.tensor([0.75, 0.25, 0.0]), atol=1e-6)
    huge = torch.tensor([3e38, 3e38, -3e38], dtype=torch.float32)
    assert torch.equal(jaclab.sparsemax(huge), torch.tensor([0.5, 0.5, 0.0]))


def test_batched_result_equals_row_by_row_along_any_dim():
    z = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    for dim in range(-3, 3):
        p = jaclab.sparsemax(z, dim=dim)
        rows = z.movedim(dim, -1).reshape(-1, z.shape[dim])
        by_row = torch.stack([jaclab.sparsemax(r) for r in rows])
        assert torch.equal(p.movedim(dim, -1).reshape(rows.shape), by_row)


# ----------------------------------------------------------------------------------------------
# The Jacobian
# ----------------------------------------------------------------------------------------------


def away_from_ties(z: torch.Tensor, dim: int, margin: float) -> torch.Tensor:
    """Rows (dim removed) whose finite logits all lie more than ``margin`` from tau: sparsemax is linear there."""
    _, tau = reference(z, dim)
    dist = (z.double().movedim(dim, -1) - tau[..., None]).abs()
    return (dist > margin).all(-1)


@given(logits(dtypes=(torch.float64,), max_abs=30.0))
def test_jacobian_equals_reverse_mode_autodiff_away_from_ties(case):
    """Reverse-mode autodiff through the sort-based forward pass gives the same J.

    Rows do not interact, so the Jacobian of the summed output holds every row's J.
    """
    z, dim = case.z, case.dim
    J = jaclab.sparsemax_jacobian(z, dim=dim)
    rows = z.movedim(dim, -1).reshape(-1, case.K)
    J_ad = torch.autograd.functional.jacobian(lambda x: project_onto_simplex(x).sum(0), rows)
    J_ad = J_ad.permute(1, 0, 2).reshape(J.shape)
    ok = away_from_ties(z, dim, 1e-9)
    assert torch.allclose(J[ok], J_ad[ok], rtol=0, atol=1e-12)


def test_jacobian_equals_finite_differences_of_the_reference():
    """Sparsemax is linear near a point away from ties, so central differences of Michelot's p are exact."""
    gen = torch.Generator().manual_seed(1)
    h = 1e-7
    for K in (2, 3, 5, 10, 40):
        z = torch.randn(20, K, generator=gen, dtype=torch.float64) * torch.logspace(-1, 1, 20)[:, None]
        ok = away_from_ties(z, -1, 10 * h)
        E = torch.eye(K, dtype=torch.float64) * h
        cols = [(reference(z + E[j], -1)[0] - reference(z - E[j], -1)[0]) / (2 * h) for j in range(K)]
        J_fd = torch.stack(cols, dim=-1)  # column j = dp/dz_j
        J = jaclab.sparsemax_jacobian(z)
        assert ok.sum() >= 15
        assert torch.allclose(J[ok], J_fd[ok], rtol=0, atol=1e-7)


@given(logits(dtypes=(torch.float64, torch.float32)))
def test_jacobian_is_diag_s_minus_s_s_transpose_over_support_size(case):
    z, dim = case.z, case.dim
    J = jaclab.sparsemax_jacobian(z, dim=dim)
    p = jaclab.sparsemax(z, dim=dim).movedim(dim, -1)
    assert J.shape == (*p.shape, case.K) and J.dtype == z.dtype
    assert torch.allclose(J.double(), support_jacobian64(p), rtol=0, atol=tol(z.dtype, case.K))


@given(logits(dtypes=(torch.float64,)))
def test_jacobian_is_a_symmetric_orthogonal_projection_with_eigenvalues_zero_and_one(case):
    z, dim, K = case.z, case.dim, case.K
    J = jaclab.sparsemax_jacobian(z, dim=dim)
    size = (jaclab.sparsemax(z, dim=dim) > 0).sum(dim)  # |S|, dim removed
    t = 8 * K * torch.finfo(torch.float64).eps
    assert torch.equal(J, J.mT)
    assert torch.allclose(J @ J, J, rtol=0, atol=t)
    assert (J.sum(-1).abs() <= t).all()  # J 1 = 0
    eig = torch.linalg.eigvalsh(J)
    ones = (eig - 1).abs() <= t
    assert (ones | (eig.abs() <= t)).all()  # every eigenvalue is 0 or 1
    assert torch.equal(ones.sum(-1), size - 1)  # rank |S| - 1
    spectral = torch.linalg.matrix_norm(J, ord=2)
    assert torch.allclose(spectral, (size >= 2).double(), rtol=0, atol=t)


@given(logits(dtypes=(torch.float64,)))
def test_rows_and_columns_outside_the_support_are_zero(case):
    """No gradient flows to a class outside the support, and a change in its logit moves nothing."""
    z, dim = case.z, case.dim
    J = jaclab.sparsemax_jacobian(z, dim=dim)
    off = jaclab.sparsemax(z, dim=dim).movedim(dim, -1) == 0
    assert torch.all(J.masked_select(off[..., :, None]) == 0)  # rows i with p_i = 0
    assert torch.all(J.masked_select(off[..., None, :]) == 0)  # columns j with p_j = 0


@given(logits(dtypes=(torch.float64,)))
def test_jacobian_is_support_size_times_softmax_jacobian_of_uniform_on_support(case):
    """diag(s) - s s^T/|S| = |S| (diag(u) - u u^T) with u = s/|S| = softmax of 0 on S and -inf off S."""
    z, dim = case.z, case.dim
    p = jaclab.sparsemax(z, dim=dim)
    on_support = torch.where(p > 0, 0.0, NEG_INF).to(torch.float64)
    size = (p > 0).sum(dim).double()[..., None, None]
    expected = size * jaclab.softmax_jacobian(on_support, dim=dim)
    assert torch.allclose(jaclab.sparsemax_jacobian(z, dim=dim), expected, rtol=0, atol=1e-14)


def test_jacobian_shape_follows_softmax_jacobian_convention():
    z = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(2))
    assert jaclab.sparsemax_jacobian(z, dim=1).shape == (3, 5, 4, 4)
    assert jaclab.sparsemax_jacobian(z).shape == (3, 4, 5, 5)
    J = jaclab.sparsemax_jacobian(z, dim=1)
    assert torch.equal(J[1, 2], jaclab.sparsemax_jacobian(z[1, :, 2]))


def test_jacobian_at_a_tie_leaves_the_tied_class_out():
    """At a tie z_i = tau the returned J is the limit as the tied logits decrease: they stay out of S."""
    z = torch.tensor([1.5, 0.5, 0.5, -3.0], dtype=torch.float64)  # tau = 0.5 = z_2 = z_3
    p = jaclab.sparsemax(z)
    assert torch.equal(p, torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64))
    J = jaclab.sparsemax_jacobian(z)
    assert torch.equal(J, torch.zeros(4, 4, dtype=torch.float64))
    below = z - 1e-6 * torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    assert torch.equal(jaclab.sparsemax_jacobian(below), J)  # the limit from below
    above = z + 1e-6 * torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    assert not torch.equal(jaclab.sparsemax_jacobian(above), J)  # from above, class 2 joins S


# ----------------------------------------------------------------------------------------------
# The VJP
# ----------------------------------------------------------------------------------------------


@st.composite
def problems(draw, **kwargs):
    """(z, dim, p, g): logits, their sparsemax in z's dtype, and an upstream gradient."""
    case = draw(logits(**kwargs))
    p = jaclab.sparsemax(case.z, dim=case.dim)
    return case.z, case.dim, p, like(draw, case.z)


def product_tol(dtype, K, g):
    return tol(dtype, K) * max(1.0, 2 * g.double().abs().max().item())


@given(problems())
def test_vjp_equals_J_transpose_times_g(prob):
    z, dim, p, g = prob
    vjp = jaclab.sparsemax_vjp(g, p, dim=dim)
    assert vjp.shape == p.shape and vjp.dtype == p.dtype
    J = support_jacobian64(p.movedim(dim, -1))
    expected = (J.mT @ g.double().movedim(dim, -1).unsqueeze(-1)).squeeze(-1).movedim(-1, dim)
    err = (vjp.double() - expected).abs().max().item() if z.numel() else 0.0
    assert err <= product_tol(p.dtype, p.shape[dim], g), err


@given(problems(dtypes=(torch.float64,), max_abs=30.0))
def test_vjp_equals_autograd_backward_through_the_forward_pass(prob):
    z, dim, p, g = prob
    zc = z.clone().requires_grad_()
    project_onto_simplex(zc, dim).backward(g)
    vjp = jaclab.sparsemax_vjp(g, p, dim=dim)
    ok = away_from_ties(z, dim, 1e-9).unsqueeze(dim).expand_as(z)
    assert torch.allclose(vjp[ok], zc.grad[ok], rtol=0, atol=product_tol(z.dtype, z.shape[dim], g))


@given(problems(dtypes=(torch.float64, torch.float32)))
def test_vjp_is_zero_outside_the_support_and_sums_to_zero(prob):
    _, dim, p, g = prob
    vjp = jaclab.sparsemax_vjp(g, p, dim=dim)
    assert torch.all(vjp[p == 0] == 0)
    K = p.shape[dim]
    assert (vjp.double().sum(dim).abs() <= K * product_tol(p.dtype, K, g)).all()


@pytest.mark.parametrize("dtype", HALF_DTYPES)
@given(data=st.data())
def test_half_precision_is_computed_in_float32_and_returned_in_input_dtype(dtype, data):
    case = data.draw(logits(dtypes=(dtype,), max_dims=2))
    z, dim = case.z, case.dim
    p = jaclab.sparsemax(z, dim=dim)
    assert p.dtype == dtype
    assert torch.equal(p, project_onto_simplex(z.float(), dim).to(dtype))
    J = jaclab.sparsemax_jacobian(z, dim=dim)
    assert J.dtype == dtype
    g = like(data.draw, z)
    vjp = jaclab.sparsemax_vjp(g, p, dim=dim)
    assert vjp.dtype == dtype
    s = (p > 0).float()
    out32 = s * (g.float() - (g.float() * s).sum(dim, keepdim=True) / s.sum(dim, keepdim=True))
    assert torch.equal(vjp, out32.to(dtype))


@pytest.mark.parametrize("dtype", NUMPY_FLOAT_DTYPES)
def test_numpy_in_numpy_out_same_dtype(dtype):
    z = np.array([[1.0, 0.5, -1.0], [0.0, -np.inf, 3.0]], dtype=dtype)
    p = jaclab.sparsemax(z)
    assert isinstance(p, np.ndarray) and p.dtype == dtype
    np.testing.assert_allclose(p, [[0.75, 0.25, 0.0], [0.0, 0.0, 1.0]], atol=np.finfo(dtype).eps)
    J = jaclab.sparsemax_jacobian(z)
    assert isinstance(J, np.ndarray) and J.dtype == dtype and J.shape == (2, 3, 3)
    np.testing.assert_allclose(J[0], [[0.5, -0.5, 0], [-0.5, 0.5, 0], [0, 0, 0]])
    vjp = jaclab.sparsemax_vjp(np.array([[1.0, 3.0, 7.0], [1.0, 2.0, 3.0]], dtype=dtype), p)
    assert isinstance(vjp, np.ndarray) and vjp.dtype == dtype
    np.testing.assert_allclose(vjp, [[-1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


def test_list_input_is_accepted():
    p = jaclab.sparsemax([1, 0.5, -1])
    assert isinstance(p, np.ndarray) and p.dtype == np.float64
    np.testing.assert_allclose(p, [0.75, 0.25, 0.0], rtol=1e-15)
    np.testing.assert_allclose(jaclab.sparsemax_vjp([2, 0, 5], [0.75, 0.25, 0.0]), [1.0, -1.0, 0.0])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_empty_batch_gives_empty_result(dtype):
    assert jaclab.sparsemax(torch.zeros(0, 3, dtype=dtype)).shape == (0, 3)
    assert jaclab.sparsemax_jacobian(torch.zeros(0, 3, dtype=dtype)).shape == (0, 3, 3)
    assert jaclab.sparsemax_vjp(torch.zeros(0, 3, dtype=dtype), torch.zeros(0, 3, dtype=dtype)).shape == (0, 3)


def test_inputs_are_unchanged_and_not_aliased():
    z = torch.tensor([[1.0, 0.5, -1.0], [0.0, NEG_INF, 3.0]])
    p = call_unchanged(jaclab.sparsemax, z)
    call_unchanged(jaclab.sparsemax_jacobian, z)
    call_unchanged(jaclab.sparsemax_vjp, torch.ones(2, 3), p)
    zn = z.numpy().copy()
    call_unchanged(jaclab.sparsemax, zn, dim=0)
    call_unchanged(jaclab.sparsemax_vjp, np.ones((2, 3)), p.numpy())
    one = torch.tensor([2.0])  # K = 1: p = (1)
    assert torch.equal(call_unchanged(jaclab.sparsemax, one), torch.ones(1))


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------

SPARSEMAX_Z = [jaclab.sparsemax, jaclab.sparsemax_jacobian]


@pytest.mark.parametrize("fn", SPARSEMAX_Z)
@pytest.mark.parametrize(
    "z, match",
    [
        ([1.0, float("nan"), 0.0], r"z contains NaN \(first at index \(1,\)\)"),
        ([1.0, float("inf"), 0.0], r"z contains \+inf \(first at index \(1,\)\); sparsemax of \+inf is undefined"),
        ([NEG_INF, NEG_INF], "^z is all -inf, so its sparsemax is undefined .*keep at least one finite logit"),
        ([[0.0, 1.0], [NEG_INF, NEG_INF]], r"row whose logits are all -inf: the row at index \(1,\).* Its sparsemax is undefined"),
        (np.array(3.0), "z is a 0-d scalar"),
        (np.zeros((2, 0)), "empty class axis"),
    ],
)
def test_bad_logits_are_rejected(fn, z, match):
    with pytest.raises(ValueError, match=match):
        fn(np.asarray(z) if not isinstance(z, np.ndarray) else z)


@pytest.mark.parametrize("fn", SPARSEMAX_Z)
def test_integer_logits_and_bad_dim_are_rejected(fn):
    with pytest.raises(TypeError, match=r"z must have a floating dtype.*torch.int64"):
        fn(torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"dim=2 is out of range for z of shape \(2, 3\)"):
        fn(torch.zeros(2, 3), dim=2)
    with pytest.raises(TypeError, match="dim must be an int; got float"):
        fn(torch.zeros(2, 3), dim=1.0)


def test_logits_passed_as_p_are_rejected():
    with pytest.raises(ValueError, match=r"^p has a negative entry \(-1\); it must be sparsemax probabilities along dim=0, not logits\. "
                       r"Pass jaclab.sparsemax\(z\) instead of z\.$"):
        jaclab.sparsemax_vjp(torch.ones(3), torch.tensor([1.0, 0.5, -1.0]))


@pytest.mark.parametrize("p", [[0.2, 0.2, 0.2], [0.5, 0.5 + 1e-3, 0.0], [1.0, 1.0, 0.0]])
def test_p_that_does_not_sum_to_one_is_rejected(p):
    with pytest.raises(ValueError, match=r"^p does not sum to 1 along dim=0 \(largest \|sum - 1\| = .*it must be sparsemax probabilities, not "
                       r"logits\. Pass jaclab.sparsemax\(z\) instead of z\.$"):
        jaclab.sparsemax_vjp(np.ones(3), np.array(p))


def test_p_sums_are_checked_along_dim():
    p = jaclab.sparsemax(torch.randn(3, 4, generator=torch.Generator().manual_seed(3)), dim=0)
    jaclab.sparsemax_vjp(torch.ones(3, 4), p, dim=0)
    with pytest.raises(ValueError, match="along dim=1"):
        jaclab.sparsemax_vjp(torch.ones(3, 4), p, dim=1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), NEG_INF])
def test_non_finite_p_or_gradient_is_rejected(bad):
    p = torch.tensor([0.5, 0.5, 0.0])
    p_bad = p.clone()
    p_bad[2] = bad
    with pytest.raises(ValueError, match="p contains NaN or inf; it must be a probability vector along dim=0"):
        jaclab.sparsemax_vjp(torch.ones(3), p_bad)
    g = torch.ones(3)
    g[1] = bad
    with pytest.raises(ValueError, match="grad_output contains NaN or inf; it must be finite"):
        jaclab.sparsemax_vjp(g, p)


@pytest.mark.parametrize("g_shape, p_shape", [((3,), (4,)), ((2, 3), (3, 2)), ((1, 3), (3,))])
def test_shape_mismatch_is_rejected_showing_both_shapes(g_shape, p_shape):
    p = torch.full(p_shape, 1.0 / p_shape[-1])
    with pytest.raises(ValueError, match="same shape") as info:
        jaclab.sparsemax_vjp(torch.zeros(g_shape), p)
    assert f"grad_output {g_shape}" in str(info.value) and f"p {p_shape}" in str(info.value)


def test_non_array_p_is_rejected():
    with pytest.raises(TypeError, match="p must be a torch.Tensor, a numpy array or a list of numbers; got str"):
        jaclab.sparsemax_vjp([1.0], "p")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("K", [2, 1000, 10_000])
def test_sparsemax_output_in_any_dtype_is_accepted_by_the_vjp(dtype, K):
    z = (torch.randn(4, K, generator=torch.Generator().manual_seed(K)) * 5).to(dtype)
    p = jaclab.sparsemax(z)
    vjp = jaclab.sparsemax_vjp(torch.ones_like(p), p)
    assert torch.all(vjp == 0)  # g = c 1 is orthogonal to every row of J
