"""The softmax Jacobian's properties at one logit vector: measured, not assumed."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from . import _validate
from .jacobian import jacobian_from_sigma
from .softmax import stable_softmax, tempered

#: The tight upper bound on the largest eigenvalue of J (not 1/4; see chapter 6).
LAMBDA_MAX_BOUND = 0.5


@dataclass(frozen=True)
class JacobianReport:
    """What :func:`verify_jacobian_properties` measured (absolute, in float64)."""

    K: int
    sigma: torch.Tensor = field(repr=False)
    eigenvalues: torch.Tensor  # ascending, float64
    rank: int  # numerical rank of J in its compute dtype
    symmetry_error: float  # max |J - Jᵀ|
    max_abs_row_sum: float  # max_i |Σ_j J_ij|
    null_residual: float  # ‖J·1‖₂
    lambda_max: float
    lambda_max_bound: float
    tol: float  # the dtype-aware tolerance every check uses
    is_symmetric: bool
    rows_sum_to_zero: bool
    is_psd: bool
    within_bound: bool
    temperature: float = 1.0  # T: J is the Jacobian of softmax(z/T) in z, bounded by 1/(2T)

    @property
    def all_hold(self) -> bool:
        """Symmetric, zero row sums, PSD and λ_max ≤ 1/(2T) (1/2 at T = 1), within ``tol``."""
        return (
            self.is_symmetric
            and self.rows_sum_to_zero
            and self.is_psd
            and self.within_bound
        )

    def __repr__(self) -> str:
        eig = ", ".join(f"{x:.4g}" for x in self.eigenvalues.tolist())
        T = self.temperature
        bound_name = "λ_max ≤ 1/2" if T == 1.0 else "λ_max ≤ 1/(2T)"
        head = f"K={self.K}" if T == 1.0 else f"K={self.K}, T={T:g}"
        rows = [
            (
                "symmetric",
                self.is_symmetric,
                f"max |J - Jᵀ| = {self.symmetry_error:.2e}",
            ),
            (
                "rows sum to 0",
                self.rows_sum_to_zero,
                f"max |row sum| = {self.max_abs_row_sum:.2e}, ‖J·1‖ = {self.null_residual:.2e}",
            ),
            (
                "PSD",
                self.is_psd,
                f"smallest eigenvalue = {self.eigenvalues[0].item():.2e}",
            ),
            (
                bound_name,
                self.within_bound,
                f"λ_max = {self.lambda_max:.6f}, bound {self.lambda_max_bound:g}",
            ),
        ]
        lines = [
            f"JacobianReport({head}, all_hold={self.all_hold}, tol={self.tol:.1e})"
        ]
        lines += [
            f"  {name:<16}{str(ok):<7}{detail}" for name, ok, detail in rows
        ]
        lines.append(f"  {'rank':<16}{self.rank:<7}K - 1 = {self.K - 1}")
        lines.append(f"  {'eigenvalues':<16}[{eig}]")
        return "\n".join(lines)


def verify_jacobian_properties(z, *, temperature: float = 1.0) -> JacobianReport:
    r"""Measure the properties of the softmax Jacobian at one logit vector.

    :math:`J = \operatorname{diag}(\sigma) - \sigma\sigma^\top` is checked
    against a tolerance of :math:`8 K \varepsilon` of the compute dtype for:
    symmetry :math:`J = J^\top`; zero row sums, i.e. :math:`J\mathbf 1 = 0`;
    positive semi-definiteness; and :math:`\lambda_{\max} \le 1/2`. It also
    reports the eigenvalues (ascending) and the numerical rank, which is K − 1
    unless some :math:`\sigma_i` are so small that they are numerically zero.
    Prints nothing.

    At temperature :math:`T` the matrix is
    :math:`J_T = \frac1T(\operatorname{diag}(\sigma_T) - \sigma_T\sigma_T^\top)`, the
    Jacobian of :math:`\operatorname{softmax}(z/T)`; the bound becomes
    :math:`1/(2T)` and the tolerance :math:`8K\varepsilon/T`.

    Shape:
        ``z`` of shape ``(K,)``.
    """
    c = _validate.logits(z, dim=-1)
    _validate.vector(c, "z")
    T = _validate.temperature(temperature, c.tensor.dtype)
    # A report holds numbers, not a graph.
    sigma = stable_softmax(tempered(c.tensor.detach(), -1, T), -1)
    J = jacobian_from_sigma(sigma)
    K = sigma.shape[-1]
    tol = 8 * K * torch.finfo(J.dtype).eps
    if T != 1.0:
        J, tol = J / T, tol / T
    J64 = J.double()
    eig = torch.linalg.eigvalsh(J64)
    sym_err = (J64 - J64.T).abs().max().item()
    row_sum = J64.sum(dim=1).abs().max().item()
    null_res = torch.linalg.vector_norm(
        J64 @ torch.ones(K, dtype=torch.float64)
    ).item()
    lam_max = eig[-1].item()
    return JacobianReport(
        K=K,
        sigma=sigma,
        eigenvalues=eig,
        # Eigenvalues within tol of 0 count as zero. matrix_rank's default
        # threshold is relative to λ_max, which can sit below the rounding
        # noise in J·1 and so report full rank.
        rank=int(
            torch.linalg.matrix_rank(J, hermitian=True, atol=tol, rtol=0.0)
        ),
        symmetry_error=sym_err,
        max_abs_row_sum=row_sum,
        null_residual=null_res,
        lambda_max=lam_max,
        lambda_max_bound=LAMBDA_MAX_BOUND / T,
        tol=tol,
        is_symmetric=sym_err <= tol,
        rows_sum_to_zero=row_sum <= tol,
        is_psd=eig[0].item() >= -tol,
        within_bound=lam_max <= LAMBDA_MAX_BOUND / T + tol,
        temperature=T,
    )
