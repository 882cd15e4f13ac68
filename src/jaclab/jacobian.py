"""The Jacobians of softmax and log-softmax (at any temperature): the closed forms, and the autograd reference."""

from __future__ import annotations

import torch

from . import _validate
from .softmax import stable_softmax, tempered


def jacobian_from_sigma(sigma: torch.Tensor) -> torch.Tensor:
    r""":math:`J = \operatorname{diag}(\sigma) - \sigma\sigma^\top` for ``sigma`` of shape ``(..., K)``.

    Off the diagonal, :math:`J_{ij} = -\sigma_i\sigma_j` is one rounded product. On it,
    :math:`J_{ii} = \sigma_i(1 - \sigma_i)`, and ``1 - sigma`` cancels for a dominant class
    (:math:`\sigma_i` near 1). So for the largest :math:`\sigma_i` of each row the factor
    :math:`1 - \sigma_i` is computed as the equal sum :math:`\sum_{j \ne i} \sigma_j`, which
    does not cancel; every other :math:`\sigma_i` is at most 1/2, where ``1 - sigma`` is
    accurate. One vectorised pass over the whole batch, no loop.
    """
    top = sigma.argmax(dim=-1, keepdim=True)  # the class that may dominate, one per row
    rest = sigma.scatter(-1, top, 0).sum(dim=-1, keepdim=True)  # sum of the others
    one_minus = (1 - sigma).scatter(-1, top, rest)  # 1 - sigma_i, without cancellation
    J = sigma.unsqueeze(-1) * sigma.neg().unsqueeze(-2)  # -sigma_i sigma_j, all rows at once
    J.diagonal(dim1=-2, dim2=-1).copy_(sigma * one_minus)  # sigma_i (1 - sigma_i)
    return J


def softmax_jacobian(z, dim: int = -1, *, temperature: float = 1.0):
    r"""The Jacobian of softmax, :math:`J = \operatorname{diag}(\sigma) - \sigma\sigma^\top`.

    Entry by entry,
    :math:`J_{ij} = \partial\sigma_i/\partial z_j = \sigma_i(\delta_{ij} - \sigma_j)`.
    At temperature :math:`T` it is the Jacobian of :math:`z \mapsto \operatorname{softmax}(z/T)`
    with respect to :math:`z`, which by the chain rule is
    :math:`J_T = \frac1T(\operatorname{diag}(\sigma_T) - \sigma_T\sigma_T^\top)`,
    :math:`\sigma_T = \operatorname{softmax}(z/T)`.

    Args:
        z: logits (torch tensor of any floating dtype, numpy array or list).
        dim: the class axis.
        temperature: :math:`T > 0`, keyword-only; 1 by default.

    Shape:
        The input shape without ``dim``, followed by ``(K, K)``:
        ``(K,)`` → ``(K, K)``, ``(B, K)`` → ``(B, K, K)``, and
        ``(3, 4, 5)`` with ``dim=1`` → ``(3, 5, 4, 4)``.

    Example:
        >>> jaclab.softmax_jacobian(torch.tensor([0.0, 0.0]))
        tensor([[ 0.2500, -0.2500],
                [-0.2500,  0.2500]])
    """
    c = _validate.logits(z, dim)
    T = _validate.temperature(temperature, c.tensor.dtype)
    sigma = stable_softmax(tempered(c.tensor, c.dim, T), c.dim).movedim(c.dim, -1)
    J = jacobian_from_sigma(sigma)
    return c.back(J if T == 1.0 else J / T)


def log_softmax_jacobian(z, dim: int = -1, *, temperature: float = 1.0):
    r"""The Jacobian of log-softmax, :math:`\frac1T(I - \mathbf 1\sigma_T^\top)`.

    Entry by entry, :math:`\partial \log\sigma_i/\partial z_j = (\delta_{ij} - \sigma_j)/T`
    with :math:`\sigma = \operatorname{softmax}(z/T)`: row :math:`i` is
    :math:`(e_i - \sigma)/T`, the same vector :math:`\sigma` subtracted from every row.
    A masked class (``-inf`` logit) has :math:`\sigma_j = 0`, so column :math:`j` is
    :math:`e_j/T`; its row is :math:`(e_j - \sigma)/T`, as ``torch.log_softmax``'s backward gives.

    Args:
        z: logits (torch tensor of any floating dtype, numpy array or list).
        dim: the class axis.
        temperature: :math:`T > 0`, keyword-only; 1 by default.

    Shape:
        As :func:`softmax_jacobian`: the input shape without ``dim``, then ``(K, K)``.

    Example:
        >>> jaclab.log_softmax_jacobian(torch.tensor([0.0, 0.0]))
        tensor([[ 0.5000, -0.5000],
                [-0.5000,  0.5000]])
    """
    c = _validate.logits(z, dim)
    T = _validate.temperature(temperature, c.tensor.dtype)
    sigma = stable_softmax(tempered(c.tensor, c.dim, T), c.dim).movedim(c.dim, -1)
    eye = torch.eye(sigma.shape[-1], dtype=sigma.dtype, device=sigma.device)
    L = eye - sigma.unsqueeze(-2)  # row i: e_i - σ
    return c.back(L if T == 1.0 else L / T)


def jacobian_via_autograd(z, dim: int = -1, *, temperature: float = 1.0):
    r"""The same Jacobian by reverse-mode autodiff: ``jacrev`` of ``torch.softmax``.

    This is the reference implementation. It differentiates PyTorch's own
    softmax (not jaclab's) with ``torch.func.jacrev`` and vectorises over the
    batch with ``torch.func.vmap``, so it shares no code with
    :func:`softmax_jacobian`. At temperature :math:`T` it differentiates
    ``torch.softmax(z / T)``, so the factor :math:`1/T` comes from autograd
    too. (That literal :math:`z/T` can overflow when :math:`T` is tiny, where
    :func:`softmax_jacobian` cannot.)

    Shape:
        As :func:`softmax_jacobian`: the input shape without ``dim``, then
        ``(K, K)``.
    """
    c = _validate.logits(z, dim)
    T = _validate.temperature(temperature, c.tensor.dtype)
    rows = c.tensor.movedim(c.dim, -1)
    batch, K = rows.shape[:-1], rows.shape[-1]

    def softmax_row(v: torch.Tensor) -> torch.Tensor:
        return torch.softmax(v if T == 1.0 else v / T, dim=-1)

    jac_row = torch.func.jacrev(softmax_row)
    J = torch.func.vmap(jac_row)(rows.reshape(-1, K)).reshape(*batch, K, K)
    return c.back(J)
