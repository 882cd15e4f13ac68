"""Cross-entropy on top of softmax, and its famously simple gradient."""

from __future__ import annotations

from . import _validate
from .softmax import stable_softmax, tempered


def cross_entropy_grad(z, target, *, temperature: float = 1.0):
    r"""Gradient of cross-entropy with respect to the logits: :math:`\sigma - y`.

    The loss of one row is :math:`L = -\sum_i y_i \log \sigma_i(z)`. Each row
    of ``z`` is one example with its own loss; the result is the gradient of
    each row's loss (equivalently of their sum), so it has the shape of ``z``.
    For the batch *mean*, divide by the number of rows.

    At temperature :math:`T` the loss is the cross-entropy of the scaled logits,
    :math:`L = -\sum_i y_i \log\sigma_i(z/T)`, and the gradient with respect to
    :math:`z` is :math:`(\sigma(z/T) - y)/T`.

    Args:
        z: logits of shape ``(..., K)``; the class axis is last.
        target: either class indices, an integer tensor of shape ``(...)``, or
            probability rows of shape ``(..., K)`` (one-hot or soft labels),
            each summing to 1. (For rows that sum to s the gradient would be
            s·σ − y.)
        temperature: :math:`T > 0`, keyword-only; 1 by default.

    Shape:
        ``(..., K)`` → ``(..., K)``.
    """
    c = _validate.logits(z, dim=-1)
    y, _ = _validate.targets(target, c.tensor)
    T = _validate.temperature(temperature, c.tensor.dtype)
    grad = stable_softmax(tempered(c.tensor, -1, T), -1) - y
    return c.back(grad if T == 1.0 else grad / T)
