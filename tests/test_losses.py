"""jaclab.cross_entropy_grad: the gradient of cross-entropy through softmax is σ − y."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
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
    logits,
    sigma64,
    tol,
)


@st.composite
def class_index_problems(draw, **kwargs):
    """Logits (..., K) with the class axis last, and one target class per row that is not masked."""
    case = draw(logits(last_dim=True, **kwargs))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scores = rng.random(tuple(case.z.shape))
    scores[torch.isneginf(case.z).numpy()] = -1.0
    target = torch.from_numpy(np.asarray(scores.argmax(axis=-1)))  # 0-d for a single vector
    return case.z, target


@st.composite
def soft_label_problems(draw, **kwargs):
    """Logits (..., K) and probability rows y in z's dtype (soft labels), zero on masked classes."""
    case = draw(logits(last_dim=True, **kwargs))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sharpness = draw(st.sampled_from([0.0, 1.0, 3.0, 30.0]))  # uniform ... nearly one-hot
    w = rng.normal(scale=sharpness, size=tuple(case.z.shape))
    w[torch.isneginf(case.z).numpy()] = -np.inf
    y = torch.softmax(torch.from_numpy(w), dim=-1).to(case.dtype)
    return case.z, y


def ce_autograd(z, target, soft):
    """∂/∂z of F.cross_entropy(z, target, reduction='sum'), in jaclab's compute dtype.

    F.cross_entropy wants the class axis at position 1 (or 0 for a single vector); our logits
    have it last, so it is moved there and the gradient comes back in our layout.
    """
    zc = z.to(compute_dtype(z.dtype)).requires_grad_()
    inp = zc.movedim(-1, 1) if zc.ndim > 1 else zc
    if soft:
        target = target.to(zc.dtype)
        target = target.movedim(-1, 1) if target.ndim > 1 else target
    F.cross_entropy(inp, target, reduction="sum").backward()
    return zc.grad


@given(class_index_problems())
def test_cross_entropy_grad_equals_autograd_for_class_indices(p):
    z, target = p
    grad = jaclab.cross_entropy_grad(z, target)
    assert grad.shape == z.shape and grad.dtype == z.dtype
    err = (grad.double() - ce_autograd(z, target, soft=False).double()).abs().max().item()
    assert err <= tol(z.dtype, z.shape[-1]), err


@given(soft_label_problems())
def test_cross_entropy_grad_equals_autograd_for_soft_labels(p):
    z, y = p
    grad = jaclab.cross_entropy_grad(z, y)
    assert grad.shape == z.shape and grad.dtype == z.dtype
    err = (grad.double() - ce_autograd(z, y, soft=True).double()).abs().max().item()
    assert err <= tol(z.dtype, z.shape[-1]), err


@given(class_index_problems())
def test_gradient_is_sigma_minus_one_hot(p):
    z, target = p
    K = z.shape[-1]
    expected = sigma64(z, -1) - F.one_hot(target, K).double()
    err = (jaclab.cross_entropy_grad(z, target).double() - expected).abs().max().item()
    assert err <= tol(z.dtype, K), err


@given(soft_label_problems())
def test_gradient_rows_sum_to_zero(p):
    """σ and y both sum to 1, so the gradient never moves the sum of the logits."""
    z, y = p
    K = z.shape[-1]
    grad = jaclab.cross_entropy_grad(z, y).double()
    assert torch.all(grad.sum(-1).abs() <= K * tol(z.dtype, K) + torch.finfo(z.dtype).eps * K)


@given(class_index_problems())
def test_one_hot_rows_and_class_indices_give_the_same_gradient(p):
    z, target = p
    one_hot = F.one_hot(target, z.shape[-1]).to(z.dtype)
    assert torch.equal(jaclab.cross_entropy_grad(z, target), jaclab.cross_entropy_grad(z, one_hot))


def test_batch_mean_gradient_is_the_sum_gradient_over_the_number_of_rows():
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    target = torch.tensor([0, 3, 1, 1, 2, 0])
    zz = z.clone().requires_grad_()
    F.cross_entropy(zz, target, reduction="mean").backward()
    assert torch.allclose(jaclab.cross_entropy_grad(z, target) / 6, zz.grad, rtol=0, atol=1e-16)


@pytest.mark.parametrize("index_dtype", [torch.int64, torch.int32, torch.int16, torch.uint8])
def test_any_integer_dtype_holds_class_indices(index_dtype):
    z = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5]], dtype=torch.float64)
    target = torch.tensor([2, 0]).to(index_dtype)
    expected = torch.softmax(z, -1) - torch.tensor([[0.0, 0, 1], [1, 0, 0]], dtype=torch.float64)
    assert torch.allclose(jaclab.cross_entropy_grad(z, target), expected, rtol=0, atol=1e-16)


@pytest.mark.parametrize("dtype", HALF_DTYPES)
@given(data=st.data())
def test_half_precision_is_computed_in_float32_and_returned_in_input_dtype(dtype, data):
    z, target = data.draw(class_index_problems(dtypes=(dtype,), max_dims=2))
    grad = jaclab.cross_entropy_grad(z, target)
    assert grad.dtype == dtype
    assert torch.equal(grad, jaclab.cross_entropy_grad(z.float(), target).to(dtype))


@pytest.mark.parametrize("dtype", NUMPY_FLOAT_DTYPES)
def test_numpy_in_numpy_out_same_dtype(dtype):
    z = np.array([[0.5, -1.0, 2.0], [3.0, 3.0, NEG_INF]], dtype=dtype)
    target = np.array([2, 1])
    grad = jaclab.cross_entropy_grad(z, target)
    assert isinstance(grad, np.ndarray) and grad.dtype == dtype
    expected = sigma64(torch.from_numpy(z), -1).numpy() - np.eye(3)[target]
    np.testing.assert_allclose(grad, expected, atol=tol(torch.from_numpy(z).dtype, 3))


def test_lists_are_accepted_for_logits_and_targets():
    grad = jaclab.cross_entropy_grad([[1, 2, 3], [0, 0, 0]], [2, 0])
    assert isinstance(grad, np.ndarray) and grad.dtype == np.float64
    expected = torch.softmax(torch.tensor([[1.0, 2, 3], [0, 0, 0]], dtype=torch.float64), -1).numpy()
    expected -= np.eye(3)[[2, 0]]
    np.testing.assert_allclose(grad, expected, rtol=0, atol=1e-16)
    soft = jaclab.cross_entropy_grad([0.0, 0.0], [0.25, 0.75])
    np.testing.assert_allclose(soft, [0.25, -0.25], rtol=0, atol=1e-16)


def test_single_vector_takes_a_0d_class_index():
    z = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64)
    expected = torch.softmax(z, 0) - torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    assert torch.allclose(jaclab.cross_entropy_grad(z, torch.tensor(1)), expected, rtol=0, atol=1e-16)


@pytest.mark.parametrize("soft", [False, True])
def test_empty_batch_gives_empty_result(soft):
    """A batch with no rows is valid input, as it is for F.cross_entropy."""
    z = torch.zeros(0, 3)
    target = torch.zeros(0, 3) if soft else torch.zeros(0, dtype=torch.long)
    assert jaclab.cross_entropy_grad(z, target).shape == (0, 3)


# ----------------------------------------------------------------------------------------------
# Bad targets (bad logits are covered, for every function, in test_validate.py)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [3, 7, -1])
def test_class_index_out_of_range_is_rejected(bad):
    z = torch.zeros(2, 3)
    target = torch.tensor([0, bad])
    lo, hi = min(0, bad), max(0, bad)
    with pytest.raises(ValueError, match=rf"must lie in \[0, 2\] for K=3 classes; got values from {lo} to {hi}"):
        jaclab.cross_entropy_grad(z, target)


@pytest.mark.parametrize(
    "z_shape, t_shape",
    [((2, 3), (3,)), ((2, 3), (2, 1)), ((2, 3), ()), ((3,), (1,)), ((4, 2, 3), (4,)), ((4, 2, 3), (2, 4))],
)
def test_class_index_target_of_the_wrong_shape_is_rejected(z_shape, t_shape):
    with pytest.raises(ValueError, match="class-index target must have shape") as info:
        jaclab.cross_entropy_grad(torch.zeros(z_shape), torch.zeros(t_shape, dtype=torch.long))
    msg = str(info.value)
    assert f"{z_shape[:-1]}" in msg and f"got {t_shape}" in msg


@pytest.mark.parametrize("z_shape, t_shape", [((2, 3), (2, 4)), ((2, 3), (3, 2)), ((2, 3), (2,)), ((3,), (1, 3))])
def test_probability_target_of_the_wrong_shape_is_rejected(z_shape, t_shape):
    with pytest.raises(ValueError, match="probability-row target must have the logits' shape") as info:
        jaclab.cross_entropy_grad(torch.zeros(z_shape), torch.full(t_shape, 1.0 / t_shape[-1]))
    msg = str(info.value)
    assert f"{z_shape}" in msg and f"got {t_shape}" in msg


def test_float_class_indices_are_rejected_with_a_hint():
    with pytest.raises(ValueError, match=r"For class indices pass an integer tensor of shape \(2,\)"):
        jaclab.cross_entropy_grad(torch.zeros(2, 3), torch.tensor([0.0, 2.0]))


@pytest.mark.parametrize(
    "y, words",
    [
        ([[0.5, 0.6, 0.0]], "target does not sum to 1"),
        ([[1.0, 2.0, 3.0]], "target does not sum to 1"),
        ([[1.5, -0.5, 0.0]], "target has a negative entry"),
        ([[float("nan"), 0.5, 0.5]], "target contains NaN or inf"),
        ([[float("inf"), 0.0, 0.0]], "target contains NaN or inf"),
    ],
)
def test_soft_labels_that_are_not_probabilities_are_rejected(y, words):
    with pytest.raises(ValueError, match=words):
        jaclab.cross_entropy_grad(torch.zeros(1, 3), torch.tensor(y))


@pytest.mark.parametrize(
    "target", [torch.tensor([True, False]), torch.tensor([1 + 0j, 0j]), np.array([True, False]), np.array([1j, 2j])]
)
def test_bool_or_complex_target_is_rejected(target):
    with pytest.raises(TypeError, match=r"target must hold class indices \(integers\) or probability rows \(floats\)"):
        jaclab.cross_entropy_grad(torch.zeros(2, 3), target)


@pytest.mark.parametrize("target", [1, 2.0, "1", None, {0: 1}])
def test_target_that_is_not_an_array_is_rejected(target):
    with pytest.raises(TypeError, match="target must be a tensor, numpy array or list; got"):
        jaclab.cross_entropy_grad(torch.zeros(3), target)


# ----------------------------------------------------------------------------------------------
# The caller's data is never modified
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_caller_data_is_never_modified(dtype):
    z = torch.tensor([[0.3, NEG_INF, -2.0], [1e4, 5.0, -1e4]], dtype=torch.float64).to(dtype)
    idx = torch.tensor([0, 2])
    y = torch.tensor([[0.25, 0.0, 0.75], [0.5, 0.25, 0.25]], dtype=dtype)
    call_unchanged(jaclab.cross_entropy_grad, z, idx)
    call_unchanged(jaclab.cross_entropy_grad, z, y)
    call_unchanged(jaclab.cross_entropy_grad, z, y.T.contiguous().T)  # a non-contiguous view
    if dtype != torch.bfloat16:
        call_unchanged(jaclab.cross_entropy_grad, z.numpy(), idx.numpy())
        call_unchanged(jaclab.cross_entropy_grad, z.numpy(), y.numpy())
    call_unchanged(jaclab.cross_entropy_grad, [[0.0, 1.0]], [1])
