r"""Jacobian products: the VJP (reverse mode) and the JVP (forward mode), in O(K) per row.

Both never form J. Because J is symmetric, :math:`J^\top g = J g`, so the two
products share one formula: :math:`\sigma \odot (v - \langle v, \sigma\rangle)`.
"""

from __future__ import annotations

import torch

from . import _validate
from .softmax import stable_softmax


def apply_jacobian(
    v: torch.Tensor, sigma: torch.Tensor, dim: int = -1, *, inplace: bool = True
) -> torch.Tensor:
    r""":math:`J v = \sigma \odot (v - \langle v, \sigma \rangle \mathbf 1)` on validated tensors, along ``dim``.

    ``inplace=False`` skips the in-place step, for derivatives that ``torch.func``
    transforms batch.
    """
    out = v * sigma  # σ ⊙ v
    dot = out.sum(dim=dim, keepdim=True)  # ⟨v, σ⟩, one per row
    if inplace:
        return out.addcmul_(sigma, dot, value=-1)  # σ ⊙ v − σ ⟨v, σ⟩, in place
    return torch.addcmul(out, sigma, dot, value=-1)  # the same, into a new tensor


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


class SoftmaxFunction(torch.autograd.Function):
    r"""Softmax as an autograd Function whose derivatives are the analytic products.

    ``forward`` computes the stable softmax :math:`\sigma`. ``setup_context``
    saves only :math:`\sigma`, as PyTorch's own softmax does. ``backward``
    returns the VJP :math:`\sigma \odot (g - \langle g, \sigma \rangle)` and
    ``jvp`` the JVP :math:`\sigma \odot (v - \langle v, \sigma \rangle)`.
    Both are differentiable torch code that writes into no tensor, so double
    backward and ``torch.func`` (``jacrev``, ``jacfwd``, ``vmap``) work through
    it; ``vmap`` cannot batch an in-place update of operands batched differently.

    ``SoftmaxFunction.apply(z, dim)`` is the raw operation: like
    ``torch.softmax`` it trusts its input (a floating tensor, an int ``dim``),
    so it also runs under ``vmap``. :func:`softmax_function` validates first.

    Shape:
        ``(..., K, ...)`` → the same shape; slices along ``dim`` sum to 1.
    """

    generate_vmap_rule = True  # all four methods are plain torch code

    @staticmethod
    def forward(z: torch.Tensor, dim: int) -> torch.Tensor:
        return stable_softmax(z, dim)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, dim = inputs
        ctx.dim = dim
        ctx.save_for_backward(output)  # only σ: both derivatives need only σ
        ctx.save_for_forward(output)

    @staticmethod
    def backward(ctx, grad_output):
        (sigma,) = ctx.saved_tensors
        grad_z = apply_jacobian(grad_output, sigma, ctx.dim, inplace=False)
        return grad_z, None  # no gradient for the integer dim

    @staticmethod
    def jvp(ctx, z_tangent, dim_tangent):
        (sigma,) = ctx.saved_tensors
        return apply_jacobian(z_tangent, sigma, ctx.dim, inplace=False)


def softmax_function(z, dim: int = -1):
    r"""Softmax along ``dim`` through :class:`SoftmaxFunction`, after jaclab's checks.

    Same values and errors as :func:`jaclab.softmax`. The difference is the
    graph: autograd records one ``SoftmaxFunctionBackward`` node, whose
    backward is the analytic VJP.

    Shape:
        ``(..., K, ...)`` → the same shape.
    """
    c = _validate.logits(z, dim)
    return c.back(SoftmaxFunction.apply(c.tensor, c.dim))
