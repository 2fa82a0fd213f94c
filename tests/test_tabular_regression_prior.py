"""The tabular regression prior: the share of the target the features explain, skewed targets, irrelevance."""

import math

import pytest
import torch

from priors import TabularRegressionPrior
from priors.tabular import FEATURE_TYPES

GAUSSIAN = tuple(float(t == "gaussian") for t in FEATURE_TYPES)


def r_squared(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per dataset, the in-sample R^2 of the least-squares fit of y on x and an intercept (float64)."""
    x, y = x.double(), y.double()
    design = torch.cat([x, torch.ones(*x.shape[:2], 1, dtype=torch.float64)], dim=-1)
    coef = torch.linalg.lstsq(design, y.unsqueeze(-1)).solution
    residual = y - (design @ coef).squeeze(-1)
    return 1 - residual.var(1) / y.var(1)


@pytest.mark.parametrize("ratio", [0.5, 1.0, 3.0])
def test_linear_targets_have_the_r_squared_their_signal_to_noise_ratio_sets(ratio):
    """Identity activations and Gaussian features make the signal linear in x, so least squares on 400 points
    and 3 features recovers R^2 = s^2 / (1 + s^2) up to its overfit, about (1 - R^2) d / n, and the spread of
    a sample R^2 (sd about 2 sqrt(R^2) (1 - R^2) / sqrt(n) per dataset, averaged over 200 datasets)."""
    prior = TabularRegressionPrior(signal_to_noise=ratio, skewed_prob=0.0, irrelevant_prob=0.0,
                                   activations=["identity"], feature_mix=GAUSSIAN, max_features=3)  # fmt: skip
    batch = prior.sample(200, 400, 3, torch.Generator().manual_seed(0))
    expected = ratio**2 / (1 + ratio**2)
    got = r_squared(batch.x, batch.y).mean().item()
    overfit = (1 - expected) * 3 / 400
    se = 2 * math.sqrt(expected) * (1 - expected) / math.sqrt(400) / math.sqrt(200)
    assert abs(got - expected - overfit) < 5 * se + 0.005, (got, expected)


def test_a_table_of_irrelevant_features_explains_nothing():
    """Every feature irrelevant: the target is noise, and least squares explains only its overfit, d / n."""
    prior = TabularRegressionPrior(signal_to_noise=10.0, skewed_prob=0.0, irrelevant_prob=1.0, max_features=3)
    batch = prior.sample(200, 400, 3, torch.Generator().manual_seed(1))
    assert r_squared(batch.x, batch.y).mean().item() < 3 * 3 / 400


def test_skewed_targets_are_positive_and_right_skewed_in_their_share_of_tables():
    """Unskewed targets t are standardised noisy signals (negative values in any table of 100 points); skewed
    ones are exp(a t), a ~ U(0.2, 1): all positive, their logs' sd is a (mean 0.6, sd 0.23 per table), and
    most are right-skewed. Their share is Binomial(400, 0.3)."""
    prior = TabularRegressionPrior(skewed_prob=0.3, max_features=2)
    y = prior.sample(400, 100, 2, torch.Generator().manual_seed(2)).y.double()
    positive = (y > 0).all(1)
    share = positive.double().mean().item()
    assert abs(share - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 400)
    assert torch.allclose(y[~positive].std(1), torch.ones(1, dtype=torch.float64), atol=1e-5)
    rate = y[positive].log().std(1)
    assert ((rate > 0.2 - 1e-5) & (rate < 1 + 1e-5)).all()
    assert abs(rate.mean().item() - 0.6) < 4 * 0.8 / math.sqrt(12) / math.sqrt(len(rate))
    centred = y[positive] - y[positive].mean(1, keepdim=True)
    skewness = (centred**3).mean(1) / centred.pow(2).mean(1) ** 1.5
    assert (skewness > 0).double().mean() > 0.8


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="noise_std is not an argument"):
        TabularRegressionPrior(noise_std=0.1)
    with pytest.raises(ValueError, match="x_distribution is not an argument"):
        TabularRegressionPrior(x_distribution="uniform")
    with pytest.raises(ValueError, match="skewed_prob"):
        TabularRegressionPrior(skewed_prob=1.5)
    with pytest.raises(ValueError, match="feature_mix must be 5 probabilities"):
        TabularRegressionPrior(feature_mix=(0.5, 0.5))
