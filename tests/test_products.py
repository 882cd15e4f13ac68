"""jaclab.softmax_vjp / softmax_jvp: J·g without forming J, equal to what autograd computes."""

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
    compute_dtype,
    like,
    logits,
    tol,
)

PRODUCTS = [jaclab.softmax_vjp, jaclab.softmax_jvp]


@st.composite
def problems(draw, **kwargs):
    """(z, dim, sigma, g): logits, their softmax in z's dtype, and an upstream gradient / tangent."""
    case = draw(logits(**kwargs))
    sigma = torch.softmax(case.z.to(compute_dtype(case.dtype)), dim=case.dim).to(case.dtype)
    return case.z, case.dim, sigma, like(draw, case.z)


def product_tol(dtype, K, g):
    """J·g is a sum of K terms of size |g|: the entry tolerance scaled by the size of g."""
    return tol(dtype, K) * max(1.0, 2 * g.double().abs().max().item())


def J_times(sigma, v, dim):
    """J·v in float64 with J formed explicitly from sigma (as the caller passed it)."""
    s = sigma.double().movedim(dim, -1)
    K = s.shape[-1]
    J = s[..., :, None] * (torch.eye(K, dtype=torch.float64) - s[..., None, :])
    return (J @ v.double().movedim(dim, -1).unsqueeze(-1)).squeeze(-1).movedim(-1, dim)


@given(problems())
def test_vjp_equals_J_times_g(p):
    z, dim, sigma, g = p
    vjp = jaclab.softmax_vjp(g, sigma, dim=dim)
    assert vjp.shape == sigma.shape and vjp.dtype == sigma.dtype
    K = sigma.shape[dim]
    err = (vjp.double() - J_times(sigma, g, dim)).abs().max().item()
    assert err <= product_tol(sigma.dtype, K, g), err


@given(problems(dtypes=(torch.float64, torch.float32), max_abs=30.0))
def test_vjp_equals_J_transpose_times_g_with_J_from_softmax_jacobian(p):
    """The library agrees with itself: softmax_vjp(g, softmax(z)) = Jᵀg with J = softmax_jacobian(z)."""
    z, dim, sigma, g = p
    J = jaclab.softmax_jacobian(z, dim=dim).double()
    expected = (J.mT @ g.double().movedim(dim, -1).unsqueeze(-1)).squeeze(-1).movedim(-1, dim)
    vjp = jaclab.softmax_vjp(g, jaclab.softmax(z, dim=dim), dim=dim)
    assert torch.allclose(vjp.double(), expected, rtol=0, atol=product_tol(z.dtype, z.shape[dim], g))


@given(problems())
def test_vjp_equals_torch_autograd_backward(p):
    """softmax_vjp is what torch.softmax(z).backward(g) puts in z.grad."""
    z, dim, sigma, g = p
    zc = z.to(compute_dtype(z.dtype)).requires_grad_()
    torch.softmax(zc, dim=dim).backward(g.to(zc.dtype))
    vjp = jaclab.softmax_vjp(g, sigma, dim=dim)
    err = (vjp.double() - zc.grad.double()).abs().max().item()
    assert err <= product_tol(z.dtype, z.shape[dim], g), err


@given(problems())
def test_jvp_equals_J_times_v(p):
    z, dim, sigma, v = p
    jvp = jaclab.softmax_jvp(v, sigma, dim=dim)
    assert jvp.shape == sigma.shape and jvp.dtype == sigma.dtype
    err = (jvp.double() - J_times(sigma, v, dim)).abs().max().item()
    assert err <= product_tol(sigma.dtype, sigma.shape[dim], v), err


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # inside torch.func.jvp
@given(problems())
def test_jvp_equals_torch_func_jvp(p):
    """softmax_jvp is forward-mode autodiff: torch.func.jvp of torch.softmax at z along v."""
    z, dim, sigma, v = p
    c = compute_dtype(z.dtype)
    _, expected = torch.func.jvp(lambda t: torch.softmax(t, dim=dim), (z.to(c),), (v.to(c),))
    jvp = jaclab.softmax_jvp(v, sigma, dim=dim)
    err = (jvp.double() - expected.double()).abs().max().item()
    assert err <= product_tol(z.dtype, z.shape[dim], v), err


@given(problems())
def test_vjp_sums_to_zero_along_dim(p):
    """1ᵀ(Jg) = 0: the gradient reaching the logits never changes their sum."""
    z, dim, sigma, g = p
    vjp = jaclab.softmax_vjp(g, sigma, dim=dim).double()
    K = sigma.shape[dim]
    assert torch.all(vjp.sum(dim=dim).abs() <= K * product_tol(sigma.dtype, K, g))


@given(problems(masks=True))
def test_masked_class_gets_exactly_zero_gradient(p):
    z, dim, sigma, g = p
    masked = torch.isneginf(z)
    for fn in PRODUCTS:
        out = fn(g, sigma, dim=dim)
        assert torch.isfinite(out).all()
        assert torch.all(out[masked] == 0)


@given(problems(dtypes=(torch.float64,), max_abs=30.0))
def test_vjp_and_jvp_agree_because_J_is_symmetric(p):
    z, dim, sigma, g = p
    vjp = jaclab.softmax_vjp(g, sigma, dim=dim)
    jvp = jaclab.softmax_jvp(g, sigma, dim=dim)
    assert torch.allclose(vjp, jvp, rtol=0, atol=product_tol(z.dtype, z.shape[dim], g))


def test_constant_gradient_gives_zero_vjp():
    """g = c·1 is orthogonal to every row of J: adding c to the loss's σ-gradient changes nothing."""
    sigma = torch.softmax(torch.tensor([0.1, -2.0, 3.0, 0.7], dtype=torch.float64), 0)
    out = jaclab.softmax_vjp(torch.full((4,), 3.5, dtype=torch.float64), sigma)
    assert torch.allclose(out, torch.zeros(4, dtype=torch.float64), atol=1e-15)


@pytest.mark.parametrize("fn", PRODUCTS)
@pytest.mark.parametrize("dtype", HALF_DTYPES)
@given(data=st.data())
def test_half_precision_is_computed_in_float32_and_returned_in_input_dtype(fn, dtype, data):
    z, dim, sigma, g = data.draw(problems(dtypes=(dtype,), max_dims=2))
    out = fn(g, sigma, dim=dim)
    assert out.dtype == dtype
    # The float32 result for the same (half-rounded) numbers, by the formula σ ⊙ (g − ⟨g, σ⟩):
    s32, g32 = sigma.float(), g.float()
    out32 = s32 * (g32 - (g32 * s32).sum(dim=dim, keepdim=True))
    # Rounding that float32 result to the half dtype is all the error there is: at most one ulp.
    ulp = torch.finfo(dtype).eps * out32.abs() + torch.finfo(dtype).tiny
    assert torch.all((out.float() - out32).abs() <= ulp)


@pytest.mark.parametrize("fn", PRODUCTS)
@pytest.mark.parametrize("dtype", NUMPY_FLOAT_DTYPES)
def test_numpy_in_numpy_out_same_dtype(fn, dtype):
    sigma = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]], dtype=dtype)
    g = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]], dtype=dtype)
    out = fn(g, sigma)
    assert isinstance(out, np.ndarray) and out.dtype == dtype
    expected = J_times(torch.from_numpy(sigma), torch.from_numpy(g), -1).numpy()
    np.testing.assert_allclose(out, expected, atol=tol(torch.from_numpy(sigma).dtype, 3) * 8)


@pytest.mark.parametrize("fn", PRODUCTS)
def test_list_input_is_accepted(fn):
    out = fn([1, 0, 0], [0.25, 0.25, 0.5])
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, [0.25 * 0.75, -0.25 * 0.25, -0.5 * 0.25], rtol=1e-15)


@pytest.mark.parametrize("fn", PRODUCTS)
def test_result_follows_sigma_container_and_dtype(fn):
    """sigma decides what comes back: the upstream gradient may be another container or dtype."""
    sigma = torch.tensor([0.25, 0.25, 0.5])
    g = np.array([1.0, 0.0, 0.0])
    out = fn(g, sigma)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert torch.allclose(out, torch.tensor([0.25 * 0.75, -0.25 * 0.25, -0.5 * 0.25]), atol=1e-7)


@pytest.mark.parametrize("fn", PRODUCTS)
def test_empty_batch_gives_empty_result(fn):
    """A batch with no rows is valid input, as it is for torch.softmax."""
    assert fn(torch.zeros(0, 3), torch.zeros(0, 3)).shape == (0, 3)
    assert fn(np.zeros((4, 0)), np.zeros((4, 0)), dim=0).shape == (4, 0)


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn, name", [(jaclab.softmax_vjp, "grad_output"), (jaclab.softmax_jvp, "tangent")])
@pytest.mark.parametrize("g_shape, s_shape", [((3,), (4,)), ((2, 3), (3, 2)), ((2, 3), (3,)), ((1, 3), (3,))])
def test_shape_mismatch_is_rejected_showing_both_shapes(fn, name, g_shape, s_shape):
    sigma = torch.full(s_shape, 1.0 / s_shape[-1])
    with pytest.raises(ValueError, match="same shape") as info:
        fn(torch.zeros(g_shape), sigma)
    msg = str(info.value)
    assert f"{name} {g_shape}" in msg and f"sigma {s_shape}" in msg


@pytest.mark.parametrize("fn", PRODUCTS)
def test_logits_passed_as_sigma_are_rejected(fn):
    z = torch.tensor([[1.0, -2.0, 0.5]])
    with pytest.raises(ValueError, match=r"negative entry \(-2\).*not logits"):
        fn(torch.ones(1, 3), z)


@pytest.mark.parametrize("fn", PRODUCTS)
@pytest.mark.parametrize("sigma", [[1.0, 2.0, 3.0], [0.2, 0.2, 0.2], [0.0, 0.0, 0.0], [0.5, 0.5 + 1e-3, 0.0]])
def test_sigma_that_does_not_sum_to_one_is_rejected(fn, sigma):
    with pytest.raises(ValueError, match="does not sum to 1 along dim=0"):
        fn(np.ones(3), np.array(sigma))


@pytest.mark.parametrize("fn", PRODUCTS)
def test_sigma_row_sums_are_checked_along_dim(fn):
    """A valid softmax along dim=0 is not one along dim=1."""
    sigma = torch.softmax(torch.randn(3, 4, generator=torch.Generator().manual_seed(1)), dim=0)
    fn(torch.ones(3, 4), sigma, dim=0)
    with pytest.raises(ValueError, match="does not sum to 1 along dim=1"):
        fn(torch.ones(3, 4), sigma, dim=1)


@pytest.mark.parametrize("fn", PRODUCTS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), NEG_INF])
def test_non_finite_sigma_is_rejected(fn, bad):
    sigma = torch.tensor([0.5, 0.5, 0.0])
    sigma[2] = bad
    with pytest.raises(ValueError, match="sigma contains NaN or inf"):
        fn(torch.ones(3), sigma)


@pytest.mark.parametrize("fn, name", [(jaclab.softmax_vjp, "grad_output"), (jaclab.softmax_jvp, "tangent")])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), NEG_INF])
def test_non_finite_gradient_is_rejected(fn, name, bad):
    g = torch.ones(3)
    g[1] = bad
    with pytest.raises(ValueError, match=f"{name} contains NaN or inf; it must be finite"):
        fn(g, torch.tensor([0.5, 0.5, 0.0]))


@pytest.mark.parametrize("fn", PRODUCTS)
@pytest.mark.parametrize("dim", [2, -3, 5])
def test_dim_out_of_range_is_rejected(fn, dim):
    with pytest.raises(ValueError, match=rf"dim={dim} is out of range .* shape \(2, 3\).*\[-2, 1\]"):
        fn(torch.ones(2, 3), torch.full((2, 3), 1 / 3), dim=dim)


@pytest.mark.parametrize("fn", PRODUCTS)
@pytest.mark.parametrize("K", [1000, 10_000])
def test_float32_softmax_output_with_many_classes_is_accepted(fn, K):
    z = torch.randn(4, K, generator=torch.Generator().manual_seed(K)) * 5
    sigma = torch.softmax(z, dim=-1)
    assert (sigma.sum(-1) - 1).abs().max() > 0  # the sums really are off by rounding
    out = fn(torch.ones(4, K), sigma)
    assert out.shape == (4, K)


@pytest.mark.parametrize("fn", PRODUCTS)
@pytest.mark.parametrize("dtype", HALF_DTYPES)
@pytest.mark.parametrize("K", [2, 16, 1000])
def test_half_precision_softmax_outputs_are_accepted(fn, dtype, K):
    z = torch.randn(8, K, generator=torch.Generator().manual_seed(K)) * 4
    for sigma in (torch.softmax(z, dim=-1).to(dtype), torch.softmax(z.to(dtype), dim=-1)):
        assert fn(torch.ones(8, K, dtype=dtype), sigma).dtype == dtype


@pytest.mark.parametrize("fn", PRODUCTS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sum_within_dtype_tolerance_is_accepted_but_beyond_it_rejected(fn, dtype):
    eps = torch.finfo(dtype).eps
    sigma = torch.softmax(torch.tensor([0.3, -1.0, 2.0, 0.0], dtype=torch.float64), 0)
    fn(torch.ones(4, dtype=dtype), (sigma * (1 + 16 * eps)).to(dtype))  # a few ulps off: accepted
    with pytest.raises(ValueError, match="does not sum to 1"):
        fn(torch.ones(4, dtype=dtype), (sigma * (1 + 1e-2)).to(dtype))


# ----------------------------------------------------------------------------------------------
# The caller's data is never modified
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", PRODUCTS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_caller_data_is_never_modified(fn, dtype):
    sigma = torch.tensor([[0.25, 0.0, 0.75], [0.5, 0.25, 0.25]], dtype=dtype)
    g = torch.tensor([[1.0, -3.0, 0.5], [2.0, 0.0, -1.0]], dtype=dtype)
    call_unchanged(fn, g, sigma)
    call_unchanged(fn, g.T, sigma.T, dim=0)  # non-contiguous views
    if dtype != torch.bfloat16:
        call_unchanged(fn, g.numpy(), sigma.numpy(), dim=-1)
    call_unchanged(fn, [1.0, 2.0], [0.5, 0.5])
