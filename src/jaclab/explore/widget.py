"""The Python explorer: ipywidgets sliders driving a matplotlib figure that is updated in place."""

from __future__ import annotations

import contextlib
import html

import ipywidgets as widgets
import torch

from .figure import ExplorerFigure
from .panel import panel_html
from .state import (DEFAULT_Z, K_MAX, K_MIN, LOG10_T_MAX, LOG10_T_MIN, compute, initial_state,
                    resized, slider_limit)


class Explorer:
    r"""Sliders for the logits z, the temperature T and the upstream gradient g, and four live plots.

    It shows :math:`\sigma = \operatorname{softmax}(z/T)`, :math:`J = \operatorname{diag}(\sigma) - \sigma\sigma^\top`,
    the eigenvalues of J against the bound :math:`\lambda_{\max} \le 1/2`, and the VJP
    :math:`J^\top g = \sigma \odot (g - \langle g, \sigma\rangle)`. J is the Jacobian with
    respect to the scaled logits z/T (with respect to z it is J/T).

    In JupyterLab it displays as a widget; in a static page (the built book) as a
    self-contained HTML panel that recomputes the same formulas in the browser.
    The current state is readable as tensors: ``z``, ``temperature``, ``g``,
    ``sigma``, ``J``, ``eigenvalues``, ``vjp``.
    """

    def __init__(self, z: list[float], temperature: float, g: list[float]):
        self._initial = (list(z), temperature, list(g))
        self._limit = slider_limit(z + g)
        self._quiet = False
        self.figure = ExplorerFigure()
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="720px", flex="0 0 auto"))
        self.readout = widgets.HTML()
        self.k_slider = widgets.IntSlider(value=len(z), min=K_MIN, max=K_MAX, description="K")
        self.temperature_slider = widgets.FloatLogSlider(
            value=temperature, base=10, min=LOG10_T_MIN, max=LOG10_T_MAX, step=0.01,
            description="T", readout_format=".3g")
        self.reset_button = widgets.Button(description="Reset", icon="undo")
        self.sliders: list[widgets.FloatSlider] = []  # one per logit z_i
        self.g_sliders: list[widgets.FloatSlider] = []  # one per entry g_i of the upstream gradient
        self._rows = widgets.VBox(layout=widgets.Layout(flex="0 0 auto"))
        self.widget = widgets.VBox([
            widgets.HBox([self.k_slider, self.temperature_slider, self.reset_button]),
            widgets.HBox([self._rows, widgets.VBox([self.image, self.readout])],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start")),
        ])
        self.k_slider.observe(self._on_K, "value")
        self.temperature_slider.observe(self._on_value, "value")
        self.reset_button.on_click(lambda _button: self.reset())
        self._build(z, g)
        self._refresh()

    # ---- the state, as tensors -------------------------------------------------

    @property
    def z(self) -> torch.Tensor:
        return torch.tensor([s.value for s in self.sliders], dtype=torch.float64)

    @property
    def g(self) -> torch.Tensor:
        return torch.tensor([s.value for s in self.g_sliders], dtype=torch.float64)

    @property
    def temperature(self) -> float:
        return float(self.temperature_slider.value)

    @property
    def K(self) -> int:
        return len(self.sliders)

    sigma = property(lambda self: self._result.sigma, doc="σ = softmax(z/T)")
    J = property(lambda self: self._result.J, doc="J = diag(σ) − σσᵀ")
    eigenvalues = property(lambda self: self._result.eigenvalues, doc="eigenvalues of J, ascending")
    vjp = property(lambda self: self._result.vjp, doc="Jᵀg = σ ⊙ (g − ⟨g, σ⟩)")

    # ---- building and updating ---------------------------------------------------

    def _slider(self, name: str, value: float) -> widgets.FloatSlider:
        s = widgets.FloatSlider(value=value, min=-self._limit, max=self._limit, step=0.05,
                                description=name, readout_format=".2f",
                                layout=widgets.Layout(width="260px"), style={"description_width": "28px"})
        s.observe(self._on_value, "value")
        return s

    def _build(self, z: list[float], g: list[float]) -> None:
        """New sliders and new plot artists for K = len(z) classes (only when K changes)."""
        for old in self.sliders + self.g_sliders:
            old.close()  # release the replaced sliders' comms
        self.sliders = [self._slider(f"z{i + 1}", v) for i, v in enumerate(z)]
        self.g_sliders = [self._slider(f"g{i + 1}", v) for i, v in enumerate(g)]
        self._rows.children = [widgets.HBox([a, b]) for a, b in zip(self.sliders, self.g_sliders)]
        self.figure.build(len(z))

    def _refresh(self) -> None:
        """Recompute from the sliders and redraw: artists change, the figure stays."""
        g = self.g
        self._result = compute(self.z, self.temperature, g)
        self.figure.update(self._result, float(g.max() - g.min()))
        self.image.value = self.figure.png()
        self.readout.value = _readout(self._result)

    def _on_value(self, _change) -> None:
        if not self._quiet:
            self._refresh()

    def _on_K(self, change) -> None:
        if self._quiet:
            return
        K = change["new"]
        z = resized(self.z.tolist(), K, list(DEFAULT_Z))
        g = resized(self.g.tolist(), K, [0.0] * K_MAX)
        self._build(z, g)
        self._refresh()

    @contextlib.contextmanager
    def _batch(self):
        """Change several sliders with one redraw at the end."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False
        self._refresh()

    def reset(self) -> None:
        """Restore the z, T and g the explorer was created with."""
        z, temperature, g = self._initial
        with self._batch():
            if len(z) != self.K:
                self.k_slider.value = len(z)
                self._build(z, g)
            for s, v in zip(self.sliders + self.g_sliders, z + g):
                s.value = v
            self.temperature_slider.value = temperature

    # ---- display -------------------------------------------------------------------

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """The widget's view (JupyterLab) plus a static HTML panel (the built book), same state."""
        widget_bundle = self.widget._repr_mimebundle_  # None once the widget is closed
        bundle = dict(widget_bundle(include=include, exclude=exclude) or {}) if widget_bundle else {}
        bundle["text/plain"] = repr(self)
        bundle["text/html"] = panel_html(self.z.tolist(), self.temperature, self.g.tolist())
        return bundle

    def __repr__(self) -> str:
        z = ", ".join(f"{v:g}" for v in self.z.tolist())
        g = ", ".join(f"{v:g}" for v in self.g.tolist())
        return f"Explorer(z=[{z}], temperature={self.temperature:g}, g=[{g}])"


def _readout(r) -> str:
    sigma = ", ".join(f"{v:.4f}" for v in r.sigma.tolist())
    lam = r.eigenvalues[-1].item()
    return html.escape(f"σ = [{sigma}]") + f"<br>λ<sub>max</sub> = {lam:.6f} ≤ 1/2"


def explore(z=None, *, temperature: float = 1.0, g=None, K: int | None = None) -> Explorer:
    r"""A slider explorer of softmax and its Jacobian at the logits ``z``.

    Shows :math:`\sigma = \operatorname{softmax}(z/T)`, the heatmap of
    :math:`J = \operatorname{diag}(\sigma) - \sigma\sigma^\top` on a fixed scale
    :math:`[-1/4, 1/4]` centred on 0, the eigenvalues of J with the bound
    :math:`\lambda_{\max} \le 1/2`, and the VJP :math:`J^\top g`.

    Args:
        z: logits of shape ``(K,)``, 2 ≤ K ≤ 8, finite; default ``[2, 1, 0.5, -0.5]``
            (the first K of ``[2, 1, 0.5, -0.5, 0, -1, 1.5, -1.5]`` when K is given).
        temperature: T in [0.1, 10]; the slider is on a log scale.
        g: the upstream gradient, shape ``(K,)``; default :math:`e_1` (the gradient of σ₁).
        K: the number of classes when ``z`` is not given.

    Returns:
        An :class:`Explorer`. Display it (last line of a cell) to see it.
    """
    return Explorer(*initial_state(z, temperature, g, K))
