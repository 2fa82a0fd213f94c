"""A NUTS reference for small BNN priors: the posterior predictive a PFN trained on the prior approximates,
computed by Markov chain Monte Carlo (NumPyro's No-U-Turn sampler; ``pip install 'pfn[nuts]'``).

The model is :class:`priors.BNNPrior`'s (and :class:`priors.BNNClassificationPrior`'s, ``method="argmax"``)
with one fixed architecture: at most one hidden layer, weights ``N(0, weight_scale^2 / fan_in)``, biases
``N(0, bias_scale^2)`` on the hidden layer only, and Gaussian output noise. The weight scale and the noise may
be log-uniform hyperpriors, sampled jointly with the weights (non-centred). Without a hidden layer
(``width=0``) it is Bayesian linear regression, whose exact posterior checks the sampler.

Regression: ``y = f(x) + noise * e``. Classification: ``y = argmax_j (f_j(x) + noise * e_j)``, whose
likelihood ``P(y = j | f) = E_t[prod_{i != j} Phi((f_j - f_i) / noise + t)]``, ``t ~ N(0, 1)``, is computed by
Gauss-Hermite quadrature (differentiable, so NUTS applies).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Gauss-Hermite nodes of the classification likelihood: log-probabilities within 1e-4 of 48 nodes' here
QUADRATURE_NODES = 20


@dataclass(frozen=True)
class SmallBNN:
    """The BNN prior NUTS samples: ``width`` hidden units (0: linear model) with ``activation``.

    ``weight_scale`` and ``noise_std`` are a number (fixed) or a pair ``(low, high)``, a log-uniform
    hyperprior. ``num_classes`` None is regression; an integer >= 2 is argmax classification.
    """

    width: int = 8
    activation: str = "tanh"
    weight_scale: float | tuple[float, float] = 1.0
    bias_scale: float = 0.5
    noise_std: float | tuple[float, float] = 0.1
    num_classes: int | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.width, int) and self.width >= 0):
            raise ValueError(f"width must be an integer >= 0, got {self.width!r}")
        if self.activation not in ("tanh", "relu", "identity"):
            raise ValueError(f"activation must be one of ['identity', 'relu', 'tanh'], got {self.activation!r}")
        for name in ("weight_scale", "noise_std"):
            value = getattr(self, name)
            bounds = value if isinstance(value, tuple) else (value, value)
            if len(bounds) != 2 or not 0 < bounds[0] <= bounds[1] < math.inf:
                raise ValueError(f"{name} must be a positive number or a pair (low, high), got {value!r}")
        if self.bias_scale < 0:
            raise ValueError(f"bias_scale must be >= 0, got {self.bias_scale!r}")
        if self.num_classes is not None and not (isinstance(self.num_classes, int) and self.num_classes >= 2):
            raise ValueError(f"num_classes must be None (regression) or an integer >= 2, got {self.num_classes!r}")

    @property
    def num_outputs(self) -> int:
        return 1 if self.num_classes is None else self.num_classes

    @classmethod
    def from_description(cls, prior: dict[str, Any]) -> SmallBNN:
        """The NUTS model of a BNN prior from its description (``prior.describe()``, or a checkpoint's
        ``config["prior"]``): a ``BNNPrior`` or argmax ``BNNClassificationPrior`` with one fixed architecture
        (one hidden layer, one width, one activation) and fixed or log-uniform weight scale and noise;
        ``ValueError`` for any other prior."""
        name = prior.get("name")
        if name not in ("BNNPrior", "BNNClassificationPrior"):
            raise ValueError(f"the NUTS reference takes a BNNPrior or BNNClassificationPrior, got {name!r}")

        def number_or_range(key: str) -> float | tuple[float, float]:
            spec = prior[key]
            if set(spec) == {"value"}:
                return float(spec["value"])
            if spec.get("distribution") == "LogUniform":
                return (float(spec["low"]), float(spec["high"]))
            raise ValueError(f"the prior's {key} must be fixed or log-uniform for NUTS, got {spec}")

        fixed = set(prior["num_layers"]) == {"value"} and set(prior["width"]) == {"value"}
        if not (fixed and prior["num_layers"]["value"] == 1 and len(prior["activations"]) == 1):
            raise ValueError(
                "the NUTS reference needs one fixed architecture (num_layers 1, one width, one activation), got "
                f"num_layers {prior['num_layers']}, width {prior['width']}, activations {prior['activations']}"
            )
        if name == "BNNClassificationPrior" and prior.get("method") != "argmax":
            raise ValueError(f"the NUTS reference takes argmax classification, got method {prior.get('method')!r}")
        bias = number_or_range("bias_scale")
        if isinstance(bias, tuple):
            raise ValueError(f"the prior's bias_scale must be fixed for NUTS, got {prior['bias_scale']}")
        return cls(
            width=int(prior["width"]["value"]),
            activation=prior["activations"][0],
            weight_scale=number_or_range("weight_scale"),
            bias_scale=bias,
            noise_std=number_or_range("noise_std"),
            num_classes=int(prior["num_classes"]) if name == "BNNClassificationPrior" else None,
        )


@dataclass(frozen=True)
class NUTSPredictive:
    """Posterior draws of the noise-free outputs at the test points and of the noise, from NUTS."""

    bnn: SmallBNN
    f: np.ndarray  # (S, m, outputs) at x_test
    noise: np.ndarray  # (S,)
    seconds: float  # wall time of warm-up and sampling
    min_ess: float  # smallest effective sample size of the outputs at x_test and the noise
    max_rhat: float  # largest split R-hat of the outputs at x_test and the noise

    def log_prob(self, y: np.ndarray) -> np.ndarray:
        """Posterior predictive log density (regression) or log probability (classes) of ``y`` (m,)."""
        y = np.asarray(y)
        if self.bnn.num_classes is None:
            z = (y[None, :] - self.f[..., 0]) / self.noise[:, None]  # (S, m)
            per_draw = -0.5 * z**2 - np.log(self.noise[:, None]) - 0.5 * math.log(2 * math.pi)
        else:
            probs = np.asarray(argmax_probabilities(self.f, self.noise[:, None, None]))  # (S, m, k)
            per_draw = np.log(np.take_along_axis(probs, y.astype(int)[None, :, None], -1)[..., 0] + 1e-300)
        top = per_draw.max(0)
        return top + np.log(np.exp(per_draw - top).mean(0))  # log of the mean over draws

    def mean(self) -> np.ndarray:
        """Posterior predictive mean (regression, (m,)) or class probabilities ((m, k))."""
        if self.bnn.num_classes is None:
            return self.f[..., 0].mean(0)
        return np.asarray(argmax_probabilities(self.f, self.noise[:, None, None])).mean(0)


def argmax_probabilities(f, noise):  # type: ignore[no-untyped-def]
    """P(argmax_j (f_j + noise * e_j) = j) for each j, e iid N(0, 1): shape of ``f`` (..., k), a jax array.

    ``P(j) = E_t[prod_{i != j} Phi((f_j - f_i) / noise + t)]`` by Gauss-Hermite quadrature over t.
    """
    import jax.numpy as jnp
    from jax.scipy.special import log_ndtr

    nodes, weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
    weights = weights / weights.sum()
    f = jnp.asarray(f)
    diff = (f[..., :, None] - f[..., None, :]) / jnp.asarray(noise)[..., None]  # (..., k, k): (f_j - f_i) / noise
    log_cdf = log_ndtr(diff[..., None] + nodes)  # (..., k, k, Q)
    k = f.shape[-1]
    log_cdf = jnp.where(jnp.eye(k, dtype=bool)[..., None], 0.0, log_cdf)  # i = j: no factor
    return (jnp.exp(log_cdf.sum(-2)) * weights).sum(-1)  # (..., k)


def _model(bnn: SmallBNN, x, y=None):  # type: ignore[no-untyped-def]
    """The NumPyro model of ``bnn`` on inputs x (n, d), non-centred: standard-normal weights, scaled."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    def scale(name: str, value: float | tuple[float, float]):  # type: ignore[no-untyped-def]
        if not isinstance(value, tuple) or value[0] == value[1]:
            return value[0] if isinstance(value, tuple) else value
        log_value = numpyro.sample(f"log_{name}", dist.Uniform(math.log(value[0]), math.log(value[1])))
        return jnp.exp(log_value)

    d, k = x.shape[1], bnn.num_outputs
    w_scale, noise = scale("weight_scale", bnn.weight_scale), scale("noise_std", bnn.noise_std)
    if bnn.width == 0:
        w = numpyro.sample("w", dist.Normal(0, 1).expand([d, k]).to_event(2))
        f = x @ w * w_scale / math.sqrt(d)
    else:
        w1 = numpyro.sample("w1", dist.Normal(0, 1).expand([d, bnn.width]).to_event(2))
        b1 = numpyro.sample("b1", dist.Normal(0, 1).expand([bnn.width]).to_event(1))
        w2 = numpyro.sample("w2", dist.Normal(0, 1).expand([bnn.width, k]).to_event(2))
        act = {"tanh": jnp.tanh, "relu": lambda z: jnp.maximum(z, 0), "identity": lambda z: z}[bnn.activation]
        h = act(x @ w1 * w_scale / math.sqrt(d) + b1 * bnn.bias_scale)
        f = h @ w2 * w_scale / math.sqrt(bnn.width)
    numpyro.deterministic("noise", jnp.asarray(noise) * jnp.ones(()))
    numpyro.deterministic("f", f)
    if y is None:
        return
    if bnn.num_classes is None:
        numpyro.sample("y", dist.Normal(f[:, 0], noise).to_event(1), obs=y)
    else:
        probs = argmax_probabilities(f, noise)
        numpyro.sample("y", dist.Categorical(probs=probs / probs.sum(-1, keepdims=True)).to_event(1), obs=y)


def nuts_predictive(
    bnn: SmallBNN,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 2,
    seed: int = 0,
) -> NUTSPredictive:
    """The posterior predictive of ``bnn`` at ``x_test`` (m, d) given ``x_train`` (n, d), ``y_train`` (n,),
    from ``num_chains`` NUTS chains (run one after another) of ``num_samples`` draws after ``num_warmup``."""
    try:
        import jax
        import jax.numpy as jnp
        from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
        from numpyro.infer import MCMC, NUTS, Predictive
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(f"the NUTS reference needs NumPyro (pip install 'pfn[nuts]'): {err}") from err
    jax.config.update("jax_enable_x64", True)
    x_train, x_test = np.asarray(x_train, np.float64), np.asarray(x_test, np.float64)
    if x_train.ndim != 2 or x_test.ndim != 2 or x_train.shape[1] != x_test.shape[1]:
        raise ValueError(
            f"x_train and x_test must be 2-d with the same number of columns, got {x_train.shape} and {x_test.shape}"
        )
    y = jnp.asarray(y_train, jnp.int32 if bnn.num_classes is not None else jnp.float64)
    if y.shape != (len(x_train),):
        raise ValueError(f"y_train must have shape ({len(x_train)},), got {tuple(y.shape)}")
    start = time.perf_counter()
    mcmc = MCMC(
        NUTS(_model, target_accept_prob=0.9),
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="sequential",
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(seed), bnn, jnp.asarray(x_train), y)
    draws = mcmc.get_samples(group_by_chain=True)
    params = {name: value for name, value in draws.items() if name not in ("f", "noise")}
    flat = {name: value.reshape(-1, *value.shape[2:]) for name, value in params.items()}
    out = Predictive(_model, posterior_samples=flat, return_sites=["f", "noise"])(
        jax.random.PRNGKey(seed + 1), bnn, jnp.asarray(x_test)
    )
    f, noise = np.asarray(out["f"]), np.asarray(out["noise"]).reshape(-1)
    seconds = time.perf_counter() - start
    # every call compiles its own sampler; without clearing, a long evaluation exhausts the process's memory maps
    jax.clear_caches()
    # mixing is judged on what the reference is used for, the predictions: the weights themselves have exact
    # symmetries (hidden units permuted, signs flipped) between which chains may rightly settle apart
    quantities = [f.reshape(num_chains, num_samples, -1)]
    if np.ptp(noise) > 0:  # a fixed noise has no spread to diagnose
        quantities.append(noise.reshape(num_chains, num_samples, 1))
    stacked = np.concatenate(quantities, -1)  # (chains, draws, quantities)
    ess = effective_sample_size(stacked)
    rhat = split_gelman_rubin(stacked) if num_chains > 1 else np.ones(stacked.shape[-1])
    return NUTSPredictive(bnn, f, noise, seconds, float(np.min(ess)), float(np.max(rhat)))
