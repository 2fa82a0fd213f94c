"""The exact GP posterior predictive against a direct textbook computation."""

import numpy as np
import torch
from scipy.stats import norm

from priors import GPPrior
from priors.kernels import RBF


def textbook_posterior(lengthscale, outputscale, noise, xt, yt, xs):
    """Rasmussen & Williams eq. 2.22-2.24 with an explicit inverse, plus observation noise."""

    def k(a, b):
        return outputscale * np.exp(-0.5 * ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / lengthscale**2)

    inv = np.linalg.inv(k(xt, xt) + noise * np.eye(len(xt)))
    mean = k(xs, xt) @ inv @ yt
    var = np.diag(k(xs, xs) - k(xs, xt) @ inv @ k(xt, xs)) + noise
    return mean, var


def test_matches_textbook_formula_in_2d():
    prior = GPPrior(RBF(lengthscale=0.3, outputscale=0.7), noise=0.05, max_features=2)
    batch = prior.sample(3, 30, 2, torch.Generator().manual_seed(0))
    xt, yt, xs, ys = batch.x[:, :20], batch.y[:, :20], batch.x[:, 20:], batch.y[:, 20:]
    pred = prior.posterior_predictive(xt, yt, xs)
    lp = pred.log_prob(ys)
    for b in range(3):
        mean, var = textbook_posterior(
            0.3, 0.7, 0.05, xt[b].double().numpy(), yt[b].double().numpy(), xs[b].double().numpy()
        )
        np.testing.assert_allclose(pred.mean[b].numpy(), mean, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(pred.variance[b].numpy(), var, rtol=1e-8, atol=1e-10)
        ref_lp = norm(mean, np.sqrt(var)).logpdf(ys[b].double().numpy())
        np.testing.assert_allclose(lp[b].numpy(), ref_lp, rtol=1e-8, atol=1e-10)


def test_no_context_gives_the_prior_predictive():
    prior = GPPrior()
    x = torch.rand(2, 5, 1, generator=torch.Generator().manual_seed(0))
    pred = prior.posterior_predictive(x[:, :0], torch.zeros(2, 0), x)
    assert torch.all(pred.mean == 0)
    assert torch.allclose(pred.variance, torch.full((2, 5), 0.2, dtype=torch.float64))


def test_exact_posterior_is_calibrated_on_its_own_prior():
    """Held-out targets standardised by the exact predictive are N(0, 1): a check of prior and posterior together."""
    prior = GPPrior()
    batch = prior.sample(400, 60, 1, torch.Generator().manual_seed(3))
    pred = prior.posterior_predictive(batch.x[:, :50], batch.y[:, :50], batch.x[:, 50:])
    z = ((batch.y[:, 50:] - pred.mean) / pred.variance.sqrt()).flatten()
    m = z.numel()
    assert abs(z.mean().item()) < 5 * np.sqrt(1 / m) * 2  # queries of one dataset are correlated: 2x slack
    assert abs(z.square().mean().item() - 1) < 5 * np.sqrt(2 / m) * 2


def textbook_matern52_posterior(lengthscales, outputscale, noise, jitter, mean, xt, yt, xs):
    """The GP posterior predictive of noisy targets (R&W eq. 2.22-2.24, explicit inverse) with a constant
    prior mean, Matern-5/2 kernel with one lengthscale per feature: k(r) = s (1 + sqrt5 r + 5r^2/3) e^(-sqrt5 r);
    ``jitter`` is added to the training covariance's diagonal only."""

    def k(a, b):
        r = np.sqrt((((a[:, None, :] - b[None, :, :]) / lengthscales) ** 2).sum(-1))
        return outputscale * (1 + np.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-np.sqrt(5) * r)

    inv = np.linalg.inv(k(xt, xt) + (noise + jitter) * np.eye(len(xt)))
    mu = mean + k(xs, xt) @ inv @ (yt - mean)
    var = np.diag(k(xs, xs) - k(xs, xt) @ inv @ k(xt, xs)) + noise
    return mu, var


def test_fitted_gp_predicts_the_textbook_posterior_at_its_fitted_hyperparameters():
    """The marginal-likelihood GP (evaluation's reference for BNN and hyperprior models) works on
    context-standardised data. In the data's units that is a GP with prior mean mean(y), lengthscale
    ls_k * std(x_k), output scale s * std(y)^2, noise variance noise * std(y)^2 (and 1e-8 * std(y)^2 of
    jitter on the context's covariance; population std over the context): its mean and variance must
    equal that textbook posterior to 1e-8."""
    from pfn.evaluation.gp_baseline import FittedGP

    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 5, size=(3, 15, 2)) * np.array([1.0, 0.2])
    y = np.sin(x[..., 0]) + x[..., 1] ** 2 + 0.1 * rng.normal(size=(3, 15)) + 7.0
    xt, yt, xs = x[:, :12], y[:, :12], x[:, 12:]
    gp = FittedGP(torch.from_numpy(xt), torch.from_numpy(yt), steps=30)
    pred = gp.predict(torch.from_numpy(xs))
    ls, os, noise = (t.numpy() for t in gp._hyperparameters())
    for b in range(3):
        x_std, y_std = xt[b].std(0), yt[b].std()
        mu, var = textbook_matern52_posterior(
            ls[b] * x_std, os[b] * y_std**2, noise[b] * y_std**2, 1e-8 * y_std**2, yt[b].mean(), xt[b], yt[b], xs[b]
        )
        np.testing.assert_allclose(pred.mean[b].numpy(), mu, rtol=1e-8)
        np.testing.assert_allclose(pred.variance[b].numpy(), var, rtol=1e-8)
