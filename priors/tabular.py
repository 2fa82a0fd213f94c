"""A classification prior for real tables: mixed feature types, irrelevant and correlated features,
2 to ``num_classes`` classes per dataset, labels from a random MLP.

A dataset draws correlated Gaussian latents, one per feature; the label is a random MLP's noisy
decision on the latents (each scaled by its own relevance, some irrelevant), and each observed
feature is a monotone (or coarsening) transform of its latent: as is, uniform, skewed, integer
levels or binary. Classes are numbered in random order, so no label is special.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from priors.base import Batch
from priors.bnn import BNNClassificationPrior, cut_at_quantiles
from priors.checks import check_integer, check_probability, check_real

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
        try:
            mix = [check_probability(p, "feature_mix") for p in feature_mix]
        except (TypeError, ValueError):
            mix = []
        if len(mix) != len(FEATURE_TYPES) or not math.isclose(sum(mix), 1.0, abs_tol=1e-6):
            raise ValueError(
                f"feature_mix must be {len(FEATURE_TYPES)} probabilities summing to 1 (for {FEATURE_TYPES}), "
                f"got {feature_mix!r}"
            )
        self.feature_mix = tuple(mix)

    def _sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
        b, n, d, c = batch_size, num_points, num_features, self.num_classes
        dev = generator.device

        def uniform(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=generator, device=dev)

        # correlated standard-normal latents, one per feature
        u = torch.randn(b, n, d, generator=generator, device=dev)
        mixing = torch.randn(b, d, d, generator=generator, device=dev) / math.sqrt(d)
        corr = self.max_correlation * uniform(b, 1, 1)
        z = u + corr * (u @ mixing)
        z = (z - z.mean(1, keepdim=True)) / z.std(1, keepdim=True).clamp_min(1e-6)  # (B, N, d)

        # the label: a random MLP of the relevance-weighted latents, plus noise
        relevance = torch.exp(math.log(0.1) * uniform(b, 1, d)) * (uniform(b, 1, d) >= self.irrelevant_prob)
        f = self.random_functions(z * relevance, c, generator)  # (B, N, C)
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
        return Batch(x=self._observed_features(z, generator), y=y.float())

    def _observed_features(self, z: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Each latent column through its dataset's randomly chosen transform (FEATURE_TYPES)."""
        b, _, d = z.shape
        dev = z.device
        mix = torch.tensor(self.feature_mix, device=dev)
        kind = torch.multinomial(mix.expand(b * d, -1), 1, generator=generator).view(b, 1, d)
        draw = torch.rand(4, b, 1, d, generator=generator, device=dev)
        skew = torch.where(draw[0] < 0.5, -1.0, 1.0) * torch.exp(0.5 * z * (0.5 + 1.5 * draw[1]))
        integer = torch.floor(z * (0.5 + 2.5 * draw[2]) + draw[3])  # 2 to about 10 levels
        binary = (z > 1.4 * (draw[3] - 0.5) * 2).float()  # threshold in (-1.4, 1.4): 8% to 92% ones
        options = torch.stack([z, 0.5 * (1 + torch.erf(z / math.sqrt(2))), skew, integer, binary])
        return options.gather(0, kind.unsqueeze(0).expand(1, b, z.shape[1], d)).squeeze(0)  # (B, N, d)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.pop("method", None)
        return out
