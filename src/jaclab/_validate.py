"""Every input check jaclab makes, in one place.

Public functions never test their inputs themselves; they call the helpers
below, which either return a clean float tensor (plus a way to convert the
result back to what the caller passed in) or raise an error that says what was
received and what was expected.

Nothing here modifies the caller's data: conversions return new tensors (or
read-only views), and no function in jaclab writes into its inputs.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

# Half-precision inputs are computed in float32 and returned in their own dtype.
_UPCAST = {torch.float16: torch.float32, torch.bfloat16: torch.float32}


@dataclass(frozen=True)
class Converted:
    """A validated input: the tensor to compute with, and how to hand results back."""

    tensor: torch.Tensor  # floating, in the compute dtype
    dim: int  # the class axis, normalised to a non-negative index
    input_dtype: torch.dtype  # the caller's dtype (results are returned in it)
    as_numpy: bool  # the caller passed a numpy array or a list

    def back(self, result: torch.Tensor) -> Any:
        """Return ``result`` in the caller's dtype and container."""
        result = result.to(self.input_dtype)
        if self.as_numpy:
            return result.detach().cpu().numpy()
        return result


def _from_numpy(arr: np.ndarray) -> torch.Tensor:
    """A tensor on ``arr``'s memory, or on a copy when torch cannot share it.

    Copies when ``arr`` is strided, read-only (torch warns about those) or not in native byte
    order (torch refuses those). ``np.require`` keeps a 0-d array 0-d, which
    ``np.ascontiguousarray`` would turn into shape (1,).
    """
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return torch.from_numpy(np.require(arr, requirements=["C", "W"]))


def _to_tensor(x: Any, name: str) -> tuple[torch.Tensor, bool]:
    """Turn a tensor, numpy array or (nested) list into a tensor without copying data we own."""
    if isinstance(x, torch.Tensor):
        return x, False
    if isinstance(x, np.ndarray):
        arr = x
    elif isinstance(x, (list, tuple)):
        arr = np.asarray(x)
        # A list carries no dtype: plain Python numbers are read as float64.
        if arr.dtype.kind in "iu":
            arr = arr.astype(np.float64)
    else:
        raise TypeError(
            f"{name} must be a torch.Tensor, a numpy array or a list of numbers; "
            f"got {type(x).__name__}."
        )
    if arr.dtype.kind not in "f":
        raise TypeError(
            f"{name} must have a floating dtype; got numpy dtype {arr.dtype}. "
            f"Convert it first, e.g. np.asarray({name}, dtype=np.float64)."
        )
    # torch.from_numpy shares memory; jaclab never writes into its inputs.
    return _from_numpy(arr), True


def _check_float_dtype(t: torch.Tensor, name: str) -> None:
    if not t.is_floating_point():
        raise TypeError(
            f"{name} must have a floating dtype (float16, bfloat16, float32 or float64); "
            f"got {t.dtype}. Convert it first, e.g. {name}.float()."
        )


def _normalise_dim(t: torch.Tensor, dim: int, name: str) -> int:
    if t.ndim == 0:
        raise ValueError(
            f"{name} is a 0-d scalar, but softmax needs at least one axis of classes; "
            f"pass a vector of shape (K,) or a batch of shape (..., K)."
        )
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"dim must be an int; got {type(dim).__name__}.")
    dim = int(dim)
    if not -t.ndim <= dim < t.ndim:
        raise ValueError(
            f"dim={dim} is out of range for {name} of shape {tuple(t.shape)}; "
            f"expected an integer in [{-t.ndim}, {t.ndim - 1}]."
        )
    dim = dim % t.ndim
    if t.shape[dim] == 0:
        raise ValueError(
            f"{name} has an empty class axis (shape {tuple(t.shape)}, dim={dim}); "
            f"softmax needs at least one class."
        )
    return dim


def floating(x: Any, name: str, dim: int) -> Converted:
    """Common first step: container, dtype, shape and the class axis."""
    t, as_numpy = _to_tensor(x, name)
    _check_float_dtype(t, name)
    dim = _normalise_dim(t, dim, name)
    compute = t.to(_UPCAST.get(t.dtype, t.dtype))
    return Converted(compute, dim, t.dtype, as_numpy)


def _first_index(mask: torch.Tensor) -> tuple[int, ...]:
    return tuple(int(i) for i in torch.nonzero(mask)[0])


def logits(z: Any, dim: int = -1, name: str = "z", op: str = "softmax") -> Converted:
    """Validate logits: floating, at least 1-d, no NaN or +inf, no row that is all -inf.

    ``op`` names the map the logits are for (``"softmax"`` or ``"sparsemax"``), for the messages.

    A -inf logit is a mask and is allowed as long as its row still has a finite entry.
    One cheap reduction screens the input: every row maximum is finite exactly when
    there is no NaN, no +inf and no all -inf row. Only a failing input pays for the
    elementwise search that names the problem.
    """
    c = floating(z, name, dim)
    t = c.tensor
    if t.numel() == 0 or torch.isfinite(t.amax(dim=c.dim)).all():
        return c
    if torch.isnan(t).any():
        where = _first_index(torch.isnan(t))
        raise ValueError(f"{name} contains NaN (first at index {where}); logits must be numbers.")
    if torch.isposinf(t).any():
        where = _first_index(torch.isposinf(t))
        raise ValueError(
            f"{name} contains +inf (first at index {where}); {op} of +inf is undefined. "
            f"Use large finite logits, or -inf to mask a class out."
        )
    all_masked = torch.isneginf(t).all(dim=c.dim)
    undefined = "would be 0/0" if op == "softmax" else "is undefined (no point of the simplex is nearest)"
    if all_masked.ndim == 0:
        raise ValueError(
            f"{name} is all -inf, so its {op} {undefined}; keep at least one finite logit."
        )
    row = _first_index(all_masked)
    raise ValueError(
        f"{name} has a row whose logits are all -inf: the row at index {row} of the batch "
        f"shape {tuple(all_masked.shape)} (class axis dim={c.dim} removed). Its {op} "
        f"{undefined}; keep at least one finite logit in every row."
    )


def _tolerance(dtype: torch.dtype, K: int) -> float:
    """How far a probability row's sum may stray from 1 in ``dtype``."""
    eps = torch.finfo(dtype).eps
    return max(eps**0.5, 4 * K * eps)


def probabilities(sigma: Any, dim: int = -1, name: str = "sigma", source: str = "softmax") -> Converted:
    """Validate a probability tensor: entries in [0, 1] that sum to 1 along ``dim``.

    ``source`` names the jaclab function whose output belongs here (``"softmax"`` or
    ``"sparsemax"``), for the message that says what to pass instead.

    The sum tolerance depends on the caller's dtype (sqrt(eps), or 4*K*eps when larger).
    Failing this check usually means logits were passed where softmax outputs belong.
    Two reductions (the minimum and the row sums) screen the input; NaN or inf makes
    one of them non-finite, and only then is the input searched elementwise.
    """
    c = floating(sigma, name, dim)
    t = c.tensor
    if t.numel() == 0:  # an empty batch (K >= 1 is already checked): no row to check
        return c
    lo = t.amin()
    err = (t.sum(dim=c.dim) - 1).abs().amax()
    screened = bool(torch.isfinite(lo)) and bool(torch.isfinite(err))
    if not screened and not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf; it must be a probability vector along dim={c.dim}.")
    if lo < 0:
        raise ValueError(
            f"{name} has a negative entry ({float(lo):.4g}); it must be {source} probabilities along "
            f"dim={c.dim}, not logits. Pass jaclab.{source}(z) instead of z."
        )
    tol = _tolerance(c.input_dtype, t.shape[c.dim])
    if err > tol:
        raise ValueError(
            f"{name} does not sum to 1 along dim={c.dim} (largest |sum - 1| = {float(err):.3g}, "
            f"tolerance {tol:.1g} for {c.input_dtype}); it must be {source} probabilities, not logits. "
            f"Pass jaclab.{source}(z) instead of z."
        )
    return c


def finite(x: Any, dim: int, name: str) -> Converted:
    """Validate a finite floating tensor, such as an upstream gradient or a tangent.

    A finite total proves every entry finite; only when it is not (NaN, inf, or an
    overflowing sum of large entries) is the input searched elementwise.
    """
    c = floating(x, name, dim)
    t = c.tensor
    if not torch.isfinite(t.sum()) and not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf; it must be finite.")
    return c


def same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape; got {name_a} {tuple(a.shape)} "
            f"and {name_b} {tuple(b.shape)}."
        )


def vector(c: Converted, name: str) -> None:
    """Require a single logit vector of shape (K,)."""
    if c.tensor.ndim != 1:
        raise ValueError(
            f"{name} must be a single logit vector of shape (K,); got shape {tuple(c.tensor.shape)}. "
            f"Pass one row at a time, e.g. {name}[0]."
        )


def probability_vector(c: Converted, name: str) -> None:
    """Require a single probability vector of shape (K,)."""
    if c.tensor.ndim != 1:
        raise ValueError(
            f"{name} must be a single probability vector of shape (K,); got shape "
            f"{tuple(c.tensor.shape)}. Pass one row at a time, e.g. {name}[0]."
        )


def targets(target: Any, z: torch.Tensor, name: str = "target") -> tuple[torch.Tensor, bool]:
    """Validate cross-entropy targets for logits ``z`` of shape (..., K).

    Returns the target as probability rows (one-hot for class indices) in z's dtype,
    and whether the caller passed class indices.
    """
    if isinstance(target, (list, tuple)):
        target = np.asarray(target)
    if isinstance(target, np.ndarray):
        target = _from_numpy(target)
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, numpy array or list; got {type(target).__name__}.")
    K = z.shape[-1]
    if not target.is_floating_point():
        if target.dtype == torch.bool or target.is_complex():
            raise TypeError(f"{name} must hold class indices (integers) or probability rows (floats); got {target.dtype}.")
        if target.shape != z.shape[:-1]:
            raise ValueError(
                f"class-index {name} must have shape {tuple(z.shape[:-1])} (the logits' shape without "
                f"the class axis); got {tuple(target.shape)}."
            )
        if target.numel() and (target.min() < 0 or target.max() >= K):
            raise ValueError(
                f"class-index {name} must lie in [0, {K - 1}] for K={K} classes; "
                f"got values from {int(target.min())} to {int(target.max())}."
            )
        return torch.nn.functional.one_hot(target.long(), K).to(z.dtype), True
    if target.shape != z.shape:
        raise ValueError(
            f"probability-row {name} must have the logits' shape {tuple(z.shape)}; got {tuple(target.shape)}. "
            f"For class indices pass an integer tensor of shape {tuple(z.shape[:-1])}."
        )
    return probabilities(target, dim=-1, name=name).tensor.to(z.dtype), False


def integer_in_range(x: Any, lo: int, hi: int, name: str, what: str) -> int:
    """An int in [lo, hi]; ``what`` says what the range is, for the message."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral) or not lo <= x <= hi:
        raise ValueError(f"{what} = {lo} … {hi}; got {name}={x!r}.")
    return int(x)


def number_in_range(x: Any, lo: float, hi: float, name: str, why: str) -> float:
    """A finite real number in [lo, hi]; ``why`` says where the range comes from."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a number; got {type(x).__name__}.")
    if not (math.isfinite(x) and lo <= x <= hi):
        raise ValueError(f"{name} must lie in [{lo:g}, {hi:g}] ({why}); got {x!r}.")
    return float(x)


def temperature(T: Any, dtype: torch.dtype, name: str = "temperature") -> float:
    """A softmax temperature: a positive, finite real number (a Python or numpy scalar).

    ``dtype`` is the compute dtype. T must be at least its smallest normal number, so that
    T does not round to 0 when the logits are divided by it (float32: about 1.2e-38).
    """
    if isinstance(T, bool) or not isinstance(T, numbers.Real):
        hint = f" Pass a Python float, e.g. {name}=T.item()." if isinstance(T, (torch.Tensor, np.ndarray)) else ""
        raise TypeError(
            f"{name} must be a real number such as 0.5 or 2.0; got {type(T).__name__}.{hint}"
        )
    T = float(T)
    if not (math.isfinite(T) and T > 0):
        raise ValueError(
            f"{name} must be a positive finite number; got {T!r}. Use {name}=1.0 for the plain "
            f"softmax, a value below 1 to sharpen it, or above 1 to flatten it."
        )
    tiny = torch.finfo(dtype).tiny
    if T < tiny:
        raise ValueError(
            f"{name}={T!r} is below the smallest normal {dtype} number ({tiny:.3g}), so dividing "
            f"the logits by it is not representable; use {name} >= {tiny:.3g}, or compute in float64."
        )
    return T


def matches(value: int, expected: int, message: str) -> None:
    """Two sizes that must agree."""
    if value != expected:
        raise ValueError(message)
