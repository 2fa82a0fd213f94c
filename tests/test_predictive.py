"""Posterior-predictive statistics against hand computations on known bins and numerical integration."""

import math

import numpy as np
import pytest
import torch

from pfn.inference.predictive import PosteriorPredictive
from pfn.model.bar_distribution import BarDistribution

BORDERS = torch.tensor([0.0, 1.0, 2.0, 4.0, 5.0, 6.0])  # 5 bins; the outer two become tails
PROBS = torch.tensor([0.1, 0.2, 0.4, 0.2, 0.1], dtype=torch.float64)
S = 1.0 / 0.6744897501960817  # tail scale: the outer bins have width 1


@pytest.fixture
def pred():
    bar = BarDistribution(BORDERS)
    logits = PROBS.log().float().view(1, 5)  # one query
    return PosteriorPredictive(
        logits.double(), bar, torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64), numpy=True
    )


def hn_mean():
    return S * math.sqrt(2 / math.pi)


def test_mean_variance_by_hand(pred):
    # left tail: 1 - S E|Z|; bins: centres 1.5 (w 1), 3 (w 2), 4.5 (w 1); right tail: 5 + S E|Z|
    m1 = [1 - hn_mean(), 1.5, 3.0, 4.5, 5 + hn_mean()]
    m2 = [1 - 2 * hn_mean() + S**2, 1.5**2 + 1 / 12, 9 + 4 / 12, 4.5**2 + 1 / 12, 25 + 10 * hn_mean() + S**2]
    mean = float(np.dot(PROBS.numpy(), m1))
    var = float(np.dot(PROBS.numpy(), m2)) - mean**2
    np.testing.assert_allclose(pred.mean, [mean], rtol=1e-6)
    np.testing.assert_allclose(pred.variance, [var], rtol=1e-6)
    np.testing.assert_allclose(pred.std, [math.sqrt(var)], rtol=1e-6)


def test_quantiles_median_cdf_by_hand(pred):
    # cumulative mass: 0.1 at 1, 0.3 at 2, 0.7 at 4, 0.9 at 5
    np.testing.assert_allclose(pred.median, [3.0], atol=1e-6)  # 0.5 is half-way through the bin [2, 4]
    np.testing.assert_allclose(pred.quantile([0.2, 0.8]), [[1.5, 4.5]], atol=1e-6)
    np.testing.assert_allclose(pred.cdf(2.5), [0.4], atol=1e-6)
    # inside the left tail: P(Y <= 1 - t) = 0.1 * erfc(t / (S sqrt 2))
    t = 0.7
    np.testing.assert_allclose(pred.cdf(1 - t), [0.1 * math.erfc(t / (S * math.sqrt(2)))], rtol=1e-5)
    # the 5% quantile sits half-way into the left tail, at its median: the old outer border, 0
    np.testing.assert_allclose(pred.quantile(0.05), [1 - S * math.sqrt(2) * 0.4769362762044699], atol=1e-6)
    lo, hi = pred.interval(0.4)
    np.testing.assert_allclose([lo[0], hi[0]], [2.0, 4.0], atol=1e-6)


def test_log_prob_mode_entropy_by_hand(pred):
    np.testing.assert_allclose(pred.log_prob(3.0), [math.log(0.4 / 2)], rtol=1e-6)
    np.testing.assert_allclose(pred.log_prob(1.5), [math.log(0.2)], rtol=1e-6)
    # right tail density at 5 + t: 0.1 * sqrt(2/pi) / S * exp(-t^2 / (2 S^2))
    t = 1.3
    expected = math.log(0.1 * math.sqrt(2 / math.pi) / S) - t**2 / (2 * S**2)
    np.testing.assert_allclose(pred.log_prob(5 + t), [expected], rtol=1e-6)
    # densities: 0.1 sqrt(2/pi)/S = 0.0538 (tails), 0.2, 0.2, 0.2 -> first maximum is the bin [1, 2]
    np.testing.assert_allclose(pred.mode, [1.5])
    half_normal_entropy = math.log(S * math.sqrt(math.pi / 2)) + 0.5
    h = -0.2 * math.log(0.2) - 0.4 * math.log(0.2) - 0.2 * math.log(0.2)
    h += 2 * (-0.1 * math.log(0.1) + 0.1 * half_normal_entropy)
    np.testing.assert_allclose(pred.entropy(), [h], rtol=1e-6)


def grid():
    """Midpoints aligned with the borders: exact inside bins, fine in the tails."""
    b = BORDERS.double()
    parts = [torch.linspace(-30, 1, 300_001, dtype=torch.float64)]
    for lo, hi in zip(b[1:-2], b[2:-1], strict=True):
        parts.append(torch.linspace(lo, hi, 2001, dtype=torch.float64)[1:])
    parts.append(torch.linspace(5, 36, 300_001, dtype=torch.float64)[1:])
    e = torch.cat(parts)
    return (e[1:] + e[:-1]) / 2, e.diff()


@pytest.mark.parametrize("best", [-2.0, 0.7, 1.0, 2.5, 4.9, 5.0, 7.5])
@pytest.mark.parametrize("maximize", [True, False])
def test_expected_and_probability_of_improvement_match_numerical_integration(pred, best, maximize):
    y, dy = grid()
    dens = pred.bar.log_prob(pred.logits.expand(y.numel(), 5), y).exp()
    gain = (y - best).clamp_min(0) if maximize else (best - y).clamp_min(0)
    ei = float((gain * dens * dy).sum())
    pi = float((((y > best) if maximize else (y < best)) * dens * dy).sum())
    np.testing.assert_allclose(pred.expected_improvement(best, maximize=maximize), [ei], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(pred.probability_of_improvement(best, maximize=maximize), [pi], rtol=1e-4, atol=1e-7)


def test_upper_confidence_bound(pred):
    np.testing.assert_allclose(pred.upper_confidence_bound(2.0), pred.mean + 2 * pred.std, rtol=1e-6)
    np.testing.assert_allclose(pred.upper_confidence_bound(1.0, maximize=False), pred.mean - pred.std, rtol=1e-6)


def test_samples_follow_the_distribution(pred):
    draws = pred.sample(200_000, generator=torch.Generator().manual_seed(0))
    assert draws.shape == (200_000, 1)
    # quantiles of the draws match the exact ones within a few binomial standard errors
    for q in (0.05, 0.3, 0.5, 0.9, 0.99):
        frac = (draws[:, 0] <= pred.quantile(q)[0]).mean()
        assert abs(frac - q) < 5 * math.sqrt(q * (1 - q) / 200_000)
    assert abs(draws.mean() - pred.mean[0]) < 5 * pred.std[0] / math.sqrt(200_000)


def test_location_scale_maps_every_statistic(pred):
    loc, scale = 7.0, 1000.0
    moved = PosteriorPredictive(pred.logits, pred.bar, torch.tensor([loc], dtype=torch.float64),
                                torch.tensor([scale], dtype=torch.float64), numpy=True)  # fmt: skip
    np.testing.assert_allclose(moved.mean, loc + scale * pred.mean, rtol=1e-9)
    np.testing.assert_allclose(moved.quantile([0.1, 0.7]), loc + scale * pred.quantile([0.1, 0.7]), rtol=1e-9)
    np.testing.assert_allclose(moved.std, scale * pred.std, rtol=1e-9)
    np.testing.assert_allclose(moved.log_prob(loc + scale * 3.3), pred.log_prob(3.3) - math.log(scale), rtol=1e-9)
    np.testing.assert_allclose(moved.entropy(), pred.entropy() + math.log(scale), rtol=1e-9)
    np.testing.assert_allclose(moved.cdf(loc + scale * 2.2), pred.cdf(2.2), rtol=1e-9)
    np.testing.assert_allclose(moved.expected_improvement(loc + scale * 4), scale * pred.expected_improvement(4.0))
    np.testing.assert_allclose(moved.mode, loc + scale * pred.mode)


def test_bad_arguments(pred):
    with pytest.raises(ValueError, match="quantile levels q must lie strictly between 0 and 1"):
        pred.quantile([0.5, 1.2])
    with pytest.raises(ValueError, match="interval level"):
        pred.interval(90)
    with pytest.raises(ValueError, match="best contains NaN"):
        pred.expected_improvement(float("nan"))
    with pytest.raises(ValueError, match="y must be a scalar or have the queries' shape"):
        pred.log_prob([1.0, 2.0])
    with pytest.raises(ValueError, match="n must be a positive integer"):
        pred.sample(0)
    with pytest.raises(ValueError, match="beta must be non-negative"):
        pred.upper_confidence_bound(-1)
