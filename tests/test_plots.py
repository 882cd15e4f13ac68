"""jaclab.visualize_jacobian: a returned (never shown) figure that teaches at a glance."""

import matplotlib

matplotlib.use("Agg")  # headless; set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402  (only to check that jaclab creates no pyplot figures)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import given  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import jaclab  # noqa: E402
from _strategies import FLOAT_DTYPES, NEG_INF, call_unchanged, fewer_examples, logit_vectors  # noqa: E402


def panels(fig):
    """The figure's three panels, left to right, without the heatmap's colour bar."""
    colorbars = {im.colorbar.ax for ax in fig.axes for im in ax.images if im.colorbar is not None}
    main = [ax for ax in fig.axes if ax not in colorbars]
    return sorted(main, key=lambda ax: ax.get_position().x0), colorbars


def J_and_sigma(z):
    """σ and J = diag(σ) − σσᵀ in float64 numpy, from the logits rounded to their dtype."""
    z = z.detach().double() if isinstance(z, torch.Tensor) else torch.from_numpy(np.asarray(z, dtype=np.float64))
    s = torch.softmax(z, -1).numpy()
    return np.diag(s) - np.outer(s, s), s


Z = torch.tensor([1.0, -0.5, 2.0, NEG_INF, 0.0])


def test_returns_a_figure_with_three_titled_labelled_panels():
    fig = jaclab.visualize_jacobian(Z)
    assert isinstance(fig, Figure)
    axes, colorbars = panels(fig)
    assert len(axes) == 3 and len(colorbars) == 1
    for ax in axes:
        assert ax.get_title().strip(), "every panel has a title"
        assert ax.get_xlabel().strip() and ax.get_ylabel().strip(), f"axis labels missing on {ax.get_title()!r}"
    assert len({ax.get_title() for ax in axes}) == 3


def test_heatmap_colour_norm_is_centred_on_zero():
    fig = jaclab.visualize_jacobian(Z)
    (ax_J, _, _), _ = panels(fig)
    (im,) = ax_J.images
    J, _ = J_and_sigma(Z)
    assert im.norm.vmin == -im.norm.vmax
    assert im.norm(0.0) == pytest.approx(0.5)  # 0 is the middle colour of the diverging map
    assert im.norm.vmax == pytest.approx(np.abs(J).max(), rel=1e-12)  # the full range, no clipping
    assert im.get_cmap().name in {"RdBu_r", "RdBu", "coolwarm", "bwr", "seismic", "PuOr", "PiYG", "BrBG"}


@fewer_examples
@given(logit_vectors())
def test_heatmap_shows_J_and_bars_show_its_diagonal_and_sigma(z):
    fig = jaclab.visualize_jacobian(z)
    (ax_J, ax_d, ax_s), _ = panels(fig)
    J, s = J_and_sigma(z)
    K = s.shape[0]
    np.testing.assert_allclose(np.asarray(ax_J.images[0].get_array()), J, rtol=0, atol=1e-15)
    assert ax_J.images[0].norm.vmin == -ax_J.images[0].norm.vmax
    diag_heights = [p.get_height() for p in ax_d.patches]
    sigma_heights = [p.get_height() for p in ax_s.patches]
    np.testing.assert_allclose(diag_heights, s * (1 - s), rtol=0, atol=1e-15)
    np.testing.assert_allclose(sigma_heights, s, rtol=0, atol=1e-15)
    assert len(diag_heights) == len(sigma_heights) == K
    assert max(diag_heights) <= ax_d.get_ylim()[1] and max(sigma_heights) <= ax_s.get_ylim()[1]


def test_the_one_quarter_bound_is_drawn_on_the_diagonal_panel():
    fig = jaclab.visualize_jacobian(Z)
    (_, ax_d, _), _ = panels(fig)
    levels = [line.get_ydata()[0] for line in ax_d.get_lines()]
    assert 0.25 in levels


def test_classes_are_numbered_from_one_as_in_the_math():
    fig = jaclab.visualize_jacobian(Z)
    (ax_J, ax_d, ax_s), _ = panels(fig)
    K = Z.shape[0]
    expected = [str(i) for i in range(1, K + 1)]
    for labels in (ax_J.get_xticklabels(), ax_J.get_yticklabels(), ax_d.get_xticklabels(), ax_s.get_xticklabels()):
        assert [t.get_text() for t in labels] == expected


def test_title_becomes_the_suptitle():
    fig = jaclab.visualize_jacobian(Z, title="Five classes, one masked")
    assert fig.get_suptitle() == "Five classes, one masked"
    assert jaclab.visualize_jacobian(Z).get_suptitle() == ""


def test_figure_background_is_opaque_so_it_reads_in_dark_mode():
    fig = jaclab.visualize_jacobian(Z)
    assert to_rgba(fig.get_facecolor())[3] == 1.0


def test_creates_no_pyplot_figures_and_prints_nothing(capsys):
    before = plt.get_fignums()
    jaclab.visualize_jacobian(Z)
    jaclab.visualize_jacobian(np.array([0.0, 1.0]), title="t")
    assert plt.get_fignums() == before
    out, err = capsys.readouterr()
    assert out == "" and err == ""


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_accepts_every_float_dtype_numpy_and_lists(dtype):
    fig = jaclab.visualize_jacobian(Z.to(dtype))
    J, _ = J_and_sigma(Z.to(dtype))
    (ax_J, _, _), _ = panels(fig)
    np.testing.assert_allclose(np.asarray(ax_J.images[0].get_array()), J, rtol=0, atol=1e-15)
    assert isinstance(jaclab.visualize_jacobian([1, 2, 3]), Figure)
    assert isinstance(jaclab.visualize_jacobian(np.array([1.0, 2.0, 3.0], dtype=np.float32)), Figure)


def test_accepts_a_tensor_that_requires_grad():
    """Logits straight from a model carry a graph; plotting them must not need .detach() first."""
    z = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    fig = jaclab.visualize_jacobian(z)
    (ax_J, _, _), _ = panels(fig)
    J, _ = J_and_sigma(z.detach())
    np.testing.assert_allclose(np.asarray(ax_J.images[0].get_array()), J, rtol=0, atol=1e-15)
    assert z.grad is None


def test_one_class_gives_a_valid_figure():
    fig = jaclab.visualize_jacobian(torch.tensor([3.0]))
    (ax_J, _, ax_s), _ = panels(fig)
    norm = ax_J.images[0].norm
    assert norm.vmin < 0 < norm.vmax and norm.vmin == -norm.vmax  # a degenerate range would break the norm
    assert [p.get_height() for p in ax_s.patches] == [1.0]


@pytest.mark.parametrize("shape", [(2, 3), (1, 3), (2, 2, 2)])
def test_batched_input_is_rejected(shape):
    with pytest.raises(ValueError, match=rf"single logit vector of shape \(K,\); got shape \({shape[0]}, "):
        jaclab.visualize_jacobian(torch.zeros(shape))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_caller_data_is_never_modified(dtype):
    z = Z.to(dtype)
    call_unchanged(jaclab.visualize_jacobian, z)
    call_unchanged(jaclab.visualize_jacobian, torch.tensor([[0.3, 1.0], [2.0, 4.0]], dtype=dtype)[:, 1])
    if dtype != torch.bfloat16:
        call_unchanged(jaclab.visualize_jacobian, z.numpy())
    call_unchanged(jaclab.visualize_jacobian, [0.3, -2.0])
