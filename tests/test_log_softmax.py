"""jaclab.log_softmax and jaclab.log_softmax_jacobian: log σ(z/T) computed without log(σ), and its Jacobian (I − 1σᵀ)/T."""

import math

import numpy as np
import pytest
import torch
from _strategies import (
    FLOAT_DTYPES,
    NEG_INF,
    NUMPY_FLOAT_DTYPES,
    call_unchanged,
    compute_dtype,
    fewer_examples,
    logits,
    tol,
)
from hypothesis import given
from hypothesis import strategies as st

import jaclab

#: Temperatures from 10^-2 to 10^2 on a log scale, with T = 1 (the plain softmax) drawn often.
temperatures = st.one_of(st.just(1.0), st.floats(-2.0, 2.0).map(lambda e: 10.0**e))


def batch_shape(case):
    shape = list(case.z.shape)
    del shape[case.dim]
    return tuple(shape)


def log_softmax64(z, dim, T=1.0):
    """The reference: torch.log_softmax of z/T in float64."""
    return torch.log_softmax(z.double() / T, dim=dim)


def log_tol(dtype, K, ref):
    """Tolerance for log-probabilities: rounding is relative to their size, |log σ| can be large."""
    eps_c, eps_d = torch.finfo(compute_dtype(dtype)).eps, torch.finfo(dtype).eps
    return (8 * (K + 1) * eps_c + eps_d) * (1 + ref.abs())


def L64(z, dim, T=1.0):
    """(δ_ij − σ_j)/T element by element in float64, batch axes first and (K, K) last."""
    s = torch.softmax(z.double() / T, dim=dim).movedim(dim, -1)
    K = s.shape[-1]
    return (torch.eye(K, dtype=torch.float64) - s[..., None, :]) / T


# ---- log_softmax: values ---------------------------------------------------------------------


@given(logits(), temperatures)
def test_log_softmax_matches_torch_log_softmax(case, T):
    out = jaclab.log_softmax(case.z, dim=case.dim, temperature=T)
    assert out.shape == case.z.shape and out.dtype == case.dtype
    ref = log_softmax64(case.z, case.dim, T)
    masked = torch.isneginf(ref)
    assert torch.equal(torch.isneginf(out), masked)
    err = (out.double() - ref).abs()[~masked]
    assert torch.all(err <= log_tol(case.dtype, case.K, ref)[~masked]), err.max()


@given(logits(masks=True), temperatures)
def test_log_softmax_is_minus_inf_exactly_at_the_masks_and_finite_elsewhere(case, T):
    """Every finite logit has a finite log-probability, even when its probability underflows to 0."""
    out = jaclab.log_softmax(case.z, dim=case.dim, temperature=T)
    assert torch.equal(torch.isneginf(out), torch.isneginf(case.z))
    assert torch.isfinite(out[torch.isfinite(case.z)]).all()
    assert torch.all(out <= 0)


@given(logits(dtypes=(torch.float64, torch.float32), max_abs=30.0), temperatures)
def test_exp_of_log_softmax_is_softmax(case, T):
    out = jaclab.log_softmax(case.z, dim=case.dim, temperature=T).double().exp()
    sigma = jaclab.softmax(case.z, dim=case.dim, temperature=T).double()
    assert torch.allclose(out, sigma, rtol=0, atol=tol(case.dtype, case.K))


@pytest.mark.parametrize("dtype, gap", [(torch.float32, 200.0), (torch.float64, 800.0)])
def test_log_softmax_stays_finite_where_log_of_softmax_is_minus_inf(dtype, gap):
    z = torch.tensor([0.0, -gap], dtype=dtype)
    assert torch.log(jaclab.softmax(z))[1] == NEG_INF  # the probability underflows to 0
    out = jaclab.log_softmax(z)
    assert torch.equal(out, torch.tensor([0.0, -gap], dtype=dtype))  # log σ = (0, −gap) to rounding
    assert torch.equal(out, torch.log_softmax(z, dim=-1))


def test_log_softmax_is_shift_invariant():
    z = torch.tensor([[1.0, -2.0, 0.5], [1e4, 1e4 - 3.0, -1e4]], dtype=torch.float64)
    for c in [-1e3, 0.0, 7.5]:
        assert torch.allclose(jaclab.log_softmax(z + c), jaclab.log_softmax(z), rtol=0, atol=1e-12)


def test_log_softmax_docstring_example():
    assert torch.equal(jaclab.log_softmax(torch.tensor([0.0, -200.0])), torch.tensor([0.0, -200.0]))


def test_one_class_has_log_probability_zero():
    assert torch.equal(jaclab.log_softmax(torch.tensor([[7.0], [-3.0]])), torch.zeros(2, 1))


@fewer_examples
@given(st.sampled_from([0.3, 1.0, 4.0]), st.integers(0, 2**16))
def test_log_softmax_is_differentiable_and_passes_gradcheck(T, seed):
    """Autograd through jaclab.log_softmax gives the right derivatives (the detached max is harmless)."""
    z = (3 * torch.randn(3, 5, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)).requires_grad_()
    def f(x):
        return jaclab.log_softmax(x, dim=1, temperature=T)

    assert torch.autograd.gradcheck(f, (z,)) and torch.autograd.gradgradcheck(f, (z,))


# ---- log_softmax_jacobian ---------------------------------------------------------------------


@given(logits(), temperatures)
def test_log_softmax_jacobian_shape_is_input_shape_without_dim_then_K_by_K(case, T):
    L = jaclab.log_softmax_jacobian(case.z, dim=case.dim, temperature=T)
    assert L.shape == batch_shape(case) + (case.K, case.K)
    assert L.dtype == case.dtype


def test_log_softmax_jacobian_of_3_4_5_along_dim_1_has_shape_3_5_4_4():
    z = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    L = jaclab.log_softmax_jacobian(z, dim=1, temperature=0.7)
    assert L.shape == (3, 5, 4, 4)
    for b in range(3):
        for c in range(5):
            assert torch.equal(L[b, c], jaclab.log_softmax_jacobian(z[b, :, c], temperature=0.7))


@given(logits(), temperatures)
def test_log_softmax_jacobian_matches_float64_formula(case, T):
    """∂ log σ_i / ∂z_j = (δ_ij − σ_j)/T with σ = torch.softmax(z/T)."""
    L = jaclab.log_softmax_jacobian(case.z, dim=case.dim, temperature=T).double()
    err = (L - L64(case.z, case.dim, T)).abs().max().item() if L.numel() else 0.0
    assert err <= tol(case.dtype, case.K) / T, err


@fewer_examples
@given(logits(dtypes=(torch.float64, torch.float32)), temperatures)
def test_log_softmax_jacobian_matches_jacrev_of_torch_log_softmax(case, T):
    L = jaclab.log_softmax_jacobian(case.z, dim=case.dim, temperature=T).double()
    rows = case.z.double().movedim(case.dim, -1)
    K = rows.shape[-1]
    jac = torch.func.vmap(torch.func.jacrev(lambda v: torch.log_softmax(v / T, dim=-1)))
    ref = jac(rows.reshape(-1, K)).reshape(L.shape)
    err = (L - ref).abs().max().item() if L.numel() else 0.0
    assert err <= tol(case.dtype, case.K) / T, err


@given(logits(dtypes=(torch.float64,), max_abs=30.0), temperatures)
def test_rows_sum_to_zero_and_sigma_is_a_left_null_vector(case, T):
    """L·1 = 0 (a shift of every logit leaves log σ unchanged) and σᵀL = 0 (the score has mean zero)."""
    L = jaclab.log_softmax_jacobian(case.z, dim=case.dim, temperature=T)
    s = jaclab.softmax(case.z, dim=case.dim, temperature=T).movedim(case.dim, -1)
    atol = tol(case.dtype, case.K) / T
    assert torch.all(L.sum(dim=-1).abs() <= atol)
    assert torch.all((s.unsqueeze(-2) @ L).abs() <= atol)


@given(logits(dtypes=(torch.float64,), max_abs=30.0), temperatures)
def test_T_times_L_is_idempotent_with_eigenvalues_0_once_and_1(case, T):
    P = T * jaclab.log_softmax_jacobian(case.z, dim=case.dim, temperature=T)
    atol = 8 * tol(case.dtype, case.K)
    assert torch.allclose(P @ P, P, rtol=0, atol=atol)
    eig = torch.linalg.eigvals(P)
    assert torch.all(eig.imag.abs() <= atol)
    real = eig.real.sort(dim=-1).values
    expected = torch.ones_like(real)
    expected[..., 0] = 0
    assert torch.allclose(real, expected, rtol=0, atol=atol)


@given(logits(dtypes=(torch.float64, torch.float32)), temperatures)
def test_softmax_jacobian_is_diag_sigma_times_log_softmax_jacobian(case, T):
    """J_T = diag(σ_T) L_T: ∂σ_i = σ_i ∂ log σ_i."""
    J = jaclab.softmax_jacobian(case.z, dim=case.dim, temperature=T).double()
    L = jaclab.log_softmax_jacobian(case.z, dim=case.dim, temperature=T).double()
    s = jaclab.softmax(case.z, dim=case.dim, temperature=T).double().movedim(case.dim, -1)
    err = (J - s.unsqueeze(-1) * L).abs().max().item() if J.numel() else 0.0
    assert err <= tol(case.dtype, case.K) / T, err


@given(logits(masks=True, dtypes=(torch.float64, torch.float32)), temperatures)
def test_masked_class_has_column_e_j_over_T(case, T):
    """σ_j = 0 for a masked class j, so column j of L is e_j/T (as torch.log_softmax's backward gives)."""
    L = jaclab.log_softmax_jacobian(case.z, dim=case.dim, temperature=T)
    masked = torch.isneginf(case.z).movedim(case.dim, -1)
    eye = torch.eye(case.K, dtype=L.dtype) / T
    cols = (L - eye).masked_select(masked.unsqueeze(-2).expand_as(L))
    assert torch.isfinite(L).all() and torch.all(cols.abs() <= tol(case.dtype, case.K) / T)


def test_log_softmax_jacobian_docstring_example():
    L = jaclab.log_softmax_jacobian(torch.tensor([0.0, 0.0]))
    assert torch.equal(L, torch.tensor([[0.5, -0.5], [-0.5, 0.5]]))


def test_log_softmax_jacobian_is_not_symmetric_unless_sigma_is_uniform():
    L = jaclab.log_softmax_jacobian(torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64))
    assert (L - L.T).abs().max() > 0.1
    U = jaclab.log_softmax_jacobian(torch.full((4,), 2.5, dtype=torch.float64))
    assert torch.allclose(U, U.T, rtol=0, atol=1e-16)


def test_one_class_has_the_zero_log_softmax_jacobian_and_empty_batches_stay_empty():
    assert torch.equal(jaclab.log_softmax_jacobian(torch.tensor([[7.0], [-3.0]])), torch.zeros(2, 1, 1))
    assert jaclab.log_softmax_jacobian(torch.zeros(0, 3)).shape == (0, 3, 3)
    assert jaclab.log_softmax(torch.zeros(0, 3)).shape == (0, 3)


# ---- containers, dtypes, the caller's data, errors --------------------------------------------

FUNCTIONS = [jaclab.log_softmax, jaclab.log_softmax_jacobian]


# Half precision (computed in float32, returned in the input dtype) is tested for every
# temperature-taking function at once, these two included, in tests/test_temperature.py.


@pytest.mark.parametrize("dtype", NUMPY_FLOAT_DTYPES)
def test_numpy_in_numpy_out_same_dtype(dtype):
    z = np.array([[0.5, -1.0, 2.0], [3.0, 3.0, NEG_INF]], dtype=dtype)
    out = jaclab.log_softmax(z, temperature=0.5)
    assert isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == (2, 3)
    ref = log_softmax64(torch.from_numpy(z), -1, 0.5).numpy()
    assert np.array_equal(np.isneginf(out), np.isneginf(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(out[finite], ref[finite], rtol=4 * float(np.finfo(dtype).eps), atol=1e-6)
    L = jaclab.log_softmax_jacobian(z, temperature=0.5)
    assert isinstance(L, np.ndarray) and L.dtype == dtype and L.shape == (2, 3, 3)
    np.testing.assert_allclose(L, L64(torch.from_numpy(z), -1, 0.5).numpy(), atol=2 * tol(torch.from_numpy(z).dtype, 3))


def test_list_input_is_accepted():
    out = jaclab.log_softmax([1, 2, 3])
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, np.array([1.0, 2.0, 3.0]) - math.log(math.e + math.e**2 + math.e**3), rtol=1e-15)


@pytest.mark.parametrize("fn", FUNCTIONS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("T", [1.0, 0.25])
def test_caller_data_is_never_modified(fn, dtype, T):
    z = torch.tensor([[0.3, NEG_INF, -2.0], [1e4, 5.0, -1e4]], dtype=torch.float64).to(dtype)
    call_unchanged(fn, z, dim=-1, temperature=T)
    call_unchanged(fn, z.T, dim=0, temperature=T)  # a non-contiguous view
    if dtype != torch.bfloat16:
        call_unchanged(fn, z.numpy(), dim=1, temperature=T)


@pytest.mark.parametrize("fn", FUNCTIONS)
@pytest.mark.parametrize(
    "z, error, message",
    [
        (torch.tensor([1.0, float("nan")]), ValueError, r"^z contains NaN \(first at index \(1,\)\)"),
        (torch.tensor([1.0, float("inf")]), ValueError, r"^z contains \+inf"),
        (torch.tensor([NEG_INF, NEG_INF]), ValueError, r"^z is all -inf"),
        (torch.tensor([1, 2]), TypeError, r"^z must have a floating dtype"),
        (torch.tensor(1.0), ValueError, r"^z is a 0-d scalar"),
    ],
    ids=["nan", "posinf", "all-masked", "int", "0-d"],
)
def test_bad_logits_are_rejected_with_the_shared_messages(fn, z, error, message):
    with pytest.raises(error, match=message):
        fn(z)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_dim_out_of_range_is_rejected(fn):
    with pytest.raises(ValueError, match=r"^dim=2 is out of range for z of shape \(2, 3\)"):
        fn(torch.zeros(2, 3), dim=2)
