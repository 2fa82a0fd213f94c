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
_MILLS_SWITCH = 40.0  # beyond this u, 1 - u R(u) of the half-normal excess is taken from its asymptotic series


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

    @staticmethod
    def mle_scale(t: torch.Tensor) -> torch.Tensor:
        """The maximum-likelihood s for distances ``t`` (at least one): sqrt(mean t^2)."""
        return t.double().square().mean().sqrt()

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

    def log_excess(self, a: torch.Tensor) -> torch.Tensor:
        """log E[max(T - a, 0)] for a >= 0, finite however far out a lies (up to a / s ~ 1e154).

        With u = a / s the excess is 2 s phi(u) (1 - u R(u)), R(u) = Q(u) / phi(u) the Mills ratio
        (sqrt(pi / 2) erfcx(u / sqrt(2))); for large u, 1 - u R(u) cancels and its asymptotic series
        1/u^2 - 3/u^4 + 15/u^6 - 105/u^8 takes over."""
        u = a / self.s
        log_phi = -0.5 * u**2 - 0.5 * math.log(2 * math.pi)
        small = u.clamp_max(_MILLS_SWITCH)
        near = torch.log1p(-small * math.sqrt(math.pi / 2) * torch.special.erfcx(small / math.sqrt(2)))
        big = u.clamp_min(_MILLS_SWITCH)
        inv2 = big**-2
        far = -2 * big.log() + torch.log1p(inv2 * (-3 + inv2 * (15 - 105 * inv2)))
        return math.log(2) + self.s.log() + log_phi + torch.where(u > _MILLS_SWITCH, far, near)


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

    @classmethod
    def mle_scale(cls, t: torch.Tensor) -> torch.Tensor:
        """The maximum-likelihood scale for distances ``t`` (at least one, not all 0) at the fixed shape a:
        the root of (a + 1) mean(t / (s + t)) = 1, whose left side falls from a to 0 as s grows; by
        bisection on log s."""
        t = t.double().flatten()
        lo, hi = torch.log(t.max() * 1e-12), torch.log(t.max() * 1e12)
        for _ in range(200):
            mid = (lo + hi) / 2
            s = mid.exp()
            lo, hi = (mid, hi) if (cls.shape + 1) * (t / (s + t)).mean() > 1 else (lo, mid)
        return ((lo + hi) / 2).exp()

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

    def log_excess(self, a: torch.Tensor) -> torch.Tensor:
        """log E[max(T - a, 0)] for a >= 0: log(s / (shape - 1)) + (1 - shape) log(1 + a / s)."""
        return torch.log(self.s / (self.shape - 1)) + (1 - self.shape) * torch.log1p(a / self.s)


TAILS = {cls.name: cls for cls in (HalfNormalTail, ParetoTail)}
