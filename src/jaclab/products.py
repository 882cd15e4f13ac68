r"""Jacobian products: the VJP (reverse mode) and the JVP (forward mode), in O(K) per row.

Both never form J. Because J is symmetric, :math:`J^\top g = J g`, so the two
products share one formula: :math:`\sigma \odot (v - \langle v, \sigma\rangle)`.
"""

from __future__ import annotations

import torch

from . import _validate


def apply_jacobian(v: torch.Tensor, sigma: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r""":math:`J v = \sigma \odot (v - \langle v, \sigma \rangle \mathbf 1)` on validated tensors, along ``dim``."""
    out = v * sigma  # σ ⊙ v
    dot = out.sum(dim=dim, keepdim=True)  # ⟨v, σ⟩, one per row
    return out.addcmul_(sigma, dot, value=-1)  # σ ⊙ v − σ ⟨v, σ⟩, in place


def _product(v, sigma, dim: int, v_name: str):
    s = _validate.probabilities(sigma, dim)
    g = _validate.finite(v, dim, v_name)
    _validate.same_shape(g.tensor, s.tensor, v_name, "sigma")
    return s.back(apply_jacobian(g.tensor.to(s.tensor.dtype), s.tensor, s.dim))


def softmax_vjp(grad_output, sigma, dim: int = -1):
    r"""Vector-Jacobian product: :math:`\partial L/\partial z = J^\top g = \sigma \odot (g - \langle g, \sigma \rangle)`.

    This is what softmax's ``backward()`` computes: the gradient with respect to the
    logits, given the upstream gradient :math:`g = \partial L/\partial \sigma`.
    It costs O(K) per row and never forms the K×K matrix J.

    Args:
        grad_output: the upstream gradient g, same shape as ``sigma``.
        sigma: the softmax output (probabilities along ``dim``), *not* the logits.
        dim: the class axis.

    Shape:
        ``(..., K)`` and ``(..., K)`` → ``(..., K)``.
    """
    return _product(grad_output, sigma, dim, "grad_output")


def softmax_jvp(tangent, sigma, dim: int = -1):
    r"""Jacobian-vector product (forward mode): :math:`J v = \sigma \odot (v - \langle v, \sigma \rangle)`.

    Pushes a small change ``tangent`` = :math:`\Delta z` in the logits forward to the
    first-order change in the probabilities. J is symmetric, so this is the same
    formula as :func:`softmax_vjp`.

    Shape:
        ``(..., K)`` and ``(..., K)`` → ``(..., K)``.
    """
    return _product(tangent, sigma, dim, "tangent")
