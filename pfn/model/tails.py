"""One-sided tails for the bar distribution: where a target lies beyond the outer bins.

A tail is the distribution of the distance T >= 0 past an inner border. Its scale is
set so that its median equals the width ``w`` of the outer bin it replaces.

- ``HalfNormalTail``: |N(0, s^2)|. Light: the log density of a far target falls as -t^2,
  right for targets with a bounded spread (a GP with known hyperparameters, in prior units).
- ``ParetoTail``: Lomax(scale l, shape 3), survival (1 + t / l)^-3. Heavy: the log density
  falls as -4 log t, so a target a thousand widths out costs tens of nats, not millions.
  Standardised targets need this: with 2 or 3 context points the context's spread can be
  tiny and (y - mean) / std is Cauchy-like.

Every method takes and returns tensors; ``t`` must be >= 0 and ``u`` in [0, 1).
"""

from __future__ import annotations

import math

import torch

_HALF_NORMAL_MEDIAN = 0.6744897501960817  # Phi^{-1}(0.75): median of |N(0, 1)|


class HalfNormalTail:
    name = "half_normal"

    def __init__(self, width: torch.Tensor):
        self.s = width / _HALF_NORMAL_MEDIAN

    def log_density(self, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * math.log(2 / math.pi) - self.s.log() - 0.5 * (t / self.s) ** 2

    def cdf(self, t: torch.Tensor) -> torch.Tensor:
        return torch.erf(t / (self.s * math.sqrt(2)))

    def icdf(self, u: torch.Tensor) -> torch.Tensor:
        return self.s * math.sqrt(2) * torch.erfinv(u)

    def mean(self) -> torch.Tensor:
        return self.s * math.sqrt(2 / math.pi)

    def second_moment(self) -> torch.Tensor:
        return self.s**2

    def entropy(self) -> torch.Tensor:
        return torch.log(self.s * math.sqrt(math.pi / 2)) + 0.5

    def excess(self, a: torch.Tensor) -> torch.Tensor:
        """E[max(T - a, 0)] for a >= 0."""
        z = a / self.s
        return self.s * math.sqrt(2 / math.pi) * torch.exp(-0.5 * z**2) - a * torch.erfc(z / math.sqrt(2))


class ParetoTail:
    name = "pareto"
    shape = 3.0  # > 2, so the variance is finite

    def __init__(self, width: torch.Tensor):
        self.s = width / (2 ** (1 / self.shape) - 1)

    def log_density(self, t: torch.Tensor) -> torch.Tensor:
        a = self.shape
        return math.log(a) - self.s.log() - (a + 1) * torch.log1p(t / self.s)

    def cdf(self, t: torch.Tensor) -> torch.Tensor:
        return 1 - torch.pow(1 + t / self.s, -self.shape)

    def icdf(self, u: torch.Tensor) -> torch.Tensor:
        return self.s * torch.expm1(-torch.log1p(-u) / self.shape)

    def mean(self) -> torch.Tensor:
        return self.s / (self.shape - 1)

    def second_moment(self) -> torch.Tensor:
        a = self.shape
        return 2 * self.s**2 / ((a - 1) * (a - 2))

    def entropy(self) -> torch.Tensor:
        a = self.shape
        return torch.log(self.s / a) + 1 / a + 1

    def excess(self, a: torch.Tensor) -> torch.Tensor:
        """E[max(T - a, 0)] for a >= 0: the integral of the survival function above a."""
        return self.s / (self.shape - 1) * torch.pow(1 + a / self.s, 1 - self.shape)


TAILS = {cls.name: cls for cls in (HalfNormalTail, ParetoTail)}
