"""jaclab.softmax: a probability vector along dim, shift invariant, stable for extreme logits."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import jaclab
from _strategies import (
    FLOAT_DTYPES,
    HALF_DTYPES,
    NEG_INF,
    NUMPY_FLOAT_DTYPES,
    call_unchanged,
    logits,
    sigma64,
    tol,
)


@given(logits())
def test_softmax_keeps_the_shape_and_dtype(case):
    sigma = jaclab.softmax(case.z, dim=case.dim)
    assert isinstance(sigma, torch.Tensor)
    assert sigma.shape == case.z.shape
    assert sigma.dtype == case.dtype


@given(logits())
def test_softmax_rows_sum_to_one(case):
    sigma = jaclab.softmax(case.z, dim=case.dim).double()
    sums = sigma.sum(dim=case.dim)
    assert torch.all((sums - 1).abs() <= tol(case.dtype, case.K)), sums


@given(logits())
def test_softmax_is_a_probability_vector(case):
    sigma = jaclab.softmax(case.z, dim=case.dim)
    assert torch.isfinite(sigma).all()
    assert (sigma >= 0).all() and (sigma <= 1).all()


@given(logits())
def test_softmax_matches_float64_reference(case):
    """Accurate to rounding for every logit vector, including |z| up to 1e4 and -inf masks."""
    sigma = jaclab.softmax(case.z, dim=case.dim).double()
    err = (sigma - sigma64(case.z, case.dim)).abs().max().item()
    assert err <= tol(case.dtype, case.K), err


@given(logits(dtypes=(torch.float64, torch.float32), max_abs=50.0, masks=False), st.integers(-100, 100))
def test_softmax_is_shift_invariant(case, c):
    """softmax(z + c) = softmax(z): adding the same constant to every logit changes nothing."""
    shifted = jaclab.softmax(case.z + c, dim=case.dim).double()
    sigma = jaclab.softmax(case.z, dim=case.dim).double()
    # z + c is itself rounded: an error of ulp(|z| + |c|) in each logit moves σ by about that, relatively.
    eps = torch.finfo(case.dtype).eps
    assert torch.allclose(shifted, sigma, rtol=4 * 150 * eps, atol=tol(case.dtype, case.K))


@given(logits(dtypes=(torch.float64, torch.float32), max_abs=50.0, masks=False), st.integers(0, 2**32 - 1))
def test_softmax_is_invariant_to_a_different_shift_per_row(case, seed):
    rows = case.z.select(case.dim, 0).shape
    shift = torch.from_numpy(np.random.default_rng(seed).integers(-100, 101, size=rows)).to(case.dtype)
    shifted = jaclab.softmax(case.z + shift.unsqueeze(case.dim), dim=case.dim).double()
    sigma = jaclab.softmax(case.z, dim=case.dim).double()
    eps = torch.finfo(case.dtype).eps
    assert torch.allclose(shifted, sigma, rtol=4 * 150 * eps, atol=tol(case.dtype, case.K))


@pytest.mark.parametrize("big", [1e4, 1e30, 3e38])
def test_softmax_is_finite_for_extreme_float32_logits(big):
    z = torch.tensor([[big, -big, 0.0], [-big, -big, big], [big, big, -big]], dtype=torch.float32)
    sigma = jaclab.softmax(z)
    assert torch.isfinite(sigma).all()
    expected = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.0]])
    assert torch.equal(sigma, expected)


def test_softmax_of_naive_overflow_case_is_correct():
    """exp(1000) overflows in float64; the stable formula still gives e^0/(e^0 + e^-1)."""
    z = torch.tensor([1000.0, 999.0], dtype=torch.float64)
    assert not torch.isfinite(torch.exp(z)).all()  # the naive formula would fail here
    e = 1 / (1 + math.exp(-1.0))
    assert torch.allclose(jaclab.softmax(z), torch.tensor([e, 1 - e], dtype=torch.float64), rtol=1e-15, atol=0)


def test_softmax_docstring_example():
    z = [1.0, 2.0, 3.0]
    total = sum(math.exp(v) for v in z)
    expected = np.array([math.exp(v) / total for v in z])
    np.testing.assert_allclose(jaclab.softmax(z), expected, rtol=1e-15)
    assert torch.allclose(jaclab.softmax(torch.tensor(z)), torch.tensor([0.0900, 0.2447, 0.6652]), atol=5e-5)


@given(logits(masks=True))
def test_masked_logit_has_probability_exactly_zero(case):
    sigma = jaclab.softmax(case.z, dim=case.dim)
    masked = torch.isneginf(case.z)
    assert torch.all(sigma[masked] == 0)
    assert torch.isfinite(sigma).all()


def test_masking_a_class_renormalises_the_rest():
    z = torch.tensor([1.0, NEG_INF, 2.0, NEG_INF], dtype=torch.float64)
    expected = torch.zeros(4, dtype=torch.float64)
    expected[[0, 2]] = torch.softmax(torch.tensor([1.0, 2.0], dtype=torch.float64), 0)
    sigma = jaclab.softmax(z)
    assert torch.equal(sigma[[1, 3]], torch.zeros(2, dtype=torch.float64))
    assert torch.allclose(sigma, expected, rtol=4e-16, atol=0)


@pytest.mark.parametrize("dtype", HALF_DTYPES)
@given(data=st.data())
def test_half_precision_is_computed_in_float32_and_returned_in_input_dtype(dtype, data):
    case = data.draw(logits(dtypes=(dtype,)))
    sigma = jaclab.softmax(case.z, dim=case.dim)
    in_float32 = jaclab.softmax(case.z.float(), dim=case.dim)
    assert sigma.dtype == dtype
    assert torch.equal(sigma, in_float32.to(dtype))
    subnormal_spacing = torch.finfo(dtype).tiny * torch.finfo(dtype).eps
    assert torch.allclose(sigma.float(), in_float32, rtol=torch.finfo(dtype).eps, atol=subnormal_spacing)


@pytest.mark.parametrize("dtype", NUMPY_FLOAT_DTYPES)
def test_numpy_in_numpy_out_same_dtype(dtype):
    z = np.array([[0.5, -1.0, 2.0], [3.0, 3.0, NEG_INF]], dtype=dtype)
    sigma = jaclab.softmax(z)
    assert isinstance(sigma, np.ndarray)
    assert sigma.dtype == dtype
    expected = sigma64(torch.from_numpy(z), -1).numpy()
    np.testing.assert_allclose(sigma, expected, atol=tol(torch.from_numpy(z).dtype, 3))


@pytest.mark.parametrize("z", [[1.0, 2.0, 3.0], [1, 2, 3], (1.0, 2, 3.0), [[1, 2, 3], [0, 0, 0]]])
def test_list_input_is_accepted_and_returns_float64_numpy(z):
    sigma = jaclab.softmax(z)
    assert isinstance(sigma, np.ndarray) and sigma.dtype == np.float64
    expected = torch.softmax(torch.tensor(z, dtype=torch.float64), -1).numpy()
    np.testing.assert_allclose(sigma, expected, rtol=1e-15, atol=1e-16)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2, -3])
def test_softmax_along_any_dim_normalises_that_axis(dim):
    torch.manual_seed(0)
    z = torch.randn(3, 4, 5, dtype=torch.float64)
    sigma = jaclab.softmax(z, dim=dim)
    assert torch.allclose(sigma, torch.softmax(z, dim=dim), rtol=1e-14, atol=0)
    assert torch.allclose(sigma.sum(dim=dim), torch.ones(()).double(), atol=1e-15)


def test_empty_batch_gives_empty_result():
    assert jaclab.softmax(torch.zeros(0, 3)).shape == (0, 3)
    assert jaclab.softmax(np.zeros((2, 0, 3)), dim=-1).shape == (2, 0, 3)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_caller_data_is_never_modified(dtype):
    z = torch.tensor([[0.3, NEG_INF, -2.0], [1e4, 5.0, -1e4]], dtype=torch.float64)
    call_unchanged(jaclab.softmax, z.to(dtype), dim=-1)
    call_unchanged(jaclab.softmax, z.to(dtype).T, dim=0)  # a non-contiguous view
    if dtype != torch.bfloat16:
        call_unchanged(jaclab.softmax, z.to(dtype).numpy(), dim=1)
    lst = [[0.3, -2.0], [1.0, 5.0]]
    call_unchanged(jaclab.softmax, lst)
    assert lst == [[0.3, -2.0], [1.0, 5.0]]

