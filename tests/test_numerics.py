"""Relative accuracy of J's diagonal: σ_i(1 − σ_i) without cancellation when one class dominates.

The references are computed in float64 from the logits, never from σ: with m the largest logit and
r = Σ_{j≠i*} exp(z_j − m) the mass of the other classes relative to the top class i*,
1 − σ_{i*} = r / (1 + r), so J_{i*i*} = r / (1 + r)², a formula with no subtraction.
"""

import math

import numpy as np
import pytest
import torch
from _strategies import (
    FLOAT_DTYPES,
    HALF_DTYPES,
    NEG_INF,
    call_unchanged,
    compute_dtype,
    logits,
    tol,
)
from hypothesis import given
from hypothesis import strategies as st

import jaclab
from jaclab.jacobian import jacobian_from_sigma


def diagonal64(z: torch.Tensor) -> torch.Tensor:
    """J_ii for logits z of shape (..., K), in float64, with no cancellation (see the module docstring)."""
    z = z.double()
    m = z.amax(dim=-1, keepdim=True)
    e = torch.exp(z - m)
    s = e.sum(dim=-1, keepdim=True)
    sigma = e / s
    diag = sigma * (1 - sigma)  # accurate where sigma <= 1/2
    top = z.argmax(dim=-1, keepdim=True)
    r = e.scatter(-1, top, 0).sum(dim=-1, keepdim=True)  # exp(z_top - m) = 1 is left out
    return diag.scatter(-1, top, r / (1 + r) ** 2)


def textbook(sigma: torch.Tensor) -> torch.Tensor:
    """diag(σ) − σσᵀ, the formula with the cancelling diagonal σ_i − σ_i²."""
    return torch.diag_embed(sigma) - sigma.unsqueeze(-1) * sigma.unsqueeze(-2)


def rel_err(a: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return (a.double() - ref).abs() / ref


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dominant_diagonal_of_two_classes_has_full_relative_accuracy(dtype):
    # z = (0, -t): J_11 = e^-t / (1 + e^-t)^2, far below eps once t is large.
    t = torch.linspace(0.0, 80.0, 161, dtype=torch.float64)
    z = torch.stack([torch.zeros_like(t), -t], dim=-1).to(dtype)
    J = jaclab.softmax_jacobian(z)
    exact = torch.tensor([math.exp(-x) / (1 + math.exp(-x)) ** 2 for x in t.tolist()], dtype=torch.float64)
    eps = torch.finfo(dtype).eps
    assert (rel_err(J[:, 0, 0], exact) <= 4 * eps).all()
    assert (rel_err(J[:, 1, 1], exact) <= 4 * eps).all()


def test_textbook_diagonal_of_a_dominant_class_is_zero_in_float32():
    # The reason for the change: sigma_1 rounds to 1, so sigma_1 - sigma_1^2 = 0 exactly.
    z = torch.tensor([0.0, -20.0])
    sigma = torch.softmax(z, -1)
    assert sigma[0] == 1
    assert textbook(sigma)[0, 0] == 0
    J = jaclab.softmax_jacobian(z)
    assert rel_err(J[0, 0], torch.tensor(math.exp(-20) / (1 + math.exp(-20)) ** 2)) < 1e-6


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("K", [3, 10, 256])
def test_every_diagonal_entry_is_relatively_accurate_when_one_class_dominates(dtype, K):
    gen = torch.Generator().manual_seed(K)
    z = torch.randn(40, K, generator=gen, dtype=torch.float64)
    gaps = torch.linspace(0.0, 60.0, 40, dtype=torch.float64)
    z[:, 0] = z.amax(dim=-1) + gaps  # class 0 leads by 0 ... 60
    z = z.to(dtype)
    J = jaclab.softmax_jacobian(z)
    ref = diagonal64(z)
    keep = ref > torch.finfo(dtype).tiny / torch.finfo(dtype).eps  # far from underflow
    err = rel_err(J.diagonal(dim1=-2, dim2=-1), ref)[keep]
    # Each σ_j carries about |z_j - m| eps from exp's argument, the sum of the others K eps.
    bound = (4 * K + 2 * float(z.abs().max()) + 8) * torch.finfo(dtype).eps
    assert err.max() <= bound
    assert not keep[:, 0].logical_not().any()  # the dominant class was checked in every row


def test_textbook_formula_loses_the_dominant_diagonal_that_jaclab_keeps():
    z = torch.tensor([[0.0, -3.0, -4.0, -5.0]]) + torch.tensor([[12.0, 0.0, 0.0, 0.0]])
    ref = diagonal64(z)[0, 0]
    old = rel_err(textbook(torch.softmax(z, -1))[0, 0, 0], ref)
    new = rel_err(jaclab.softmax_jacobian(z)[0, 0, 0], ref)
    assert old > 1e-3 and new < 1e-6


def test_dominant_class_jacobian_stays_positive_semi_definite():
    t = torch.arange(10.0, 40.0)
    z = torch.stack([torch.zeros_like(t), -t, -t - 1.0], dim=-1)  # float32
    lam = torch.linalg.eigvalsh(jaclab.softmax_jacobian(z).double())
    assert (lam[:, 0] >= -1e-6 * lam[:, -1]).all()
    lam_old = torch.linalg.eigvalsh(textbook(torch.softmax(z, -1)).double())
    assert (lam_old[:, 0] < -0.1 * lam_old[:, -1]).any()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rows_sum_to_zero_relative_to_their_size(dtype):
    z = torch.tensor([[0.0, -25.0, -26.0], [5.0, 5.0, -40.0], [1.0, 2.0, 3.0]], dtype=dtype)
    J = jaclab.softmax_jacobian(z).double()
    row_scale = J.abs().sum(dim=-1)
    assert ((J.sum(dim=-1)).abs() <= 8 * torch.finfo(dtype).eps * row_scale).all()


def test_tied_leading_classes_are_both_accurate():
    z = torch.tensor([0.0, 0.0, -50.0], dtype=torch.float64)
    J = jaclab.softmax_jacobian(z)
    ref = diagonal64(z)
    assert torch.allclose(J.diagonal(), ref, rtol=4e-16, atol=0)
    assert torch.equal(J[:2, :2], torch.tensor([[0.25, -0.25], [-0.25, 0.25]], dtype=torch.float64))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_off_diagonal_is_one_rounded_product_and_exactly_symmetric(dtype):
    z = torch.randn(5, 7, generator=torch.Generator().manual_seed(1)).to(dtype)
    J = jaclab.softmax_jacobian(z)
    assert torch.equal(J, J.mT)
    sigma = torch.softmax(z.to(compute_dtype(dtype)), -1)
    outer = (sigma.unsqueeze(-1) * sigma.unsqueeze(-2)).to(dtype)
    off = ~torch.eye(7, dtype=torch.bool)
    assert torch.allclose(J[:, off].double(), -outer[:, off].double(), rtol=0, atol=tol(dtype, 7))


@given(logits(dtypes=(torch.float64, torch.float32), max_K=12))
def test_agrees_with_the_textbook_formula_to_rounding(case):
    # Same matrix as diag(σ) − σσᵀ, up to the textbook formula's own rounding error.
    J = jaclab.softmax_jacobian(case.z, dim=case.dim)
    sigma = torch.softmax(case.z.double(), dim=case.dim).movedim(case.dim, -1)
    assert torch.allclose(J.double(), textbook(sigma), rtol=0, atol=tol(case.dtype, case.K))


@given(logits(dtypes=(torch.float64,), max_K=12, masks=False, max_abs=30.0))
def test_diagonal_is_relatively_accurate_for_every_logit_vector(case):
    z = case.z.movedim(case.dim, -1)
    J = jaclab.softmax_jacobian(z)
    ref = diagonal64(z)
    keep = ref > 1e-290
    bound = (4 * case.K + 2 * 30.0 * 2 + 8) * torch.finfo(torch.float64).eps
    assert (rel_err(J.diagonal(dim1=-2, dim2=-1), ref)[keep] <= bound).all()


def test_masked_classes_keep_zero_rows_and_columns():
    z = torch.tensor([[0.0, NEG_INF, -30.0, NEG_INF]])
    J = jaclab.softmax_jacobian(z)
    assert torch.equal(J[0, 1], torch.zeros(4)) and torch.equal(J[0, :, 3], torch.zeros(4))
    keep = torch.tensor([0, 2])
    assert torch.equal(J[0][keep][:, keep], jaclab.softmax_jacobian(z[:, keep])[0])


@pytest.mark.parametrize("dtype", HALF_DTYPES)
def test_half_dtypes_round_the_accurate_float32_diagonal_once(dtype):
    z = torch.tensor([[0.0, -8.0], [0.0, -12.0]]).to(dtype)
    J = jaclab.softmax_jacobian(z)
    assert J.dtype == dtype
    assert torch.equal(J, jaclab.softmax_jacobian(z.float()).to(dtype))
    ref = diagonal64(z)[:, 0]
    assert (rel_err(J[:, 0, 0], ref) <= torch.finfo(dtype).eps).all()


def test_one_class_and_empty_batches():
    assert torch.equal(jacobian_from_sigma(torch.ones(3, 1)), torch.zeros(3, 1, 1))
    assert jacobian_from_sigma(torch.zeros(0, 4)).shape == (0, 4, 4)


def test_sigma_is_not_modified():
    sigma = torch.softmax(torch.tensor([[3.0, -20.0, 1.0]]), -1)
    call_unchanged(jacobian_from_sigma, sigma)
    z = np.array([[0.0, -20.0]], dtype=np.float32)
    J = call_unchanged(jaclab.softmax_jacobian, z)
    assert isinstance(J, np.ndarray) and J.dtype == np.float32 and J[0, 0, 0] > 0


def test_derivatives_through_the_jacobian_match_the_textbook_formula():
    # The diagonal is written in place into a fresh tensor; autograd and torch.func still work.
    z = torch.randn(3, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)

    def new(v):
        return jacobian_from_sigma(torch.softmax(v, -1))

    def old(v):
        return textbook(torch.softmax(v, -1))

    assert torch.allclose(torch.func.jacrev(new)(z), torch.func.jacrev(old)(z), rtol=0, atol=1e-15)
    vm = torch.func.vmap(torch.func.jacfwd(new))(z)
    assert torch.allclose(vm, torch.func.vmap(torch.func.jacfwd(old))(z), rtol=0, atol=1e-15)
    w = z.clone().requires_grad_()
    new(w).pow(2).sum().backward()
    v = z.clone().requires_grad_()
    old(v).pow(2).sum().backward()
    assert torch.allclose(w.grad, v.grad, rtol=0, atol=1e-15)


@given(st.floats(0.0, 700.0))
def test_two_class_float64_diagonal_for_every_gap(t):
    J = jaclab.softmax_jacobian(torch.tensor([0.0, -t], dtype=torch.float64))
    exact = math.exp(-t) / (1 + math.exp(-t)) ** 2
    if exact > 1e-300:
        assert abs(J[0, 0].item() - exact) <= 4 * torch.finfo(torch.float64).eps * exact
