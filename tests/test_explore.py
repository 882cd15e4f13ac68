"""jaclab.explore: the slider explorer shows what jaclab computes, updates in place, and ships a self-contained panel.

Every expected value is computed here, independently, with jaclab's public functions
on the same z, T and g. The browser side of the static panel is checked in the
browser tests; here we check the HTML it starts from.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest
import torch

import jaclab
from jaclab.explore import Explorer, bench_python_update, explore
from jaclab.explore.state import DEFAULT_Z, J_LIMIT

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def expected(z, T, g):
    """σ, J, eigenvalues and VJP for logits z at temperature T, straight from jaclab."""
    u = torch.as_tensor(z, dtype=torch.float64) / T
    sigma = jaclab.softmax(u)
    J = jaclab.softmax_jacobian(u)
    return sigma, J, torch.linalg.eigvalsh(J), jaclab.softmax_vjp(torch.as_tensor(g, dtype=torch.float64), sigma)


def assert_shows(ex: Explorer, z, T, g):
    sigma, J, eig, vjp = expected(z, T, g)
    torch.testing.assert_close(ex.z, torch.as_tensor(z, dtype=torch.float64))
    assert ex.temperature == pytest.approx(T, rel=1e-12)
    torch.testing.assert_close(ex.g, torch.as_tensor(g, dtype=torch.float64))
    torch.testing.assert_close(ex.sigma, sigma, rtol=0, atol=1e-12)
    torch.testing.assert_close(ex.J, J, rtol=0, atol=1e-12)
    torch.testing.assert_close(ex.eigenvalues, eig, rtol=0, atol=1e-12)
    torch.testing.assert_close(ex.vjp, vjp, rtol=0, atol=1e-12)


def panel_state(ex: Explorer) -> dict:
    """The JSON the static panel starts from."""
    html = ex._repr_mimebundle_()["text/html"]
    return json.loads(re.search(r'<script type="application/json" class="jx-data">(.*?)</script>', html).group(1))


# ---- the numbers ---------------------------------------------------------------------


def test_default_explorer_shows_jaclab_values():
    ex = explore()
    assert_shows(ex, [2.0, 1.0, 0.5, -0.5], 1.0, [1.0, 0.0, 0.0, 0.0])


def test_moving_a_logit_slider_recomputes_everything():
    ex = explore()
    ex.sliders[1].value = 2.5
    assert_shows(ex, [2.0, 2.5, 0.5, -0.5], 1.0, [1.0, 0.0, 0.0, 0.0])


def test_static_panel_carries_the_current_state():
    ex = explore()
    ex.sliders[2].value = -3.0
    ex.temperature_slider.value = 2.0
    data = panel_state(ex)
    assert data["z"] == [2.0, 1.0, -3.0, -0.5]
    assert data["log10T"] == pytest.approx(np.log10(2.0))
    assert data["g"] == [1.0, 0.0, 0.0, 0.0]
    assert data["jLimit"] == J_LIMIT == 0.25


def test_temperature_divides_the_logits():
    ex = explore([1.0, 0.0, -1.0])
    ex.temperature_slider.value = 0.25
    assert_shows(ex, [1.0, 0.0, -1.0], 0.25, [1.0, 0.0, 0.0])
    assert ex.sigma[0] > jaclab.softmax(torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64))[0]  # colder is sharper


def test_temperature_slider_is_logarithmic():
    ex = explore()
    assert ex.temperature_slider.base == 10
    assert (ex.temperature_slider.min, ex.temperature_slider.max) == (-1.0, 1.0)  # T from 0.1 to 10


def test_vjp_equals_J_times_g():
    g = [0.5, -1.0, 2.0, 0.0, 1.0]
    ex = explore([0.3, -0.2, 1.1, 0.0, -2.0], temperature=1.5, g=g)
    torch.testing.assert_close(ex.vjp, ex.J @ torch.tensor(g, dtype=torch.float64), rtol=0, atol=1e-12)
    ex.g_sliders[3].value = -2.0
    assert_shows(ex, [0.3, -0.2, 1.1, 0.0, -2.0], 1.5, [0.5, -1.0, 2.0, -2.0, 1.0])


def test_eigenvalues_stay_within_the_bound_one_half():
    ex = explore([0.0, 0.0])  # two equal classes attain it: λ = 0 and 1/2
    torch.testing.assert_close(ex.eigenvalues, torch.tensor([0.0, 0.5], dtype=torch.float64), rtol=0, atol=1e-12)
    ex.k_slider.value = 8
    for s, v in zip(ex.sliders, [4.0, -4.0, 3.0, 0.0, 0.0, 1.0, -1.0, 2.0]):
        s.value = v
    assert ex.eigenvalues[-1] <= jaclab.LAMBDA_MAX_BOUND
    assert ex.eigenvalues[0] >= -1e-12


# ---- K, reset --------------------------------------------------------------------------


def test_growing_K_keeps_the_logits_and_pads_from_the_defaults():
    ex = explore(g=[0.0, 1.0, 0.0, 0.0])
    ex.sliders[0].value = -1.0
    ex.k_slider.value = 6
    assert len(ex.sliders) == len(ex.g_sliders) == ex.K == 6
    z = [-1.0, 1.0, 0.5, -0.5, *DEFAULT_Z[4:6]]
    assert_shows(ex, z, 1.0, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    assert ex.J.shape == (6, 6)


def test_shrinking_K_keeps_the_first_logits():
    ex = explore(K=8)
    ex.k_slider.value = 3
    assert_shows(ex, list(DEFAULT_Z[:3]), 1.0, [1.0, 0.0, 0.0])


def test_reset_restores_the_initial_state():
    ex = explore([0.5, -0.5, 1.0], temperature=2.0, g=[0.0, 1.0, -1.0])
    ex.sliders[0].value = 3.0
    ex.g_sliders[2].value = 2.0
    ex.temperature_slider.value = 0.3
    ex.k_slider.value = 7
    ex.reset_button.click()
    assert ex.k_slider.value == 3
    assert_shows(ex, [0.5, -0.5, 1.0], 2.0, [0.0, 1.0, -1.0])


# ---- the figure: updated in place --------------------------------------------------------


def test_value_changes_update_the_figure_in_place():
    ex = explore()
    fig, image, bars, heatmap = ex.figure.fig, ex.image, list(ex.figure.sigma_bars), ex.figure.image
    png = bytes(image.value)
    ex.sliders[0].value = -2.0
    ex.temperature_slider.value = 3.0
    ex.g_sliders[1].value = 1.0
    assert ex.figure.fig is fig and ex.image is image and ex.figure.image is heatmap
    assert all(a is b for a, b in zip(ex.figure.sigma_bars, bars))
    assert bytes(image.value) != png and bytes(image.value).startswith(b"\x89PNG")
    heights = [b.get_height() for b in ex.figure.sigma_bars]
    np.testing.assert_allclose(heights, ex.sigma.numpy())
    np.testing.assert_allclose(ex.figure.image.get_array(), ex.J.numpy())


def test_heatmap_scale_is_fixed_and_centred_on_zero():
    ex = explore()
    norm = ex.figure.image.norm
    ex.sliders[0].value = 4.0
    assert ex.figure.image.norm is norm
    assert (norm.vmin, norm.vmax) == (-0.25, 0.25)


def test_changing_K_keeps_the_figure():
    ex = explore()
    fig = ex.figure.fig
    ex.k_slider.value = 5
    assert ex.figure.fig is fig
    assert len(ex.figure.sigma_bars) == 5
    assert ex.figure.image.get_array().shape == (5, 5)


def test_the_library_stays_quiet(capsys):
    import matplotlib.pyplot as plt

    ex = explore()
    ex.sliders[0].value = 0.0
    ex._repr_mimebundle_()
    assert capsys.readouterr() == ("", "")
    assert plt.get_fignums() == []


def test_bench_python_update_returns_a_median_in_ms():
    ms = bench_python_update(K=3, n=3)
    assert 0 < ms < 10_000
    assert jaclab.explore.bench_python_update is bench_python_update


# ---- the static panel -----------------------------------------------------------------------


def test_mimebundle_has_the_widget_view_and_a_static_panel():
    bundle = explore()._repr_mimebundle_()
    assert set(bundle) >= {WIDGET_MIME, "text/plain", "text/html"}
    assert bundle[WIDGET_MIME]["model_id"]
    assert bundle["text/html"].startswith('<div class="jx-panel" id="jaclab-explore-')


def test_static_panel_is_self_contained():
    html = explore()._repr_mimebundle_()["text/html"]
    js = resources.files("jaclab.explore").joinpath("panel.js").read_text(encoding="utf-8")
    css = resources.files("jaclab.explore").joinpath("panel.css").read_text(encoding="utf-8")
    assert f"<script>{js}</script>" in html and f"<style>{css}</style>" in html
    assert not re.search(r"<script[^>]*\ssrc\s*=", html)
    assert "http://" not in html and "https://" not in html
    assert "eval(" not in html and "new Function" not in html


def test_two_explorers_get_different_ids():
    a, b = explore()._repr_mimebundle_()["text/html"], explore()._repr_mimebundle_()["text/html"]
    id_a, id_b = (re.search(r'id="(jaclab-explore-\d+)"', h).group(1) for h in (a, b))
    assert id_a != id_b


def test_ids_count_up_in_creation_order():
    first, second = (int(re.search(r'id="jaclab-explore-(\d+)"', explore()._repr_mimebundle_()["text/html"]).group(1)) for _ in range(2))
    assert second == first + 1


@pytest.mark.slow
def test_ids_are_the_same_on_every_run():
    """A fresh kernel (each book build) numbers panels 1, 2, … so outputs are byte-identical."""
    code = "import jaclab; print(jaclab.explore()._repr_mimebundle_()['text/html']); print(jaclab.explore(K=3)._repr_mimebundle_()['text/html'])"
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout for _ in range(2)]
    assert runs[0] == runs[1]
    assert re.findall(r'class="jx-panel" id="([\w-]+)"', runs[0]) == ["jaclab-explore-1", "jaclab-explore-2"]


# ---- bad input: the same errors as jaclab ------------------------------------------------------


@pytest.mark.parametrize(
    "z",
    [
        [1.0, float("nan"), 0.0],
        torch.tensor([1, 2, 3]),
        np.array([1, 2, 3]),
        [[1.0, 2.0], [3.0, 4.0]],
        "logits",
        [float("inf"), 0.0],
    ],
    ids=["nan", "int-tensor", "int-numpy", "batch", "string", "plus-inf"],
)
def test_invalid_logits_raise_the_errors_jaclab_raises(z):
    # verify_jacobian_properties is jaclab's one-vector entry point: it checks exactly what explore checks.
    with pytest.raises(Exception) as reference:
        jaclab.verify_jacobian_properties(z)
    with pytest.raises(type(reference.value)) as got:
        explore(z)
    assert str(got.value) == str(reference.value)


def test_masked_logits_are_refused_because_sliders_need_numbers():
    with pytest.raises(ValueError, match="z contains NaN or inf; it must be finite"):
        explore([0.0, float("-inf")])


@pytest.mark.parametrize("z", [[1.0], [0.0] * 9])
def test_K_outside_two_to_eight_is_refused(z):
    with pytest.raises(ValueError, match="K = 2 … 8"):
        explore(z)


@pytest.mark.parametrize("T, error", [(0.0, ValueError), (-1.0, ValueError), (100.0, ValueError), (float("nan"), ValueError), ("1", TypeError)])
def test_bad_temperature_is_refused(T, error):
    with pytest.raises(error, match="temperature"):
        explore(temperature=T)


def test_g_must_match_z():
    with pytest.raises(ValueError, match="same shape"):
        explore([0.0, 1.0, 2.0], g=[1.0, 0.0])
    with pytest.raises(ValueError, match="g contains NaN or inf"):
        explore([0.0, 1.0], g=[float("nan"), 0.0])


def test_inputs_are_not_modified():
    z = torch.tensor([1.0, 2.0, 3.0])
    ex = explore(z)
    ex.sliders[0].value = -4.0
    assert z.tolist() == [1.0, 2.0, 3.0]


# ---- in a kernel: both views travel in the notebook ------------------------------------------------


@pytest.mark.slow
def test_a_notebook_output_holds_the_widget_view_and_the_static_panel():
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import jaclab\njaclab.explore(K=5)")])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    (out,) = nb.cells[0].outputs
    assert out.output_type == "execute_result"
    assert WIDGET_MIME in out.data and 'class="jx-panel" id="jaclab-explore-1"' in out.data["text/html"]
    assert nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
