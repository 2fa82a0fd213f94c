"""Posterior-predictive statistics against hand computations on known bins and numerical integration."""

import math

import numpy as np
import pytest
import torch

from pfn.inference.predictive import DecodedLogits, PosteriorPredictive
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
    """y = loc + scale * z: locations move and scale, spreads scale, densities gain -log(scale)."""
    loc, scale = 7.0, 1000.0
    moved = PosteriorPredictive(pred.logits, pred.bar, torch.tensor([loc], dtype=torch.float64),
                                torch.tensor([scale], dtype=torch.float64), numpy=True)  # fmt: skip
    np.testing.assert_allclose(moved.mean, loc + scale * pred.mean, rtol=1e-12)
    np.testing.assert_allclose(moved.median, loc + scale * pred.median, rtol=1e-12)
    np.testing.assert_allclose(moved.quantile([0.1, 0.7]), loc + scale * pred.quantile([0.1, 0.7]), rtol=1e-12)
    for a, b in zip(moved.interval(0.8), pred.interval(0.8), strict=True):
        np.testing.assert_allclose(a, loc + scale * b, rtol=1e-12)
    np.testing.assert_allclose(moved.std, scale * pred.std, rtol=1e-12)
    np.testing.assert_allclose(moved.variance, scale**2 * pred.variance, rtol=1e-12)
    np.testing.assert_allclose(moved.log_prob(loc + scale * 3.3), pred.log_prob(3.3) - math.log(scale), rtol=1e-12)
    np.testing.assert_allclose(moved.entropy(), pred.entropy() + math.log(scale), rtol=1e-12)
    np.testing.assert_allclose(moved.cdf(loc + scale * 2.2), pred.cdf(2.2), rtol=1e-12)
    for maximize in (True, False):
        np.testing.assert_allclose(
            moved.expected_improvement(loc + scale * 4, maximize), scale * pred.expected_improvement(4.0, maximize)
        )
        np.testing.assert_allclose(
            moved.probability_of_improvement(loc + scale * 2.5, maximize),
            pred.probability_of_improvement(2.5, maximize),
        )
        np.testing.assert_allclose(
            moved.upper_confidence_bound(1.5, maximize), loc + scale * pred.upper_confidence_bound(1.5, maximize)
        )
    np.testing.assert_allclose(moved.mode, loc + scale * pred.mode)
    draws = [p.sample(1000, generator=torch.Generator().manual_seed(3)) for p in (moved, pred)]
    np.testing.assert_allclose(draws[0], loc + scale * draws[1], rtol=1e-12)


def test_statistics_are_float64_and_keep_a_large_location(pred):
    """The map to user units runs in float64: a shift of 1e7 keeps ~1e-9 resolution (float32: 1)."""
    loc = 1e7 + 0.123456
    loc_t, scale_t = torch.tensor([loc], dtype=torch.float64), torch.tensor([1e-3], dtype=torch.float64)
    moved = PosteriorPredictive(pred.logits.float(), pred.bar, loc_t, scale_t, numpy=False)
    mean, var = float(pred.mean[0]), float(pred.variance[0])
    assert moved.mean.dtype == torch.float64
    assert abs(moved.mean.item() - (loc + 1e-3 * mean)) < 1e-9 + 1e-3 * 1e-6 * abs(mean)  # float32 bar mean
    assert math.isclose(moved.variance.item(), 1e-6 * var, rel_tol=1e-5)
    assert math.isclose(moved.cdf(loc + 1e-3 * 2.5).item(), 0.4 + 0.5 * 0.2 / 2 - 0.2 / 2 + 0.05, rel_tol=1e-6)


def chunked(pred, step):
    """The same predictive, its logits served 'step' queries at a time (as for very many queries)."""
    logits = pred.logits
    source = DecodedLogits(lambda i, j: logits[i:j], tuple(logits.shape), logits.dtype, logits.device, step)
    return PosteriorPredictive(source, pred.bar, pred.loc, pred.scale, numpy=True)


def test_chunked_statistics_equal_whole_ones():
    logits = torch.randn(10, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    whole = PosteriorPredictive(logits, BarDistribution(BORDERS), torch.tensor(2.0), torch.tensor(3.0), numpy=True)
    parts = chunked(whole, 3)
    y = np.linspace(-2, 12, 10)
    for stat in (
        lambda p: p.mean, lambda p: p.variance, lambda p: p.std, lambda p: p.mode, lambda p: p.median,
        lambda p: p.quantile([0.01, 0.5, 0.99]), lambda p: p.quantile([]), lambda p: p.interval(0.5)[1],
        lambda p: p.cdf(y), lambda p: p.log_prob(y), lambda p: p.entropy(),
        lambda p: p.expected_improvement(y), lambda p: p.expected_improvement(y, maximize=False),
        lambda p: p.probability_of_improvement(y), lambda p: p.upper_confidence_bound(),
        lambda p: p.logits,
    ):  # fmt: skip
        # equal up to the rounding of a matrix product over fewer rows (CPU kernels may sum in another order)
        np.testing.assert_allclose(stat(parts), stat(whole), rtol=1e-12, atol=1e-12)
    # samples are drawn chunk by chunk (other draws, same distribution): P(Y <= y) within 5 binomial errors
    n = 20_000
    draws = parts.sample(n, generator=torch.Generator().manual_seed(1))
    assert draws.shape == (n, 10)
    np.testing.assert_allclose((draws <= 6.0).mean(0), whole.cdf(6.0), atol=5 * 0.5 / math.sqrt(n))


def test_edge_statistics(pred):
    assert pred.quantile([]).shape == (1, 0)
    np.testing.assert_array_equal(pred.cdf(math.inf), [1.0])
    np.testing.assert_array_equal(pred.cdf(-math.inf), [0.0])
    np.testing.assert_array_equal(pred.probability_of_improvement(-math.inf), [1.0])
    assert pred.log_prob(math.inf)[0] == -math.inf and pred.log_prob(-math.inf)[0] == -math.inf
    y = torch.tensor([3.0], requires_grad=True)  # the bin [2, 4] holds 0.4: density 0.2
    np.testing.assert_allclose(pred.log_prob(y), [math.log(0.2)], rtol=1e-7)  # the fixture went through float32
    for bad in (float("nan"), 2.5, 0, -3, True, "4"):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            pred.sample(bad)
    assert pred.sample(2.0).shape == (2, 1)
    with pytest.raises(ValueError, match="y must be real-valued"):
        pred.cdf(np.array([1 + 2j]))
    with pytest.raises(ValueError, match="best must be real-valued"):
        pred.expected_improvement(torch.tensor([1 + 1j]))
    with pytest.raises(ValueError, match="y contains NaN"):
        pred.log_prob(float("nan"))
    with pytest.raises(ValueError, match="best contains NaN or inf"):
        pred.expected_improvement(math.inf)


@pytest.mark.parametrize("gap", [1e4, 1e20, 1e300])
def test_expected_improvement_far_beyond_the_predictive(gap):
    """Far beyond the predictive, EI is 0 on the hopeless side and |mean - best| on the sure side, exactly
    (float32 logits, as the predictor gives; subtracting means gave 14.4 for 0, and NaN at 1e20)."""
    logits = PROBS.log().float().view(1, 5)
    pred = PosteriorPredictive(logits, BarDistribution(BORDERS), torch.tensor([0.0]), torch.tensor([1.0]), True)
    mean = float(pred.mean[0])
    assert pred.expected_improvement(mean + gap)[0] == 0
    assert pred.expected_improvement(mean - gap, maximize=False)[0] == 0
    np.testing.assert_allclose(pred.expected_improvement(mean - gap), [gap], rtol=1e-6)
    np.testing.assert_allclose(pred.expected_improvement(mean + gap, maximize=False), [gap], rtol=1e-6)


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
    with pytest.raises(ValueError, match="beta must be a non-negative number"):
        pred.upper_confidence_bound(-1)


def test_expected_improvement_when_the_normalised_threshold_overflows():
    """best = +-1e300 with a predictive scale of 1e-10: (best - loc) / scale overflows float64, yet EI is
    still 0 on the hopeless side and |mean - best| on the sure side."""
    logits = PROBS.log().float().view(1, 5)
    scale = torch.tensor([1e-10], dtype=torch.float64)
    pred = PosteriorPredictive(logits, BarDistribution(BORDERS), torch.tensor([5.0], dtype=torch.float64), scale, True)
    assert pred.expected_improvement(1e300)[0] == 0 and pred.expected_improvement(-1e300, maximize=False)[0] == 0
    np.testing.assert_allclose(pred.expected_improvement(-1e300), [1e300], rtol=1e-15)
    np.testing.assert_allclose(pred.expected_improvement(1e300, maximize=False), [1e300], rtol=1e-15)


@pytest.mark.parametrize("gap", [1e2, 1e4])
def test_expected_improvement_in_a_far_pareto_tail(gap):
    """Far below the bins, only the left Pareto tail can improve on a minimiser's best: EI = p_0 E[(T - a)+]
    with a = b[1] - best, the Lomax(3, s) excess s / 2 (1 + a / s)^-2 (tiny, not 0): computed directly,
    not as a difference of numbers near |best|, it keeps its relative precision. Mirrored for maximising."""
    logits = PROBS.log().float().view(1, 5)
    bar = BarDistribution(BORDERS, "pareto")
    pred = PosteriorPredictive(logits, bar, torch.tensor([0.0]), torch.tensor([1.0]), numpy=True)
    s = 1.0 / (2 ** (1 / 3) - 1)  # outer widths 1
    p_outer = float(torch.softmax(logits.double(), -1)[0, 0])  # 0.1, as float32 logits give it
    excess = s / 2 * (1 + gap / s) ** -2
    np.testing.assert_allclose(pred.expected_improvement(1.0 - gap, maximize=False), [p_outer * excess], rtol=1e-9)
    np.testing.assert_allclose(pred.expected_improvement(5.0 + gap), [p_outer * excess], rtol=1e-9)
