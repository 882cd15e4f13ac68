"""Bad input raises a clear error from every public function; good input in any container is accepted.

The checks live in jaclab._validate, so they are tested through every function that relies on them:
each error names the argument, says what was received and what was expected. Errors specific to one
function (shapes of sigma and grad_output, cross-entropy targets, single vectors) are tested in that
function's file.
"""

import ast
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import jaclab
from _strategies import NEG_INF

NAN, INF = float("nan"), float("inf")
SRC = Path(jaclab.__file__).parent


def _shape(x):
    return tuple(np.shape(x))


def _partner_shape(x):
    """The shape for the other argument: x's own if that is a valid shape, else (3,)."""
    shape = _shape(x)
    return shape if len(shape) >= 1 and shape[-1] > 0 else (3,)


def _uniform(x):
    shape = _partner_shape(x)
    return torch.full(shape, 1.0 / shape[-1])


def _ones(x):
    return torch.ones(_partner_shape(x))


def _index_target(x):
    return torch.zeros(_partner_shape(x)[:-1], dtype=torch.long)


# Every public function, with the array under test in each argument role it can take:
# (id, argument name as the message spells it, accepts a batch, accepts dim, call).
ROLES = [
    ("softmax", "z", True, True, lambda x, **kw: jaclab.softmax(x, **kw)),
    ("softmax_jacobian", "z", True, True, lambda x, **kw: jaclab.softmax_jacobian(x, **kw)),
    ("jacobian_via_autograd", "z", True, True, lambda x, **kw: jaclab.jacobian_via_autograd(x, **kw)),
    ("cross_entropy_grad", "z", True, False, lambda x: jaclab.cross_entropy_grad(x, _index_target(x))),
    ("verify_jacobian_properties", "z", False, False, lambda x: jaclab.verify_jacobian_properties(x)),
    ("visualize_jacobian", "z", False, False, lambda x: jaclab.visualize_jacobian(x)),
    ("softmax_vjp(sigma)", "sigma", True, True, lambda x, **kw: jaclab.softmax_vjp(_ones(x), x, **kw)),
    ("softmax_vjp(grad_output)", "grad_output", True, True, lambda x, **kw: jaclab.softmax_vjp(x, _uniform(x), **kw)),
    ("softmax_jvp(sigma)", "sigma", True, True, lambda x, **kw: jaclab.softmax_jvp(_ones(x), x, **kw)),
    ("softmax_jvp(tangent)", "tangent", True, True, lambda x, **kw: jaclab.softmax_jvp(x, _uniform(x), **kw)),
    ("softmax_function", "z", True, True, lambda x, **kw: jaclab.softmax_function(x, **kw)),
    ("log_softmax", "z", True, True, lambda x, **kw: jaclab.log_softmax(x, **kw)),
    ("log_softmax_jacobian", "z", True, True, lambda x, **kw: jaclab.log_softmax_jacobian(x, **kw)),
    ("jacobian_eigenvalues", "z", True, True, lambda x, **kw: jaclab.jacobian_eigenvalues(x, **kw)),
    ("sparsemax", "z", True, True, lambda x, **kw: jaclab.sparsemax(x, **kw)),
    ("sparsemax_jacobian", "z", True, True, lambda x, **kw: jaclab.sparsemax_jacobian(x, **kw)),
    ("sparsemax_vjp(p)", "p", True, True, lambda x, **kw: jaclab.sparsemax_vjp(_ones(x), x, **kw)),
    ("sparsemax_vjp(grad_output)", "grad_output", True, True, lambda x, **kw: jaclab.sparsemax_vjp(x, _uniform(x), **kw)),
]
LOGIT_ROLES = [r for r in ROLES if r[1] == "z"]
# The logit messages name the map: "softmax of +inf is undefined" (tests/test_sparsemax.py checks sparsemax's).
SOFTMAX_LOGIT_ROLES = [r for r in LOGIT_ROLES if not r[0].startswith("sparsemax")]
# The products check sigma before the other argument, so dim errors are tested with x as sigma.
WITH_DIM = [r for r in ROLES if r[3] and r[1] not in ("grad_output", "tangent")]


def roles(table):
    return pytest.mark.parametrize("name, batch, has_dim, call", [r[1:] for r in table], ids=[r[0] for r in table])


# ----------------------------------------------------------------------------------------------
# dtype and container
# ----------------------------------------------------------------------------------------------

BAD_DTYPES = [
    (torch.tensor([1, 2, 3]), "torch.int64"),
    (torch.tensor([1, 2, 3], dtype=torch.int32), "torch.int32"),
    (torch.tensor([1, 2, 3], dtype=torch.uint8), "torch.uint8"),
    (torch.tensor([True, False, True]), "torch.bool"),
    (torch.tensor([1 + 0j, 2, 3]), "torch.complex64"),
    (torch.tensor([1, 2, 3], dtype=torch.complex128), "torch.complex128"),
    (np.array([1, 2, 3]), "numpy dtype int64"),
    (np.array([1, 2, 3], dtype=np.uint16), "numpy dtype uint16"),
    (np.array([True, False, True]), "numpy dtype bool"),
    (np.array([1j, 2, 3]), "numpy dtype complex128"),
    ([True, False, True], "numpy dtype bool"),  # a list of bools is not a list of numbers
    ([1j, 2.0, 3.0], "numpy dtype complex128"),
    (["1", "2", "3"], "numpy dtype <U1"),
]


@roles(ROLES)
@pytest.mark.parametrize("x, got", BAD_DTYPES, ids=[f"{type(x).__name__}-{g}" for x, g in BAD_DTYPES])
def test_integer_bool_and_complex_dtypes_are_rejected(name, batch, has_dim, call, x, got):
    with pytest.raises(TypeError, match=rf"^{name} must have a floating dtype.*got {got}\. Convert it first"):
        call(x)


@roles(ROLES)
@pytest.mark.parametrize("x", ["abc", None, 3.0, {0: 1.0}, torch.float32], ids=repr)
def test_input_that_is_not_an_array_is_rejected(name, batch, has_dim, call, x):
    with pytest.raises(TypeError, match=rf"^{name} must be a torch.Tensor, a numpy array or a list of numbers; got"):
        call(x)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize(
    "make",
    [np.array, lambda a, dtype: np.array(a, dtype=dtype).T, lambda a, dtype: np.array(a, dtype=dtype)[:, ::2]],
    ids=["contiguous", "transposed", "strided"],
)
def test_numpy_arrays_of_any_layout_are_accepted(make, dtype):
    z = make([[0.5, 1.0, -2.0, 3.0], [0.0, 0.0, 1.0, NEG_INF]], dtype=dtype)
    sigma = jaclab.softmax(z, dim=-1)
    assert isinstance(sigma, np.ndarray) and sigma.dtype == dtype
    expected = torch.softmax(torch.from_numpy(np.ascontiguousarray(z)).double(), -1).numpy()
    np.testing.assert_allclose(sigma, expected, atol=2 * np.finfo(dtype).eps)


@pytest.mark.filterwarnings("error")
def test_read_only_numpy_arrays_are_accepted_silently():
    """np.broadcast_to, memory maps and frozen arrays are read-only; jaclab never writes, so it must not warn."""
    z = np.array([[0.5, 1.0, -2.0], [3.0, 0.0, 1.0]])
    z.flags.writeable = False
    sigma = np.array([[0.25, 0.25, 0.5], [0.5, 0.5, 0.0]])
    sigma.flags.writeable = False
    target = np.array([2, 0])
    target.flags.writeable = False
    expected = torch.softmax(torch.tensor(z), -1).numpy()
    np.testing.assert_allclose(jaclab.softmax(z), expected, rtol=1e-15)
    jaclab.softmax_jacobian(z)
    jaclab.softmax_vjp(np.ones((2, 3)), sigma)
    jaclab.cross_entropy_grad(z, target)
    jaclab.cross_entropy_grad(z, sigma)
    jaclab.verify_jacobian_properties(z[0])
    jaclab.visualize_jacobian(z[0])
    assert not z.flags.writeable and not sigma.flags.writeable and not target.flags.writeable


@roles(ROLES)
def test_zero_dim_numpy_array_is_not_mistaken_for_a_vector(name, batch, has_dim, call):
    """np.array(2.0) is a scalar, not the vector [2.0]: it is rejected like the tensor torch.tensor(2.0)."""
    with pytest.raises(ValueError, match=rf"^{name} is a 0-d scalar"):
        call(np.array(2.0))


def test_zero_dim_numpy_class_index_is_a_scalar_target():
    z = np.array([0.0, 1.0, -1.0])
    expected = torch.softmax(torch.from_numpy(z), 0).numpy() - np.eye(3)[1]
    np.testing.assert_allclose(jaclab.cross_entropy_grad(z, np.array(1)), expected, rtol=0, atol=1e-16)
    with pytest.raises(ValueError, match=r"class-index target must have shape \(2,\)"):
        jaclab.cross_entropy_grad(np.zeros((2, 3)), np.array(1))


def test_big_endian_numpy_arrays_are_accepted():
    """Arrays read from files can be big-endian; they hold ordinary floats."""
    z = np.array([[0.5, 1.0, -2.0], [3.0, 0.0, 1.0]], dtype=">f8")
    expected = torch.softmax(torch.tensor(z.astype(np.float64)), -1).numpy()
    np.testing.assert_allclose(jaclab.softmax(z), expected, rtol=1e-15)
    grad = jaclab.cross_entropy_grad(z, np.array([2, 0], dtype=">i4"))
    np.testing.assert_allclose(grad, expected - np.eye(3)[[2, 0]], rtol=0, atol=1e-16)


# ----------------------------------------------------------------------------------------------
# shape and dim
# ----------------------------------------------------------------------------------------------


@roles(ROLES)
@pytest.mark.parametrize(
    "x", [torch.tensor(1.0), torch.tensor(0.5, dtype=torch.float16), np.array(1.0)], ids=["torch", "float16", "numpy"]
)
def test_zero_dim_input_is_rejected(name, batch, has_dim, call, x):
    with pytest.raises(ValueError, match=rf"^{name} is a 0-d scalar, but softmax needs at least one axis of classes"):
        call(x)


@roles(ROLES)
@pytest.mark.parametrize("x", [torch.zeros(0), torch.zeros(2, 0), np.zeros((3, 0))], ids=["(0,)", "(2, 0)", "numpy (3, 0)"])
def test_empty_class_axis_is_rejected(name, batch, has_dim, call, x):
    with pytest.raises(ValueError, match="^" + re.escape(f"{name} has an empty class axis (shape {_shape(x)}")):
        call(x)


@roles(WITH_DIM)
@pytest.mark.parametrize("dim", [2, 3, -3, -10])
def test_dim_out_of_range_is_rejected(name, batch, has_dim, call, dim):
    x = torch.full((2, 3), 1 / 3)
    expected = rf"dim={dim} is out of range for {name} of shape \(2, 3\); expected an integer in \[-2, 1\]"
    with pytest.raises(ValueError, match=expected):
        call(x, dim=dim)


@roles(WITH_DIM)
@pytest.mark.parametrize("dim", [1.0, "1", None, True], ids=repr)
def test_dim_that_is_not_an_int_is_rejected(name, batch, has_dim, call, dim):
    with pytest.raises(TypeError, match=r"dim must be an int; got"):
        call(torch.full((2, 3), 1 / 3), dim=dim)


@roles(WITH_DIM)
def test_empty_class_axis_along_dim_is_rejected_even_when_other_axes_are_not_empty(name, batch, has_dim, call):
    with pytest.raises(ValueError, match=rf"{name} has an empty class axis \(shape \(0, 3\), dim=0\)"):
        call(torch.zeros(0, 3), dim=0)


# ----------------------------------------------------------------------------------------------
# values: NaN, +inf, rows that are all -inf
# ----------------------------------------------------------------------------------------------


@roles(LOGIT_ROLES)
@pytest.mark.parametrize("container", [torch.tensor, np.array])
def test_nan_logit_is_rejected_and_located(name, batch, has_dim, call, container):
    z = container([0.0, 1.0, NAN, NAN])
    with pytest.raises(ValueError, match=r"^z contains NaN \(first at index \(2,\)\); logits must be numbers"):
        call(z)


@roles(SOFTMAX_LOGIT_ROLES)
@pytest.mark.parametrize("container", [torch.tensor, np.array])
def test_positive_inf_logit_is_rejected_and_located(name, batch, has_dim, call, container):
    z = container([0.0, INF, 1.0])
    with pytest.raises(ValueError, match=r"^z contains \+inf \(first at index \(1,\)\); softmax of \+inf is undefined"):
        call(z)


@roles(SOFTMAX_LOGIT_ROLES)
def test_a_vector_of_all_neg_inf_is_rejected(name, batch, has_dim, call):
    with pytest.raises(ValueError, match=r"^z is all -inf, so its softmax would be 0/0"):
        call(torch.full((4,), NEG_INF))


@roles([r for r in LOGIT_ROLES if r[2]])
@pytest.mark.parametrize("row", [0, 2])
def test_a_row_of_all_neg_inf_is_rejected_naming_the_row(name, batch, has_dim, call, row):
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    z[row] = NEG_INF
    z[1, 1] = NEG_INF  # a mask in a row that keeps finite logits is fine
    with pytest.raises(ValueError, match=rf"all -inf: the row at index \({row},\) of the batch shape \(3,\)"):
        call(z)


@pytest.mark.parametrize("fn", [jaclab.softmax, jaclab.softmax_jacobian, jaclab.jacobian_via_autograd])
def test_the_named_row_is_the_batch_index_with_dim_removed(fn):
    z = torch.zeros(2, 3, 4)
    z[1, :, 3] = NEG_INF  # along dim=1, the row at batch index (1, 3) is all -inf
    with pytest.raises(ValueError, match=r"the row at index \(1, 3\) of the batch shape \(2, 4\) \(class axis dim=1 removed\)"):
        fn(z, dim=1)
    z = torch.zeros(2, 3, 4)
    z[0, 2, :] = NEG_INF
    with pytest.raises(ValueError, match=r"the row at index \(0, 2\) of the batch shape \(2, 3\)"):
        fn(z, dim=-1)


def test_nan_in_a_batch_is_located_by_its_full_index():
    z = torch.zeros(2, 3, 4)
    z[1, 2, 0] = NAN
    with pytest.raises(ValueError, match=r"first at index \(1, 2, 0\)"):
        jaclab.softmax(z, dim=0)


@roles([r for r in LOGIT_ROLES])
def test_masked_logits_with_a_finite_entry_in_every_row_are_accepted(name, batch, has_dim, call):
    call(torch.tensor([NEG_INF, 0.5, NEG_INF, -1.0]))


@roles([r for r in ROLES if r[1] != "z"])
@pytest.mark.parametrize("bad", [NAN, INF, NEG_INF])
def test_non_finite_sigma_or_gradient_is_rejected(name, batch, has_dim, call, bad):
    x = torch.tensor([0.5, 0.5, 0.0])
    x[-1] = bad
    with pytest.raises(ValueError, match=rf"^{name} contains NaN or inf"):
        call(x)


# ----------------------------------------------------------------------------------------------
# Conventions
# ----------------------------------------------------------------------------------------------


def test_only__validate_raises_errors():
    """Validation lives in one place: no other module of jaclab, the explorer included, has a raise statement."""
    raising = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "_validate.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise):
                raising.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not raising, f"checks outside _validate.py: {raising}"


def test_errors_are_raised_before_any_warning():
    """Bad input gives one clear error, not a torch warning followed by a torch error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="z contains NaN"):
            jaclab.softmax_jacobian(np.array([NAN, 1.0], dtype=np.float16))
