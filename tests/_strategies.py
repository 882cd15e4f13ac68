"""Shared test helpers: hypothesis strategies for logits ("for every logit vector"), tolerances and an
input-immutability check. The test files import these; nothing here asserts a claim of the book.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FLOAT_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)
HALF_DTYPES = (torch.float16, torch.bfloat16)
NUMPY_FLOAT_DTYPES = (np.float64, np.float32, np.float16)
NEG_INF = float("-inf")


#: For tests whose reference is slow (torch.func.jacrev under vmap costs tens of ms a call):
#: a quarter of the profile's examples, so JACLAB_HYPOTHESIS_EXAMPLES still scales them.
fewer_examples = settings(max_examples=max(5, settings.default.max_examples // 4))


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype jaclab computes in: float32 for the half dtypes, the dtype itself otherwise."""
    return torch.float32 if dtype in HALF_DTYPES else dtype


def tol(dtype: torch.dtype, K: int) -> float:
    """Absolute tolerance for quantities of size at most 1 (probabilities, entries of J).

    Rounding in the compute dtype grows like K·eps (the normalising sum); the result is then
    rounded once more to the caller's dtype, which costs eps of that dtype.
    """
    return 8 * (K + 1) * torch.finfo(compute_dtype(dtype)).eps + torch.finfo(dtype).eps


# ----------------------------------------------------------------------------------------------
# Strategies
# ----------------------------------------------------------------------------------------------


@dataclass
class Logits:
    """A drawn logit tensor and its class axis."""

    z: torch.Tensor
    dim: int

    @property
    def K(self) -> int:
        return self.z.shape[self.dim]

    @property
    def dtype(self) -> torch.dtype:
        return self.z.dtype

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        return f"Logits(dim={self.dim}, z={self.z!r})"


def _noise(seed: int, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """Dense Gaussian noise from a drawn seed: every entry differs, at no cost to hypothesis."""
    if scale == 0:
        return np.zeros(shape)
    return np.random.default_rng(seed).normal(scale=scale, size=shape)


def values(draw, shape, *, max_abs: float) -> np.ndarray:
    """float64 values of ``shape`` in [-max_abs, max_abs]: hypothesis-chosen structure plus dense noise.

    The range is drawn first (±3, ±30 or ±max_abs, so extreme logits are common but not the rule);
    hypothesis picks a few entries (including the extremes of the range) on a constant background,
    and a seeded Gaussian, scaled by 0, 1 or 5, makes the remaining entries all different.
    """
    bound = draw(st.sampled_from(sorted({min(3.0, max_abs), min(30.0, max_abs), max_abs})))
    elements = st.floats(-bound, bound)
    base = draw(hnp.arrays(np.float64, shape, elements=elements))
    scale = draw(st.sampled_from([0.0, 1.0, 5.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    return np.clip(base + _noise(seed, tuple(shape), scale), -max_abs, max_abs)


def mask_for(draw, shape, dim: int, keep: np.ndarray) -> np.ndarray:
    """A boolean mask of -inf positions that leaves every row along ``dim`` one unmasked entry.

    ``keep`` holds, for every row, the index along ``dim`` that must stay finite.
    """
    if not draw(st.booleans()):
        return np.zeros(shape, dtype=bool)
    mask = draw(hnp.arrays(bool, shape, elements=st.booleans(), fill=st.booleans()))
    np.put_along_axis(mask, np.expand_dims(keep, dim), False, axis=dim)
    return mask


@st.composite
def logits(
    draw,
    *,
    dtypes=FLOAT_DTYPES,
    min_dims: int = 1,
    max_dims: int = 4,
    max_side: int = 8,
    min_K: int = 1,
    max_K: int = 16,
    max_abs: float = 1e4,
    masks: bool = True,
    last_dim: bool = False,
) -> Logits:
    """Logits of 1 to 4 dimensions, a random class axis (negative or positive), any float dtype.

    Batch sides are at most ``max_side`` (fewer when there are many dimensions, to keep the suite
    fast); the class axis has K in [min_K, max_K]. Values reach ±max_abs, and some entries may be
    -inf (masked classes), but every row keeps a finite logit.
    """
    ndim = draw(st.integers(min_dims, max_dims))
    side = min(max_side, {1: max_side, 2: max_side, 3: 5, 4: 3}.get(ndim, 3))
    shape = list(draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=1, max_side=side)))
    dim = -1 if last_dim else draw(st.integers(-ndim, ndim - 1))
    shape[dim] = draw(st.integers(min_K, max_K))
    shape = tuple(shape)
    dtype = draw(st.sampled_from(dtypes))

    v = values(draw, shape, max_abs=max_abs)
    if masks:
        mask = mask_for(draw, shape, dim, keep=np.argmax(v, axis=dim))
        v = np.where(mask, -np.inf, v)
    return Logits(torch.from_numpy(v).to(dtype), dim)


@st.composite
def logit_vectors(draw, **kwargs) -> torch.Tensor:
    """A single logit vector of shape (K,)."""
    return draw(logits(min_dims=1, max_dims=1, **kwargs)).z


def like(draw, z: torch.Tensor, scale: float = 10.0) -> torch.Tensor:
    """A finite tensor with z's shape and dtype (an upstream gradient g or a tangent v)."""
    return torch.from_numpy(values(draw, tuple(z.shape), max_abs=scale)).to(z.dtype)


# ----------------------------------------------------------------------------------------------
# References (torch / numpy, sharing no code with jaclab)
# ----------------------------------------------------------------------------------------------


def sigma64(z: torch.Tensor, dim: int) -> torch.Tensor:
    """The float64 softmax of z as given (after rounding to its dtype), by torch.softmax."""
    return torch.softmax(z.double(), dim=dim)


def jacobian64(z: torch.Tensor, dim: int) -> torch.Tensor:
    """J_ij = σ_i (δ_ij − σ_j) in float64, element-wise, batch axes first and (K, K) last."""
    s = sigma64(z, dim).movedim(dim, -1).numpy()
    K = s.shape[-1]
    return torch.from_numpy(s[..., :, None] * (np.eye(K) - s[..., None, :]))


# ----------------------------------------------------------------------------------------------
# The caller's data is never modified
# ----------------------------------------------------------------------------------------------


def _bytes(x) -> bytes:
    if isinstance(x, torch.Tensor):
        return x.detach().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes()
    return np.asarray(x).tobytes()


def _snapshot(x):
    if isinstance(x, torch.Tensor):
        return ("tensor", _bytes(x), x.dtype, tuple(x.shape), x.stride(), x._version, x.requires_grad)
    if isinstance(x, np.ndarray):
        return ("ndarray", _bytes(x), x.dtype, x.shape, x.strides, x.flags.writeable)
    return ("other", repr(x))


def _aliases(out, arg) -> bool:
    if isinstance(out, np.ndarray) and isinstance(arg, np.ndarray):
        return np.shares_memory(out, arg)
    if isinstance(out, torch.Tensor) and isinstance(arg, torch.Tensor):
        if out.numel() == 0 or arg.numel() == 0:
            return False
        return out.untyped_storage().data_ptr() == arg.untyped_storage().data_ptr()
    return False


def call_unchanged(fn, *args, **kwargs):
    """Call fn and assert every argument is bit-identical afterwards, and the result aliases none."""
    before = [_snapshot(a) for a in args]
    out = fn(*args, **kwargs)
    for i, (a, b) in enumerate(zip(args, before)):
        assert _snapshot(a) == b, f"{fn.__name__} modified argument {i}"
        assert not _aliases(out, a), f"{fn.__name__} returned memory shared with argument {i}"
    return out
