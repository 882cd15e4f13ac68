"""Softmax and log-softmax, computed the numerically stable way, at any temperature."""

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


def tempered(z: torch.Tensor, dim: int, temperature: float) -> torch.Tensor:
    r"""The logits that softmax sees at temperature :math:`T`: ``z`` itself when
    :math:`T = 1` (no work at all), otherwise :math:`(z - m)/T` with :math:`m = \max_j z_j`.

    :math:`\operatorname{softmax}((z - m)/T) = \operatorname{softmax}(z/T)` by shift
    invariance, and :math:`(z - m)/T \le 0` cannot overflow however small :math:`T` is,
    where :math:`z/T` can. The result does not depend on :math:`m`, so :math:`m` is
    detached: autograd sees only the division by :math:`T`.
    """
    if temperature == 1.0:
        return z
    m = z.detach().amax(dim=dim, keepdim=True)
    return (z - m) / temperature


def stable_log_softmax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Log-softmax of a validated tensor: :math:`\log\sigma_i = (z_i - m) - \log\sum_j e^{z_j - m}`.

    Never forms :math:`\sigma` and never takes its logarithm: the sum is at least
    1 (the term of the largest logit is :math:`e^0`), so its logarithm is finite
    and the result is finite wherever :math:`z_i` is. A ``-inf`` logit gives
    ``-inf``, the log of its zero probability.
    """
    shifted = z - z.amax(dim=dim, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def softmax(z, dim: int = -1, *, temperature: float = 1.0):
    r"""Softmax along ``dim`` at temperature :math:`T`: :math:`\sigma_i = e^{z_i/T} / \sum_j e^{z_j/T}`.

    Args:
        z: logits; a torch tensor of any floating dtype, a numpy array or
            a list. A ``-inf`` entry masks its class out (probability 0) as
            long as its row keeps one finite logit.
        dim: the class axis.
        temperature: :math:`T > 0`, keyword-only. :math:`T = 1` is the plain
            softmax; :math:`T < 1` sharpens it towards the argmax, :math:`T > 1`
            flattens it towards the uniform distribution.

    Shape:
        ``(..., K, ...)`` → the same shape; slices along ``dim`` sum to 1.

    Example:
        >>> jaclab.softmax(torch.tensor([1.0, 2.0, 3.0]))
        tensor([0.0900, 0.2447, 0.6652])
    """
    c = _validate.logits(z, dim)
    T = _validate.temperature(temperature, c.tensor.dtype)
    return c.back(stable_softmax(tempered(c.tensor, c.dim, T), c.dim))


def log_softmax(z, dim: int = -1, *, temperature: float = 1.0):
    r"""Log-softmax along ``dim`` at temperature :math:`T`: :math:`\log\sigma_i(z/T) = z_i/T - \log\sum_j e^{z_j/T}`.

    Computed as :math:`u_i - m - \log\sum_j e^{u_j - m}` with :math:`u = z/T` and
    :math:`m = \max_j u_j`, never as ``log(softmax(z))``: that form underflows to
    ``-inf`` as soon as a probability rounds to 0, while this one stays finite.
    A ``-inf`` logit (a masked class) gives ``-inf``, as in ``torch.log_softmax``.

    Args:
        z: logits (torch tensor of any floating dtype, numpy array or list).
        dim: the class axis.
        temperature: :math:`T > 0`, keyword-only.

    Shape:
        ``(..., K, ...)`` → the same shape.

    Example:
        >>> jaclab.log_softmax(torch.tensor([0.0, -200.0]))
        tensor([   0., -200.])
    """
    c = _validate.logits(z, dim)
    T = _validate.temperature(temperature, c.tensor.dtype)
    return c.back(stable_log_softmax(tempered(c.tensor, c.dim, T), c.dim))
