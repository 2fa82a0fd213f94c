"""Distributions over hyperparameters, sampled once per dataset.

Every hyperparameter of a prior may be a number (fixed) or one of these. All draw
from a ``torch.Generator`` so a seeded generator gives the same hyperparameters.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch


class Hyperprior:
    """A distribution over a positive or real hyperparameter."""

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """Draws of the given shape, float64, on the generator's device."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"distribution": type(self).__name__, **vars(self)}


class Fixed(Hyperprior):
    def __init__(self, value: float):
        self.value = float(value)

    def sample(self, shape, generator):
        return torch.full(shape, self.value, dtype=torch.float64, device=generator.device)

    def describe(self):
        return {"value": self.value}


class Uniform(Hyperprior):
    def __init__(self, low: float, high: float):
        if not low < high:
            raise ValueError(f"Uniform needs low < high, got low={low}, high={high}")
        self.low, self.high = float(low), float(high)

    def sample(self, shape, generator):
        u = torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float64)
        return self.low + (self.high - self.low) * u


class LogUniform(Hyperprior):
    def __init__(self, low: float, high: float):
        if not 0 < low < high:
            raise ValueError(f"LogUniform needs 0 < low < high, got low={low}, high={high}")
        self.low, self.high = float(low), float(high)

    def sample(self, shape, generator):
        return Uniform(math.log(self.low), math.log(self.high)).sample(shape, generator).exp()


class LogNormal(Hyperprior):
    """exp(N(loc, scale^2)): ``loc`` and ``scale`` are the mean and std of the log."""

    def __init__(self, loc: float, scale: float):
        if not scale > 0:
            raise ValueError(f"LogNormal scale must be positive, got {scale}")
        self.loc, self.scale = float(loc), float(scale)

    def sample(self, shape, generator):
        z = torch.randn(shape, generator=generator, device=generator.device, dtype=torch.float64)
        return (self.loc + self.scale * z).exp()


class Gamma(Hyperprior):
    """Gamma with ``concentration`` (shape) and ``rate``; mean concentration / rate."""

    def __init__(self, concentration: float, rate: float):
        if not (concentration > 0 and rate > 0):
            raise ValueError(f"Gamma needs positive concentration and rate, got {concentration}, {rate}")
        self.concentration, self.rate = float(concentration), float(rate)

    def sample(self, shape, generator):
        # torch's gamma sampler takes no generator: seed NumPy's from ours instead.
        seed = torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item()
        draws = np.random.default_rng(seed).gamma(self.concentration, 1 / self.rate, size=shape)
        return torch.as_tensor(draws, dtype=torch.float64, device=generator.device)


class Choice(Hyperprior):
    """One of ``values`` (optionally with ``weights``): for integers like depth or width."""

    def __init__(self, values: list[float], weights: list[float] | None = None):
        self.values = [float(v) for v in values]
        w = torch.ones(len(values)) if weights is None else torch.as_tensor(weights, dtype=torch.float64)
        if len(w) != len(self.values) or (w < 0).any() or w.sum() <= 0:
            raise ValueError("Choice weights must be non-negative, one per value, not all zero")
        self.weights = (w / w.sum()).tolist()

    def sample(self, shape, generator):
        w = torch.tensor(self.weights, dtype=torch.float64, device=generator.device)
        idx = torch.multinomial(w, math.prod(shape) or 1, replacement=True, generator=generator)
        values = torch.tensor(self.values, dtype=torch.float64, device=generator.device)
        return values[idx][: math.prod(shape)].view(shape)


HyperparameterSpec = float | int | Hyperprior


def as_hyperprior(spec: HyperparameterSpec, name: str, positive: bool = True) -> Hyperprior:
    """A number becomes :class:`Fixed`; a hyperprior stays as it is."""
    if isinstance(spec, Hyperprior):
        return spec
    if isinstance(spec, bool) or not isinstance(spec, (int, float)) or not math.isfinite(spec):
        raise ValueError(f"{name} must be a finite number or a Hyperprior, got {spec!r}")
    if positive and not spec > 0:
        raise ValueError(f"{name} must be positive, got {spec!r}")
    return Fixed(spec)
