"""jaclab.softmax_jacobian: J = diag(σ) − σσᵀ, checked against autograd and against its properties."""

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
    fewer_examples,
    jacobian64,
    logits,
    sigma64,
    tol,
)


def batch_shape(case):
    """The input shape without the class axis."""
    shape = list(case.z.shape)
    del shape[case.dim]
    return tuple(shape)


@given(logits())
def test_jacobian_shape_is_input_shape_without_dim_then_K_by_K(case):
    J = jaclab.softmax_jacobian(case.z, dim=case.dim)
    assert J.shape == batch_shape(case) + (case.K, case.K)
    assert J.dtype == case.dtype


def test_jacobian_of_3_4_5_along_dim_1_has_shape_3_5_4_4():
    z = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    J = jaclab.softmax_jacobian(z, dim=1)
    assert J.shape == (3, 5, 4, 4)
    for b in range(3):
        for c in range(5):
            row = jaclab.softmax_jacobian(z[b, :, c])
            assert torch.equal(J[b, c], row)


@given(logits())
def test_jacobian_matches_autograd_reference(case):
    J = jaclab.softmax_jacobian(case.z, dim=case.dim)
    J_ref = jaclab.jacobian_via_autograd(case.z, dim=case.dim)
    assert J_ref.shape == J.shape and J_ref.dtype == J.dtype
    err = (J.double() - J_ref.double()).abs().max().item() if J.numel() else 0.0
    assert err <= tol(case.dtype, case.K), err


@given(logits())
def test_jacobian_matches_float64_formula(case):
    """J_ij = σ_i(δ_ij − σ_j), computed element by element in float64 from torch.softmax."""
    J = jaclab.softmax_jacobian(case.z, dim=case.dim).double()
    err = (J - jacobian64(case.z, case.dim)).abs().max().item()
    assert err <= tol(case.dtype, case.K), err


@fewer_examples
@given(logits())
def test_autograd_reference_matches_float64_formula(case):
    """The reference is only a reference if it is right: torch.func.jacrev agrees with the formula."""
    J = jaclab.jacobian_via_autograd(case.z, dim=case.dim).double()
    err = (J - jacobian64(case.z, case.dim)).abs().max().item()
    assert err <= tol(case.dtype, case.K), err


@given(logits())
def test_jacobian_is_symmetric(case):
    J = jaclab.softmax_jacobian(case.z, dim=case.dim).double()
    assert torch.allclose(J, J.mT, rtol=0, atol=tol(case.dtype, case.K))


# Rounding J to the caller's dtype moves a row sum, or an eigenvalue, by at most eps/2 times
# Σ_j |J_ij| = 2σ_i(1 − σ_i) ≤ 1/2, so the entry tolerance covers these checks too.


@given(logits())
def test_rows_sum_to_zero(case):
    """J·1 = 0: shifting every logit by the same amount does not move σ."""
    J = jaclab.softmax_jacobian(case.z, dim=case.dim).double()
    assert torch.all(J.sum(dim=-1).abs() <= tol(case.dtype, case.K))


@given(logits())
def test_columns_sum_to_zero(case):
    """1ᵀJ = 0: the probabilities keep summing to 1 whatever the change in the logits."""
    J = jaclab.softmax_jacobian(case.z, dim=case.dim).double()
    assert torch.all(J.sum(dim=-2).abs() <= tol(case.dtype, case.K))


@given(logits())
def test_jacobian_is_positive_semidefinite(case):
    J = jaclab.softmax_jacobian(case.z, dim=case.dim).double()
    eig = torch.linalg.eigvalsh(J)
    assert torch.all(eig >= -tol(case.dtype, case.K)), eig.min()


@given(logits())
def test_largest_eigenvalue_is_at_most_one_half(case):
    J = jaclab.softmax_jacobian(case.z, dim=case.dim).double()
    eig = torch.linalg.eigvalsh(J)
    assert torch.all(eig <= 0.5 + tol(case.dtype, case.K)), eig.max()


@given(logits())
def test_diagonal_is_sigma_times_one_minus_sigma_at_most_one_quarter(case):
    J = jaclab.softmax_jacobian(case.z, dim=case.dim).double()
    diag = J.diagonal(dim1=-2, dim2=-1)
    s = sigma64(case.z, case.dim).movedim(case.dim, -1)
    assert torch.allclose(diag, s * (1 - s), rtol=0, atol=tol(case.dtype, case.K))
    assert torch.all(diag <= 0.25 + tol(case.dtype, case.K))


@given(logits())
def test_off_diagonal_entries_are_never_positive(case):
    J = jaclab.softmax_jacobian(case.z, dim=case.dim)
    off = J.masked_select(~torch.eye(case.K, dtype=torch.bool).expand_as(J))
    assert torch.all(off <= 0)


@given(logits(masks=True))
def test_masked_logit_gives_zero_row_and_column(case):
    J = jaclab.softmax_jacobian(case.z, dim=case.dim)
    assert torch.isfinite(J).all()
    masked = torch.isneginf(case.z).movedim(case.dim, -1)  # (..., K)
    rows = J.masked_select(masked.unsqueeze(-1).expand_as(J))
    cols = J.masked_select(masked.unsqueeze(-2).expand_as(J))
    assert torch.all(rows == 0) and torch.all(cols == 0)


def test_masked_jacobian_is_the_jacobian_of_the_unmasked_classes():
    z = torch.tensor([0.5, NEG_INF, -1.0, 2.0], dtype=torch.float64)
    keep = torch.tensor([0, 2, 3])
    J = jaclab.softmax_jacobian(z)
    assert torch.allclose(J[keep][:, keep], jaclab.softmax_jacobian(z[keep]), rtol=1e-15, atol=1e-17)


def test_jacobian_docstring_example():
    J = jaclab.softmax_jacobian(torch.tensor([0.0, 0.0]))
    expected = torch.tensor([[0.5 * 0.5, -0.5 * 0.5], [-0.5 * 0.5, 0.5 * 0.5]])
    assert torch.equal(J, expected)


@pytest.mark.parametrize("fn", [jaclab.softmax_jacobian, jaclab.jacobian_via_autograd])
@pytest.mark.parametrize("dtype", HALF_DTYPES)
@fewer_examples
@given(data=st.data())
def test_half_precision_is_computed_in_float32_and_returned_in_input_dtype(fn, dtype, data):
    case = data.draw(logits(dtypes=(dtype,), max_dims=2))
    J = fn(case.z, dim=case.dim)
    J32 = fn(case.z.float(), dim=case.dim)
    assert J.dtype == dtype
    assert torch.equal(J, J32.to(dtype))


@pytest.mark.parametrize("fn", [jaclab.softmax_jacobian, jaclab.jacobian_via_autograd])
@pytest.mark.parametrize("dtype", NUMPY_FLOAT_DTYPES)
def test_numpy_in_numpy_out_same_dtype(fn, dtype):
    z = np.array([[0.5, -1.0, 2.0], [3.0, 3.0, NEG_INF]], dtype=dtype)
    J = fn(z)
    assert isinstance(J, np.ndarray) and J.dtype == dtype and J.shape == (2, 3, 3)
    np.testing.assert_allclose(J, jacobian64(torch.from_numpy(z), -1).numpy(), atol=tol(torch.from_numpy(z).dtype, 3))


@pytest.mark.parametrize("fn", [jaclab.softmax_jacobian, jaclab.jacobian_via_autograd])
def test_list_input_is_accepted(fn):
    J = fn([1, 2, 3])
    assert isinstance(J, np.ndarray) and J.dtype == np.float64
    expected = jacobian64(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), -1).numpy()
    np.testing.assert_allclose(J, expected, rtol=0, atol=1e-16)


@pytest.mark.parametrize("fn", [jaclab.softmax_jacobian, jaclab.jacobian_via_autograd])
def test_one_class_has_the_zero_jacobian(fn):
    J = fn(torch.tensor([[7.0], [-3.0]]))
    assert J.shape == (2, 1, 1)
    assert torch.equal(J, torch.zeros(2, 1, 1))


@pytest.mark.parametrize("fn", [jaclab.softmax_jacobian, jaclab.jacobian_via_autograd])
def test_empty_batch_gives_empty_result(fn):
    assert fn(torch.zeros(0, 3)).shape == (0, 3, 3)
    assert fn(torch.zeros(2, 0, 4), dim=0).shape == (0, 4, 2, 2)


@pytest.mark.parametrize("fn", [jaclab.softmax_jacobian, jaclab.jacobian_via_autograd])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_caller_data_is_never_modified(fn, dtype):
    z = torch.tensor([[0.3, NEG_INF, -2.0], [1e4, 5.0, -1e4]], dtype=torch.float64).to(dtype)
    call_unchanged(fn, z, dim=-1)
    call_unchanged(fn, z.T, dim=0)  # a non-contiguous view
    if dtype != torch.bfloat16:
        call_unchanged(fn, z.numpy(), dim=1)
    lst = [[0.3, -2.0], [1.0, 5.0]]
    call_unchanged(fn, lst)
    assert lst == [[0.3, -2.0], [1.0, 5.0]]
