"""The single-run learning-curve prior (priors/run_curves.py) and the real-run curve prior of experiment=lc_real:
layout, the declared rates of declines, divergence and late gains (each a binomial share of B curves, checked
within five standard errors), what a decline and a late gain look like, the noise model, and the composed mixture.
"""

import math

import pytest
import torch

from pfn.configs import experiment_prior
from priors import LearningCurveRunPrior
from tests.helpers import five_se

B, T = 4000, 100


@pytest.fixture(scope="module")
def runs():
    prior = LearningCurveRunPrior(decline_prob=0.3, divergence_prob=0.1, late_gain_prob=0.25)
    return prior.sample_runs(B, T, torch.Generator().manual_seed(0))


def test_layout():
    batch = LearningCurveRunPrior().sample(8, 50, 1, torch.Generator().manual_seed(1))
    assert batch.x.shape == (8, 50, 1) and batch.y.shape == (8, 50)
    torch.testing.assert_close(batch.x[3, :, 0], torch.arange(1, 51) / 50)
    assert (batch.y >= 0).all() and (batch.y <= 1).all()
    assert LearningCurveRunPrior.sequential and LearningCurveRunPrior().max_features == 1


def test_declared_rates(runs):
    _, _, latent = runs
    for key, p in (("declines", 0.3), ("diverges", 0.1), ("late_gain", 0.25)):
        rate = latent[key].double().mean().item()
        assert abs(rate - p) < five_se(p, B), (key, rate)


def test_declines_rise_then_fall_and_other_runs_never_decrease(runs):
    clean, _, latent = runs
    steady = ~latent["declines"] & ~latent["diverges"]
    assert (clean[steady].diff(dim=1) >= -1e-12).all()
    # A declining run peaks at its peak epoch (before the end) and ends strictly below its maximum.
    falls = latent["declines"] & ~latent["diverges"]
    drop = clean[falls].max(1).values - clean[falls][:, -1]
    assert (drop > 0).all()
    peak_at = clean[falls].argmax(1) + 1  # the epoch of the maximum
    assert (peak_at.double() <= latent["peak"][falls].floor() + 1).all()


def test_late_gains_jump_after_40_percent(runs):
    """A late jump (logistic step of one epoch's width at 40-90% of the run) makes the biggest one-epoch gain of
    a steady run's second half far larger with it than without it."""
    clean, _, latent = runs
    steady = ~latent["declines"] & ~latent["diverges"]
    biggest = clean[:, T // 2 - 10 :].diff(dim=1).max(1).values
    with_jump = biggest[steady & latent["late_gain"]].median()
    without = biggest[steady & ~latent["late_gain"]].median()
    assert with_jump > 10 * without, (with_jump, without)


def test_noise_is_gaussian_at_the_curves_level(runs):
    """Away from the bounds (no reflection) (y - clean) / sigma is N(0, 1): mean within 5 standard errors of 0 and
    variance within 5 standard errors of 1 (the variance of a sample variance of n normals is 2 / n)."""
    clean, noisy, latent = runs
    z = (noisy - clean) / latent["sigma"][:, None]
    inside = (clean - 6 * latent["sigma"][:, None] > 0) & (clean + 6 * latent["sigma"][:, None] < 1)
    z = z[inside]
    n = z.numel()
    assert abs(z.mean().item()) < 5 / math.sqrt(n)
    assert abs(z.var().item() - 1) < 5 * math.sqrt(2 / n)


def test_experiment_lc_real_composes_its_five_components_the_last_lc_pfns_own_prior():
    prior = experiment_prior("lc_real")
    assert [type(p).__name__ for p in prior.priors] == ["LearningCurveRunPrior"] * 3 + ["LearningCurvePrior"] * 2
    assert prior.priors[-1].describe() == experiment_prior("lc").describe()
    batch = prior.sample(64, T, 1, torch.Generator().manual_seed(2))
    assert batch.y.shape == (64, T) and torch.isfinite(batch.y).all()
    for run_prior in prior.priors[:3]:  # LC-PFN's noise may leave [0, 1]; single runs stay inside
        y = run_prior.sample(64, T, 1, torch.Generator().manual_seed(2)).y
        assert (y >= 0).all() and (y <= 1).all()


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="time_scales"):
        LearningCurveRunPrior(time_scales=(0.5, 0.1))
    with pytest.raises(ValueError, match="max_chance"):
        LearningCurveRunPrior(max_chance=1.0)
    with pytest.raises(ValueError, match="decline_prob"):
        LearningCurveRunPrior(decline_prob=1.5)


def test_reach_final_rescales_steady_curves_to_end_at_their_final_level():
    """With reach_final_prob=1 every steady curve (no decline, no divergence) still rises monotonically from its
    start and ends exactly at its final level y_inf; the others are left as they are."""
    prior = LearningCurveRunPrior(reach_final_prob=1.0, decline_prob=0.3, time_scales=(0.5, 3.0))
    clean, _, latent = prior.sample_runs(2000, T, torch.Generator().manual_seed(4))
    steady = ~latent["declines"] & ~latent["diverges"]
    torch.testing.assert_close(clean[steady, -1], latent["y_inf"][steady], atol=1e-9, rtol=0)
    assert (clean[steady].diff(dim=1) >= -1e-12).all()
    assert (clean >= 0).all() and (clean <= 1).all()
    # slow shapes left alone end well below y_inf; rescaled, the same draws gain far more after 10% of the run
    plain = LearningCurveRunPrior(reach_final_prob=0.0, decline_prob=0.3, time_scales=(0.5, 3.0))
    clean0, _, _ = plain.sample_runs(2000, T, torch.Generator().manual_seed(4))
    gain = (clean[steady, -1] - clean[steady, 9]).mean()
    gain0 = (clean0[steady, -1] - clean0[steady, 9]).mean()
    assert gain > 1.5 * gain0, (gain, gain0)
