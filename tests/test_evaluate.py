"""`pfn evaluate`: NLL, calibration and gap to the exact GP, as numbers, a table, and plots."""

import math

import numpy as np
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
