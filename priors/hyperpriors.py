"""Distributions over hyperparameters, sampled once per dataset.

Every hyperparameter of a prior may be a number (fixed) or one of these. All draw
from a ``torch.Generator`` so a seeded generator gives the same hyperparameters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from priors.checks import check_real, is_real


class Hyperprior:
    """A distribution over a positive or real hyperparameter."""

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """Draws of the given shape, float64, on the generator's device."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"distribution": type(self).__name__, **vars(self)}


class Fixed(Hyperprior):
    def __init__(self, value: float):
        self.value = check_real(value, "Fixed value")

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return torch.full(shape, self.value, dtype=torch.float64, device=generator.device)

    def describe(self) -> dict[str, Any]:
        return {"value": self.value}


class Uniform(Hyperprior):
    def __init__(self, low: float, high: float):
        low, high = check_real(low, "Uniform low"), check_real(high, "Uniform high")
        if not low < high:
            raise ValueError(f"Uniform needs low < high, got low={low}, high={high}")
        self.low, self.high = low, high

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        u = torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float64)
        return self.low + (self.high - self.low) * u


class LogUniform(Hyperprior):
    def __init__(self, low: float, high: float):
        low, high = check_real(low, "LogUniform low", 0, strict=True), check_real(high, "LogUniform high", 0, True)
        if not low < high:
            raise ValueError(f"LogUniform needs 0 < low < high, got low={low}, high={high}")
        self.low, self.high = low, high

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return Uniform(math.log(self.low), math.log(self.high)).sample(shape, generator).exp()


class LogNormal(Hyperprior):
    """exp(N(loc, scale^2)): ``loc`` and ``scale`` are the mean and std of the log."""

    def __init__(self, loc: float, scale: float):
        self.loc, self.scale = check_real(loc, "LogNormal loc"), check_real(scale, "LogNormal scale", 0, strict=True)

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        z = torch.randn(shape, generator=generator, device=generator.device, dtype=torch.float64)
        return (self.loc + self.scale * z).exp()


class Gamma(Hyperprior):
    """Gamma with ``concentration`` (shape) and ``rate``; mean concentration / rate."""

    def __init__(self, concentration: float, rate: float):
        self.concentration = check_real(concentration, "Gamma concentration", 0, strict=True)
        self.rate = check_real(rate, "Gamma rate", 0, strict=True)

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        # torch's gamma sampler takes no generator: seed NumPy's from ours instead.
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
        draws = np.random.default_rng(seed).gamma(self.concentration, 1 / self.rate, size=shape)
        return torch.as_tensor(draws, dtype=torch.float64, device=generator.device)


class Choice(Hyperprior):
    """One of ``values`` (optionally with ``weights``): for integers like depth or width."""

    def __init__(self, values: list[float], weights: list[float] | None = None):
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable) or not list(values):
            raise ValueError(f"Choice values must be a non-empty list of finite numbers, got {values!r}")
        self.values = [check_real(v, "Choice values") for v in values]
        if weights is None:
            weights = [1.0] * len(self.values)
        ok = not isinstance(weights, (str, bytes)) and isinstance(weights, Iterable)
        w = list(weights) if ok else []
        if len(w) != len(self.values) or not all(is_real(v) and v >= 0 for v in w) or not sum(w) > 0:
            raise ValueError(
                f"Choice weights must be {len(self.values)} non-negative numbers (one per value), not all zero; "
                f"got {weights!r}"
            )
        total = float(sum(w))
        self.weights = [float(v) / total for v in w]

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        w = torch.tensor(self.weights, dtype=torch.float64, device=generator.device)
        idx = torch.multinomial(w, math.prod(shape) or 1, replacement=True, generator=generator)
        values = torch.tensor(self.values, dtype=torch.float64, device=generator.device)
        return values[idx][: math.prod(shape)].view(shape)


HyperparameterSpec = float | int | Hyperprior


def lowest_value(h: Hyperprior) -> float | None:
    """The smallest value ``h`` can draw (None when unknown, for a user's own hyperprior)."""
    if isinstance(h, Fixed):
        return h.value
    if isinstance(h, Uniform):
        return h.low
    if isinstance(h, Choice):
        return min(v for v, w in zip(h.values, h.weights, strict=True) if w > 0)
    if isinstance(h, (LogUniform, LogNormal, Gamma)):
        return math.ulp(0.0)  # positive
    return None


def as_hyperprior(spec: HyperparameterSpec, name: str, positive: bool = True) -> Hyperprior:
    """A number becomes :class:`Fixed`; a hyperprior stays as it is. Either must draw only positive
    values (``positive``) or only non-negative ones (``positive=False``): scales and variances."""
    if isinstance(spec, Hyperprior):
        low = lowest_value(spec)
    elif is_real(spec):
        low = float(spec)
    else:
        raise ValueError(f"{name} must be a finite number or a Hyperprior (priors.hyperpriors), got {spec!r}")
    if low is not None and (low <= 0 if positive else low < 0):
        what = "positive" if positive else "non-negative"
        drawn = "" if not isinstance(spec, Hyperprior) else f" (values drawn by {type(spec).__name__} go down to {low})"
        raise ValueError(f"{name} must be {what}, got {spec!r}{drawn}")
    return spec if isinstance(spec, Hyperprior) else Fixed(spec)
