r"""The spectrum of the softmax Jacobian from the secular equation, without forming J.

:math:`J = \operatorname{diag}(\sigma) - \sigma\sigma^\top` is a rank-one downdate of
:math:`\operatorname{diag}(\sigma)`. The matrix determinant lemma gives

.. math::
    \det(J - \lambda I) = \prod_i (\sigma_i - \lambda) \cdot f(\lambda), \qquad
    f(\lambda) = 1 - \sum_i \frac{\sigma_i^2}{\sigma_i - \lambda},

and, because :math:`\sum_i \sigma_i = 1`, :math:`f(\lambda) = -\lambda\, g(\lambda)` with
:math:`g(\lambda) = \sum_i \sigma_i / (\sigma_i - \lambda)`. Apart from :math:`\lambda = 0`,
the eigenvalues that are not probabilities are the roots of :math:`g`, exactly one between
two consecutive distinct probabilities (chapter 18).
"""

from __future__ import annotations

import torch

from . import _validate
from .softmax import stable_softmax


def secular_function(lam, sigma):
    r"""The secular function :math:`f(\lambda) = 1 - \sum_i \sigma_i^2 / (\sigma_i - \lambda)`.

    Its zeros that are not probabilities are the eigenvalues of
    :math:`J = \operatorname{diag}(\sigma) - \sigma\sigma^\top`; its poles are the
    positive :math:`\sigma_i`. A masked class (:math:`\sigma_i = 0`) adds nothing.
    At a pole the value is infinite.

    Args:
        lam: the points :math:`\lambda` (at least one axis).
        sigma: one probability vector, the softmax output (not the logits).

    Shape:
        ``lam`` of any shape ``(...)`` and ``sigma`` of shape ``(K,)`` → ``(...)``;
        the result has the dtype and container of ``lam``.
    """
    s = _validate.probabilities(sigma)
    _validate.probability_vector(s, "sigma")
    c = _validate.finite(lam, -1, "lam")
    dtype = torch.promote_types(c.tensor.dtype, s.tensor.dtype)
    sig, lam_t = s.tensor.to(dtype), c.tensor.to(dtype).unsqueeze(-1)
    terms = torch.where(sig > 0, sig**2 / (sig - lam_t), 0.0)  # a masked class adds 0
    return c.back(1 - terms.sum(dim=-1))


def eigenvalues_from_sigma(sigma: torch.Tensor) -> torch.Tensor:
    r"""Eigenvalues of :math:`J` for validated probability rows ``sigma`` of shape ``(..., K)``, ascending.

    Sort the probabilities, :math:`s_1 \le \dots \le s_K`. Then :math:`\lambda_1 = 0`, and
    :math:`\lambda_{k+1}` is :math:`s_k` itself when :math:`s_k = s_{k+1}` (a repeated
    probability) or :math:`s_k = 0` (a masked class); otherwise it is the one root of the
    increasing function :math:`g(\lambda) = \sum_i \sigma_i/(\sigma_i - \lambda)` in the open
    interval :math:`(s_k, s_{k+1})`. Bisection finds all K − 1 roots of all rows at once,
    halving :math:`\log\lambda` while the bracket spans more than a factor 2 and
    :math:`\lambda` after that, until the bracket is two adjacent floats.
    """
    s = sigma.detach().sort(dim=-1).values
    left, right = s[..., :-1], s[..., 1:]  # slot k: s_k <= lambda_{k+1} <= s_{k+1}
    lam = left.clone()  # lambda_{k+1} = s_k when s_k = 0 or s_k = s_{k+1} ...
    solve = (left > 0) & (left < right)  # ... and a root of g otherwise
    probs = s.unsqueeze(-2).expand(*left.shape, s.shape[-1])[solve]  # (n, K): each root's row
    lo, hi = left[solve], right[solve]  # (n,): g(lo+) = -inf, g(hi-) = +inf
    while True:
        geometric = hi > 2 * lo  # lo > 0 here: bisect the exponent first
        mid = torch.where(geometric, lo.sqrt() * hi.sqrt(), lo + (hi - lo) / 2)
        active = (mid > lo) & (mid < hi)  # False once lo and hi are adjacent floats
        if not active.any():
            break
        g = (probs / (probs - mid.unsqueeze(-1))).sum(dim=-1)  # g(mid), increasing in mid
        lo = torch.where(active & (g < 0), mid, lo)  # the root lies above mid
        hi = torch.where(active & (g >= 0), mid, hi)  # the root lies at or below mid
    lam[solve] = lo + (hi - lo) / 2
    return torch.cat([torch.zeros_like(s[..., :1]), lam], dim=-1)


def jacobian_eigenvalues(z, dim: int = -1):
    r"""The eigenvalues of the softmax Jacobian, ascending, without forming the K×K matrix J.

    Solves the secular equation :math:`\sum_i \sigma_i / (\sigma_i - \lambda) = 0` between
    consecutive sorted probabilities (see :func:`eigenvalues_from_sigma`). A probability
    shared by m classes is an eigenvalue of multiplicity m − 1; the eigenvalue 0 has
    multiplicity 1 plus the number of masked classes, and is returned as exactly 0.
    Unlike ``torch.linalg.eigvalsh``, which is accurate to about :math:`\varepsilon` in
    absolute terms, it also finds eigenvalues far below :math:`\varepsilon` to nearly full
    relative precision. The result carries no autograd graph.

    Args:
        z: logits (torch tensor of any floating dtype, numpy array or list).
        dim: the class axis.

    Shape:
        The input shape without ``dim``, followed by ``(K,)``, like
        ``torch.linalg.eigvalsh(jaclab.softmax_jacobian(z, dim))``.

    Example:
        >>> jaclab.jacobian_eigenvalues(torch.tensor([math.log(2), 0.0, 0.0]))
        tensor([0.0000, 0.2500, 0.3750])
    """
    c = _validate.logits(z, dim)
    sigma = stable_softmax(c.tensor.detach(), c.dim).movedim(c.dim, -1)
    return c.back(eigenvalues_from_sigma(sigma))
