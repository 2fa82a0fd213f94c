"""GP prior: shapes, determinism, and the distribution of its samples against the kernel."""

import math

import numpy as np
import pytest
import torch

from priors import GPPrior
from priors.kernels import RBF


def test_shapes_dtypes_and_domain():
    batch = GPPrior(max_features=3).sample(5, 17, 3, torch.Generator().manual_seed(0))
    assert batch.x.shape == (5, 17, 3) and batch.y.shape == (5, 17)
    assert batch.x.dtype == batch.y.dtype == torch.float32
    assert (batch.x >= 0).all() and (batch.x <= 1).all()
    assert torch.isfinite(batch.y).all()


def test_same_seed_same_data_other_seed_other_data():
    prior = GPPrior()
    a = prior.sample(4, 30, 1, torch.Generator().manual_seed(7))
    b = prior.sample(4, 30, 1, torch.Generator().manual_seed(7))
    c = prior.sample(4, 30, 1, torch.Generator().manual_seed(8))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.y, c.y)


def test_empirical_covariance_matches_kernel_plus_noise():
    """At fixed inputs, the sample covariance of 40k draws equals K + noise * I.

    Each entry of a sample covariance of n Gaussian draws has standard deviation
    sqrt((S_ii S_jj + S_ij^2) / n); we allow 5 of those per entry, so with 15 distinct
    entries a false alarm has probability below 1e-5.
    """
    prior = GPPrior(RBF(lengthscale=0.1, outputscale=0.1), noise=0.1)
    x = torch.tensor([0.0, 0.03, 0.1, 0.2, 0.6]).view(1, 5, 1)
    n = 40_000
    y = prior.sample_targets(x.expand(n, 5, 1), torch.Generator().manual_seed(0)).double()
    emp = torch.cov(y.T)
    expected = prior.kernel_matrix(x.double(), x.double())[0] + 0.1 * torch.eye(5, dtype=torch.float64)
    sd = ((expected.diag()[:, None] * expected.diag()[None, :] + expected**2) / n).sqrt()
    assert ((emp - expected).abs() < 5 * sd).all(), (emp - expected) / sd
    assert y.mean(0).abs().max() < 5 * math.sqrt(0.2 / n)


def test_sampled_datasets_whiten_to_standard_normal():
    """Through `sample` (random x): L^-1 y with L = chol(K(x) + noise I) is iid N(0, 1)."""
    prior = GPPrior()
    batch = prior.sample(500, 40, 1, torch.Generator().manual_seed(1))
    x = batch.x.double()
    chol = torch.linalg.cholesky(prior.kernel_matrix(x, x) + 0.1 * torch.eye(40, dtype=torch.float64))
    z = torch.linalg.solve_triangular(chol, batch.y.double().unsqueeze(-1), upper=False).flatten()
    m = z.numel()
    assert abs(z.mean().item()) < 5 / math.sqrt(m)
    assert abs(z.square().mean().item() - 1) < 5 * math.sqrt(2 / m)
    # neighbouring whitened values are uncorrelated
    zz = z.view(500, 40)
    assert abs((zz[:, 1:] * zz[:, :-1]).mean().item()) < 5 / math.sqrt(500 * 39)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: GPPrior(RBF(lengthscale=0.0)), "lengthscale"),
        (lambda: GPPrior(noise=-1.0), "noise"),
        (lambda: GPPrior(RBF(outputscale=float("nan"))), "outputscale"),
        (lambda: GPPrior(x_distribution="beta"), "x_distribution"),
    ],
)
def test_bad_hyperparameters_are_refused(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_sample_arguments_name_the_argument():
    prior = GPPrior()
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="num_features"):
        prior.sample(2, 10, 2, gen)
    with pytest.raises(ValueError, match="batch_size"):
        prior.sample(0, 10, 1, gen)
    with pytest.raises(TypeError, match="generator"):
        prior.sample(2, 10, 1, np.random.default_rng(0))
