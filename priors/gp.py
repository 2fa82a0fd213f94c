"""Gaussian-process regression prior with fixed hyperparameters, and its exact posterior."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from priors.base import Batch, Prior
from priors.kernels import rbf_kernel


@dataclass(frozen=True)
class GaussianPredictive:
    """Independent Gaussian predictive per query point (shapes (B, M))."""

    mean: torch.Tensor
    variance: torch.Tensor

    def log_prob(self, y: torch.Tensor) -> torch.Tensor:
        """Log density of ``y`` (B, M) under each point's Gaussian."""
        y = y.to(self.mean.dtype)
        return -0.5 * (math.log(2 * math.pi) + self.variance.log() + (y - self.mean) ** 2 / self.variance)


class GPPrior(Prior):
    """Datasets drawn from a zero-mean GP with an RBF kernel and Gaussian observation noise.

    ``x ~ U[0, 1]^d``, ``f ~ GP(0, k)`` with ``k(x, x') = outputscale * exp(-|x - x'|^2 / (2 l^2))``,
    ``y = f(x) + eps`` with ``eps ~ N(0, noise)``.

    Args:
        lengthscale: RBF lengthscale ``l``.
        outputscale: kernel variance.
        noise: observation-noise variance.
        max_features: largest input dimension this prior is asked for.
    """

    def __init__(
        self,
        lengthscale: float = 0.1,
        outputscale: float = 0.1,
        noise: float = 0.1,
        max_features: int = 1,
    ):
        for name, value in (("lengthscale", lengthscale), ("outputscale", outputscale), ("noise", noise)):
            if not value > 0:
                raise ValueError(f"GPPrior {name} must be positive, got {value!r}")
        self.lengthscale = float(lengthscale)
        self.outputscale = float(outputscale)
        self.noise = float(noise)
        self.max_features = int(max_features)

    def kernel(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """Noise-free prior covariance between two batches of inputs, (B, N, M)."""
        return rbf_kernel(x1, x2, self.lengthscale, self.outputscale)

    def _sample(self, batch_size, num_points, num_features, generator) -> Batch:
        x = torch.rand(batch_size, num_points, num_features, generator=generator, device=generator.device)
        return Batch(x=x, y=self.sample_targets(x, generator))

    def sample_targets(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Noisy targets (B, N) of GP draws at given inputs x (B, N, d)."""
        b, n, _ = x.shape
        # Cholesky in float64: the noise term keeps the matrix well conditioned, float64 keeps it exact.
        x64 = x.double()
        cov = self.kernel(x64, x64) + self.noise * torch.eye(n, dtype=torch.float64, device=x.device)
        chol = torch.linalg.cholesky(cov)  # (B, N, N)
        z = torch.randn(b, n, 1, generator=generator, device=x.device, dtype=torch.float64)
        return (chol @ z).squeeze(-1).float()

    def posterior_predictive(
        self, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor
    ) -> GaussianPredictive:
        """Exact posterior predictive of noisy targets at ``x_test``.

        Shapes: x_train (B, n, d), y_train (B, n), x_test (B, m, d); n may be 0,
        which gives the prior predictive. Computed in float64.
        """
        x_train, y_train, x_test = x_train.double(), y_train.double(), x_test.double()
        prior_var = self.outputscale + self.noise
        if x_train.shape[1] == 0:
            mean = x_test.new_zeros(x_test.shape[:2])
            return GaussianPredictive(mean, torch.full_like(mean, prior_var))
        n = x_train.shape[1]
        k_tt = self.kernel(x_train, x_train) + self.noise * torch.eye(n, dtype=torch.float64, device=x_train.device)
        k_ts = self.kernel(x_train, x_test)  # (B, n, m)
        chol = torch.linalg.cholesky(k_tt)
        alpha = torch.cholesky_solve(y_train.unsqueeze(-1), chol)  # (B, n, 1)
        mean = (k_ts.transpose(1, 2) @ alpha).squeeze(-1)  # (B, m)
        v = torch.linalg.solve_triangular(chol, k_ts, upper=False)  # (B, n, m)
        variance = (prior_var - v.square().sum(1)).clamp_min(self.noise)
        return GaussianPredictive(mean, variance)

    def describe(self) -> dict[str, Any]:
        return {
            "name": "GPPrior",
            "kernel": "rbf",
            "lengthscale": self.lengthscale,
            "outputscale": self.outputscale,
            "noise": self.noise,
            "max_features": self.max_features,
            "x_distribution": "uniform[0,1]",
        }
