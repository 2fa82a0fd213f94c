"""Gaussian-process regression prior, and the exact posterior for fixed hyperparameters."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from priors.base import INPUT_RANGES, Batch, RandomInputsPrior
from priors.checks import check_integer, check_option
from priors.hyperpriors import Fixed, HyperparameterSpec, as_hyperprior
from priors.kernels import RBF, Kernel, Params


@dataclass(frozen=True)
class GaussianPredictive:
    """Independent Gaussian predictive per query point (shapes (B, M))."""

    mean: torch.Tensor
    variance: torch.Tensor

    def log_prob(self, y: torch.Tensor) -> torch.Tensor:
        """Log density of ``y`` (B, M) under each point's Gaussian."""
        y = y.to(self.mean.dtype)
        return -0.5 * (math.log(2 * math.pi) + self.variance.log() + (y - self.mean) ** 2 / self.variance)


def robust_cholesky(cov: torch.Tensor, max_tries: int = 8) -> torch.Tensor:
    """Batched Cholesky factor; matrices that fail get diagonal jitter, grown tenfold per try.

    Jitter starts at 1e-10 of the matrix's mean diagonal and is added only to the
    matrices that need it, so well-conditioned datasets are left exact.
    """
    chol, info = torch.linalg.cholesky_ex(cov)
    failed = info != 0
    if not failed.any():
        return chol
    eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    scale = torch.diagonal(cov, dim1=-2, dim2=-1).mean(-1).clamp_min(1e-30)  # (B,)
    for attempt in range(max_tries):
        jitter = scale[failed] * 10.0 ** (attempt - 10)
        retry, info_retry = torch.linalg.cholesky_ex(cov[failed] + jitter[:, None, None] * eye)
        idx = failed.nonzero().squeeze(-1)
        ok = info_retry == 0
        chol[idx[ok]] = retry[ok]
        failed[idx[ok]] = False
        if not failed.any():
            return chol
    raise torch.linalg.LinAlgError(f"{int(failed.sum())} covariance matrices stayed singular despite jitter")


class GPPrior(RandomInputsPrior):
    """Datasets drawn from a zero-mean GP with Gaussian observation noise.

    ``x ~ U[0, 1]^d`` (or ``N(0, 1)^d``), ``f ~ GP(0, kernel)``, ``y = f(x) + eps``,
    ``eps ~ N(0, noise)``. Kernel hyperparameters and the noise variance may be fixed
    numbers or hyperpriors, drawn anew for every dataset.

    Args:
        kernel: covariance function (default: RBF, lengthscale 0.1, outputscale 0.1).
        noise: observation-noise variance, a number or a hyperprior.
        x_distribution: "uniform" (on [0, 1]^d) or "normal" (standard).
        max_features: largest input dimension this prior is asked for.
    """

    samples_on_any_device = True

    def __init__(
        self,
        kernel: Kernel | None = None,
        noise: HyperparameterSpec = 0.1,
        x_distribution: str = "uniform",
        max_features: int = 1,
    ):
        if kernel is not None and not isinstance(kernel, Kernel):
            raise ValueError(
                f"kernel must be a Kernel object such as priors.kernels.RBF(lengthscale=0.1) (or None for that "
                f"default), got {kernel!r}"
            )
        self.kernel = kernel if kernel is not None else RBF(lengthscale=0.1, outputscale=0.1)
        self.noise = as_hyperprior(noise, "noise")
        self.x_distribution = check_option(x_distribution, "x_distribution", INPUT_RANGES)
        self.max_features = check_integer(max_features, "max_features")

    @property
    def has_fixed_hyperparameters(self) -> bool:
        """True when the kernel's hyperparameters and the noise are numbers, not hyperpriors."""
        return self.kernel.is_fixed and isinstance(self.noise, Fixed)

    @property
    def exact_posterior(self) -> str | None:
        """With fixed hyperparameters, "exact GP" (:meth:`posterior_predictive`); None with hyperpriors."""
        return "exact GP" if self.has_fixed_hyperparameters else None

    def sample_hyperparameters(self, batch_size: int, num_features: int, generator: torch.Generator) -> Params:
        """Per-dataset kernel parameters and noise variances."""
        return {
            "kernel": self.kernel.sample_params(batch_size, num_features, generator),
            "noise": self.noise.sample((batch_size,), generator),
        }

    def _sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
        x = self.sample_inputs((batch_size, num_points, num_features), generator)
        return Batch(x=x, y=self.sample_targets(x, generator))

    def sample_targets(
        self, x: torch.Tensor, generator: torch.Generator, hyperparameters: Params | None = None
    ) -> torch.Tensor:
        """Noisy targets (B, N) of GP draws at given inputs x (B, N, d), float32.

        Computed in float64: the Cholesky factor stays accurate for long lengthscales.
        """
        b, n, d = x.shape
        hp = hyperparameters or self.sample_hyperparameters(b, d, generator)
        x64 = x.double()
        cov = self.kernel(x64, x64, hp["kernel"])
        cov = cov + hp["noise"].to(cov)[:, None, None] * torch.eye(n, dtype=torch.float64, device=x.device)
        chol = robust_cholesky(cov)  # (B, N, N)
        z = torch.randn(b, n, 1, generator=generator, device=x.device, dtype=torch.float64)
        return (chol @ z).squeeze(-1).float()

    def posterior_predictive(
        self, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor
    ) -> GaussianPredictive:
        """Exact posterior predictive of noisy targets at ``x_test``, for fixed hyperparameters.

        Shapes: x_train (B, n, d), y_train (B, n), x_test (B, m, d); n may be 0,
        which gives the prior predictive. Computed in float64.
        """
        if not self.has_fixed_hyperparameters:
            raise ValueError("the exact posterior needs fixed hyperparameters; this GPPrior has hyperpriors")
        x_train, y_train, x_test = x_train.double(), y_train.double(), x_test.double()
        b, n, d = x_train.shape
        hp = self.sample_hyperparameters(b, d, torch.Generator(device=x_train.device))
        noise = hp["noise"].to(x_train)[:, None]  # (B, 1)
        prior_var = self.kernel.variance(x_test, hp["kernel"]) + noise  # (B, m)
        if n == 0:
            return GaussianPredictive(torch.zeros_like(prior_var), prior_var)
        eye = torch.eye(n, dtype=torch.float64, device=x_train.device)
        k_tt = self.kernel(x_train, x_train, hp["kernel"]) + noise[..., None] * eye
        k_ts = self.kernel(x_train, x_test, hp["kernel"])  # (B, n, m)
        chol = robust_cholesky(k_tt)
        alpha = torch.cholesky_solve(y_train.unsqueeze(-1), chol)  # (B, n, 1)
        mean = (k_ts.transpose(1, 2) @ alpha).squeeze(-1)  # (B, m)
        v = torch.linalg.solve_triangular(chol, k_ts, upper=False)  # (B, n, m)
        variance = torch.maximum(prior_var - v.square().sum(1), noise)
        return GaussianPredictive(mean, variance)

    def kernel_matrix(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """Noise-free prior covariance (B, N, M) for fixed hyperparameters."""
        if not self.kernel.is_fixed:
            raise ValueError("kernel_matrix needs fixed kernel hyperparameters")
        params = self.kernel.sample_params(x1.shape[0], x1.shape[-1], torch.Generator(device=x1.device))
        return self.kernel(x1, x2, params)

    def describe(self) -> dict[str, Any]:
        return {
            "name": "GPPrior",
            "kernel": self.kernel.describe(),
            "noise": self.noise.describe(),
            "x_distribution": self.x_distribution,
            "max_features": self.max_features,
        }
