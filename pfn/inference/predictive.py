"""The posterior predictive distribution returned by ``Predictor.predict``."""

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
    """

    def __init__(self, logits: torch.Tensor, bar: BarDistribution, numpy: bool):
        self.logits = logits  # (..., m, K)
        self.bar = bar
        self._numpy = numpy

    def _out(self, t: torch.Tensor) -> np.ndarray | torch.Tensor:
        return t.detach().cpu().numpy() if self._numpy else t

    def _values(self, y: ArrayLike, name: str) -> torch.Tensor:
        y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y, dtype=torch.float32)
        y = y.to(self.logits.device)
        shape = self.logits.shape[:-1]
        if y.ndim and y.shape != shape:
            raise ValueError(f"{name} must be a scalar or have the queries' shape {tuple(shape)}, got {tuple(y.shape)}")
        return y.expand(shape)

    @property
    def mean(self):
        """Predictive mean."""
        return self._out(self.bar.mean(self.logits))

    @property
    def variance(self):
        """Predictive variance."""
        return self._out(self.bar.variance(self.logits))

    @property
    def std(self):
        """Predictive standard deviation."""
        return self._out(self.bar.variance(self.logits).sqrt())

    @property
    def median(self):
        return self.quantile(0.5)

    def quantile(self, q: float | Sequence[float]):
        """Quantile(s) at level(s) ``q`` in (0, 1); a sequence of levels adds a last axis."""
        levels = np.atleast_1d(np.asarray(q, dtype=np.float64))
        if not ((levels > 0) & (levels < 1)).all():
            raise ValueError(f"quantile levels q must lie strictly between 0 and 1, got {q!r}")
        out = torch.stack([self.bar.icdf(self.logits, float(lv)) for lv in levels], dim=-1)
        return self._out(out[..., 0] if np.ndim(q) == 0 else out)

    def interval(self, level: float = 0.9):
        """Central interval holding ``level`` of the predictive mass: (lower, upper)."""
        if not 0 < level < 1:
            raise ValueError(f"interval level must lie strictly between 0 and 1, got {level!r}")
        return self.quantile(0.5 - level / 2), self.quantile(0.5 + level / 2)

    def cdf(self, y: ArrayLike):
        """P(Y <= y) at each query."""
        return self._out(self.bar.cdf(self.logits, self._values(y, "y")))

    def log_prob(self, y: ArrayLike):
        """Log predictive density of ``y`` at each query."""
        return self._out(self.bar.log_prob(self.logits, self._values(y, "y")))
