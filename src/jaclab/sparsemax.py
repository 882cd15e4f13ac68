r"""Sparsemax, softmax's sparse counterpart: the projection onto the probability simplex.

Martins and Astudillo (2016) define

.. math::
    \operatorname{sparsemax}(z)
    = \operatorname*{arg\,min}_{p \in \Delta^{K-1}} \|p - z\|_2^2
    = \max(z - \tau \mathbf 1, 0),

where the threshold :math:`\tau` makes the result sum to 1. Its output has exact
zeros, and its Jacobian :math:`\operatorname{diag}(s) - s s^\top/|S|` (with
:math:`s` the indicator of the support :math:`S = \{i : p_i > 0\}`) depends on
the support only.
"""

from __future__ import annotations

import torch

from . import _validate


def simplex_threshold(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""The threshold :math:`\tau` with :math:`\sum_i \max(z_i - \tau, 0) = 1`.

    Sort each row along ``dim`` in decreasing order,
    :math:`z_{(1)} \ge \dots \ge z_{(K)}`, with partial sums
    :math:`c_k = z_{(1)} + \dots + z_{(k)}`. The condition
    :math:`1 + k z_{(k)} > c_k` holds exactly for :math:`k = 1, \dots, |S|`, so
    counting it gives the support size, and :math:`\tau = (c_{|S|} - 1)/|S|`.
    One sort and one cumulative sum, for the whole batch at once. The result
    keeps ``dim``, with size 1.

    A ``-inf`` entry (a masked class) sorts last; there both sides of the
    condition are ``-inf`` and it is false, so masked classes never enter the
    support and no NaN arises. Every row needs one finite entry.
    """
    z_sorted = torch.sort(z, dim=dim, descending=True).values
    c = z_sorted.cumsum(dim=dim)  # c_k, the sum of the k largest entries
    K = z.shape[dim]
    shape = [K if d == dim % z.ndim else 1 for d in range(z.ndim)]
    k = torch.arange(1, K + 1, dtype=z.dtype, device=z.device).view(shape)
    in_support = 1 + k * z_sorted > c  # true for k = 1, ..., |S|, false after
    size = in_support.sum(dim=dim, keepdim=True)  # |S| >= 1
    return (c.gather(dim, size - 1) - 1) / size


def project_onto_simplex(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Sparsemax of a validated tensor: :math:`p = \max(z - \tau, 0)` along ``dim``.

    Subtracting the row maximum first changes nothing (:math:`\tau` shifts with
    :math:`z`) and keeps the numbers that decide the support, the entries within
    1 of the maximum, close to 0, where rounding is finest.
    """
    z = z - z.amax(dim=dim, keepdim=True)
    return torch.clamp(z - simplex_threshold(z, dim), min=0)


def sparsemax(z, dim: int = -1):
    r"""Sparsemax along ``dim``: the point of the probability simplex closest to ``z``.

    .. math::
        \operatorname{sparsemax}(z)
        = \operatorname*{arg\,min}_{p \ge 0,\ \mathbf 1^\top p = 1} \|p - z\|_2^2,
        \qquad p_i = \max(z_i - \tau, 0).

    Unlike softmax, entries with :math:`z_i \le \tau` are exactly 0; every
    logit at least 1 below the row's maximum is one of them.

    Args:
        z: logits; a torch tensor of any floating dtype, a numpy array or a list.
            A ``-inf`` entry masks its class out (probability 0) as long as its
            row keeps one finite logit.
        dim: the class axis.

    Shape:
        ``(..., K, ...)`` → the same shape; slices along ``dim`` sum to 1.

    Example:
        >>> jaclab.sparsemax(torch.tensor([1.0, 0.5, -1.0]))
        tensor([0.7500, 0.2500, 0.0000])
    """
    c = _validate.logits(z, dim, op="sparsemax")
    return c.back(project_onto_simplex(c.tensor, c.dim))


def jacobian_from_support(s: torch.Tensor) -> torch.Tensor:
    r""":math:`J = \operatorname{diag}(s) - s s^\top / |S|` for a 0/1 indicator ``s``.

    ``s`` has shape ``(..., K)`` and marks the support; the result is ``(..., K, K)``.
    """
    size = s.sum(dim=-1, keepdim=True).unsqueeze(-1)  # |S|, shape (..., 1, 1)
    return torch.diag_embed(s) - s.unsqueeze(-1) * s.unsqueeze(-2) / size


def sparsemax_jacobian(z, dim: int = -1):
    r"""The Jacobian of sparsemax, :math:`J = \operatorname{diag}(s) - s s^\top / |S|`.

    Here :math:`s_i = 1` if :math:`p_i > 0` and 0 otherwise, and
    :math:`|S| = \sum_i s_i`.
    Entry by entry, :math:`J_{ij} = s_i(\delta_{ij} - s_j/|S|)`: the centring
    matrix of the support, padded with zeros.

    Sparsemax is piecewise linear. Its Jacobian exists except where some
    :math:`z_i = \tau` exactly, a set of measure zero. There this function returns
    the Jacobian with the support :math:`S = \{i : p_i > 0\}`, which leaves the
    tied classes out. It is the limit of the true Jacobian as the tied logits
    decrease towards :math:`\tau`, so it belongs to the Clarke generalised
    Jacobian; it is also the support that a backward pass sees.

    Args:
        z: logits (torch tensor of any floating dtype, numpy array or list);
            ``-inf`` masks a class.
        dim: the class axis.

    Shape:
        The input shape without ``dim``, followed by ``(K, K)``:
        ``(K,)`` → ``(K, K)``, ``(B, K)`` → ``(B, K, K)``, and
        ``(3, 4, 5)`` with ``dim=1`` → ``(3, 5, 4, 4)``.

    Example:
        >>> jaclab.sparsemax_jacobian(torch.tensor([1.0, 0.5, -1.0]))
        tensor([[ 0.5000, -0.5000,  0.0000],
                [-0.5000,  0.5000,  0.0000],
                [ 0.0000,  0.0000,  0.0000]])
    """
    c = _validate.logits(z, dim, op="sparsemax")
    p = project_onto_simplex(c.tensor, c.dim).movedim(c.dim, -1)
    return c.back(jacobian_from_support((p > 0).to(p.dtype)))


def apply_sparsemax_jacobian(
    g: torch.Tensor, p: torch.Tensor, dim: int = -1
) -> torch.Tensor:
    r""":math:`J g = s \odot (g - \bar g_S)` on validated tensors, along ``dim``.

    :math:`s` marks the support of ``p`` and :math:`\bar g_S` is the mean of ``g``
    over it.
    """
    s = (p > 0).to(g.dtype)
    size = s.sum(dim=dim, keepdim=True)  # |S|, one per row
    mean_on_support = (g * s).sum(dim=dim, keepdim=True) / size
    return s * (g - mean_on_support)


def sparsemax_vjp(grad_output, p, dim: int = -1):
    r"""The VJP of sparsemax, :math:`J^\top g = s \odot (g - \bar g_S)`.

    :math:`\bar g_S = \frac{1}{|S|}\sum_{i \in S} g_i` is the mean of the upstream
    gradient over the support :math:`S = \{i : p_i > 0\}`. Classes outside the
    support get exactly 0. This is what a backward pass through sparsemax
    computes, in O(K) per row without forming J. J is symmetric, so the same
    formula gives the JVP :math:`J v`.

    Args:
        grad_output: the upstream gradient g, same shape as ``p``.
        p: the sparsemax output (a point of the probability simplex along ``dim``),
            *not* the logits.
        dim: the class axis.

    Shape:
        ``(..., K)`` and ``(..., K)`` → ``(..., K)``.
    """
    c = _validate.probabilities(p, dim, "p", source="sparsemax")
    g = _validate.finite(grad_output, dim, "grad_output")
    _validate.same_shape(g.tensor, c.tensor, "grad_output", "p")
    grad_z = apply_sparsemax_jacobian(g.tensor.to(c.tensor.dtype), c.tensor, c.dim)
    return c.back(grad_z)
