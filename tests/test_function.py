"""jaclab.SoftmaxFunction: softmax as a torch.autograd.Function whose backward and jvp are the analytic products.

Its first and second derivatives pass gradcheck/gradgradcheck, it agrees with torch.softmax forwards and
backwards, and forward mode (torch.func.jvp, dual numbers) and the torch.func transforms work through it.
jaclab.softmax_function is the validated entry point: same values and same errors as jaclab.softmax.
"""

import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as fwAD
from hypothesis import given
from hypothesis import strategies as st

import jaclab
from jaclab import SoftmaxFunction
from _strategies import FLOAT_DTYPES, NEG_INF, compute_dtype, fewer_examples, logits, tol

NAN, INF = float("nan"), float("inf")

# (shape, dim): vectors, batches, the class axis first, last and in the middle, K = 1.
SHAPES = [((5,), 0), ((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1), ((2, 1, 3), -2), ((4, 1), -1)]
SHAPE_IDS = [f"{s}-dim{d}" for s, d in SHAPES]


def z64(shape, seed=0, scale=3.0):
    gen = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=gen, dtype=torch.float64)).requires_grad_()


def J_times(z, v, dim):
    """J·v in float64 with J = diag(σ) − σσᵀ formed explicitly from torch.softmax."""
    s = torch.softmax(z.detach().double(), dim=dim).movedim(dim, -1)
    K = s.shape[-1]
    J = s[..., :, None] * (torch.eye(K, dtype=torch.float64) - s[..., None, :])
    return (J @ v.double().movedim(dim, -1).unsqueeze(-1)).squeeze(-1).movedim(-1, dim)


# ---- derivatives against finite differences --------------------------------------------------


@pytest.mark.parametrize("shape, dim", SHAPES, ids=SHAPE_IDS)
def test_gradcheck_first_derivative_matches_finite_differences(shape, dim):
    z = z64(shape)
    assert torch.autograd.gradcheck(lambda x: SoftmaxFunction.apply(x, dim), (z,), check_forward_ad=True,
                                    check_batched_grad=True, check_batched_forward_grad=True)


@pytest.mark.parametrize("shape, dim", SHAPES, ids=SHAPE_IDS)
def test_gradgradcheck_second_derivative_matches_finite_differences(shape, dim):
    z = z64(shape, seed=1)
    assert torch.autograd.gradgradcheck(lambda x: SoftmaxFunction.apply(x, dim), (z,), check_fwd_over_rev=True,
                                        check_rev_over_rev=True)


def test_gradcheck_with_large_logits():
    """A near one-hot row (σ close to a vertex) still differentiates correctly."""
    z = z64((3, 6), seed=2, scale=20.0)
    f = lambda x: SoftmaxFunction.apply(x, -1)  # noqa: E731
    assert torch.autograd.gradcheck(f, (z,)) and torch.autograd.gradgradcheck(f, (z,))


# ---- forward and backward against torch ------------------------------------------------------


@given(logits())
def test_forward_equals_jaclab_softmax(case):
    assert torch.equal(jaclab.softmax_function(case.z, dim=case.dim), jaclab.softmax(case.z, dim=case.dim))


@given(logits(dtypes=(torch.float64, torch.float32)))
def test_forward_equals_torch_softmax(case):
    out = SoftmaxFunction.apply(case.z, case.dim)
    assert out.dtype == case.z.dtype and out.shape == case.z.shape
    err = (out.double() - torch.softmax(case.z.double(), dim=case.dim)).abs().max().item()
    assert err <= tol(case.dtype, case.K), err


@given(logits(dtypes=(torch.float64, torch.float32)), st.integers(0, 2**16))
def test_backward_equals_torch_softmax_backward(case, seed):
    """Same z.grad as torch.softmax(z).backward(g), masked classes (-inf logits) included."""
    g = torch.randn(case.z.shape, generator=torch.Generator().manual_seed(seed), dtype=case.dtype)
    ours = case.z.clone().requires_grad_()
    theirs = case.z.clone().requires_grad_()
    SoftmaxFunction.apply(ours, case.dim).backward(g)
    torch.softmax(theirs, dim=case.dim).backward(g)
    scale = max(1.0, 2 * g.abs().max().item())
    err = (ours.grad.double() - theirs.grad.double()).abs().max().item()
    assert err <= tol(case.dtype, case.K) * scale, err


@pytest.mark.parametrize("shape, dim", SHAPES, ids=SHAPE_IDS)
def test_backward_is_the_jaclab_vjp(shape, dim):
    z = z64(shape)
    g = torch.randn(shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    (grad,) = torch.autograd.grad(SoftmaxFunction.apply(z, dim), z, g)
    expected = jaclab.softmax_vjp(g, torch.softmax(z.detach(), dim=dim), dim=dim)
    torch.testing.assert_close(grad, expected, rtol=0, atol=1e-14)


def test_graph_saves_only_sigma():
    z = z64((3, 4))
    out = SoftmaxFunction.apply(z, -1)
    assert type(out.grad_fn).__name__ == "SoftmaxFunctionBackward"
    (saved,) = out.grad_fn.saved_tensors
    assert torch.equal(saved, out)


def test_hessian_equals_torch_softmax_hessian():
    z = z64((5,)).detach()
    for i in range(5):
        ours = torch.func.hessian(lambda x: SoftmaxFunction.apply(x, -1)[i])(z)
        theirs = torch.func.hessian(lambda x: torch.softmax(x, -1)[i])(z)
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-14)


# ---- forward mode and torch.func ---------------------------------------------------------------


@pytest.mark.parametrize("shape, dim", SHAPES, ids=SHAPE_IDS)
def test_func_jvp_equals_J_times_v(shape, dim):
    z = z64(shape).detach()
    v = torch.randn(shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    out, tangent = torch.func.jvp(lambda x: SoftmaxFunction.apply(x, dim), (z,), (v,))
    torch.testing.assert_close(out, torch.softmax(z, dim=dim), rtol=0, atol=1e-15)
    torch.testing.assert_close(tangent, J_times(z, v, dim), rtol=0, atol=1e-14)


@given(logits(dtypes=(torch.float64,), max_abs=30.0), st.integers(0, 2**16))
def test_dual_numbers_carry_J_times_v(case, seed):
    """torch.autograd.forward_ad: the tangent of softmax(z + εv) is J·v, masked classes included."""
    v = torch.randn(case.z.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    with fwAD.dual_level():
        out = SoftmaxFunction.apply(fwAD.make_dual(case.z, v), case.dim)
        primal, tangent = fwAD.unpack_dual(out)
    assert torch.equal(primal, jaclab.softmax(case.z, dim=case.dim))
    scale = max(1.0, 2 * v.abs().max().item())
    assert (tangent - J_times(case.z, v, case.dim)).abs().max().item() <= tol(torch.float64, case.K) * scale


def test_jacrev_and_jacfwd_equal_softmax_jacobian():
    z = z64((6,)).detach()
    f = lambda x: SoftmaxFunction.apply(x, -1)  # noqa: E731
    J = jaclab.softmax_jacobian(z)
    torch.testing.assert_close(torch.func.jacrev(f)(z), J, rtol=0, atol=1e-15)
    torch.testing.assert_close(torch.func.jacfwd(f)(z), J, rtol=0, atol=1e-15)
    # the validated wrapper works under jacrev and jacfwd too (its checks see an unbatched primal)
    torch.testing.assert_close(torch.func.jacfwd(jaclab.softmax_function)(z), J, rtol=0, atol=1e-15)
    torch.testing.assert_close(torch.func.jacrev(jaclab.softmax_function)(z), J, rtol=0, atol=1e-15)


def test_vmap_over_a_batch_equals_batched_softmax_and_jacobian():
    Z = z64((4, 5)).detach()
    f = lambda x: SoftmaxFunction.apply(x, 0)  # noqa: E731
    torch.testing.assert_close(torch.func.vmap(f)(Z), torch.softmax(Z, -1), rtol=0, atol=1e-15)
    J = jaclab.softmax_jacobian(Z)
    torch.testing.assert_close(torch.func.vmap(torch.func.jacrev(f))(Z), J, rtol=0, atol=1e-15)
    torch.testing.assert_close(torch.func.vmap(torch.func.jacfwd(f))(Z), J, rtol=0, atol=1e-15)


def test_jacfwd_of_jacrev_equals_torch_softmax_second_derivative():
    z = z64((4,)).detach()
    ours = torch.func.jacfwd(torch.func.jacrev(lambda x: SoftmaxFunction.apply(x, -1)))(z)
    theirs = torch.func.jacfwd(torch.func.jacrev(lambda x: torch.softmax(x, -1)))(z)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-14)


# ---- the validated wrapper -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_wrapper_keeps_dtype_and_computes_half_in_float32(dtype):
    z = torch.linspace(-3, 3, 7, dtype=dtype)
    out = jaclab.softmax_function(z)
    assert out.dtype == dtype
    expected = torch.softmax(z.to(compute_dtype(dtype)), -1).to(dtype)
    assert torch.equal(out, expected) or (out.double() - expected.double()).abs().max() <= tol(dtype, 7)


def test_wrapper_numpy_in_numpy_out():
    z = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    out = jaclab.softmax_function(z)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, jaclab.softmax(z))


def test_wrapper_gradient_flows_through_a_half_precision_input():
    z = torch.tensor([1.0, -2.0, 0.5], dtype=torch.bfloat16, requires_grad=True)
    jaclab.softmax_function(z)[0].backward()
    assert z.grad is not None and z.grad.dtype == torch.bfloat16


BAD_INPUTS = [
    ("nan", lambda: torch.tensor([0.0, NAN, 1.0]), -1),
    ("posinf", lambda: torch.tensor([0.0, INF]), -1),
    ("all-masked", lambda: torch.full((3,), NEG_INF), -1),
    ("all-masked-row", lambda: torch.tensor([[0.0, 1.0], [NEG_INF, NEG_INF]]), -1),
    ("int-dtype", lambda: torch.arange(3), -1),
    ("scalar", lambda: torch.tensor(1.0), -1),
    ("dim-out-of-range", lambda: torch.zeros(2, 3), 2),
    ("dim-not-int", lambda: torch.zeros(2, 3), 1.0),
    ("empty-class-axis", lambda: torch.zeros(2, 0), -1),
    ("not-an-array", lambda: "logits", -1),
]


@pytest.mark.parametrize("make, dim", [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_raises_the_same_error_as_softmax(make, dim):
    with pytest.raises((TypeError, ValueError)) as expected:
        jaclab.softmax(make(), dim=dim)
    with pytest.raises(expected.type) as got:
        jaclab.softmax_function(make(), dim=dim)
    assert str(got.value) == str(expected.value)


def test_masked_logits_get_probability_and_gradient_zero():
    z = torch.tensor([[1.0, NEG_INF, 0.5], [NEG_INF, 2.0, -1.0]], dtype=torch.float64, requires_grad=True)
    out = jaclab.softmax_function(z)
    assert torch.all(out[torch.isneginf(z)] == 0)
    out[:, 0].sum().backward()
    assert torch.all(z.grad[torch.isneginf(z)] == 0)


@fewer_examples
@given(logits(dtypes=(torch.float64,), max_abs=30.0, masks=False))
def test_wrapper_gradient_equals_softmax_vjp(case):
    z = case.z.clone().requires_grad_()
    g = torch.cos(torch.arange(z.numel(), dtype=torch.float64)).reshape(z.shape)
    jaclab.softmax_function(z, dim=case.dim).backward(g)
    expected = jaclab.softmax_vjp(g, jaclab.softmax(case.z, dim=case.dim), dim=case.dim)
    assert (z.grad - expected).abs().max().item() <= tol(torch.float64, case.K) * 2
