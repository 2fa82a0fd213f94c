"""Covariance functions, batched over datasets: (B, N, d) x (B, M, d) -> (B, N, M)."""

from __future__ import annotations

import torch


def rbf_kernel(x1: torch.Tensor, x2: torch.Tensor, lengthscale: float, outputscale: float) -> torch.Tensor:
    """Squared-exponential kernel ``outputscale * exp(-|x1 - x2|^2 / (2 lengthscale^2))``."""
    sq_dist = torch.cdist(x1 / lengthscale, x2 / lengthscale).square()
    return outputscale * torch.exp(-0.5 * sq_dist)
