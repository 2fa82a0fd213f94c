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
