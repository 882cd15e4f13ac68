"""jaclab.jacobian_eigenvalues / secular_function: the spectrum of J from the secular equation."""

import math

import mpmath
import numpy as np
import pytest
import torch
from _strategies import (
    FLOAT_DTYPES,
    HALF_DTYPES,
    NEG_INF,
    call_unchanged,
    compute_dtype,
    logit_vectors,
    logits,
    tol,
)
from hypothesis import given
from hypothesis import strategies as st

import jaclab


def eigvalsh_reference(z, dim=-1):
    """torch.linalg.eigvalsh of J, with J formed in float64 from sigma in jaclab's compute dtype."""
    s = torch.softmax(z.to(compute_dtype(z.dtype)), dim=dim).double().movedim(dim, -1)
    J = torch.diag_embed(s) - s.unsqueeze(-1) * s.unsqueeze(-2)
    return torch.linalg.eigvalsh(J)


def sorted_sigma(z, dim=-1):
    """jaclab's probabilities in its compute dtype, class axis last, sorted ascending.

    jaclab's own softmax, not torch.softmax: the two may differ in the last bit, and the exact
    interlacing checks compare the eigenvalues with the very probabilities they were computed from.
    """
    s = jaclab.softmax(z.to(compute_dtype(z.dtype)), dim=dim).movedim(dim, -1)
    return s.sort(dim=-1).values


def mp_eigenvalues(z):
    """Eigenvalues of J(z) in mpmath: sigma and J never touch float64.

    The precision covers the span of the logits: eigenvalues as small as exp(min z - max z)
    keep about 40 significant digits, although eigsy is accurate only relative to the largest.
    """
    mpmath.mp.dps = 40 + math.ceil((max(z) - min(z)) / math.log(10))
    e = [mpmath.exp(mpmath.mpf(x)) for x in z]
    total = sum(e)
    s = [x / total for x in e]
    K = len(s)
    J = mpmath.matrix(K, K)
    for i in range(K):
        for j in range(K):
            J[i, j] = (s[i] if i == j else 0) - s[i] * s[j]
    return sorted(mpmath.eigsy(J, eigvals_only=True))


# ----------------------------------------------------------------------------------------------
# Values
# ----------------------------------------------------------------------------------------------


@given(logits(dtypes=(torch.float64, torch.float32), max_dims=3, max_K=12))
def test_eigenvalues_equal_eigvalsh_of_the_formed_jacobian(case):
    lam = jaclab.jacobian_eigenvalues(case.z, dim=case.dim)
    ref = eigvalsh_reference(case.z, case.dim)
    assert lam.shape == ref.shape and lam.dtype == case.z.dtype
    err = (lam.double() - ref).abs().max().item() if lam.numel() else 0.0
    assert err <= tol(case.z.dtype, case.K), err


@given(logits(dtypes=(torch.float64, torch.float32), max_dims=2, max_K=12))
def test_eigenvalues_are_sorted_start_at_zero_and_interlace_with_the_sorted_probabilities(case):
    """lambda_1 = 0 exactly, and s_k <= lambda_{k+1} <= s_{k+1}, exactly, in the compute dtype."""
    lam = jaclab.jacobian_eigenvalues(case.z, dim=case.dim)
    s = sorted_sigma(case.z, case.dim)
    assert (lam[..., 0] == 0).all()
    assert (lam[..., 1:] >= s[..., :-1]).all() and (lam[..., 1:] <= s[..., 1:]).all()
    assert (lam.diff(dim=-1) >= 0).all()


@given(logits(dtypes=(torch.float64,), max_dims=2, max_K=12))
def test_eigenvalues_sum_to_one_minus_the_sum_of_squares(case):
    lam = jaclab.jacobian_eigenvalues(case.z, dim=case.dim)
    s = sorted_sigma(case.z, case.dim)
    trace = 1 - (s**2).sum(dim=-1)
    assert torch.allclose(lam.sum(dim=-1), trace, rtol=0, atol=tol(torch.float64, case.K))


@given(
    st.lists(st.sampled_from([0.0, -0.5, 1.0, 2.5, NEG_INF]), min_size=2, max_size=9).filter(
        lambda z: max(z) > NEG_INF
    )
)
def test_repeated_probabilities_are_eigenvalues_with_multiplicity_count_minus_one(z):
    """A probability shared by m classes is an eigenvalue m - 1 times, exactly; 0 is one plus the masks."""
    z = torch.tensor(z, dtype=torch.float64)
    sigma = jaclab.softmax(z)  # the probabilities jaclab computes, to compare exactly
    lam = jaclab.jacobian_eigenvalues(z)
    n_masked = int(torch.isneginf(z).sum())
    assert int((lam == 0).sum()) == 1 + n_masked
    for value in sigma[sigma > 0].unique():
        m = int((sigma == value).sum())
        assert int((lam == value).sum()) == m - 1, (value, m)
    assert torch.allclose(lam, eigvalsh_reference(z), rtol=0, atol=tol(torch.float64, len(z)))


@pytest.mark.parametrize(
    "z",
    [
        [0.0, -1.0, -30.0, -60.0],
        [0.0, 0.0, -20.0, -50.0, -700.0],
        [2.0, 1.0, -40.0, -40.5, -90.0, -200.0],
        [0.0, -650.0, -700.0],
    ],
)
def test_tiny_eigenvalues_have_full_relative_precision(z):
    """Against mpmath: eigenvalues far below eps (down to 1e-304) keep nearly all their digits."""
    lam = jaclab.jacobian_eigenvalues(torch.tensor(z, dtype=torch.float64))
    ref = mp_eigenvalues(z)
    assert lam[0] == 0 and abs(ref[0]) < 1e-40
    for got, want in zip(lam[1:].tolist(), ref[1:]):
        assert abs(got - float(want)) <= 64 * len(z) * 2.0**-52 * float(want), (got, want)


def test_relative_precision_is_what_eigvalsh_lacks():
    """eigvalsh misses the tiny eigenvalue by far more than jaclab does."""
    z = [0.0, -1.0, -30.0, -60.0]
    ref = float(mp_eigenvalues(z)[1])
    ours = jaclab.jacobian_eigenvalues(torch.tensor(z, dtype=torch.float64))[1].item()
    theirs = eigvalsh_reference(torch.tensor(z, dtype=torch.float64))[1].item()
    assert abs(ours - ref) / ref < 1e-13 < abs(theirs - ref) / ref


def test_known_spectra():
    """sigma = (1/2, 1/4, 1/4): {0, 1/4, 3/8}; uniform: {0, 1/K, ..., 1/K}; K = 2: {0, 2 s1 s2}."""
    lam = jaclab.jacobian_eigenvalues(torch.tensor([math.log(2), 0.0, 0.0], dtype=torch.float64))
    assert torch.allclose(lam, torch.tensor([0, 0.25, 0.375], dtype=torch.float64), rtol=0, atol=1e-16)
    lam = jaclab.jacobian_eigenvalues(torch.zeros(7, dtype=torch.float64))
    assert lam[0] == 0 and (lam[1:] == torch.softmax(torch.zeros(7, dtype=torch.float64), -1)[0]).all()
    z = torch.tensor([0.3, -1.2], dtype=torch.float64)
    s = torch.softmax(z, -1)
    assert torch.allclose(jaclab.jacobian_eigenvalues(z), torch.stack([s[0] * 0, 2 * s[0] * s[1]]), atol=1e-16)


def test_one_class_has_the_single_eigenvalue_zero():
    assert jaclab.jacobian_eigenvalues(torch.tensor([3.0])).tolist() == [0.0]
    assert jaclab.jacobian_eigenvalues(torch.tensor([[3.0], [-1.0]])).tolist() == [[0.0], [0.0]]


def test_large_K_matches_eigvalsh():
    z = 4 * torch.randn(150, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    lam = jaclab.jacobian_eigenvalues(z)
    assert torch.allclose(lam, eigvalsh_reference(z), rtol=0, atol=tol(torch.float64, 150))


# ----------------------------------------------------------------------------------------------
# Containers, dtypes, batching, immutability
# ----------------------------------------------------------------------------------------------


def test_batching_along_dim_equals_row_by_row():
    z = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    lam = jaclab.jacobian_eigenvalues(z, dim=1)
    assert lam.shape == (3, 4, 5)
    for i in range(3):
        for j in range(4):
            assert torch.equal(lam[i, j], jaclab.jacobian_eigenvalues(z[i, :, j]))


def test_empty_batch_gives_empty_result():
    assert jaclab.jacobian_eigenvalues(torch.zeros(0, 4)).shape == (0, 4)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_numpy_in_numpy_out(dtype):
    z = np.array([[0.5, -1.0, 2.0], [0.0, 0.0, -np.inf]], dtype=dtype)
    lam = call_unchanged(jaclab.jacobian_eigenvalues, z)
    assert isinstance(lam, np.ndarray) and lam.dtype == dtype and lam.shape == (2, 3)
    ref = eigvalsh_reference(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(lam.astype(np.float64), ref, rtol=0, atol=tol(torch.from_numpy(z).dtype, 3))


def test_a_list_gives_float64_numpy():
    lam = jaclab.jacobian_eigenvalues([[1, 0, 0]])
    assert isinstance(lam, np.ndarray) and lam.dtype == np.float64


@pytest.mark.parametrize("dtype", HALF_DTYPES)
def test_half_dtypes_are_computed_in_float32_and_returned_in_their_dtype(dtype):
    z = torch.tensor([[0.5, -1.0, 2.0, 0.0]], dtype=dtype)
    lam = jaclab.jacobian_eigenvalues(z)
    assert lam.dtype == dtype
    assert torch.equal(lam, jaclab.jacobian_eigenvalues(z.float()).to(dtype))


@given(logits(dtypes=FLOAT_DTYPES, max_dims=2, max_K=6))
def test_inputs_are_unchanged(case):
    call_unchanged(jaclab.jacobian_eigenvalues, case.z, dim=case.dim)


def test_result_carries_no_graph():
    z = torch.randn(4, dtype=torch.float64, requires_grad=True)
    lam = jaclab.jacobian_eigenvalues(z)
    assert not lam.requires_grad and z.grad is None


# ----------------------------------------------------------------------------------------------
# The secular function
# ----------------------------------------------------------------------------------------------


@given(logit_vectors(dtypes=(torch.float64,), min_K=2, max_K=8, max_abs=5.0, masks=False))
def test_secular_function_is_the_characteristic_polynomial_over_prod_sigma_minus_lambda(z):
    """f(lam) = det(J - lam I) / prod(sigma_i - lam), with the determinant formed by torch."""
    sigma = torch.softmax(z, -1)
    J = torch.diag(sigma) - torch.outer(sigma, sigma)
    lam = torch.tensor([-0.3, 0.61, 1.7], dtype=torch.float64)
    lam = lam[(sigma.unsqueeze(0) - lam.unsqueeze(1)).abs().amin(dim=1) > 1e-3]  # away from poles
    f = jaclab.secular_function(lam, sigma)
    det = torch.stack([torch.linalg.det(J - x * torch.eye(len(z), dtype=torch.float64)) for x in lam])
    expected = det / (sigma.unsqueeze(0) - lam.unsqueeze(1)).prod(dim=1)
    assert torch.allclose(f, expected, rtol=1e-9, atol=1e-12)


@given(logit_vectors(dtypes=(torch.float64,), min_K=2, max_K=10))
def test_secular_function_vanishes_at_zero_and_decreases_between_poles(z):
    sigma = torch.softmax(z, -1)
    K = len(z)
    assert abs(jaclab.secular_function(torch.zeros(1, dtype=torch.float64), sigma).item()) <= tol(torch.float64, K)
    lam = torch.linspace(-1, 2, 301, dtype=torch.float64)
    lam = lam[(sigma.unsqueeze(0) - lam.unsqueeze(1)).abs().amin(dim=1) > 1e-9]
    f = jaclab.secular_function(lam, sigma)
    poles = sigma[sigma > 0]
    same_interval = (lam[1:].unsqueeze(1) > poles).eq(lam[:-1].unsqueeze(1) > poles).all(dim=1)
    assert (f.diff()[same_interval] < 0).all()


def test_masked_classes_add_nothing_to_the_secular_function():
    sigma = torch.softmax(torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64), -1)
    padded = torch.cat([sigma, torch.zeros(2, dtype=torch.float64)])
    lam = torch.tensor([[-0.5, 0.0], [0.3, 0.9]], dtype=torch.float64)
    assert torch.equal(jaclab.secular_function(lam, padded), jaclab.secular_function(lam, sigma))
    assert jaclab.secular_function(lam, sigma).shape == (2, 2)


def test_secular_function_containers_and_immutability():
    sigma = np.array([0.5, 0.25, 0.25])
    lam = np.array([0.0, 0.375, 0.9])
    f = call_unchanged(jaclab.secular_function, lam, sigma)
    assert isinstance(f, np.ndarray) and f.dtype == np.float64
    np.testing.assert_allclose(f[:2], 0, atol=1e-15)
    f32 = jaclab.secular_function(torch.tensor([0.9], dtype=torch.float32), torch.tensor(sigma))
    assert f32.dtype == torch.float32  # returned like lam


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "z, error, message",
    [
        (torch.tensor([0.0, float("nan")]), ValueError, r"^z contains NaN \(first at index \(1,\)\)"),
        (torch.tensor([0.0, float("inf")]), ValueError, r"^z contains \+inf"),
        (torch.tensor([[0.0, 1.0], [NEG_INF, NEG_INF]]), ValueError, r"row whose logits are all -inf"),
        (torch.tensor([1, 2]), TypeError, r"^z must have a floating dtype"),
        (torch.tensor(1.0), ValueError, r"^z is a 0-d scalar"),
        ("logits", TypeError, r"^z must be a torch.Tensor, a numpy array or a list"),
    ],
)
def test_bad_logits_are_rejected(z, error, message):
    with pytest.raises(error, match=message):
        jaclab.jacobian_eigenvalues(z)


def test_bad_dim_is_rejected():
    with pytest.raises(ValueError, match=r"dim=2 is out of range"):
        jaclab.jacobian_eigenvalues(torch.zeros(2, 3), dim=2)


@pytest.mark.parametrize(
    "lam, sigma, error, message",
    [
        ([0.1], [0.5, 0.6], ValueError, r"^sigma does not sum to 1.*Pass jaclab.softmax\(z\) instead of z"),
        ([0.1], [1.5, -0.5], ValueError, r"^sigma has a negative entry"),
        ([0.1], [[0.5, 0.5], [0.5, 0.5]], ValueError, r"^sigma must be a single probability vector of shape \(K,\); got shape \(2, 2\)"),
        ([float("nan")], [0.5, 0.5], ValueError, r"^lam contains NaN or inf"),
        (torch.tensor([1, 2]), [0.5, 0.5], TypeError, r"^lam must have a floating dtype"),
    ],
)
def test_bad_secular_function_input_is_rejected(lam, sigma, error, message):
    with pytest.raises(error, match=message):
        jaclab.secular_function(lam, sigma)
