"""The NUTS reference (pfn.evaluation.nuts) against exact answers: Bayesian linear regression's conjugate
posterior (the zero-hidden-layer BNN), and the argmax likelihood against its closed form and simulation."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

pytest.importorskip("numpyro")

from pfn.evaluation.nuts import SmallBNN, argmax_probabilities, nuts_predictive  # noqa: E402
from priors import BNNClassificationPrior, BNNPrior  # noqa: E402


def test_nuts_agrees_with_the_exact_posterior_of_bayesian_linear_regression():
    # y = x . w + e, w ~ N(0, s^2 / d I), e ~ N(0, sigma^2): Gaussian posterior, Gaussian predictive
    rng = np.random.default_rng(0)
    d, n, m, s, sigma = 3, 8, 40, 1.0, 0.5
    x, x_test = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    w = rng.normal(size=d) * s / math.sqrt(d)
    y, y_test = x @ w + sigma * rng.normal(size=n), x_test @ w + sigma * rng.normal(size=m)
    cov = np.linalg.inv(x.T @ x / sigma**2 + np.eye(d) * d / s**2)
    mean = x_test @ (cov @ x.T @ y / sigma**2)
    f_sd = np.sqrt(np.einsum("ij,jk,ik->i", x_test, cov, x_test))  # posterior sd of f(x_test)
    exact_log_prob = norm.logpdf(y_test, mean, np.sqrt(sigma**2 + f_sd**2))

    nuts = nuts_predictive(SmallBNN(width=0, weight_scale=s, noise_std=sigma), x, y, x_test, 300, 1000)
    assert nuts.max_rhat < 1.01 and nuts.min_ess > 500
    # the Monte Carlo mean of f(x_test) has standard error f_sd / sqrt(ESS): within 5 of them
    assert np.all(np.abs(nuts.mean() - mean) < 5 * f_sd / math.sqrt(nuts.min_ess))
    # the predictive density is the mean over draws of p_s = N(y; f_s, sigma^2); its log has Monte Carlo
    # standard error sqrt(Var[p_s] / ESS) / E[p_s], where
    # E[p_s^2] = N(y; mean, sigma^2 / 2 + f_sd^2) / sqrt(4 pi sigma^2)
    second = norm.pdf(y_test, mean, np.sqrt(sigma**2 / 2 + f_sd**2)) / math.sqrt(4 * math.pi * sigma**2)
    relative_var = second / np.exp(2 * exact_log_prob) - 1
    standard_error = np.sqrt(relative_var / nuts.min_ess)
    assert np.all(np.abs(nuts.log_prob(y_test) - exact_log_prob) < 5 * standard_error)


def test_the_argmax_likelihood_matches_the_probit_for_two_classes_and_simulation_for_four():
    rng = np.random.default_rng(1)
    f2, noise = rng.normal(size=(20, 2)) * 2, 0.3
    probs = np.asarray(argmax_probabilities(f2, noise))
    assert np.allclose(probs[:, 1], norm.cdf((f2[:, 1] - f2[:, 0]) / (noise * math.sqrt(2))), atol=1e-6)

    f4, draws = rng.normal(size=(4,)), 400_000
    simulated = np.bincount((f4 + noise * rng.normal(size=(draws, 4))).argmax(1), minlength=4) / draws
    probs = np.asarray(argmax_probabilities(f4, noise))
    assert np.isclose(probs.sum(), 1, atol=1e-6)
    assert np.all(np.abs(probs - simulated) < 5 * np.sqrt(probs * (1 - probs) / draws))


@pytest.mark.parametrize("num_classes", [None, 3])
def test_the_numpyro_model_is_the_torch_priors_model(num_classes):
    # same architecture, same parametrisation: the prior predictive spread of f at a point matches the
    # torch prior's (sd of f over many datasets, 5 standard errors of a variance estimate)
    import jax

    from pfn.evaluation.nuts import _model

    bnn = SmallBNN(width=8, weight_scale=1.3, noise_std=0.2, num_classes=num_classes)
    x = np.array([[0.7, -1.2], [0.1, 0.4]])
    trace = jax.vmap(lambda key: _draw_f(_model, bnn, x, key))(jax.random.split(jax.random.PRNGKey(0), 4000))
    kwargs = {"num_layers": 1, "width": 8, "activations": ["tanh"], "weight_scale": 1.3, "noise_std": 0.2}
    prior = BNNPrior(**kwargs) if num_classes is None else BNNClassificationPrior(num_classes=3, **kwargs)
    f_torch = prior.random_functions(torch.tensor(x, dtype=torch.float32).expand(4000, 2, 2), bnn.num_outputs,
                                     torch.Generator().manual_seed(0))  # fmt: skip
    var_jax, var_torch = np.var(np.asarray(trace), 0), f_torch.double().var(0).numpy()
    assert np.all(np.abs(var_jax / var_torch - 1) < 5 * math.sqrt(2 / 4000) * 2)


def _draw_f(model, bnn, x, key):
    from numpyro import handlers

    return handlers.trace(handlers.seed(model, key)).get_trace(bnn, x)["f"]["value"]


def test_bad_arguments_say_what_is_expected():
    with pytest.raises(ValueError, match="width must be an integer >= 0"):
        SmallBNN(width=-1)
    with pytest.raises(ValueError, match="noise_std must be a positive number or a pair"):
        SmallBNN(noise_std=(0.3, 0.1))
    with pytest.raises(ValueError, match="num_classes must be None"):
        SmallBNN(num_classes=1)
    with pytest.raises(ValueError, match="same number of columns"):
        nuts_predictive(SmallBNN(), np.zeros((3, 2)), np.zeros(3), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"y_train must have shape \(3,\)"):
        nuts_predictive(SmallBNN(), np.zeros((3, 2)), np.zeros(4), np.zeros((2, 2)))


def test_the_nuts_model_is_read_from_a_prior_description_and_other_priors_are_refused():
    from priors import TabularClassificationPrior
    from priors.hyperpriors import LogUniform

    kwargs = {"num_layers": 1, "width": 8, "activations": ["tanh"], "weight_scale": LogUniform(0.5, 2.0)}
    assert SmallBNN.from_description(BNNPrior(noise_std=0.1, **kwargs).describe()) == SmallBNN(
        width=8, activation="tanh", weight_scale=(0.5, 2.0), bias_scale=0.5, noise_std=0.1
    )
    classifier = BNNClassificationPrior(num_classes=3, noise_std=LogUniform(0.1, 0.5), **kwargs)
    assert SmallBNN.from_description(classifier.describe()).num_classes == 3
    with pytest.raises(ValueError, match="one fixed architecture"):
        SmallBNN.from_description(BNNPrior().describe())
    with pytest.raises(ValueError, match="argmax classification"):
        SmallBNN.from_description(BNNClassificationPrior(method="threshold", **kwargs).describe())
    with pytest.raises(ValueError, match="takes a BNNPrior or BNNClassificationPrior"):
        SmallBNN.from_description(TabularClassificationPrior().describe())
