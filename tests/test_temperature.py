"""The keyword-only ``temperature=T`` of every softmax function: σ_T = softmax(z/T), J_T = J(z/T)/T, and the checks on T.

Each derivative is compared with autograd differentiating ``torch.softmax(z / T)`` (shares no code with jaclab).
T = 1 must give exactly what the call without a temperature gives.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _strategies import (
    FLOAT_DTYPES,
    HALF_DTYPES,
    NEG_INF,
    NUMPY_FLOAT_DTYPES,
    call_unchanged,
    compute_dtype,
    fewer_examples,
    like,
    logit_vectors,
    logits,
    tol,
)
from hypothesis import given
from hypothesis import strategies as st

import jaclab

NAN, INF = float("nan"), float("inf")

# torch's forward-mode AD of a division scripts a helper on first use, and torch.jit.script warns.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

#: Temperatures from 10^-2 to 10^2 on a log scale, with T = 1 drawn often.
temperatures = st.one_of(st.just(1.0), st.floats(-2.0, 2.0).map(lambda e: 10.0**e))


def sigma_T64(z, dim, T):
    return torch.softmax(z.double() / T, dim=dim)


def product_tol(dtype, K, g, T):
    return tol(dtype, K) * max(1.0, 2 * g.double().abs().max().item()) / T


# ---- values and derivatives ------------------------------------------------------------------


@given(logits(), temperatures)
def test_softmax_at_temperature_is_softmax_of_z_over_T(case, T):
    out = jaclab.softmax(case.z, dim=case.dim, temperature=T)
    assert out.shape == case.z.shape and out.dtype == case.dtype
    err = (out.double() - sigma_T64(case.z, case.dim, T)).abs().max().item() if out.numel() else 0.0
    assert err <= tol(case.dtype, case.K), err


@given(logits(), temperatures)
def test_softmax_jacobian_at_temperature_is_J_of_z_over_T_divided_by_T(case, T):
    """J_T = (1/T)(diag σ_T − σ_T σ_Tᵀ), element by element in float64."""
    J = jaclab.softmax_jacobian(case.z, dim=case.dim, temperature=T).double()
    s = sigma_T64(case.z, case.dim, T).movedim(case.dim, -1)
    ref = s[..., :, None] * (torch.eye(case.K, dtype=torch.float64) - s[..., None, :]) / T
    err = (J - ref).abs().max().item() if J.numel() else 0.0
    assert err <= tol(case.dtype, case.K) / T, err


@fewer_examples
@given(logits(dtypes=(torch.float64, torch.float32)), temperatures)
def test_softmax_jacobian_at_temperature_matches_the_autograd_reference(case, T):
    J = jaclab.softmax_jacobian(case.z, dim=case.dim, temperature=T)
    J_ref = jaclab.jacobian_via_autograd(case.z, dim=case.dim, temperature=T)
    assert J_ref.shape == J.shape and J_ref.dtype == J.dtype
    err = (J.double() - J_ref.double()).abs().max().item() if J.numel() else 0.0
    assert err <= tol(case.dtype, case.K) / T, err


@fewer_examples
@given(logit_vectors(dtypes=(torch.float64,), max_abs=30.0), temperatures)
def test_autograd_reference_is_jacrev_of_torch_softmax_of_z_over_T(z, T):
    ref = torch.func.jacrev(lambda v: torch.softmax(v / T, dim=-1))(z)
    assert torch.allclose(jaclab.jacobian_via_autograd(z, temperature=T), ref, rtol=0, atol=1e-15 / T)


@given(logits(), temperatures)
def test_spectral_norm_is_at_most_one_over_2T(case, T):
    J = jaclab.softmax_jacobian(case.z, dim=case.dim, temperature=T).double()
    if J.numel():
        assert torch.all(torch.linalg.matrix_norm(J, ord=2) <= (0.5 + tol(case.dtype, case.K)) / T)


@st.composite
def problems(draw, **kwargs):
    """(z, dim, T, σ_T, g): logits, a temperature, softmax(z/T) in z's dtype, an upstream gradient."""
    case = draw(logits(**kwargs))
    T = draw(temperatures)
    sigma = torch.softmax(case.z.to(compute_dtype(case.dtype)) / T, dim=case.dim).to(case.dtype)
    return case.z, case.dim, T, sigma, like(draw, case.z)


@given(problems())
def test_vjp_at_temperature_is_what_backward_through_softmax_of_z_over_T_gives(p):
    z, dim, T, sigma, g = p
    zc = z.to(compute_dtype(z.dtype)).requires_grad_()
    torch.softmax(zc / T, dim=dim).backward(g.to(zc.dtype))
    vjp = jaclab.softmax_vjp(g, sigma, dim=dim, temperature=T)
    assert vjp.shape == sigma.shape and vjp.dtype == sigma.dtype
    err = (vjp.double() - zc.grad.double()).abs().max().item() if vjp.numel() else 0.0
    assert err <= product_tol(z.dtype, z.shape[dim], g, T), err


@given(problems())
def test_jvp_at_temperature_is_torch_func_jvp_of_softmax_of_z_over_T(p):
    z, dim, T, sigma, v = p
    zc, vc = z.to(compute_dtype(z.dtype)), v.to(compute_dtype(z.dtype))
    _, ref = torch.func.jvp(lambda x: torch.softmax(x / T, dim=dim), (zc,), (vc,))
    jvp = jaclab.softmax_jvp(v, sigma, dim=dim, temperature=T)
    err = (jvp.double() - ref.double()).abs().max().item() if jvp.numel() else 0.0
    assert err <= product_tol(z.dtype, z.shape[dim], v, T), err


@given(problems(dtypes=(torch.float64, torch.float32)))
def test_vjp_at_temperature_is_the_plain_vjp_divided_by_T(p):
    """The documented relation: the gradient in z is (1/T) times the gradient in u = z/T."""
    _, dim, T, sigma, g = p
    for fn in (jaclab.softmax_vjp, jaclab.softmax_jvp):
        scaled = fn(g, sigma, dim=dim, temperature=T).double()
        plain = fn(g, sigma, dim=dim).double()
        assert torch.allclose(scaled, plain / T, rtol=4 * torch.finfo(sigma.dtype).eps, atol=0)


@given(logits(dtypes=(torch.float64, torch.float32), last_dim=True, masks=False), temperatures, st.data())
def test_cross_entropy_grad_at_temperature_is_the_gradient_of_CE_of_z_over_T(case, T, data):
    z = case.z
    target = torch.from_numpy(np.asarray(data.draw(st.lists(st.integers(0, case.K - 1),
                                                            min_size=z[..., 0].numel(),
                                                            max_size=z[..., 0].numel())),
                                          dtype=np.int64)).reshape(z.shape[:-1])
    zc = z.double().requires_grad_()
    F.cross_entropy((zc / T).reshape(-1, case.K), target.reshape(-1), reduction="sum").backward()
    grad = jaclab.cross_entropy_grad(z, target, temperature=T)
    assert grad.dtype == z.dtype
    err = (grad.double() - zc.grad).abs().max().item()
    assert err <= 2 * tol(z.dtype, case.K) / T, err


def test_cross_entropy_grad_at_temperature_with_soft_targets():
    z = torch.tensor([[1.0, -0.5, 2.0], [0.0, 3.0, -1.0]], dtype=torch.float64)
    y = torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]], dtype=torch.float64)
    for T in [0.1, 2.0, 30.0]:
        zc = z.clone().requires_grad_()
        F.cross_entropy(zc / T, y, reduction="sum").backward()
        assert torch.allclose(jaclab.cross_entropy_grad(z, y, temperature=T), zc.grad, rtol=0, atol=1e-15)


# ---- softmax_function: the autograd.Function with a temperature --------------------------------


@pytest.mark.parametrize("T", [0.3, 1.0, 5.0])
@pytest.mark.parametrize("shape, dim", [((5,), 0), ((3, 4), -1), ((2, 3, 4), 1)])
def test_softmax_function_at_temperature_passes_gradcheck_and_gradgradcheck(T, shape, dim):
    z = (3 * torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)).requires_grad_()
    def f(x):
        return jaclab.softmax_function(x, dim=dim, temperature=T)

    assert torch.autograd.gradcheck(f, (z,), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(f, (z,))


@given(problems(dtypes=(torch.float64, torch.float32)))
def test_softmax_function_at_temperature_values_and_gradient(p):
    z, dim, T, _, g = p
    out = jaclab.softmax_function(z, dim=dim, temperature=T)
    assert torch.equal(out, jaclab.softmax(z, dim=dim, temperature=T))
    zc = z.clone().requires_grad_()
    jaclab.softmax_function(zc, dim=dim, temperature=T).backward(g)
    zr = z.clone().requires_grad_()
    torch.softmax(zr / T, dim=dim).backward(g)
    err = (zc.grad.double() - zr.grad.double()).abs().max().item() if z.numel() else 0.0
    assert err <= product_tol(z.dtype, z.shape[dim], g, T), err


def test_softmax_function_at_T_1_records_only_its_own_node():
    z = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert type(jaclab.softmax_function(z, temperature=1.0).grad_fn).__name__ == "SoftmaxFunctionBackward"


# ---- the properties report -----------------------------------------------------------------------


@given(logit_vectors(dtypes=(torch.float64, torch.float32)), temperatures)
def test_properties_report_at_temperature(z, T):
    report = jaclab.verify_jacobian_properties(z, temperature=T)
    assert report.all_hold, report
    assert report.temperature == T and report.lambda_max_bound == 0.5 / T
    K = z.shape[0]
    assert report.tol == pytest.approx(8 * K * torch.finfo(compute_dtype(z.dtype)).eps / T)
    J = jaclab.softmax_jacobian(z.to(compute_dtype(z.dtype)), temperature=T).double()
    np.testing.assert_allclose(report.eigenvalues.numpy(), torch.linalg.eigvalsh(J).numpy(), rtol=0, atol=report.tol)


def test_properties_report_repr_names_the_temperature_and_the_bound():
    text = repr(jaclab.verify_jacobian_properties(torch.tensor([1.0, 1.0, -3.0], dtype=torch.float64), temperature=0.01))
    assert text.startswith("JacobianReport(K=3, T=0.01, all_hold=True")
    assert "λ_max ≤ 1/(2T)" in text and "bound 50" in text
    assert "T=" not in repr(jaclab.verify_jacobian_properties(torch.tensor([1.0, 2.0])))


# ---- T = 1 is the plain function, bit for bit ------------------------------------------------------


@fewer_examples
@given(logits(dtypes=(torch.float64, torch.float32, torch.float16)))
def test_temperature_one_gives_exactly_the_plain_result(case):
    z, dim = case.z, case.dim
    for fn in [jaclab.softmax, jaclab.log_softmax, jaclab.softmax_jacobian, jaclab.log_softmax_jacobian,
               jaclab.jacobian_via_autograd, jaclab.softmax_function]:
        assert torch.equal(fn(z, dim=dim, temperature=1.0), fn(z, dim=dim)), fn.__name__
        assert torch.equal(fn(z, dim=dim, temperature=1), fn(z, dim=dim)), fn.__name__
    sigma = jaclab.softmax(z, dim=dim)
    for fn in [jaclab.softmax_vjp, jaclab.softmax_jvp]:
        assert torch.equal(fn(z.nan_to_num(neginf=-1.0), sigma, dim=dim, temperature=1.0),
                           fn(z.nan_to_num(neginf=-1.0), sigma, dim=dim))


# ---- tiny and huge temperatures ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tiny_temperature_never_overflows_where_z_over_T_would(dtype):
    """(z − max z)/T ≤ 0: no overflow; the literal z/T is inf and torch.softmax(z/T) is NaN."""
    T = 1e-36 if dtype == torch.float32 else 1e-305
    z = torch.tensor([1e4, 0.0, NEG_INF], dtype=dtype)
    assert torch.isnan(torch.softmax(z / T, dim=-1)).any()
    assert torch.equal(jaclab.softmax(z, temperature=T), torch.tensor([1.0, 0.0, 0.0], dtype=dtype))
    assert torch.equal(jaclab.softmax_jacobian(z, temperature=T), torch.zeros(3, 3, dtype=dtype))
    log_p = jaclab.log_softmax(z, temperature=T)
    assert log_p[0] == 0 and log_p[1] < -1e30 and log_p[2] == NEG_INF
    # Two tied maxima: σ is uniform on them and J_T = J(uniform on the ties)/T, which is finite here.
    tied = torch.tensor([1e4, 1e4, 0.0], dtype=dtype)
    assert torch.equal(jaclab.softmax(tied, temperature=T), torch.tensor([0.5, 0.5, 0.0], dtype=dtype))
    J = jaclab.softmax_jacobian(tied, temperature=T)
    expected = torch.tensor([[0.25, -0.25, 0.0], [-0.25, 0.25, 0.0], [0.0, 0.0, 0.0]], dtype=dtype) / T
    assert torch.isfinite(J).all() and torch.allclose(J, expected, rtol=1e-6, atol=0)


def test_huge_temperature_flattens_to_uniform():
    z = torch.tensor([3.0, -1.0, 0.5, 2.0], dtype=torch.float64)
    T = 1e12
    assert torch.allclose(jaclab.softmax(z, temperature=T), torch.full((4,), 0.25, dtype=torch.float64), atol=1e-11)
    J0 = (torch.eye(4, dtype=torch.float64) / 4 - 1 / 16)
    assert torch.allclose(T * jaclab.softmax_jacobian(z, temperature=T), J0, atol=1e-11)


# ---- containers, dtypes, the caller's data -------------------------------------------------------

Z_FUNCTIONS = [jaclab.softmax, jaclab.softmax_jacobian, jaclab.jacobian_via_autograd, jaclab.softmax_function,
               jaclab.log_softmax, jaclab.log_softmax_jacobian]


@pytest.mark.parametrize("fn", Z_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", HALF_DTYPES)
@fewer_examples
@given(data=st.data())
def test_half_precision_at_temperature_is_computed_in_float32(fn, dtype, data):
    case = data.draw(logits(dtypes=(dtype,), max_dims=2))
    T = data.draw(temperatures)
    out = fn(case.z, dim=case.dim, temperature=T)
    assert out.dtype == dtype
    assert torch.equal(out, fn(case.z.float(), dim=case.dim, temperature=T).to(dtype))


@pytest.mark.parametrize("fn", Z_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", NUMPY_FLOAT_DTYPES)
def test_numpy_in_numpy_out_at_temperature(fn, dtype):
    z = np.array([[0.5, -1.0, 2.0], [3.0, 3.0, NEG_INF]], dtype=dtype)
    out = fn(z, temperature=0.5)
    assert isinstance(out, np.ndarray) and out.dtype == dtype
    expected = fn(torch.from_numpy(z), temperature=0.5).numpy()
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_caller_data_is_never_modified_at_temperature(dtype):
    z = torch.tensor([[0.3, NEG_INF, -2.0], [1e4, 5.0, -1e4]], dtype=torch.float64).to(dtype)
    for fn in Z_FUNCTIONS:
        call_unchanged(fn, z, dim=-1, temperature=0.3)
        call_unchanged(fn, z.T, dim=0, temperature=3.0)
    sigma = jaclab.softmax(z, temperature=0.3)
    g = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]], dtype=dtype)
    for fn in [jaclab.softmax_vjp, jaclab.softmax_jvp]:
        call_unchanged(fn, g, sigma, temperature=0.3)
        call_unchanged(fn, g.T, sigma.T, dim=0, temperature=0.3)
    call_unchanged(jaclab.cross_entropy_grad, z, torch.tensor([0, 2]), temperature=0.3)
    call_unchanged(jaclab.verify_jacobian_properties, z[0], temperature=0.3)


# ---- bad temperatures ------------------------------------------------------------------------------

Z3 = torch.tensor([0.5, -1.0, 2.0])
S3 = jaclab.softmax(Z3)
CALLS = [
    ("softmax", lambda T: jaclab.softmax(Z3, temperature=T)),
    ("log_softmax", lambda T: jaclab.log_softmax(Z3, temperature=T)),
    ("softmax_jacobian", lambda T: jaclab.softmax_jacobian(Z3, temperature=T)),
    ("log_softmax_jacobian", lambda T: jaclab.log_softmax_jacobian(Z3, temperature=T)),
    ("jacobian_via_autograd", lambda T: jaclab.jacobian_via_autograd(Z3, temperature=T)),
    ("softmax_vjp", lambda T: jaclab.softmax_vjp(Z3, S3, temperature=T)),
    ("softmax_jvp", lambda T: jaclab.softmax_jvp(Z3, S3, temperature=T)),
    ("softmax_function", lambda T: jaclab.softmax_function(Z3, temperature=T)),
    ("cross_entropy_grad", lambda T: jaclab.cross_entropy_grad(Z3, torch.tensor(0), temperature=T)),
    ("verify_jacobian_properties", lambda T: jaclab.verify_jacobian_properties(Z3, temperature=T)),
]
calls = pytest.mark.parametrize("call", [c for _, c in CALLS], ids=[n for n, _ in CALLS])


@calls
@pytest.mark.parametrize("T", [0, 0.0, -0.0, -1.0, INF, -INF, NAN, np.float64(-2.0)], ids=repr)
def test_temperature_that_is_not_positive_and_finite_is_rejected(call, T):
    with pytest.raises(ValueError, match=r"^temperature must be a positive finite number; got .*\. "
                                         r"Use temperature=1\.0 for the plain softmax"):
        call(T)


@calls
@pytest.mark.parametrize(
    "T, got",
    [(True, "bool"), (False, "bool"), ("2.0", "str"), (None, "NoneType"), (1j, "complex"), ([2.0], "list"),
     (np.bool_(True), "bool")],
    ids=repr,
)
def test_temperature_that_is_not_a_real_number_is_rejected(call, T, got):
    with pytest.raises(TypeError, match=rf"^temperature must be a real number such as 0\.5 or 2\.0; got {got}\.$"):
        call(T)


@calls
@pytest.mark.parametrize("T", [torch.tensor(2.0), np.array(2.0)], ids=["tensor", "ndarray"])
def test_temperature_given_as_an_array_is_rejected_with_the_fix(call, T):
    with pytest.raises(TypeError, match=r"^temperature must be a real number .*; got (Tensor|ndarray)\. "
                                        r"Pass a Python float, e.g\. temperature=T\.item\(\)\.$"):
        call(T)


@calls
def test_temperature_below_the_smallest_normal_number_of_the_compute_dtype_is_rejected(call):
    with pytest.raises(ValueError, match=r"^temperature=1e-40 is below the smallest normal torch\.float32 number "
                                         r"\(1\.18e-38\).*use temperature >= 1\.18e-38, or compute in float64\.$"):
        call(1e-40)


def test_float64_accepts_temperatures_that_float32_cannot_represent():
    z = torch.tensor([0.0, -1e-300, 1.0], dtype=torch.float64)
    assert torch.equal(jaclab.softmax(z, temperature=1e-40), torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))


@calls
@pytest.mark.parametrize("T", [2, np.float32(0.5), np.int64(3), 1e-3, 1e3], ids=repr)
def test_integers_and_numpy_scalars_are_accepted(call, T):
    call(T)


def test_temperature_is_keyword_only():
    with pytest.raises(TypeError):
        jaclab.softmax(Z3, -1, 2.0)
    with pytest.raises(TypeError):
        jaclab.softmax_vjp(Z3, S3, -1, 2.0)
