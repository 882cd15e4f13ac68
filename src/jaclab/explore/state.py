"""The explorer's numbers: one state (z, T, g) and everything jaclab computes from it.

Both views share this module. The Python widget draws :func:`compute`'s tensors;
the static panel starts from :func:`panel_data` and recomputes the same formulas
in the browser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import _validate
from ..jacobian import softmax_jacobian
from ..products import softmax_vjp
from ..softmax import softmax

#: The range of K the explorer offers.
K_MIN, K_MAX = 2, 8
#: Logits used when none are given (the first K), and to pad z when K grows.
DEFAULT_Z = (2.0, 1.0, 0.5, -0.5, 0.0, -1.0, 1.5, -1.5)
#: The temperature slider spans T = 10**-1 … 10**1 on a log scale.
LOG10_T_MIN, LOG10_T_MAX = -1.0, 1.0
#: The heatmap's fixed colour range: every entry of J lies in [-1/4, 1/4].
J_LIMIT = 0.25


@dataclass(frozen=True)
class Result:
    r"""What the explorer shows for one state, all float64 tensors.

    With :math:`u = z/T` and :math:`\sigma = \operatorname{softmax}(u)`:
    ``J`` :math:`= \operatorname{diag}(\sigma) - \sigma\sigma^\top = \partial\sigma/\partial u`
    (with respect to z itself it is J/T), ``eigenvalues`` of J in ascending order, and
    ``vjp`` :math:`= J^\top g = \sigma \odot (g - \langle g, \sigma\rangle)`.
    """

    sigma: torch.Tensor
    J: torch.Tensor
    eigenvalues: torch.Tensor
    vjp: torch.Tensor


def compute(z: torch.Tensor, temperature: float, g: torch.Tensor) -> Result:
    """Everything the explorer shows, computed by jaclab (and ``torch.linalg.eigvalsh``)."""
    u = z / temperature
    sigma = softmax(u)
    J = softmax_jacobian(u)
    return Result(sigma, J, torch.linalg.eigvalsh(J), softmax_vjp(g, sigma))


def default_g(K: int) -> list[float]:
    r"""The default upstream gradient :math:`g = e_1`: the gradient of :math:`L = \sigma_1`."""
    return [1.0] + [0.0] * (K - 1)


def resized(values: list[float], K: int, pad: list[float]) -> list[float]:
    """The first K of ``values``, padded with the matching entries of ``pad`` when K grows."""
    return list(values[:K]) + list(pad[len(values) : K])


def check_K(K: int) -> int:
    """K must be an int the K slider can show."""
    return _validate.integer_in_range(K, K_MIN, K_MAX, "K", "the explorer shows K classes for K")


def check_temperature(temperature) -> float:
    """T must be a number in the slider's range [0.1, 10]."""
    lo, hi = 10**LOG10_T_MIN, 10**LOG10_T_MAX
    return _validate.number_in_range(temperature, lo, hi, "temperature", "the slider's range")


def initial_state(z, temperature, g, K) -> tuple[list[float], float, list[float]]:
    """Validate the arguments of :func:`jaclab.explore` and fill in the defaults."""
    if z is None:
        z = list(DEFAULT_Z[: check_K(4 if K is None else K)])
    c = _validate.logits(z, dim=-1)
    _validate.vector(c, "z")
    c = _validate.finite(z, -1, "z")  # sliders need finite logits: no -inf masks
    zt = c.tensor.double()
    check_K(zt.shape[0])
    if K is not None:
        _validate.matches(K, zt.shape[0], f"K={K} does not match z, which has {zt.shape[0]} entries.")
    if g is None:
        g = default_g(zt.shape[0])
    gc = _validate.finite(g, -1, "g")
    _validate.vector(gc, "g")
    _validate.same_shape(gc.tensor, zt, "g", "z")
    return zt.tolist(), check_temperature(temperature), gc.tensor.double().tolist()


def slider_limit(values: list[float]) -> float:
    """Logit and gradient sliders span ±5, or wider when a value needs it."""
    return float(max(5, math.ceil(max(abs(v) for v in values))))


def panel_data(z: list[float], temperature: float, g: list[float]) -> dict:
    """The static panel's initial data (JSON-ready): the state plus the constants it shares with Python."""
    return {
        "z": z,
        "log10T": math.log10(temperature),
        "g": g,
        "padZ": list(DEFAULT_Z),
        "limit": slider_limit(z + g),
        "kMin": K_MIN,
        "kMax": K_MAX,
        "log10TMin": LOG10_T_MIN,
        "log10TMax": LOG10_T_MAX,
        "jLimit": J_LIMIT,
    }
