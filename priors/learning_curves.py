"""Learning-curve prior of LC-PFN (Adriaensen et al., 2023), built on Domhan et al. (2015).

A curve over epochs t = 1 .. T is a weighted sum of parametric families,
``y(t) = sum_k w_k f_k(t; theta_k)`` with weights ``w_k ~ U(0, 1)`` (not normalised)
and parameters from each family's prior. A curve is redrawn (weights and
parameters) while it leaves [0, 1] anywhere or does not end above where it
started. With ``max_slowdown`` > 1 a curve runs tau times slower, tau log-uniform on
[1, max_slowdown]: the families are evaluated at ``1 + (t - 1) / tau`` (slow learners, such as
runs with a small learning rate, which keep improving long after the first epochs).
Observations add Gaussian noise whose standard deviation is log-normal,
``ln sigma ~ N(-4, 1)``, the same for every epoch of a curve.

LC-PFN combines pow3, ilog2 and janoschek with the priors below; the other
families of Domhan et al. are available through ``families``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from priors.base import Batch, Prior
from priors.checks import check_integer, check_option, check_options, check_real

# A family: (parameter samplers, curve). Samplers draw (n,) float64 tensors from
# uniform "u(lo, hi)", normal "n(mu, sd)" or log-normal "ln(mu, sd)" (mu, sd of the log).
ParamSpec = tuple[str, float, float]
Curve = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]

FAMILIES: dict[str, tuple[dict[str, ParamSpec], Curve]] = {
    "pow3": (
        {"c": ("u", 0.0, 1.25), "a": ("u", -0.6, 0.6), "alpha": ("ln", 0.0, 2.0)},
        lambda t, p: p["c"] - p["a"] * t ** (-p["alpha"]),
    ),
    "ilog2": (
        {"c": ("u", 0.0, 1.0), "a": ("u", -0.5, 0.5)},
        lambda t, p: p["c"] - p["a"] / torch.log(t + 1),
    ),
    "janoschek": (
        {"alpha": ("u", 0.0, 1.0), "beta": ("u", 0.0, 2.0), "kappa": ("ln", -2.0, 1.0), "delta": ("ln", 0.0, 0.5)},
        lambda t, p: p["alpha"] - (p["alpha"] - p["beta"]) * torch.exp(-p["kappa"] * t ** p["delta"]),
    ),
    "log_power": (
        {"a": ("n", 0.8, 0.1), "b": ("n", 1.0, 1.0), "c": ("u", -3.0, 0.0)},
        lambda t, p: p["a"] / (1 + (t / torch.exp(p["b"])) ** p["c"]),
    ),
    "weibull": (
        {"alpha": ("u", 0.0, 1.5), "beta": ("u", 0.0, 1.0), "kappa": ("ln", -2.0, 1.0), "delta": ("ln", 0.0, 0.5)},
        lambda t, p: p["alpha"] - (p["alpha"] - p["beta"]) * torch.exp(-((p["kappa"] * t) ** p["delta"])),
    ),
    "mmf": (
        {"alpha": ("n", 0.8, 0.1), "beta": ("n", 0.2, 0.1), "kappa": ("ln", 0.0, 2.0), "delta": ("ln", 0.0, 1.0)},
        lambda t, p: p["alpha"] - (p["alpha"] - p["beta"]) / (1 + (p["kappa"] * t) ** p["delta"]),
    ),
    "vap": (
        {"a": ("u", -2.0, 0.0), "b": ("u", -4.0, 0.0), "log_c": ("u", -8.0, 0.0)},
        lambda t, p: torch.exp(p["a"] + p["b"] / t + torch.exp(p["log_c"]) * torch.log(t)),
    ),
    "loglog_linear": (
        {"a": ("ln", -2.0, 1.0), "log_b": ("u", 0.0, 1.0)},
        lambda t, p: torch.log(p["a"] * torch.log(t) + torch.exp(p["log_b"])),
    ),
    "exp4": (
        {"c": ("n", 0.8, 0.1), "a": ("ln", -2.0, 1.0), "alpha": ("ln", 0.0, 1.0), "b": ("ln", 0.0, 0.5)},
        lambda t, p: p["c"] - torch.exp(-p["a"] * t ** p["alpha"] + p["b"]),
    ),
    "pow4": (
        {"log1m_c": ("u", -5.0, 0.0), "a": ("ln", -3.0, 2.0), "alpha": ("ln", 0.0, 1.0), "log_b": ("u", 0.0, 1.0)},
        lambda t, p: (1 - torch.exp(p["log1m_c"])) - (p["a"] * t + torch.exp(p["log_b"])) ** (-p["alpha"]),
    ),
    "dr_hill_zero_background": (
        {"theta": ("n", 0.8, 0.1), "eta": ("ln", 1.0, 1.0), "kappa": ("ln", 1.0, 2.0)},
        lambda t, p: p["theta"] * t ** p["eta"] / (p["kappa"] ** p["eta"] + t ** p["eta"]),
    ),
}
LCPFN_FAMILIES = ("pow3", "ilog2", "janoschek")


def _draw(spec: ParamSpec, n: int, generator: torch.Generator) -> torch.Tensor:
    kind, a, b = spec
    dev = generator.device
    if kind == "u":
        return a + (b - a) * torch.rand(n, generator=generator, device=dev, dtype=torch.float64)
    z = torch.randn(n, generator=generator, device=dev, dtype=torch.float64)
    return a + b * z if kind == "n" else torch.exp(a + b * z)


class LearningCurvePrior(Prior):
    """Learning curves as datasets: x is the epoch scaled to (0, 1], y the (noisy) performance.

    Point i of a dataset is epoch i + 1, so the context (the first points) is the observed
    prefix of a curve and the queries are its future.

    Args:
        families: curve families to combine (default: LC-PFN's pow3, ilog2, janoschek).
        noise_log_mean: mean of ``ln sigma``, the log of a curve's noise standard deviation.
        noise_log_std: standard deviation of ``ln sigma``: ``ln sigma ~ N(noise_log_mean, noise_log_std^2)``.
        weights: "uniform" draws each family's weight from U(0, 1) independently (LC-PFN);
            "dirichlet" draws weights that sum to one (Dirichlet(1, ..., 1)), which keeps
            combinations of many families inside [0, 1].
        max_epochs: epoch that maps to x = 1 (default: the curve length asked for).
        max_slowdown: largest time stretch tau (1 keeps every curve at its families' own pace).
        max_tries: rejection rounds before giving up.
    """

    max_features = 1
    samples_on_any_device = True
    #: a curve's points are epochs in order: the context is its observed prefix, the queries its future
    sequential = True

    def __init__(
        self,
        families: tuple[str, ...] | list[str] = LCPFN_FAMILIES,
        noise_log_mean: float = -4.0,
        noise_log_std: float = 1.0,
        weights: str = "uniform",
        max_epochs: int | None = None,
        max_slowdown: float = 1.0,
        max_tries: int = 200,
    ):
        self.families = check_options(families, "families", FAMILIES)
        self.noise_log_mean = check_real(noise_log_mean, "noise_log_mean")
        self.noise_log_std = check_real(noise_log_std, "noise_log_std", 0, strict=True)
        self.weights = check_option(weights, "weights", ("uniform", "dirichlet"))
        self.max_epochs = None if max_epochs is None else check_integer(max_epochs, "max_epochs")
        self.max_slowdown = check_real(max_slowdown, "max_slowdown", 1)
        self.max_tries = check_integer(max_tries, "max_tries")

    #: x is the epoch divided by max_epochs
    input_range = (0.0, 1.0)

    def _candidates(self, n: int, length: int, generator: torch.Generator) -> torch.Tensor:
        t = torch.arange(1, length + 1, dtype=torch.float64, device=generator.device)[None, :]  # (1, T)
        dev = generator.device
        if self.max_slowdown > 1:
            u = torch.rand(n, 1, generator=generator, device=dev, dtype=torch.float64)
            t = 1 + (t - 1) * torch.exp(-math.log(self.max_slowdown) * u)  # (n, T): tau = max_slowdown**u
        w = torch.rand(n, len(self.families), generator=generator, device=dev, dtype=torch.float64)
        if self.weights == "dirichlet":
            w = -torch.log1p(-w)  # Exp(1) draws; normalised they are Dirichlet(1, ..., 1)
            w = w / w.sum(1, keepdim=True)
        y = torch.zeros(n, length, dtype=torch.float64, device=dev)
        for k, name in enumerate(self.families):
            specs, curve = FAMILIES[name]
            params = {key: _draw(spec, n, generator)[:, None] for key, spec in specs.items()}
            y = y + w[:, k : k + 1] * curve(t, params)
        return y

    def sample_curves(
        self, batch_size: int, length: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise-free accepted curves (B, T) and each curve's noise standard deviation (B,)."""
        if length < 2:
            raise ValueError(
                f"num_points (the curve length) must be at least 2 for a LearningCurvePrior: a curve is accepted "
                f"only when it ends above where it started; got {length}"
            )
        accepted: list[torch.Tensor] = []
        need = batch_size
        for _ in range(self.max_tries):
            y = self._candidates(4 * need + 16, length, generator)
            ok = torch.isfinite(y).all(1) & (y >= 0).all(1) & (y <= 1).all(1) & (y[:, -1] > y[:, 0])
            accepted.append(y[ok][:need])
            need -= accepted[-1].shape[0]
            if need == 0:
                break
        else:
            raise RuntimeError(f"LearningCurvePrior accepted too few curves in {self.max_tries} rounds")
        log_sigma = self.noise_log_mean + self.noise_log_std * torch.randn(
            batch_size, generator=generator, device=generator.device, dtype=torch.float64
        )
        return torch.cat(accepted), log_sigma.exp()

    def _sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
        clean, sigma = self.sample_curves(batch_size, num_points, generator)
        noise = torch.randn(clean.shape, generator=generator, device=clean.device, dtype=torch.float64)
        y = clean + sigma[:, None] * noise
        max_epochs = self.max_epochs or num_points
        epochs = torch.arange(1, num_points + 1, device=clean.device, dtype=torch.float32) / max_epochs
        x = epochs.expand(batch_size, num_points).unsqueeze(-1).contiguous()
        return Batch(x=x, y=y.float())

    def describe(self) -> dict[str, Any]:
        return {
            "name": "LearningCurvePrior",
            "families": self.families,
            "noise_log_mean": self.noise_log_mean,
            "noise_log_std": self.noise_log_std,
            "weights": self.weights,
            "max_epochs": self.max_epochs,
            "max_slowdown": self.max_slowdown,
        }
