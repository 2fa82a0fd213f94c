"""The usual non-PFN answer to "predict y at x from a few points": a Gaussian process whose
hyperparameters are fitted to each context by maximum marginal likelihood (type-II ML).

It is the reference for priors without an exact posterior (GPs with hyperpriors, BNNs): a PFN
trained on the prior should beat it, most of all on small contexts, where ML-II overfits.
Kernel: Matern-5/2 with one lengthscale per feature (ARD), an output scale and a noise variance,
all fitted per dataset on context-standardised data; batched over datasets, float64.
"""

from __future__ import annotations

import math

import torch

from pfn.model.normalization import context_location_scale


def _matern52(x1: torch.Tensor, x2: torch.Tensor, lengthscale: torch.Tensor, outputscale: torch.Tensor) -> torch.Tensor:
    """(B, n, d) x (B, m, d) -> (B, n, m); lengthscale (B, d), outputscale (B,)."""
    diff = x1[:, :, None, :] / lengthscale[:, None, None, :] - x2[:, None, :, :] / lengthscale[:, None, None, :]
    r = torch.sqrt(diff.square().sum(-1) + 1e-12)  # the offset keeps the gradient finite at r = 0
    s5r = math.sqrt(5) * r
    return outputscale[:, None, None] * (1 + s5r + s5r.square() / 3) * torch.exp(-s5r)


class FittedGP:
    """A GP fitted to each of B contexts (x (B, n, d), y (B, n), n >= 2).

    Args:
        steps: Adam steps on the log marginal likelihood (each dataset's hyperparameters move
            only its own term, so one optimiser fits all datasets independently).
        lr: Adam learning rate on the log hyperparameters.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, steps: int = 200, lr: float = 0.05):
        if y.shape[1] < 2:
            raise ValueError(f"a marginal-likelihood fit needs at least 2 context points, got {y.shape[1]}")
        x, y = x.double(), y.double()
        self.x_loc, self.x_scale = context_location_scale(x)
        self.y_loc, self.y_scale = context_location_scale(y)
        self.x, self.y = (x - self.x_loc) / self.x_scale, (y - self.y_loc) / self.y_scale
        b, _, d = x.shape
        # log lengthscale (B, d), log outputscale (B,), log noise variance (B,), in standardised units
        self.log_ls = torch.zeros(b, d, dtype=torch.float64, requires_grad=True)
        self.log_os = torch.zeros(b, dtype=torch.float64, requires_grad=True)
        self.log_noise = torch.full((b,), math.log(0.1), dtype=torch.float64, requires_grad=True)
        params = [self.log_ls, self.log_os, self.log_noise]
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            self.negative_log_marginal_likelihood().sum().backward()
            opt.step()
        for p in params:
            p.requires_grad_(False)

    def _hyperparameters(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (
            self.log_ls.clamp(math.log(1e-2), math.log(1e2)).exp(),
            self.log_os.clamp(math.log(1e-3), math.log(1e2)).exp(),
            self.log_noise.clamp(math.log(1e-6), math.log(1e1)).exp(),
        )

    def _cholesky(self) -> torch.Tensor:
        ls, os, noise = self._hyperparameters()
        k = _matern52(self.x, self.x, ls, os)
        eye = torch.eye(k.shape[-1], dtype=k.dtype)
        return torch.linalg.cholesky(k + (noise[:, None, None] + 1e-8) * eye)

    def negative_log_marginal_likelihood(self) -> torch.Tensor:
        """Per dataset, (B,), in standardised units."""
        chol = self._cholesky()
        alpha = torch.cholesky_solve(self.y[..., None], chol)[..., 0]
        n = self.y.shape[1]
        log_det = torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
        return 0.5 * (self.y * alpha).sum(-1) + log_det + 0.5 * n * math.log(2 * math.pi)

    def predict(self, x_query: torch.Tensor) -> torch.distributions.Normal:
        """Predictive distribution of noisy targets at ``x_query`` (B, m, d), in the data's units."""
        ls, os, noise = self._hyperparameters()
        xq = (x_query.double() - self.x_loc) / self.x_scale
        chol = self._cholesky()
        k_qc = _matern52(xq, self.x, ls, os)  # (B, m, n)
        alpha = torch.cholesky_solve(self.y[..., None], chol)[..., 0]
        mean = (k_qc @ alpha[..., None])[..., 0]
        v = torch.linalg.solve_triangular(chol, k_qc.transpose(-1, -2), upper=False)  # (B, n, m)
        var = (os[:, None] - v.square().sum(-2)).clamp_min(0) + noise[:, None]
        return torch.distributions.Normal(mean * self.y_scale + self.y_loc, var.sqrt() * self.y_scale)
