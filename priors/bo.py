"""A prior over Bayesian-optimisation objectives: functions on [0, 1]^d, d = 1 .. 8.

Each dataset is one objective ``y = f(warp(x)) + eps`` observed at ``x ~ U[0, 1]^d``, where

- ``warp`` is a per-dimension input warping: a Kumaraswamy CDF ``1 - (1 - u^a)^b`` with random
  concentrations (a monotone bijection of [0, 1]), or the identity;
- ``f`` is one of three components, drawn per dataset with ``weights``:
  a GP draw (Matern-5/2, Matern-3/2 or RBF, ARD lengthscales whose location grows like
  ``log sqrt(d)``), a GP draw plus a trend (a quadratic bowl or dome around a random optimum, or a
  linear slope), or a random MLP (:class:`priors.bnn.BNNPrior`), rescaled to the outputscale;
- ``eps ~ N(0, noise * outputscale)`` with ``noise`` the noise-to-signal variance ratio: a
  hyperprior reaching down to 1e-6, plus a share of datasets pinned at ``min_noise`` (numerically
  noise-free objectives, whose data a good model interpolates).

Some input dimensions of a dataset (when d >= 2) are irrelevant: the function is (numerically)
constant along them. The lengthscale location grows with the number of relevant dimensions.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from priors.base import Batch, Prior
from priors.bnn import BNNPrior
from priors.checks import check_integer, check_real, is_real
from priors.gp import GPPrior
from priors.hyperpriors import Choice, HyperparameterSpec, LogNormal, LogUniform, as_hyperprior
from priors.kernels import RBF, Matern32, Matern52, Stationary

#: kernel families the GP components may use, by name
KERNELS: dict[str, type[Stationary]] = {"matern52": Matern52, "matern32": Matern32, "rbf": RBF}
#: default relative weights of the kernel families (Matern-5/2 is BO's standard choice)
KERNEL_WEIGHTS = {"matern52": 3.0, "matern32": 1.0, "rbf": 1.0}
#: component names, in the order of ``weights``
COMPONENTS = ("gp", "gp_trend", "bnn")
#: lengthscale of an irrelevant input dimension: over [0, 1] the function moves by ~1e-6 of its scale along it
IRRELEVANT_LENGTHSCALE = 1e3
#: covariance entries per Cholesky call (32 MB in float64): bounds memory when thousands of datasets are drawn
GP_CHUNK_ENTRIES = 1 << 22

# Default hyperpriors (immutable, so safe to share as defaults).
DEFAULT_OUTPUTSCALE = LogNormal(0.0, 0.5)
DEFAULT_NOISE = LogUniform(1e-6, 0.5)  # noise variance / outputscale
DEFAULT_WARP_CONCENTRATION = LogNormal(0.0, 0.75)


def kumaraswamy_cdf(u: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``1 - (1 - u^a)^b``: for a, b > 0 a strictly increasing bijection of [0, 1] onto itself
    (0 -> 0, 1 -> 1); a = b = 1 is the identity. ``a`` and ``b`` broadcast against ``u``."""
    return -torch.expm1(b * torch.log1p(-u.pow(a)))


def _default_bnn() -> BNNPrior:
    return BNNPrior(
        num_layers=Choice([1, 2, 3]),
        width=Choice([16, 32, 64]),
        activations=("tanh", "relu", "gelu", "sin"),
        weight_scale=LogUniform(0.5, 2.0),
        bias_scale=0.5,
        noise_std=0.0,  # the BO prior adds its own noise
        x_distribution="normal",
        max_features=8,
    )


def _check_probability(value: Any, name: str) -> float:
    if not is_real(value) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def _check_weights(values: Any, name: str, names: tuple[str, ...] | list[str]) -> list[float]:
    w = list(values) if hasattr(values, "__iter__") and not isinstance(values, (str, bytes)) else []
    if len(w) != len(names) or not all(is_real(v) and v >= 0 for v in w) or not sum(w) > 0:
        raise ValueError(
            f"{name} must be {len(names)} non-negative numbers (for {', '.join(names)}), not all zero; got {values!r}"
        )
    total = float(sum(w))
    return [float(v) / total for v in w]


def _check_range(value: Any, name: str) -> tuple[float, float]:
    pair = list(value) if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)) else []
    if len(pair) != 2 or not all(is_real(v) for v in pair) or not 0 < pair[0] <= pair[1]:
        raise ValueError(f"{name} must be [low, high] with 0 < low <= high, got {value!r}")
    return float(pair[0]), float(pair[1])


class BOPrior(Prior):
    """Objectives of Bayesian optimisation on [0, 1]^d, with warped inputs, trends and near-deterministic draws.

    Args:
        weights: relative weights of the components ("gp", "gp_trend", "bnn").
        kernels: kernel families of the GP components, from "matern52", "matern32", "rbf".
        kernel_weights: relative weights of ``kernels`` (None: matern52 3, matern32 1, rbf 1).
        lengthscale_loc: location (mean of the log) of the lengthscale hyperprior of a 1-D function.
        lengthscale_scale: standard deviation of the log lengthscale.
        lengthscale_dim_exponent: the location grows by ``exponent * log(d_relevant)``; 0.5 keeps the typical
            scaled distance between two uniform points, and with it a function's complexity, the same in every d.
        irrelevant_prob: probability that an input dimension is irrelevant (d >= 2; one dimension always matters).
        outputscale: the function's variance: a number or a hyperprior.
        noise: observation-noise variance relative to the outputscale: a number or a hyperprior.
        noiseless_prob: share of datasets whose noise ratio is ``min_noise`` (numerically deterministic).
        min_noise: noise ratio of the noiseless share, and the floor of every draw of ``noise``.
        warp_prob: probability that an input dimension is warped (else the identity).
        warp_concentration: hyperprior of both Kumaraswamy concentrations a and b.
        trend_amplitude: [low, high] of the log-uniform standard deviation of the trend relative to the GP's.
        linear_trend_prob: share of trends that are linear slopes (the rest are quadratics).
        bnn: the random-MLP component (a :class:`priors.bnn.BNNPrior`; its noise and x settings are unused).
        max_features: largest input dimension (at most 8 is what the lengthscale scaling was chosen for).
    """

    samples_on_any_device = True

    def __init__(
        self,
        weights: list[float] | tuple[float, ...] = (0.6, 0.25, 0.15),
        kernels: list[str] | tuple[str, ...] = ("matern52", "matern32", "rbf"),
        kernel_weights: list[float] | tuple[float, ...] | None = None,
        lengthscale_loc: float = -1.0,
        lengthscale_scale: float = 0.75,
        lengthscale_dim_exponent: float = 0.5,
        irrelevant_prob: float = 0.15,
        outputscale: HyperparameterSpec = DEFAULT_OUTPUTSCALE,
        noise: HyperparameterSpec = DEFAULT_NOISE,
        noiseless_prob: float = 0.2,
        min_noise: float = 1e-6,
        warp_prob: float = 0.5,
        warp_concentration: HyperparameterSpec = DEFAULT_WARP_CONCENTRATION,
        trend_amplitude: list[float] | tuple[float, float] = (0.5, 4.0),
        linear_trend_prob: float = 0.25,
        bnn: BNNPrior | None = None,
        max_features: int = 8,
    ):
        self.weights = _check_weights(weights, "weights", COMPONENTS)
        names = [] if isinstance(kernels, (str, bytes)) or not hasattr(kernels, "__iter__") else list(kernels)
        if not names or any(not isinstance(k, str) or k not in KERNELS for k in names):
            raise ValueError(f"kernels must be a non-empty list of names from {sorted(KERNELS)}, got {kernels!r}")
        self.kernels = names
        self.kernel_weights = _check_weights(
            [KERNEL_WEIGHTS[k] for k in names] if kernel_weights is None else kernel_weights, "kernel_weights", names
        )
        self.lengthscale_loc = check_real(lengthscale_loc, "lengthscale_loc")
        self.lengthscale_scale = check_real(lengthscale_scale, "lengthscale_scale", 0, strict=True)
        self.lengthscale_dim_exponent = check_real(lengthscale_dim_exponent, "lengthscale_dim_exponent", 0)
        self.irrelevant_prob = _check_probability(irrelevant_prob, "irrelevant_prob")
        if self.irrelevant_prob == 1:
            raise ValueError("irrelevant_prob must be below 1 (some dimensions must matter), got 1")
        self.outputscale = as_hyperprior(outputscale, "outputscale")
        self.noise = as_hyperprior(noise, "noise", positive=False)
        self.noiseless_prob = _check_probability(noiseless_prob, "noiseless_prob")
        self.min_noise = check_real(min_noise, "min_noise", 0, strict=True)
        self.warp_prob = _check_probability(warp_prob, "warp_prob")
        self.warp_concentration = as_hyperprior(warp_concentration, "warp_concentration")
        self.trend_amplitude = _check_range(trend_amplitude, "trend_amplitude")
        self.linear_trend_prob = _check_probability(linear_trend_prob, "linear_trend_prob")
        if bnn is None:
            bnn = _default_bnn()
        if not isinstance(bnn, BNNPrior):
            raise ValueError(f"bnn must be a priors.bnn.BNNPrior (or null for the default), got {type(bnn).__name__}")
        self.bnn = bnn
        self.max_features = check_integer(max_features, "max_features")
        # One GP sampler per kernel family; the hyperparameters are drawn here and passed in.
        self._gps = [GPPrior(KERNELS[k](ard=True), noise=1.0, max_features=self.max_features) for k in names]

    @property
    def input_range(self) -> tuple[float, float]:
        """Range of x the prior produces."""
        return (0.0, 1.0)

    # -- hyperparameters ---------------------------------------------------------------------
    def _choose(self, probs: list[float], n: int, generator: torch.Generator) -> torch.Tensor:
        p = torch.tensor(probs, dtype=torch.float64, device=generator.device)
        return torch.multinomial(p, n, replacement=True, generator=generator)

    def _bernoulli(self, p: float, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float64) < p

    def sample_hyperparameters(self, batch_size: int, num_features: int, generator: torch.Generator) -> dict:
        """Per-dataset component, kernel, relevance mask, lengthscales, warps, scales and trend, float64."""
        b, d, dev = batch_size, num_features, generator.device
        component = self._choose(self.weights, b, generator)
        kernel = self._choose(self.kernel_weights, b, generator)
        # Irrelevant dimensions; every dataset keeps at least one relevant one.
        irrelevant = self._bernoulli(self.irrelevant_prob if d > 1 else 0.0, (b, d), generator)
        keep = torch.randint(d, (b,), generator=generator, device=dev)
        irrelevant[torch.arange(b, device=dev), keep] &= ~irrelevant.all(-1)
        relevant = ~irrelevant
        d_eff = relevant.sum(-1).to(torch.float64)
        z = torch.randn(b, d, generator=generator, device=dev, dtype=torch.float64)
        loc = self.lengthscale_loc + self.lengthscale_dim_exponent * d_eff.log()
        lengthscale = torch.exp(loc[:, None] + self.lengthscale_scale * z)
        lengthscale = torch.where(relevant, lengthscale, torch.full_like(lengthscale, IRRELEVANT_LENGTHSCALE))
        # Input warping, per dimension.
        warped = self._bernoulli(self.warp_prob, (b, d), generator)
        a = self.warp_concentration.sample((b, d), generator)
        c = self.warp_concentration.sample((b, d), generator)
        one = torch.ones_like(a)
        warp_a, warp_b = torch.where(warped, a, one), torch.where(warped, c, one)
        # Signal and noise.
        outputscale = self.outputscale.sample((b,), generator)
        ratio = self.noise.sample((b,), generator).clamp_min(self.min_noise)
        noiseless = self._bernoulli(self.noiseless_prob, (b,), generator)
        ratio = torch.where(noiseless, torch.full_like(ratio, self.min_noise), ratio)
        # Trend: quadratic around an optimum (inside the box in 2/3 of the coordinates) or a linear slope.
        lo, hi = math.log(self.trend_amplitude[0]), math.log(self.trend_amplitude[1])
        u = torch.rand(b, generator=generator, device=dev, dtype=torch.float64)
        return {
            "component": component,
            "kernel": kernel,
            "relevant": relevant,
            "lengthscale": lengthscale,
            "warp_a": warp_a,
            "warp_b": warp_b,
            "outputscale": outputscale,
            "noise_ratio": ratio,
            "trend_amplitude": torch.exp(lo + (hi - lo) * u),
            "trend_sign": torch.where(self._bernoulli(0.5, (b,), generator), 1.0, -1.0).to(torch.float64),
            "trend_linear": self._bernoulli(self.linear_trend_prob, (b,), generator),
            "trend_optimum": -0.25 + 1.5 * torch.rand(b, d, generator=generator, device=dev, dtype=torch.float64),
            "trend_weights": torch.randn(b, d, generator=generator, device=dev, dtype=torch.float64),
            "trend_curvature": torch.exp(0.5 * torch.randn(b, d, generator=generator, device=dev, dtype=torch.float64)),
        }

    # -- functions ---------------------------------------------------------------------------
    @staticmethod
    def _trend(u: torch.Tensor, hp: dict) -> torch.Tensor:
        """Unit-variance trend (B, N) at warped inputs u (B, N, d), variance computed for u ~ U[0, 1]^d."""
        rel = hp["relevant"].to(u.dtype)
        # Linear: sum_k w_k (u_k - 1/2), Var = sum_k w_k^2 / 12.
        w = hp["trend_weights"] * rel
        linear = ((u - 0.5) * w[:, None, :]).sum(-1) / (w.square().sum(-1) / 12).sqrt().clamp_min(1e-12)[:, None]
        # Quadratic: sum_k c_k (u_k - m_k)^2, centred and scaled by its moments under U[0, 1].
        m, c = hp["trend_optimum"], hp["trend_curvature"] * rel
        mean2 = ((1 - m) ** 3 + m**3) / 3
        mean4 = ((1 - m) ** 5 + m**5) / 5
        var = (c.square() * (mean4 - mean2.square())).sum(-1)
        quad = (c[:, None, :] * ((u - m[:, None, :]).square() - mean2[:, None, :])).sum(-1)
        quad = quad / var.sqrt().clamp_min(1e-12)[:, None]
        return torch.where(hp["trend_linear"][:, None], linear, quad)

    def _bnn_functions(self, u: torch.Tensor, hp: dict, rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Random-MLP functions at the rows' warped inputs, centred and scaled to unit variance over the dataset's
        points (like a GP draw; a constant offset or scale is what y's standardisation removes anyway)."""
        z = (u[rows] - 0.5) * math.sqrt(12) * hp["relevant"][rows][:, None, :]  # unit variance, like N(0, 1) inputs
        f = self.bnn.random_functions(z.float(), 1, generator).squeeze(-1).double()
        f = f - f.mean(1, keepdim=True)
        scale = f.std(1, keepdim=True, correction=0)
        return torch.where(scale > 1e-12, f / scale.clamp_min(1e-12), f)

    def sample_targets(
        self, x: torch.Tensor, generator: torch.Generator, hyperparameters: dict | None = None
    ) -> torch.Tensor:
        """Noisy targets (B, N), float32, of one objective per dataset at inputs x (B, N, d) in [0, 1]^d."""
        b, n, d = x.shape
        hp = hyperparameters or self.sample_hyperparameters(b, d, generator)
        u = kumaraswamy_cdf(x.double().clamp(0, 1), hp["warp_a"][:, None, :], hp["warp_b"][:, None, :])
        y = torch.zeros(b, n, dtype=torch.float64, device=x.device)
        noise_var = hp["noise_ratio"] * hp["outputscale"]
        is_gp = hp["component"] != COMPONENTS.index("bnn")
        for k, gp in enumerate(self._gps):
            # In chunks: the output bins are fitted on thousands of datasets drawn at once.
            for rows in (is_gp & (hp["kernel"] == k)).nonzero().squeeze(-1).split(max(1, GP_CHUNK_ENTRIES // n**2)):
                kernel = {"lengthscale": hp["lengthscale"][rows], "outputscale": hp["outputscale"][rows]}
                y[rows] = gp.sample_targets(u[rows], generator, {"kernel": kernel, "noise": noise_var[rows]}).double()
        trend = hp["trend_sign"] * hp["trend_amplitude"] * hp["outputscale"].sqrt()
        has_trend = (hp["component"] == COMPONENTS.index("gp_trend")).to(y.dtype)
        y = y + (has_trend * trend)[:, None] * self._trend(u, hp)
        rows = (~is_gp).nonzero().squeeze(-1)
        if rows.numel():
            f = self._bnn_functions(u, hp, rows, generator) * hp["outputscale"][rows].sqrt()[:, None]
            eps = torch.randn(rows.numel(), n, generator=generator, device=x.device, dtype=torch.float64)
            y[rows] = f + noise_var[rows].sqrt()[:, None] * eps
        return y.float()

    def _sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
        x = torch.rand(batch_size, num_points, num_features, generator=generator, device=generator.device)
        return Batch(x=x, y=self.sample_targets(x, generator))

    def describe(self) -> dict[str, Any]:
        return {
            "name": "BOPrior",
            "components": dict(zip(COMPONENTS, self.weights, strict=True)),
            "kernels": dict(zip(self.kernels, self.kernel_weights, strict=True)),
            "lengthscale": {
                "distribution": "LogNormal",
                "loc": f"{self.lengthscale_loc} + {self.lengthscale_dim_exponent} * log(d_relevant)",
                "scale": self.lengthscale_scale,
            },
            "irrelevant_prob": self.irrelevant_prob,
            "outputscale": self.outputscale.describe(),
            "noise": {"relative_to": "outputscale", **self.noise.describe()},
            "noiseless_prob": self.noiseless_prob,
            "min_noise": self.min_noise,
            "warp": {"kumaraswamy_prob": self.warp_prob, "concentration": self.warp_concentration.describe()},
            "trend": {"amplitude": list(self.trend_amplitude), "linear_prob": self.linear_trend_prob},
            "bnn": self.bnn.describe(),
            "x_distribution": "uniform",
            "max_features": self.max_features,
        }
