"""Covariance functions with per-dataset hyperparameters, batched over datasets.

A kernel first draws its hyperparameters for a batch (``sample_params``), then
evaluates covariances (``__call__``): (B, N, d) x (B, M, d) -> (B, N, M).
Hyperparameters are numbers (fixed) or :mod:`priors.hyperpriors` distributions.
Kernels add and multiply: ``RBF(0.2) + Periodic(0.5, period=0.3)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, cast

import torch

from priors.checks import check_bool, check_real
from priors.hyperpriors import Fixed, HyperparameterSpec, Hyperprior, as_hyperprior

Params = dict[str, Any]


class Kernel:
    def sample_params(self, batch_size: int, num_features: int, generator: torch.Generator) -> Params:
        raise NotImplementedError

    def __call__(self, x1: torch.Tensor, x2: torch.Tensor, params: Params) -> torch.Tensor:
        raise NotImplementedError

    def variance(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """Prior variance k(x, x) at each point, (B, N)."""
        return torch.diagonal(self(x, x, params), dim1=-2, dim2=-1)

    @property
    def is_fixed(self) -> bool:
        """True when no hyperparameter is random (an exact posterior then exists)."""
        return all(isinstance(h, Fixed) for h in self._hyperpriors())

    def _hyperpriors(self) -> list[Hyperprior]:
        return [v for v in vars(self).values() if hasattr(v, "sample")]

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kernel": type(self).__name__}
        for k, v in vars(self).items():
            out[k] = v.describe() if hasattr(v, "describe") else v
        return out

    def __add__(self, other: Kernel) -> Kernel:
        return Sum([self, other])

    def __mul__(self, other: Kernel) -> Kernel:
        return Product([self, other])


class Stationary(Kernel):
    """``outputscale * profile(r)`` with r the lengthscale-scaled distance (ARD: one lengthscale per feature)."""

    def __init__(self, lengthscale: HyperparameterSpec = 0.1, outputscale: HyperparameterSpec = 1.0, ard: bool = False):
        self.lengthscale = as_hyperprior(lengthscale, "lengthscale")
        self.outputscale = as_hyperprior(outputscale, "outputscale")
        self.ard = check_bool(ard, "ard")

    def sample_params(self, batch_size: int, num_features: int, generator: torch.Generator) -> Params:
        ls = self.lengthscale.sample((batch_size, num_features if self.ard else 1), generator)
        return {"lengthscale": ls, "outputscale": self.outputscale.sample((batch_size,), generator)}

    def profile(self, r2: torch.Tensor) -> torch.Tensor:
        """Correlation as a function of the squared scaled distance."""
        raise NotImplementedError

    def __call__(self, x1: torch.Tensor, x2: torch.Tensor, params: Params) -> torch.Tensor:
        ls = params["lengthscale"].to(x1.dtype)[:, None, :]  # (B, 1, d or 1)
        r2 = torch.cdist(x1 / ls, x2 / ls).square()
        return params["outputscale"].to(x1.dtype)[:, None, None] * self.profile(r2)

    def variance(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return params["outputscale"].to(x.dtype)[:, None].expand(x.shape[:2])


class RBF(Stationary):
    """Squared exponential: exp(-r^2 / 2)."""

    def profile(self, r2: torch.Tensor) -> torch.Tensor:
        return torch.exp(-0.5 * r2)


class Matern12(Stationary):
    """Matérn 1/2 (exponential): exp(-r); rough, continuous but nowhere differentiable paths."""

    def profile(self, r2: torch.Tensor) -> torch.Tensor:
        return torch.exp(-r2.clamp_min(0).sqrt())


class Matern32(Stationary):
    """Matérn 3/2: (1 + sqrt(3) r) exp(-sqrt(3) r)."""

    def profile(self, r2: torch.Tensor) -> torch.Tensor:
        s = math.sqrt(3) * r2.clamp_min(0).sqrt()
        return (1 + s) * torch.exp(-s)


class Matern52(Stationary):
    """Matérn 5/2: (1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r)."""

    def profile(self, r2: torch.Tensor) -> torch.Tensor:
        s = math.sqrt(5) * r2.clamp_min(0).sqrt()
        return (1 + s + s.square() / 3) * torch.exp(-s)


class Periodic(Kernel):
    """``outputscale * exp(-2 sum_k sin^2(pi |x_k - x'_k| / period) / lengthscale^2)``."""

    def __init__(
        self,
        lengthscale: HyperparameterSpec = 1.0,
        period: HyperparameterSpec = 0.5,
        outputscale: HyperparameterSpec = 1.0,
    ):
        self.lengthscale = as_hyperprior(lengthscale, "lengthscale")
        self.period = as_hyperprior(period, "period")
        self.outputscale = as_hyperprior(outputscale, "outputscale")

    def sample_params(self, batch_size: int, num_features: int, generator: torch.Generator) -> Params:
        return {
            "lengthscale": self.lengthscale.sample((batch_size,), generator),
            "period": self.period.sample((batch_size,), generator),
            "outputscale": self.outputscale.sample((batch_size,), generator),
        }

    def __call__(self, x1: torch.Tensor, x2: torch.Tensor, params: Params) -> torch.Tensor:
        p = params["period"].to(x1.dtype)[:, None, None, None]
        diff = x1[:, :, None, :] - x2[:, None, :, :]  # (B, N, M, d)
        s = torch.sin(math.pi * diff / p).square().sum(-1)
        ls2 = params["lengthscale"].to(x1.dtype).square()[:, None, None]
        return params["outputscale"].to(x1.dtype)[:, None, None] * torch.exp(-2 * s / ls2)

    def variance(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return params["outputscale"].to(x.dtype)[:, None].expand(x.shape[:2])


class Linear(Kernel):
    """``outputscale * (x - offset) . (x' - offset)``: Bayesian linear functions through ``offset``."""

    def __init__(self, outputscale: HyperparameterSpec = 1.0, offset: float = 0.0):
        self.outputscale = as_hyperprior(outputscale, "outputscale")
        self.offset = check_real(offset, "offset")

    def sample_params(self, batch_size: int, num_features: int, generator: torch.Generator) -> Params:
        return {"outputscale": self.outputscale.sample((batch_size,), generator)}

    def __call__(self, x1: torch.Tensor, x2: torch.Tensor, params: Params) -> torch.Tensor:
        a, b = x1 - self.offset, x2 - self.offset
        return params["outputscale"].to(x1.dtype)[:, None, None] * (a @ b.transpose(1, 2))


class _Combination(Kernel):
    def __init__(self, kernels: list[Kernel]):
        kernels = list(kernels) if isinstance(kernels, Iterable) and not isinstance(kernels, str) else kernels
        if not isinstance(kernels, list) or not kernels or not all(isinstance(k, Kernel) for k in kernels):
            raise ValueError(f"kernels must be a non-empty list of Kernel objects (priors.kernels), got {kernels!r}")
        self.kernels = kernels

    def sample_params(self, batch_size: int, num_features: int, generator: torch.Generator) -> Params:
        return {"parts": [k.sample_params(batch_size, num_features, generator) for k in self.kernels]}

    def _hyperpriors(self) -> list[Hyperprior]:
        return [h for k in self.kernels for h in k._hyperpriors()]

    def describe(self) -> dict[str, Any]:
        return {"kernel": type(self).__name__, "kernels": [k.describe() for k in self.kernels]}


class Sum(_Combination):
    def __call__(self, x1: torch.Tensor, x2: torch.Tensor, params: Params) -> torch.Tensor:
        parts = [k(x1, x2, p) for k, p in zip(self.kernels, params["parts"], strict=True)]
        return cast(torch.Tensor, sum(parts))


class Product(_Combination):
    def __call__(self, x1: torch.Tensor, x2: torch.Tensor, params: Params) -> torch.Tensor:
        out = self.kernels[0](x1, x2, params["parts"][0])
        for k, p in zip(self.kernels[1:], params["parts"][1:], strict=True):
            out = out * k(x1, x2, p)
        return out
