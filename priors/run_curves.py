"""Single training runs' learning curves: the curve model of the search prior, one run per dataset.

Real runs do more than the parametric families of :class:`priors.LearningCurvePrior` allow: they start
anywhere between chance and nearly done, end anywhere up to the metric's bound, plateau, jump late (a step
learning-rate schedule), overfit (rise, then fall) or diverge, and most are far less noisy than
``ln sigma ~ N(-4, 1)``. :class:`LearningCurveRunPrior` draws each curve as one run of
:class:`priors.LearningCurveSearchPrior` (the same shapes, late gains, declines, divergence and reflected
noise; see that module's docstring), with its configuration's function values drawn directly, since each
of them is N(0, 1) at any configuration. The defaults are set by the prior predictive check against the
tuning part of the curve corpus (``scripts/check_curve_prior.py``).

A dataset is one curve over epochs t = 1 .. T (T = num_points): x = t / T, y the noisy value in [0, 1],
higher is better; the first points are the observed prefix and the rest its future (``sequential``).
"""

from __future__ import annotations

from typing import Any

import torch

from priors.base import Batch
from priors.search import FUNCTIONS, LearningCurveSearchPrior, _check_probability, curve_values, reflect_into_unit


class LearningCurveRunPrior(LearningCurveSearchPrior):
    """Learning curves of single runs as datasets: x is the epoch scaled to (0, 1], y the value in [0, 1].

    Args:
        decline_prob: share of curves that overfit: they peak before the end and then lose part of their gain.
        divergence_prob: share of curves that diverge: from a random epoch on they sit at the start level.
        late_gain_prob: share of curves that defer part of their gain to a late jump.
        noise_log_mean: mean of ``ln sigma``, the log of a curve's noise standard deviation.
        noise_log_std: standard deviation of ``ln sigma``.
        level_loc: mean of the logit-scale location of the final level (see :class:`LearningCurveSearchPrior`).
        level_scale: its standard deviation.
        max_chance: the start level is uniform on [0, max_chance].
        time_scales: (low, high): a curve's time scale, as a share of its length, is log-uniform on [low, high].
        reach_final_prob: share of the steady curves (neither declining nor diverging) rescaled to reach their
            final level ``y_inf`` exactly at the last epoch: ``y0 + (y(t) - y0) (y_inf - y0) / (y(T) - y0)``. With
            slow time scales these rise to the very end, nearly linearly, as accuracy against the log training-set
            size does.
    """

    max_features = 1

    def __init__(
        self,
        decline_prob: float = 0.12,
        divergence_prob: float = 0.02,
        late_gain_prob: float = 0.15,
        noise_log_mean: float = -5.0,
        noise_log_std: float = 1.4,
        level_loc: float = 1.0,
        level_scale: float = 2.5,
        max_chance: float = 0.8,
        time_scales: tuple[float, float] = (0.01, 2.0),
        reach_final_prob: float = 0.0,
    ):
        super().__init__(
            decline_prob=decline_prob, divergence_prob=divergence_prob, late_gain_prob=late_gain_prob,
            noise_log_mean=noise_log_mean, noise_log_std=noise_log_std, level_loc=level_loc,
            level_scale=level_scale, max_chance=max_chance, time_scales=time_scales,
        )  # fmt: skip
        self.max_features = 1
        self.reach_final_prob = _check_probability(reach_final_prob, "reach_final_prob")

    def sample_runs(
        self, batch_size: int, num_points: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Noise-free curves (B, T), noisy ones (B, T) in [0, 1] (float64), and the latent quantities (each (B,)):
        ``declines``, ``diverges``, ``late_gain`` (bool), ``peak`` and ``divergence_epoch`` (epochs), the final level
        ``y_inf``, ``sigma``."""
        g, dev, b = generator, generator.device, batch_size
        fi = {name: self._randn((b, 1), g) for name in FUNCTIONS}
        length = torch.full((b,), num_points, device=dev, dtype=torch.long)
        used = torch.ones(b, 1, dtype=torch.bool, device=dev)
        task, runs, sigma = self.curve_parameters(fi, length, used, g)
        t = torch.arange(1, num_points + 1, device=dev, dtype=torch.float64)[None, :]  # (1, T)
        clean = curve_values(task, runs, t)  # (B, T)
        steady = ~(runs["declines"] | runs["diverges"]).squeeze(1)
        reach = steady & (self._rand((b,), g) < self.reach_final_prob)
        y0, y_inf = task["chance"][:, None], runs["y_inf"]
        gained = (clean[:, -1:] - y0).clamp_min(1e-12)
        clean = torch.where(reach[:, None], y0 + (clean - y0) * ((y_inf - y0) / gained).clamp_max(1e6), clean)
        noisy = reflect_into_unit(clean + sigma * self._randn((b, num_points), g))
        latent = {key: runs[key].squeeze(1) for key in ("declines", "diverges", "peak", "divergence_epoch", "y_inf")}
        return clean, noisy, {**latent, "late_gain": task["share"] > 0, "sigma": sigma.squeeze(1)}

    def _sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
        _, y, _ = self.sample_runs(batch_size, num_points, generator)
        dev = generator.device
        epochs = torch.arange(1, num_points + 1, device=dev, dtype=torch.float32) / num_points
        x = epochs.expand(batch_size, num_points).unsqueeze(-1).contiguous()
        return Batch(x=x, y=y.float())

    def describe(self) -> dict[str, Any]:
        return {
            "name": type(self).__name__,
            "inputs": "epoch / T (linear), T = num_points",
            "decline_prob": self.decline_prob,
            "divergence_prob": self.divergence_prob,
            "late_gain_prob": self.late_gain_prob,
            "noise_log_mean": self.noise_log_mean,
            "noise_log_std": self.noise_log_std,
            "level_loc": self.level_loc,
            "level_scale": self.level_scale,
            "max_chance": self.max_chance,
            "time_scales": list(self.time_scales),
            "reach_final_prob": self.reach_final_prob,
        }
