r"""Jacobian products: the VJP (reverse mode) and the JVP (forward mode), in O(K) per row.

Both never form J. Because J is symmetric, :math:`J^\top g = J g`, so the two
products share one formula: :math:`\sigma \odot (v - \langle v, \sigma\rangle)`.
At temperature :math:`T` the Jacobian with respect to :math:`z` is :math:`J(z/T)/T`,
so both products gain the factor :math:`1/T`.
"""

from __future__ import annotations

import torch

from . import _validate
from .softmax import stable_softmax, tempered


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


def _product(v, sigma, dim: int, v_name: str, temperature: float):
    s = _validate.probabilities(sigma, dim)
    g = _validate.finite(v, dim, v_name)
    _validate.same_shape(g.tensor, s.tensor, v_name, "sigma")
    T = _validate.temperature(temperature, s.tensor.dtype)
    out = apply_jacobian(g.tensor.to(s.tensor.dtype), s.tensor, s.dim)
    return s.back(out if T == 1.0 else out.div_(T))  # out is new: dividing in place is safe


def softmax_vjp(grad_output, sigma, dim: int = -1, *, temperature: float = 1.0):
    r"""Vector-Jacobian product: :math:`\partial L/\partial z = J^\top g = \sigma \odot (g - \langle g, \sigma \rangle)`.

    This is what softmax's ``backward()`` computes: the gradient with respect to the
    logits, given the upstream gradient :math:`g = \partial L/\partial \sigma`.
    It costs O(K) per row and never forms the K×K matrix J.

    At temperature :math:`T`, pass :math:`\sigma = \operatorname{softmax}(z/T)` (what the
    forward pass computed) and ``temperature=T``. The result is the gradient with respect to
    the unscaled logits :math:`z`,
    :math:`\frac1T\,\sigma \odot (g - \langle g, \sigma \rangle)`; the gradient with
    respect to :math:`u = z/T` is the same expression without the factor :math:`1/T`,
    which is what ``temperature=1`` returns.

    Args:
        grad_output: the upstream gradient g, same shape as ``sigma``.
        sigma: the softmax output (probabilities along ``dim``), *not* the logits.
        dim: the class axis.
        temperature: :math:`T > 0`, keyword-only; 1 by default.

    Shape:
        ``(..., K)`` and ``(..., K)`` → ``(..., K)``.
    """
    return _product(grad_output, sigma, dim, "grad_output", temperature)


def softmax_jvp(tangent, sigma, dim: int = -1, *, temperature: float = 1.0):
    r"""Jacobian-vector product (forward mode): :math:`J v = \sigma \odot (v - \langle v, \sigma \rangle)`.

    Pushes a small change ``tangent`` = :math:`\Delta z` in the logits forward to the
    first-order change in the probabilities. J is symmetric, so this is the same
    formula as :func:`softmax_vjp`.

    At temperature :math:`T`, pass :math:`\sigma = \operatorname{softmax}(z/T)` and
    ``temperature=T``: the result is the change in :math:`\sigma` caused by the change
    :math:`\Delta z` in the unscaled logits, :math:`\frac1T\,\sigma \odot (v - \langle v, \sigma \rangle)`.

    Shape:
        ``(..., K)`` and ``(..., K)`` → ``(..., K)``.
    """
    return _product(tangent, sigma, dim, "tangent", temperature)


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


def softmax_function(z, dim: int = -1, *, temperature: float = 1.0):
    r"""Softmax along ``dim`` through :class:`SoftmaxFunction`, after jaclab's checks.

    Same values and errors as :func:`jaclab.softmax`. The difference is the
    graph: autograd records one ``SoftmaxFunctionBackward`` node, whose
    backward is the analytic VJP. At a temperature :math:`T \ne 1` the
    logits are first scaled to :math:`(z - \max_j z_j)/T` by ordinary torch
    operations, whose backward supplies the factor :math:`1/T`.

    Shape:
        ``(..., K, ...)`` → the same shape.
    """
    c = _validate.logits(z, dim)
    T = _validate.temperature(temperature, c.tensor.dtype)
    return c.back(SoftmaxFunction.apply(tempered(c.tensor, c.dim, T), c.dim))
