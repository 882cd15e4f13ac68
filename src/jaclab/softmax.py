"""Softmax, computed the numerically stable way."""

from __future__ import annotations

import torch

from . import _validate


def stable_softmax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Softmax of a validated tensor: subtract the max, exponentiate, divide.

    .. math::
        \sigma_i(z) = \frac{e^{z_i - m}}{\sum_j e^{z_j - m}},
        \qquad m = \max_j z_j

    Subtracting :math:`m` leaves the result unchanged (softmax is shift
    invariant) and keeps every exponent at most 0, so :math:`e^{z_j - m} \le 1`
    can never overflow.
    """
    m = z.amax(dim=dim, keepdim=True)
    e = torch.exp(z - m)
    return e / e.sum(dim=dim, keepdim=True)


def softmax(z, dim: int = -1):
    r"""Softmax along ``dim``: :math:`\sigma_i = e^{z_i} / \sum_j e^{z_j}`.

    Args:
        z: logits; a torch tensor of any floating dtype, a numpy array or
            a list. A ``-inf`` entry masks its class out (probability 0) as
            long as its row keeps one finite logit.
        dim: the class axis.

    Shape:
        ``(..., K, ...)`` → the same shape; slices along ``dim`` sum to 1.

    Example:
        >>> jaclab.softmax(torch.tensor([1.0, 2.0, 3.0]))
        tensor([0.0900, 0.2447, 0.6652])
    """
    c = _validate.logits(z, dim)
    return c.back(stable_softmax(c.tensor, c.dim))
