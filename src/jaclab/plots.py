"""Figures. Every function returns a matplotlib Figure and never shows it."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from . import _validate
from .jacobian import jacobian_from_sigma
from .softmax import stable_softmax


def visualize_jacobian(z, *, title: str | None = None) -> Figure:
    r"""Three panels for one logit vector: J, its diagonal, and σ.

    The panels: J as a heatmap; the diagonal :math:`\sigma_i(1-\sigma_i)`;
    the probabilities. The heatmap uses a diverging colour map centred on 0
    (red positive, blue negative) with a symmetric range, so the sign of every
    entry reads at a glance. The figure has an opaque white background so it
    stays legible in a dark page theme.

    Shape:
        ``z`` of shape ``(K,)``. Returns a :class:`matplotlib.figure.Figure`.
    """
    c = _validate.logits(z, dim=-1)
    _validate.vector(c, "z")
    # A figure needs numbers, not a graph: detach, and draw in float64.
    sigma_t = stable_softmax(c.tensor.detach().double(), -1)
    J = jacobian_from_sigma(sigma_t).numpy()
    sigma = sigma_t.numpy()
    K = sigma.shape[0]
    idx = np.arange(K)
    labels = [
        str(i + 1) for i in idx
    ]  # classes are numbered 1..K, as in the math

    fig = Figure(figsize=(9.5, 3.4), facecolor="white", layout="constrained")
    ax_J, ax_d, ax_s = fig.subplots(1, 3)

    vmax = max(float(np.abs(J).max()), 1e-12)
    im = ax_J.imshow(
        J, cmap="RdBu_r", norm=TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
    )
    ax_J.set_title(r"Jacobian $J_{ij} = \partial\sigma_i/\partial z_j$")
    ax_J.set_xlabel("logit index $j$")
    ax_J.set_ylabel("probability index $i$")
    ax_J.set_xticks(idx, labels)
    ax_J.set_yticks(idx, labels)
    fig.colorbar(im, ax=ax_J, shrink=0.85)

    diag = np.diag(J)
    ax_d.bar(idx, diag, color="#4C72B0")
    ax_d.axhline(
        0.25, color="0.4", ls="--", lw=1, label=r"max $\sigma(1-\sigma) = 1/4$"
    )
    ax_d.set_ylim(0, 0.3)
    ax_d.set_title(r"Diagonal $J_{ii} = \sigma_i(1-\sigma_i)$")
    ax_d.set_xlabel("class $i$")
    ax_d.set_ylabel(r"$J_{ii}$")
    ax_d.set_xticks(idx, labels)
    ax_d.legend(loc="upper right", fontsize="small")

    ax_s.bar(idx, sigma, color="#DD8452")
    ax_s.set_ylim(0, 1)
    ax_s.set_title(r"Probabilities $\sigma_i$")
    ax_s.set_xlabel("class $i$")
    ax_s.set_ylabel(r"$\sigma_i$")
    ax_s.set_xticks(idx, labels)

    if title:
        fig.suptitle(title)
    return fig
