"""jaclab.verify_jacobian_properties: every field measured, and every measurement checked independently."""

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import jaclab
from _strategies import FLOAT_DTYPES, NEG_INF, call_unchanged, compute_dtype, logit_vectors

FIELDS = [
    "K",
    "eigenvalues",
    "rank",
    "symmetry_error",
    "max_abs_row_sum",
    "null_residual",
    "lambda_max",
    "lambda_max_bound",
    "tol",
    "is_symmetric",
    "rows_sum_to_zero",
    "is_psd",
    "within_bound",
]


def J_numpy(z):
    """J in jaclab's compute dtype from torch.softmax, as a float64 numpy array."""
    s = torch.softmax(z.to(compute_dtype(z.dtype)), dim=-1)
    J = torch.diag(s) - torch.outer(s, s)
    return J.double().numpy()


@given(logit_vectors())
def test_all_properties_hold_for_every_logit_vector(z):
    report = jaclab.verify_jacobian_properties(z)
    assert report.all_hold, report
    assert report.is_symmetric and report.rows_sum_to_zero and report.is_psd and report.within_bound


@given(logit_vectors())
def test_report_fields_match_independent_computation(z):
    report = jaclab.verify_jacobian_properties(z)
    K = z.shape[0]
    J = J_numpy(z)
    eps = torch.finfo(compute_dtype(z.dtype)).eps
    assert report.K == K
    assert report.tol == pytest.approx(8 * K * eps)  # the documented tolerance: 8Kε of the compute dtype
    tol = report.tol

    eig = np.linalg.eigvalsh(J)
    assert report.eigenvalues.dtype == torch.float64 and report.eigenvalues.shape == (K,)
    np.testing.assert_allclose(report.eigenvalues.numpy(), eig, rtol=0, atol=tol)
    assert report.lambda_max == pytest.approx(eig[-1], abs=tol)
    assert report.lambda_max == report.eigenvalues[-1].item()
    assert report.lambda_max_bound == 0.5

    # The measurements are rounding-sized, so they are compared on the very matrix the report
    # measured (jaclab's J in the compute dtype), to float64 summation error only.
    Jm = jaclab.softmax_jacobian(z.to(compute_dtype(z.dtype))).double().numpy()
    f64 = 4 * K * np.finfo(np.float64).eps
    assert report.symmetry_error == pytest.approx(np.abs(Jm - Jm.T).max(), rel=1e-6, abs=f64)
    assert report.max_abs_row_sum == pytest.approx(np.abs(Jm.sum(axis=1)).max(), rel=1e-6, abs=f64)
    assert report.null_residual == pytest.approx(np.linalg.norm(Jm @ np.ones(K)), rel=1e-6, abs=f64)
    assert report.null_residual <= np.sqrt(K) * report.max_abs_row_sum + tol  # ‖x‖₂ ≤ √K ‖x‖∞

    # The flags are the measurements compared with tol.
    assert report.is_symmetric == (report.symmetry_error <= tol)
    assert report.rows_sum_to_zero == (report.max_abs_row_sum <= tol)
    assert report.is_psd == (report.eigenvalues[0].item() >= -tol)
    assert report.within_bound == (report.lambda_max <= 0.5 + tol)

    # The numerical rank counts the eigenvalues that are not zero to within tol (rounding in J's
    # entries moves eigenvalues by up to about K·eps); eigenvalues well away from tol decide it.
    clearly_nonzero = int((np.abs(eig) > 2 * tol).sum())
    possibly_nonzero = int((np.abs(eig) > tol / 2).sum())
    assert clearly_nonzero <= report.rank <= possibly_nonzero
    assert report.rank <= K - 1  # J·1 = 0: the direction 1 is always in the null space


@given(logit_vectors())
def test_eigenvalues_are_ascending(z):
    eig = jaclab.verify_jacobian_properties(z).eigenvalues
    assert torch.all(eig[1:] >= eig[:-1])


@given(logit_vectors(max_abs=3.0))
def test_rank_is_K_minus_1_for_moderate_logits(z):
    """For |z| ≤ 3 no σ_i is close to 0, so J loses exactly one dimension: the direction 1."""
    finite = z[torch.isfinite(z)]
    report = jaclab.verify_jacobian_properties(finite)
    assert report.rank == finite.shape[0] - 1


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("z", [[2.0, -3.0], [1.8268, -3.0], [4.0, 0.0, -1.0], [6.0, 0.5, 0.0, -0.5]])
def test_rank_is_K_minus_1_even_when_lambda_max_is_small(z, dtype):
    """Rounding leaves J·1 at about eps, not 0; that must not count as a K-th direction.

    When one σ_i dominates, λ_max is small, so a threshold relative to λ_max (the default of
    torch.linalg.matrix_rank) is below the rounding noise and would report full rank.
    """
    report = jaclab.verify_jacobian_properties(torch.tensor(z, dtype=dtype))
    assert report.rank == len(z) - 1, report


@pytest.mark.parametrize(
    "z, dtype, rank",
    [
        ([0.0, 0.0, -200.0], torch.float32, 1),  # e^-200 underflows in float32
        ([0.0, 0.0, -200.0], torch.float64, 1),  # e^-200 ≈ 1e-87 is far below float64's K·eps
        ([0.0, 0.0, -20.0], torch.float64, 2),  # e^-20 ≈ 2e-9 is not
        ([0.0, 1.0, -200.0, -300.0], torch.float32, 1),
        ([0.0, 1.0, 2.0, -1000.0], torch.float64, 2),
        ([5.0, -1e4, -1e4, -1e4], torch.float32, 0),  # one class takes all the probability
        ([0.0, NEG_INF, 1.0, NEG_INF], torch.float64, 1),  # masked classes are exactly 0
    ],
)
def test_rank_drops_when_probabilities_underflow(z, dtype, rank):
    report = jaclab.verify_jacobian_properties(torch.tensor(z, dtype=dtype))
    assert report.rank == rank
    assert report.all_hold


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("c", [0.0, -7.5, 123.0])
def test_two_equal_logits_reach_lambda_max_one_half(dtype, c):
    """The bound 1/2 is attained: K = 2, σ = (1/2, 1/2), J = [[1/4, −1/4], [−1/4, 1/4]] has λ = 0, 1/2."""
    report = jaclab.verify_jacobian_properties(torch.tensor([c, c], dtype=dtype))
    assert report.lambda_max == pytest.approx(report.lambda_max_bound, abs=report.tol)
    assert report.lambda_max == pytest.approx(0.5, abs=report.tol)
    assert report.eigenvalues[0].item() == pytest.approx(0.0, abs=report.tol)
    assert report.rank == 1 and report.all_hold


@given(st.integers(3, 16), st.floats(-50, 50))
def test_equal_logits_give_lambda_max_one_over_K(K, c):
    """σ uniform: J = I/K − 11ᵀ/K², eigenvalues 0 (once) and 1/K (K − 1 times), so for K > 2 the bound is not tight."""
    report = jaclab.verify_jacobian_properties(torch.full((K,), c, dtype=torch.float64))
    expected = np.r_[0.0, np.full(K - 1, 1.0 / K)]
    np.testing.assert_allclose(report.eigenvalues.numpy(), expected, rtol=0, atol=1e-14)
    assert report.rank == K - 1


def test_all_hold_requires_every_check():
    report = jaclab.verify_jacobian_properties(torch.tensor([0.1, 0.2, -0.3]))
    assert report.all_hold
    for flag in ["is_symmetric", "rows_sum_to_zero", "is_psd", "within_bound"]:
        broken = dataclasses.replace(report, **{flag: False})
        assert not broken.all_hold, flag


def test_repr_is_readable():
    report = jaclab.verify_jacobian_properties(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    text = repr(report)
    assert text.startswith("JacobianReport(K=3, all_hold=True")
    for words in ["symmetric", "rows sum to 0", "PSD", "λ_max ≤ 1/2", "rank", "eigenvalues", "K - 1 = 2"]:
        assert words in text, words
    assert f"{report.lambda_max:.6f}" in text
    assert "tensor(" not in text  # numbers, not tensor reprs
    assert len(text.splitlines()) == 7


def test_repr_shows_a_failing_check():
    report = jaclab.verify_jacobian_properties(torch.tensor([1.0, 2.0, 3.0]))
    broken = dataclasses.replace(report, is_psd=False)
    assert "all_hold=False" in repr(broken)
    assert any(line.split()[:2] == ["PSD", "False"] for line in repr(broken).splitlines())


def test_report_has_every_field_with_its_type():
    report = jaclab.verify_jacobian_properties(torch.tensor([0.0, 1.0]))
    names = {f.name for f in dataclasses.fields(report)}
    assert set(FIELDS) <= names
    assert isinstance(report.rank, int) and isinstance(report.K, int)
    for name in ["symmetry_error", "max_abs_row_sum", "null_residual", "lambda_max", "tol"]:
        assert isinstance(getattr(report, name), float), name
    for name in ["is_symmetric", "rows_sum_to_zero", "is_psd", "within_bound", "all_hold"]:
        assert isinstance(getattr(report, name), bool), name


def test_report_is_immutable():
    report = jaclab.verify_jacobian_properties(torch.tensor([0.0, 1.0]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.all_hold_override = True  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.is_psd = False  # type: ignore[misc]


def test_prints_nothing(capsys):
    jaclab.verify_jacobian_properties(torch.tensor([0.0, 1.0, 5.0]))
    jaclab.verify_jacobian_properties(np.array([0.0, NEG_INF, 5.0], dtype=np.float32))
    out, err = capsys.readouterr()
    assert out == "" and err == ""


@pytest.mark.parametrize(
    "z",
    [[1.0, 2.0, 3.0], np.array([1.0, 2.0, 3.0], dtype=np.float16), torch.tensor([1.0, 2.0, 3.0]).bfloat16()],
    ids=["list", "numpy float16", "bfloat16"],
)
def test_accepts_lists_numpy_and_half_dtypes(z):
    report = jaclab.verify_jacobian_properties(z)
    assert report.K == 3 and report.all_hold and report.rank == 2


def test_one_class_has_rank_zero():
    report = jaclab.verify_jacobian_properties(torch.tensor([4.0]))
    assert report.K == 1 and report.rank == 0 and report.lambda_max == 0.0 and report.all_hold


@pytest.mark.parametrize("shape", [(2, 3), (1, 3), (2, 2, 2)])
def test_batched_input_is_rejected(shape):
    with pytest.raises(ValueError, match=rf"single logit vector of shape \(K,\); got shape \({shape[0]}, "):
        jaclab.verify_jacobian_properties(torch.zeros(shape))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_caller_data_is_never_modified(dtype):
    z = torch.tensor([0.3, NEG_INF, -2.0, 1e4], dtype=torch.float64).to(dtype)
    call_unchanged(jaclab.verify_jacobian_properties, z)
    call_unchanged(jaclab.verify_jacobian_properties, torch.tensor([[0.3, 1.0], [2.0, 4.0]], dtype=dtype)[:, 1])
    if dtype != torch.bfloat16:
        call_unchanged(jaclab.verify_jacobian_properties, z.numpy())
    call_unchanged(jaclab.verify_jacobian_properties, [0.3, -2.0])
