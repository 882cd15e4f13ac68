"""The Python explorer's figure: built once per K, then updated in place and rendered to PNG.

No GUI backend is involved. The figure is a plain :class:`matplotlib.figure.Figure`
on an Agg canvas; :meth:`ExplorerFigure.png` draws it and encodes the pixels, and
the widget puts those bytes into an ``ipywidgets.Image``.
"""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from PIL import Image

from ..properties import LAMBDA_MAX_BOUND
from .state import J_LIMIT, Result

BAR = "#2f6fb3"
VJP_POS, VJP_NEG = "#c0392b", "#2f6fb3"


class ExplorerFigure:
    """Four panels: σ, the heatmap of J, the eigenvalues of J, and the VJP Jᵀg.

    :meth:`build` creates the artists for K classes; :meth:`update` only changes
    their data (bar heights, the image array, limits), so the Figure, its axes and,
    for a fixed K, every artist keep their identity.

    Rendering blits: the static parts (axes, ticks, titles, colour bar) are drawn once
    into a saved background, and each update draws only the moving artists over it.
    """

    def __init__(self, dpi: int = 80):
        self.fig = Figure(figsize=(9.0, 6.0), dpi=dpi, facecolor="white")
        FigureCanvasAgg(self.fig)
        grid = self.fig.add_gridspec(2, 2, left=0.07, right=0.95, bottom=0.08, top=0.93, wspace=0.28, hspace=0.42)
        self.ax_sigma = self.fig.add_subplot(grid[0, 0])
        self.ax_J = self.fig.add_subplot(grid[0, 1])
        self.ax_eig = self.fig.add_subplot(grid[1, 0])
        self.ax_vjp = self.fig.add_subplot(grid[1, 1])
        self.colorbar = None
        self.K = None
        self._background = None  # the pixels of the static parts, captured by png()
        self._dynamic = []  # the artists png() draws over the background, in order

    def build(self, K: int) -> None:
        """(Re)create the artists for K classes; called once per K."""
        self.K = K
        idx = np.arange(1, K + 1)
        for ax in (self.ax_sigma, self.ax_J, self.ax_eig, self.ax_vjp):
            ax.cla()
        self.sigma_bars = _bars(self.ax_sigma, idx, BAR, r"Probabilities $\sigma = \mathrm{softmax}(z/T)$", r"$\sigma_i$")
        self.ax_sigma.set_ylim(0, 1)
        self.eig_bars = _bars(self.ax_eig, idx, BAR, r"Eigenvalues of $J$ (ascending)", r"$\lambda$", "rank order")
        self.ax_eig.set_ylim(-0.02, 0.6)
        self.ax_eig.set_yticks([0, 0.1, 0.2, 0.3, 0.4, 0.5])
        eig_lines = _bound_lines(self.ax_eig)
        self.vjp_bars = _bars(self.ax_vjp, idx, BAR, r"VJP $J^\top g = \sigma \odot (g - \langle g, \sigma\rangle)$", r"$(J^\top g)_i$")
        zero = self.ax_vjp.axhline(0, color="0.3", lw=0.8)
        self._build_heatmap(K)
        self._dynamic = [*self.sigma_bars, self.image, *self.eig_bars, *eig_lines, *self.vjp_bars, zero]
        for a in self._dynamic:
            a.set_animated(True)
        self._background = None

    def _build_heatmap(self, K: int) -> None:
        norm = Normalize(vmin=-J_LIMIT, vmax=J_LIMIT)  # fixed and centred on 0: |J_ij| ≤ 1/4
        self.image = self.ax_J.imshow(np.zeros((K, K)), cmap="RdBu_r", norm=norm, extent=(0.5, K + 0.5, K + 0.5, 0.5))
        self.ax_J.set_title(r"$J = \mathrm{diag}(\sigma) - \sigma\sigma^\top$")
        self.ax_J.set_xlabel("$j$")
        self.ax_J.set_ylabel("$i$")
        self.ax_J.set_xticks(np.arange(1, K + 1))
        self.ax_J.set_yticks(np.arange(1, K + 1))
        if self.colorbar is None:
            self.colorbar = self.fig.colorbar(self.image, ax=self.ax_J, shrink=0.9, ticks=[-0.25, 0, 0.25])
            self.colorbar.ax.set_yticklabels(["−1/4", "0", "1/4"])
        else:
            self.colorbar.update_normal(self.image)

    def update(self, r: Result, g_spread: float) -> None:
        """Move every artist to the values in ``r``; nothing is created."""
        for bar, h in zip(self.sigma_bars, r.sigma.tolist()):
            bar.set_height(h)
        self.image.set_data(r.J.numpy())
        for bar, h in zip(self.eig_bars, r.eigenvalues.tolist()):
            bar.set_height(h)
        for bar, h in zip(self.vjp_bars, r.vjp.tolist()):
            bar.set_height(h)
            bar.set_color(VJP_POS if h >= 0 else VJP_NEG)
        # |(Jᵀg)_i| ≤ σ_i(1-σ_i)(max g - min g) ≤ (max g - min g)/4, whatever z and T are.
        # Rounded up to a nice number, so that dragging g rarely changes the axis: a new
        # axis invalidates the saved background and costs a full redraw (~10× an update).
        bound = _nice_ceiling(max(g_spread / 4, 1e-3))
        ylim = (-1.05 * bound, 1.05 * bound)
        if self.ax_vjp.get_ylim() != ylim:
            self.ax_vjp.set_ylim(*ylim)
            self._background = None  # the tick labels changed

    def png(self) -> bytes:
        """Draw the moving artists over the saved background and encode the pixels as PNG."""
        canvas = self.fig.canvas
        if self._background is None:
            canvas.draw()  # animated artists are left out (except the image)
            self._background = canvas.copy_from_bbox(self.fig.bbox)
        else:
            canvas.restore_region(self._background)
        for a in self._dynamic:
            self.fig.draw_artist(a)
        rgba = np.asarray(self.fig.canvas.buffer_rgba())
        out = io.BytesIO()
        Image.fromarray(rgba[..., :3]).save(out, format="png", compress_level=1)
        return out.getvalue()


#: The mantissas of the VJP axis limits: 1, 1.5, 2, … 8 times a power of ten.
NICE = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8)


def _nice_ceiling(x: float) -> float:
    """The smallest number m·10^k with m in NICE that is ≥ x > 0."""
    k = math.floor(math.log10(x))
    return min(m * 10.0**e for e in (k, k + 1) for m in NICE if m * 10.0**e >= x)


def _bound_lines(ax):
    """The bound λ_max ≤ 1/2 (solid) and the tempting but false 1/4 (dashed).

    Their legend sits in the band above 1/2, where no bar can reach, so it is static;
    the lines themselves are redrawn over the bars.
    """
    bound = ax.axhline(LAMBDA_MAX_BOUND, color="#c0392b", lw=1.5)
    quarter = ax.axhline(0.25, color="0.45", lw=1, ls="--")
    ax.legend([bound, quarter], [r"bound $\lambda_{\max} \leq 1/2$", "1/4 (not a bound)"], loc="upper center",
              ncol=2, frameon=False, fontsize="small", borderaxespad=0.2)
    return [bound, quarter]


def _bars(ax, idx, color: str, title: str, ylabel: str, xlabel: str = "class $i$"):
    bars = ax.bar(idx, np.zeros(len(idx)), color=color, width=0.7)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xticks(idx)
    ax.grid(axis="y", color="0.9", lw=0.8)
    ax.set_axisbelow(True)
    return bars
