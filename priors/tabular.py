"""Priors for real tables: mixed feature types, irrelevant and correlated features; classes
(2 to ``num_classes`` per dataset) or a real-valued target, from a random MLP.

A dataset draws correlated Gaussian latents, one per feature; the target is a random MLP of the
latents (each scaled by its own relevance, some irrelevant) plus noise, and each observed feature
is a monotone (or coarsening) transform of its latent: as is, uniform, skewed, integer levels or
binary. For classification the label is the MLP's noisy decision, with classes numbered in random
order so that no label is special; for regression the target is the noisy output itself, with a
signal-to-noise ratio drawn per dataset and, for a share of datasets, a skewed (log-normal-like) scale.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from priors.base import Batch
from priors.bnn import BNNClassificationPrior, BNNPrior, cut_at_quantiles
from priors.checks import check_integer, check_probability, check_real
from priors.hyperpriors import HyperparameterSpec, LogUniform, as_hyperprior

#: signal-to-noise ratios of regression targets: R^2 from 0.08 to 0.999
DEFAULT_SIGNAL_TO_NOISE = LogUniform(0.3, 30.0)

#: observed-feature transforms of a standard-normal latent z, and the default share of each
FEATURE_TYPES = ("gaussian", "uniform", "skewed", "integer", "binary")
DEFAULT_FEATURE_MIX = (0.4, 0.15, 0.2, 0.15, 0.1)


class TabularClassificationPrior(BNNClassificationPrior):
    """Classification datasets shaped like real tables (see the module docstring).

    Args:
        num_classes: most classes in a dataset; the model's number of outputs.
        min_classes: fewest classes; each dataset draws its count uniformly in [min_classes, num_classes].
        threshold_prob: share of datasets labelled by cutting one MLP output at random quantiles
            (ordinal-like classes) instead of the argmax of ``num_classes`` outputs.
        irrelevant_prob: chance that a feature does not enter the label at all.
        max_correlation: latents are ``u + c * (u @ M)`` with ``M ~ N(0, 1/d)`` and ``c ~ U(0, max_correlation)``.
        feature_mix: probabilities of the observed-feature types of :data:`FEATURE_TYPES`.
        **bnn_kwargs: the label MLP's hyperpriors (num_layers, width, activations, weight_scale,
            bias_scale, noise_std) and ``max_features``, as in :class:`~priors.BNNPrior`.
    """

    def __init__(
        self,
        num_classes: int = 10,
        min_classes: int = 2,
        threshold_prob: float = 0.3,
        irrelevant_prob: float = 0.2,
        max_correlation: float = 1.0,
        feature_mix: tuple[float, ...] | list[float] = DEFAULT_FEATURE_MIX,
        **bnn_kwargs: Any,
    ):
        if "x_distribution" in bnn_kwargs:
            raise ValueError("x_distribution is not an argument of TabularClassificationPrior: its inputs are mixed")
        super().__init__(num_classes=num_classes, method="argmax", x_distribution="normal", **bnn_kwargs)
        self.min_classes = check_integer(min_classes, "min_classes", low=2)
        if self.min_classes > self.num_classes:
            raise ValueError(f"min_classes must be at most num_classes ({self.num_classes}), got {min_classes!r}")
        self.threshold_prob = check_probability(threshold_prob, "threshold_prob")
        self.irrelevant_prob = check_probability(irrelevant_prob, "irrelevant_prob")
        self.max_correlation = check_real(max_correlation, "max_correlation", low=0)
        self.feature_mix = check_feature_mix(feature_mix)

    def _sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
        b, n, d, c = batch_size, num_points, num_features, self.num_classes
        dev = generator.device

        def uniform(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=generator, device=dev)

        z = correlated_latents(b, n, d, self.max_correlation, generator)  # (B, N, d)
        # the label: a random MLP of the relevance-weighted latents, plus noise
        f = self.random_functions(z * relevances(b, d, self.irrelevant_prob, generator), c, generator)  # (B, N, C)
        noise = self.noise_std.sample((b,), generator).float().to(dev)[:, None, None]
        f = f + noise * torch.randn(f.shape, generator=generator, device=dev)
        k = torch.randint(self.min_classes, c + 1, (b, 1), generator=generator, device=dev)  # classes per dataset
        unused = torch.arange(c, device=dev) >= k  # (B, C)
        by_argmax = f.masked_fill(unused[:, None, :], -math.inf).argmax(-1)  # (B, N)
        levels = uniform(b, c - 1).masked_fill(unused[:, 1:], 2.0).sort(-1).values  # k - 1 cut levels, rest > 1
        by_threshold = cut_at_quantiles(f[..., 0], levels)  # (B, N)
        use_threshold = uniform(b, 1) < self.threshold_prob
        label = torch.where(use_threshold, by_threshold, by_argmax)
        order = uniform(b, c).masked_fill(unused, 2.0).argsort(-1)  # a random numbering of the k classes
        y = order.gather(-1, label)
        return Batch(x=observed_features(z, self.feature_mix, generator), y=y.float())

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.pop("method", None)
        return out


class TabularRegressionPrior(BNNPrior):
    """Regression datasets shaped like real tables (see the module docstring).

    The MLP's output is standardised over the dataset, so ``signal_to_noise`` alone sets how much of
    the target the features explain (R^2 = s^2 / (1 + s^2) for a ratio s); for a share ``skewed_prob``
    of datasets the noisy target ``t`` is then replaced by ``exp(a t)`` with ``a ~ U(0.2, 1)``:
    positive, right-skewed targets such as prices, counts or durations.

    Args:
        signal_to_noise: the ratio of the signal's standard deviation to the noise's, per dataset
            (number or hyperprior).
        skewed_prob: share of datasets with a skewed target.
        irrelevant_prob: chance that a feature does not enter the target at all.
        max_correlation: latents are ``u + c * (u @ M)`` with ``M ~ N(0, 1/d)`` and ``c ~ U(0, max_correlation)``.
        feature_mix: probabilities of the observed-feature types of :data:`FEATURE_TYPES`.
        **bnn_kwargs: the MLP's hyperpriors (num_layers, width, activations, weight_scale, bias_scale)
            and ``max_features``, as in :class:`~priors.BNNPrior`.
    """

    def __init__(
        self,
        signal_to_noise: HyperparameterSpec = DEFAULT_SIGNAL_TO_NOISE,
        skewed_prob: float = 0.3,
        irrelevant_prob: float = 0.2,
        max_correlation: float = 1.0,
        feature_mix: tuple[float, ...] | list[float] = DEFAULT_FEATURE_MIX,
        **bnn_kwargs: Any,
    ):
        for name in ("x_distribution", "noise_std"):
            if name in bnn_kwargs:
                raise ValueError(f"{name} is not an argument of TabularRegressionPrior (see its docstring)")
        super().__init__(x_distribution="normal", noise_std=0.0, **bnn_kwargs)
        del self.noise_std  # the noise is set by signal_to_noise
        self.signal_to_noise = as_hyperprior(signal_to_noise, "signal_to_noise")
        self.skewed_prob = check_probability(skewed_prob, "skewed_prob")
        self.irrelevant_prob = check_probability(irrelevant_prob, "irrelevant_prob")
        self.max_correlation = check_real(max_correlation, "max_correlation", low=0)
        self.feature_mix = check_feature_mix(feature_mix)

    def _sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
        b, n, d = batch_size, num_points, num_features
        dev = generator.device
        z = correlated_latents(b, n, d, self.max_correlation, generator)  # (B, N, d)
        f = self.random_functions(z * relevances(b, d, self.irrelevant_prob, generator), 1, generator).squeeze(-1)
        f = (f - f.mean(1, keepdim=True)) / f.std(1, keepdim=True).clamp_min(1e-6)  # (B, N), unit spread
        ratio = self.signal_to_noise.sample((b,), generator).float().to(dev)[:, None]
        t = f + torch.randn(b, n, generator=generator, device=dev) / ratio
        t = t / t.std(1, keepdim=True)
        rate = 0.2 + 0.8 * torch.rand(b, 1, generator=generator, device=dev)
        skewed = torch.rand(b, 1, generator=generator, device=dev) < self.skewed_prob
        y = torch.where(skewed, torch.exp(rate * t), t)
        return Batch(x=observed_features(z, self.feature_mix, generator), y=y)


def check_feature_mix(feature_mix: Any) -> tuple[float, ...]:
    """``feature_mix`` as a tuple, checked: one probability per type of :data:`FEATURE_TYPES`, summing to 1."""
    try:
        mix = [check_probability(p, "feature_mix") for p in feature_mix]
    except (TypeError, ValueError):
        mix = []
    if len(mix) != len(FEATURE_TYPES) or not math.isclose(sum(mix), 1.0, abs_tol=1e-6):
        raise ValueError(
            f"feature_mix must be {len(FEATURE_TYPES)} probabilities summing to 1 (for {FEATURE_TYPES}), "
            f"got {feature_mix!r}"
        )
    return tuple(mix)


def correlated_latents(b: int, n: int, d: int, max_correlation: float, generator: torch.Generator) -> torch.Tensor:
    """(b, n, d) latents, standardised per dataset: ``u + c (u @ M)``, M ~ N(0, 1/d), c ~ U(0, max_correlation)."""
    dev = generator.device
    u = torch.randn(b, n, d, generator=generator, device=dev)
    mixing = torch.randn(b, d, d, generator=generator, device=dev) / math.sqrt(d)
    z = u + max_correlation * torch.rand(b, 1, 1, generator=generator, device=dev) * (u @ mixing)
    return (z - z.mean(1, keepdim=True)) / z.std(1, keepdim=True).clamp_min(1e-6)


def relevances(b: int, d: int, irrelevant_prob: float, generator: torch.Generator) -> torch.Tensor:
    """(b, 1, d) weights of the latents in the target: log-uniform in [0.1, 1], 0 with ``irrelevant_prob``."""
    dev = generator.device
    scale = torch.exp(math.log(0.1) * torch.rand(b, 1, d, generator=generator, device=dev))
    return scale * (torch.rand(b, 1, d, generator=generator, device=dev) >= irrelevant_prob)


def observed_features(z: torch.Tensor, feature_mix: tuple[float, ...], generator: torch.Generator) -> torch.Tensor:
    """Each latent column through its dataset's transform, drawn from FEATURE_TYPES with ``feature_mix``."""
    b, _, d = z.shape
    dev = z.device
    mix = torch.tensor(feature_mix, device=dev)
    kind = torch.multinomial(mix.expand(b * d, -1), 1, generator=generator).view(b, 1, d)
    draw = torch.rand(4, b, 1, d, generator=generator, device=dev)
    skew = torch.where(draw[0] < 0.5, -1.0, 1.0) * torch.exp(0.5 * z * (0.5 + 1.5 * draw[1]))
    integer = torch.floor(z * (0.5 + 2.5 * draw[2]) + draw[3])  # 2 to about 10 levels
    binary = (z > 1.4 * (draw[3] - 0.5) * 2).float()  # threshold in (-1.4, 1.4): 8% to 92% ones
    options = torch.stack([z, 0.5 * (1 + torch.erf(z / math.sqrt(2))), skew, integer, binary])
    return options.gather(0, kind.unsqueeze(0).expand(1, b, z.shape[1], d)).squeeze(0)  # (B, N, d)
