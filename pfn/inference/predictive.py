"""The posterior predictive distribution returned by ``predict``.

Everything is computed exactly from the bar distribution over normalised targets
and mapped back to the user's units: for ``y = loc + scale * z``, quantiles and
the mean shift and scale, the variance scales by ``scale^2``, and densities gain
the change-of-variables term ``-log(scale)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pfn.model.bar_distribution import BarDistribution

ArrayLike = np.ndarray | torch.Tensor | float | Sequence[float]


class PosteriorPredictive:
    """Posterior predictive of the target at each query point.

    Every summary has the queries' shape: (m,) for one dataset, (b, m) for a batch.
    NumPy inputs to ``predict`` give NumPy outputs, torch inputs give torch outputs.
    For Bayesian optimisation, ``maximize`` picks the direction of improvement.
    """

    def __init__(
        self,
        logits: torch.Tensor,
        bar: BarDistribution,
        loc: torch.Tensor,
        scale: torch.Tensor,
        numpy: bool,
    ):
        self.logits = logits  # (..., m, K)
        self.bar = bar
        self.loc, self.scale = loc, scale  # broadcastable to (..., m)
        self._numpy = numpy

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.logits.shape[:-1])

    def _out(self, t: torch.Tensor) -> np.ndarray | torch.Tensor:
        return t.detach().cpu().numpy() if self._numpy else t

    def _values(self, y: ArrayLike, name: str) -> torch.Tensor:
        t = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y, dtype=np.float64))
        t = t.to(device=self.logits.device, dtype=self.logits.dtype)
        if t.ndim and t.shape != self.shape:
            raise ValueError(f"{name} must be a scalar or have the queries' shape {self.shape}, got {tuple(t.shape)}")
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or inf")
        return t.expand(self.shape)

    def _z(self, y: ArrayLike, name: str) -> torch.Tensor:
        return (self._values(y, name) - self.loc) / self.scale

    def _y(self, z: torch.Tensor) -> torch.Tensor:
        return self.loc + self.scale * z

    # -- location and spread -----------------------------------------------------------------
    @property
    def mean(self):
        """Predictive mean."""
        return self._out(self._y(self.bar.mean(self.logits)))

    @property
    def variance(self):
        """Predictive variance."""
        return self._out(self.bar.variance(self.logits) * self.scale**2)

    @property
    def std(self):
        """Predictive standard deviation."""
        return self._out(self.bar.variance(self.logits).sqrt() * self.scale)

    @property
    def median(self):
        return self.quantile(0.5)

    @property
    def mode(self):
        """Location of the highest predictive density."""
        return self._out(self._y(self.bar.mode(self.logits)))

    def quantile(self, q: float | Sequence[float]):
        """Quantile(s) at level(s) ``q`` in (0, 1); a sequence of levels adds a last axis."""
        levels = np.atleast_1d(np.asarray(q, dtype=np.float64))
        if levels.ndim != 1 or not ((levels > 0) & (levels < 1)).all():
            raise ValueError(f"quantile levels q must lie strictly between 0 and 1, got {q!r}")
        out = torch.stack([self._y(self.bar.icdf(self.logits, float(lv))) for lv in levels], dim=-1)
        return self._out(out[..., 0] if np.ndim(q) == 0 else out)

    def interval(self, level: float = 0.9):
        """Central interval holding ``level`` of the predictive mass: (lower, upper)."""
        if not 0 < level < 1:
            raise ValueError(f"interval level must lie strictly between 0 and 1, got {level!r}")
        return self.quantile(0.5 - level / 2), self.quantile(0.5 + level / 2)

    # -- densities -----------------------------------------------------------------------------
    def cdf(self, y: ArrayLike):
        """P(Y <= y) at each query."""
        return self._out(self.bar.cdf(self.logits, self._z(y, "y")))

    def log_prob(self, y: ArrayLike):
        """Log predictive density of ``y`` at each query (in the units of y)."""
        return self._out(self.bar.log_prob(self.logits, self._z(y, "y")) - self.scale.log())

    def entropy(self):
        """Differential entropy of each predictive (in the units of y)."""
        return self._out(self.bar.entropy(self.logits) + self.scale.log())

    def sample(self, n: int, generator: torch.Generator | None = None):
        """``n`` draws from each predictive: shape (n, *queries)."""
        if int(n) != n or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if generator is not None and generator.device != self.logits.device:
            raise ValueError(f"generator is on {generator.device} but the predictions are on {self.logits.device}")
        return self._out(self._y(self.bar.sample(self.logits, int(n), generator)))

    # -- Bayesian optimisation -----------------------------------------------------------------
    def expected_improvement(self, best: ArrayLike, maximize: bool = True):
        """E[max(Y - best, 0)] (maximize) or E[max(best - Y, 0)] (minimize), exact for the bar distribution."""
        c = self._z(best, "best")
        up = self.bar.expected_excess(self.logits, c)  # E[(Z - c)+]
        gain = up if maximize else up - (self.bar.mean(self.logits) - c)  # E[(c - Z)+] = E[(Z-c)+] - E[Z - c]
        return self._out(gain.clamp_min(0) * self.scale)

    def probability_of_improvement(self, best: ArrayLike, maximize: bool = True):
        """P(Y > best) (maximize) or P(Y < best) (minimize)."""
        below = self.bar.cdf(self.logits, self._z(best, "best"))
        return self._out(1 - below if maximize else below)

    def upper_confidence_bound(self, beta: float = 2.0, maximize: bool = True):
        """mean + beta * std (maximize) or mean - beta * std, the optimistic bound for minimising."""
        if not beta >= 0:
            raise ValueError(f"beta must be non-negative, got {beta!r}")
        mean = self._y(self.bar.mean(self.logits))
        std = self.bar.variance(self.logits).sqrt() * self.scale
        return self._out(mean + beta * std if maximize else mean - beta * std)


class ClassPredictive:
    """Posterior predictive over class labels at each query: ``probs`` has shape (*queries, num_classes)."""

    def __init__(self, logits: torch.Tensor, numpy: bool):
        self.logits = logits
        self._numpy = numpy

    def _out(self, t: torch.Tensor) -> np.ndarray | torch.Tensor:
        return t.detach().cpu().numpy() if self._numpy else t

    @property
    def num_classes(self) -> int:
        return self.logits.shape[-1]

    @property
    def probs(self):
        """Class probabilities, summing to one over the last axis."""
        return self._out(torch.softmax(self.logits, dim=-1))

    @property
    def mode(self):
        """The most probable class at each query."""
        return self._out(self.logits.argmax(-1))

    def log_prob(self, y: ArrayLike):
        """Log probability of class labels ``y`` at each query."""
        t = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y, dtype=np.float64))
        t = t.to(self.logits.device).expand(self.logits.shape[:-1])
        if not torch.isfinite(t).all() or (t != t.round()).any() or (t < 0).any() or (t >= self.num_classes).any():
            raise ValueError(f"y must hold class labels 0 .. {self.num_classes - 1}")
        return self._out(torch.log_softmax(self.logits, -1).gather(-1, t.long().unsqueeze(-1)).squeeze(-1))

    def entropy(self):
        """Entropy of each predictive, in nats."""
        log_p = torch.log_softmax(self.logits, -1)
        return self._out(-(log_p.exp() * log_p).sum(-1))

    def sample(self, n: int, generator: torch.Generator | None = None):
        """``n`` labels drawn from each predictive: shape (n, *queries)."""
        p = torch.softmax(self.logits.double(), -1).reshape(-1, self.num_classes)
        draws = torch.multinomial(p, int(n), replacement=True, generator=generator).T
        return self._out(draws.reshape(int(n), *self.logits.shape[:-1]))
