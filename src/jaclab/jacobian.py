"""The softmax Jacobian: the closed form, and the autograd reference."""

from __future__ import annotations

import torch

from . import _validate
from .softmax import stable_softmax


def jacobian_from_sigma(sigma: torch.Tensor) -> torch.Tensor:
    r""":math:`J = \operatorname{diag}(\sigma) - \sigma\sigma^\top` for ``sigma`` of shape ``(..., K)``.

    One vectorised pass: ``diag_embed`` builds every diagonal and a broadcast
    product builds every outer product, for the whole batch at once.
    """
    return torch.diag_embed(sigma) - sigma.unsqueeze(-1) * sigma.unsqueeze(-2)


def softmax_jacobian(z, dim: int = -1):
    r"""The Jacobian of softmax, :math:`J = \operatorname{diag}(\sigma) - \sigma\sigma^\top`.

    Entry by entry,
    :math:`J_{ij} = \partial\sigma_i/\partial z_j = \sigma_i(\delta_{ij} - \sigma_j)`.

    Args:
        z: logits (torch tensor of any floating dtype, numpy array or list).
        dim: the class axis.

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
    sigma = stable_softmax(c.tensor, c.dim).movedim(c.dim, -1)
    return c.back(jacobian_from_sigma(sigma))


def jacobian_via_autograd(z, dim: int = -1):
    r"""The same Jacobian by reverse-mode autodiff: ``jacrev`` of ``torch.softmax``.

    This is the reference implementation. It differentiates PyTorch's own
    softmax (not jaclab's) with ``torch.func.jacrev`` and vectorises over the
    batch with ``torch.func.vmap``, so it shares no code with
    :func:`softmax_jacobian`.

    Shape:
        As :func:`softmax_jacobian`: the input shape without ``dim``, then
        ``(K, K)``.
    """
    c = _validate.logits(z, dim)
    rows = c.tensor.movedim(c.dim, -1)
    batch, K = rows.shape[:-1], rows.shape[-1]

    def softmax_row(v: torch.Tensor) -> torch.Tensor:
        return torch.softmax(v, dim=-1)

    jac_row = torch.func.jacrev(softmax_row)
    J = torch.func.vmap(jac_row)(rows.reshape(-1, K)).reshape(*batch, K, K)
    return c.back(J)
