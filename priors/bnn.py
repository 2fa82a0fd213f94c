"""Bayesian-neural-network priors: each dataset is labelled by its own random MLP.

All datasets of a batch are computed at once. Depth, width and activation vary per
dataset: hidden units beyond a dataset's width are masked out, layers beyond its
depth are skipped, and every activation is evaluated and the dataset's own selected.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from priors.base import INPUT_RANGES, Batch, RandomInputsPrior
from priors.checks import check_integer, check_option, check_options, is_real
from priors.hyperpriors import Choice, Fixed, HyperparameterSpec, Hyperprior, LogUniform, as_hyperprior

ACTIVATIONS = {
    "identity": lambda z: z,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "sin": torch.sin,
    "gelu": torch.nn.functional.gelu,
}


def _integer_hyperprior(spec: HyperparameterSpec, name: str) -> tuple[Hyperprior, int]:
    """A positive integer, or a Choice of them, as a hyperprior; and the largest value it can take."""
    values: list[Any] = spec.values if isinstance(spec, Choice) else [spec.value] if isinstance(spec, Fixed) else [spec]
    if not all(is_real(v) and v >= 1 and v == int(v) for v in values):
        raise ValueError(f"{name} must be an integer >= 1 or a Choice of such integers, got {spec!r}")
    return as_hyperprior(spec, name), int(max(values))


# Default hyperpriors (immutable, so safe to share as defaults).
DEFAULT_NUM_LAYERS = Choice([1, 2, 3])
DEFAULT_WIDTH = Choice([16, 32, 64])
DEFAULT_WEIGHT_SCALE = LogUniform(0.5, 2.0)
DEFAULT_NOISE_STD = LogUniform(0.01, 0.3)


class BNNPrior(RandomInputsPrior):
    """Regression datasets from random MLPs with Gaussian weights and Gaussian noise.

    Per dataset: ``num_layers`` hidden layers of ``width`` units, an activation from
    ``activations``, weights ``W ~ N(0, weight_scale^2 / fan_in)``, biases
    ``b ~ N(0, bias_scale^2)``; ``y = f(x) + noise_std * eps``. Inputs ``x ~ N(0, 1)^d``
    or ``U[0, 1]^d``.

    Args:
        num_layers: hidden layers, an integer or a Choice of integers.
        width: hidden units per layer, an integer or a Choice of integers.
        activations: names of activations, one drawn uniformly per dataset.
        weight_scale: weight standard deviation times sqrt(fan_in), number or hyperprior.
        bias_scale: bias standard deviation, number or hyperprior (0 for no biases).
        noise_std: observation-noise standard deviation, number or hyperprior.
        x_distribution: "normal" or "uniform".
        max_features: largest input dimension.
    """

    samples_on_any_device = True

    def __init__(
        self,
        num_layers: HyperparameterSpec = DEFAULT_NUM_LAYERS,
        width: HyperparameterSpec = DEFAULT_WIDTH,
        activations: tuple[str, ...] | list[str] = ("tanh", "relu"),
        weight_scale: HyperparameterSpec = DEFAULT_WEIGHT_SCALE,
        bias_scale: HyperparameterSpec = 0.5,
        noise_std: HyperparameterSpec = DEFAULT_NOISE_STD,
        x_distribution: str = "normal",
        max_features: int = 8,
    ):
        self.num_layers, self.max_layers = _integer_hyperprior(num_layers, "num_layers")
        self.width, self.max_width = _integer_hyperprior(width, "width")
        self.activations = check_options(activations, "activations", ACTIVATIONS)
        self.weight_scale = as_hyperprior(weight_scale, "weight_scale")
        self.bias_scale = as_hyperprior(bias_scale, "bias_scale", positive=False)
        self.noise_std = as_hyperprior(noise_std, "noise_std", positive=False)
        self.x_distribution = check_option(x_distribution, "x_distribution", INPUT_RANGES)
        self.max_features = check_integer(max_features, "max_features")

    def random_functions(self, x: torch.Tensor, num_outputs: int, generator: torch.Generator) -> torch.Tensor:
        """Noise-free outputs (B, N, num_outputs) of one random MLP per dataset at inputs x (B, N, d)."""
        b, _, d = x.shape
        dev, w_max = x.device, self.max_width

        def normal(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=generator, device=dev)

        depth = self.num_layers.sample((b,), generator).long().to(dev)  # (B,)
        width = self.width.sample((b,), generator).to(dev)  # (B,)
        act = torch.randint(len(self.activations), (b,), generator=generator, device=dev)
        w_scale = self.weight_scale.sample((b,), generator).float().to(dev)[:, None, None]
        b_scale = self.bias_scale.sample((b,), generator).float().to(dev)[:, None, None]
        unit_mask = (torch.arange(w_max, device=dev) < width[:, None]).float()[:, None, :]  # (B, 1, W)
        hidden_fan_in = width.float()[:, None, None].sqrt()

        def layer(h: torch.Tensor, fan_in_sqrt: float | torch.Tensor, n_in: int) -> torch.Tensor:
            z = h @ (normal(b, n_in, w_max) * w_scale / fan_in_sqrt) + normal(b, 1, w_max) * b_scale
            acts = torch.stack([ACTIVATIONS[a](z) for a in self.activations])  # (A, B, N, W)
            return acts[act, torch.arange(b, device=dev)] * unit_mask

        h = layer(x, math.sqrt(d), d)  # first hidden layer, every dataset has at least one
        for i in range(1, self.max_layers):
            h = torch.where((depth > i)[:, None, None], layer(h, hidden_fan_in, w_max), h)
        return h @ (normal(b, w_max, num_outputs) * w_scale / hidden_fan_in)

    def _sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
        x = self.sample_inputs((batch_size, num_points, num_features), generator)
        f = self.random_functions(x, 1, generator).squeeze(-1)
        noise = self.noise_std.sample((batch_size,), generator).float().to(x.device)[:, None]
        return Batch(x=x, y=f + noise * torch.randn(f.shape, generator=generator, device=x.device))

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": type(self).__name__}
        for k, v in vars(self).items():
            out[k] = v.describe() if hasattr(v, "describe") else v
        return out


class BNNClassificationPrior(BNNPrior):
    """Classification datasets from random MLPs: targets are class indices 0 .. num_classes - 1 (as floats).

    ``method="argmax"``: the MLP has ``num_classes`` noisy outputs and the class is their argmax.
    ``method="threshold"``: one noisy output is cut at ``num_classes - 1`` thresholds placed at
    random quantiles of the dataset's own outputs, so no class is empty in expectation.
    """

    def __init__(self, num_classes: int = 2, method: str = "argmax", **bnn_kwargs: Any):
        super().__init__(**bnn_kwargs)
        self.num_classes = check_integer(num_classes, "num_classes", low=2)
        self.method = check_option(method, "method", ("argmax", "threshold"))

    def _sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
        x = self.sample_inputs((batch_size, num_points, num_features), generator)
        k = self.num_classes if self.method == "argmax" else 1
        f = self.random_functions(x, k, generator)  # (B, N, k)
        noise = self.noise_std.sample((batch_size,), generator).float().to(x.device)[:, None, None]
        f = f + noise * torch.randn(f.shape, generator=generator, device=x.device)
        if self.method == "argmax":
            return Batch(x=x, y=f.argmax(-1).float())
        levels = torch.rand(batch_size, self.num_classes - 1, generator=generator, device=x.device).sort(-1).values
        return Batch(x=x, y=cut_at_quantiles(f.squeeze(-1), levels).float())


def cut_at_quantiles(f: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Classes of outputs ``f`` (B, N) cut at each dataset's own quantiles ``levels`` (B, C-1), sorted: the
    number of cuts each output exceeds. A level above 1 is no cut (a dataset with fewer classes)."""
    ranked = f.sort(-1).values  # (B, N)
    cuts = ranked.gather(-1, (levels.clamp(max=1) * (f.shape[-1] - 1)).round().long())  # (B, C-1)
    cuts = cuts.masked_fill(levels > 1, math.inf)
    return (f[:, :, None] > cuts[:, None, :]).sum(-1)
