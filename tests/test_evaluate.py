"""`pfn evaluate`: NLL, calibration and gap to the exact GP, as numbers, a table, and plots."""

import math

import numpy as np
import pytest
import torch

import pfn
from pfn.checkpoint import save_checkpoint
from pfn.evaluation.evaluate import LEVELS, evaluate, prior_of
from pfn.model import BarDistribution, PFNTransformer
from priors import GPPrior


def untrained_gp_model(tmp_path):
    """Zero output head: predicts the prior marginal, whose calibration and NLL are known."""
    prior = GPPrior()
    y = prior.sample(2048, 50, 1, torch.Generator().manual_seed(0)).y
    net = PFNTransformer(1, 100, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    bar = BarDistribution.from_samples(y, 100)
    path = save_checkpoint(
        tmp_path / "m.safetensors", net, bar, prior=prior.describe(), training={"experiment": "gp_1d"}
    )
    return pfn.load(path), prior


def test_report_numbers_table_and_plots(tmp_path):
    predictor, prior = untrained_gp_model(tmp_path)
    report = evaluate(predictor, prior, context_sizes=[0, 5, 20], num_datasets=200, num_queries=30)
    # predicting the marginal N(0, 0.2) everywhere: NLL about 0.5 log(2 pi e 0.2) = 0.614, and
    # calibrated intervals; the exact GP is better once there is context
    for row in report.rows:
        # 5 standard errors over datasets (points within a GP dataset are correlated, so this is wide)
        assert abs(row.nll - 0.5 * math.log(2 * math.pi * math.e * 0.2)) < 5 * row.nll_stderr
        for lv in LEVELS:
            assert abs(row.coverage[lv] - lv) < 0.05
    # without context the exact answer is the marginal itself: the bars (100 of them, tails matched
    # to the samples' tails) cost under 0.01 nats; with context the exact GP is far better
    assert abs(report.rows[0].gap) < 0.01 and report.rows[2].gap > 0.1
    table = report.to_markdown()
    assert table.count("\n") == 5 and "exact GP NLL" in table
    assert report.summary()["reference"] == "exact GP"
    names = sorted(p.name for p in report.plot(tmp_path / "plots"))
    assert names == ["coverage.png", "examples.png", "nll_vs_context.png"]


def test_prior_is_composed_from_the_named_experiment(tmp_path):
    predictor, _ = untrained_gp_model(tmp_path)
    prior = prior_of(predictor)
    assert isinstance(prior, GPPrior) and prior.describe() == GPPrior().describe()
    np.testing.assert_allclose(prior.kernel_matrix(torch.zeros(1, 1, 1), torch.zeros(1, 1, 1)).item(), 0.1)


def test_marginal_likelihood_gp_recovers_known_hyperparameters():
    """On a GP with known Matern-5/2 hyperparameters and 60 context points, the ML-II fit finds the
    lengthscale (median within 20%) and predicts within 0.1 nats of the exact posterior, which
    no method can beat on average (here by more than 0.02, sampling noise over 64 datasets)."""
    from pfn.evaluation.gp_baseline import FittedGP
    from priors.kernels import Matern52

    prior = GPPrior(kernel=Matern52(lengthscale=0.2, outputscale=1.0), noise=0.01, max_features=2)
    b = prior.sample(64, 110, 2, torch.Generator().manual_seed(0))
    n = 60
    gp = FittedGP(b.x[:, :n], b.y[:, :n])
    fitted = (gp._hyperparameters()[0] * gp.x_scale[:, 0]).median(0).values
    assert torch.allclose(fitted, torch.full((2,), 0.2, dtype=torch.float64), rtol=0.2), fitted
    nll = -gp.predict(b.x[:, n:]).log_prob(b.y[:, n:].double()).mean()
    exact = -prior.posterior_predictive(b.x[:, :n], b.y[:, :n], b.x[:, n:]).log_prob(b.y[:, n:]).mean()
    assert -0.02 < float(nll - exact) < 0.1
    with pytest.raises(ValueError, match="at least 2 context points"):
        FittedGP(b.x[:, :1], b.y[:, :1])


def test_models_without_an_exact_posterior_are_compared_with_the_fitted_gp(tmp_path):
    from priors.hyperpriors import LogUniform
    from priors.kernels import Matern52

    prior = GPPrior(kernel=Matern52(lengthscale=LogUniform(0.1, 1.0)), noise=0.01)
    y = prior.sample(512, 50, 1, torch.Generator().manual_seed(0)).y
    net = PFNTransformer(1, 50, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    path = save_checkpoint(tmp_path / "m.safetensors", net, BarDistribution.from_samples(y, 50), prior=prior.describe())
    report = evaluate(pfn.load(path), prior, context_sizes=[1, 10], num_datasets=32, num_queries=10)
    assert report.reference == "GP ML-II"
    assert report.rows[0].reference_nll is None and report.rows[1].reference_nll is not None
    # the untrained model predicts the marginal; the GP fitted to 10 points is much better
    assert report.rows[1].gap > 0.3 and report.summary()["reference_context_sizes"] == [10]
    assert "| 1 |" in report.to_markdown() and "— | — |" in report.to_markdown()
