"""The hyperparameter-search prior (priors/search.py, `prior=search`, `experiment=search`): the input layout, the
search history (every prefix a valid "observed so far", runs told apart by their configuration, a schedule that
ignores the curves), the noise model, nearby configurations learning alike, the declared rates of declines,
divergence and late gains, reproducibility, the experiment config and a tiny training run.

Rates are checked per search (each search's share of its runs, equal weight per search): a share in [0, 1] with
mean p has variance at most p (1 - p), so its mean over B searches is within 5 sqrt(p (1 - p) / B) of p (five
binomial standard errors) whatever the correlation of runs within a search. Other tolerances are 5 standard
errors of the Monte Carlo estimate unless said otherwise."""

import json
import math

import pytest
import torch
from hydra.utils import instantiate

import pfn
from pfn.configs import compose_train_config
from pfn.data import PriorStream
from pfn.training.train import train
from priors import LearningCurveSearchPrior
from priors.search import FUNCTIONS
from tests.helpers import five_se
from tests.test_training import compose_cfg


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def used_runs(s) -> torch.Tensor:
    return torch.arange(s.stop.shape[1])[None, :] < s.num_runs[:, None]


# -- layout, reproducibility ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("d", range(2, 8))
def test_layout_shapes_and_ranges_for_every_width(d):
    prior = LearningCurveSearchPrior()
    for n in (1, 2, 300):
        s = prior.sample_searches(16, n, d, gen(d))
        assert s.x.shape == (16, n, d) and s.y.shape == (16, n)
        assert s.x.dtype == s.y.dtype == torch.float32
        assert torch.isfinite(s.x).all() and torch.isfinite(s.y).all()
        assert (s.x >= 0).all() and (s.x <= 1).all() and (s.y >= 0).all() and (s.y <= 1).all()
        # The budget is the last column: epoch / L on a linear scale, in (0, 1].
        assert ((s.max_epochs >= 10) & (s.max_epochs <= 100)).all()
        assert (s.epoch >= 1).all() and (s.epoch <= s.max_epochs[:, None]).all()
        assert torch.equal(s.x[..., -1], (s.epoch.double() / s.max_epochs[:, None]).float())
        # h hyperparameters, the other columns zero.
        h = s.num_hyperparameters
        assert ((h >= 1) & (h <= d - 1)).all()
        unused = torch.arange(d - 1)[None, None, :] >= h[:, None, None]
        assert (s.x[..., :-1][unused.expand(16, n, d - 1)] == 0).all()
        # A run is observed at most up to its stopping budget.
        assert (s.epoch <= torch.gather(s.stop, 1, s.run)).all()
    batch = prior.sample(16, 300, d, gen(d))  # sample() is the history of sample_searches()
    assert torch.equal(batch.x, s.x) and torch.equal(batch.y, s.y)


def test_same_seed_same_batch_declarations_and_description():
    prior = LearningCurveSearchPrior()
    a = prior.sample(8, 200, 5, gen(0))
    b = prior.sample(8, 200, 5, gen(0))
    c = prior.sample(8, 200, 5, gen(1))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and not torch.equal(a.y, c.y)
    assert a.x.device == a.y.device == torch.device("cpu")
    s = prior.sample_searches(8, 200, 5, gen(0), full_curves=True)
    assert s.clean.dtype == s.configs.dtype == s.curves.dtype == torch.float64
    assert all(t.device == torch.device("cpu") for t in (s.run, s.epoch, s.stop, s.curves, s.sigma))
    assert prior.sequential and prior.samples_on_any_device and prior.input_range == (0.0, 1.0)
    assert prior.exact_posterior is None and prior.max_features == 7
    desc = prior.describe()
    json.dumps(desc)
    assert desc["name"] == "LearningCurveSearchPrior" and desc["decline_prob"] == 0.2


# -- the search history ---------------------------------------------------------------------------------------------


def test_every_prefix_is_a_valid_history_and_a_run_is_its_configuration():
    """Seen as the model sees it (runs = distinct configurations, budgets = the last column): at every position the
    point's epoch is one more than the number of earlier points of its run, so budgets strictly increase along each
    run and every prefix holds each run's epochs 1 .. b without gaps. Few hyperparameters with discrete levels are
    the hardest case for telling runs apart (one always stays continuous)."""
    n = 400
    s = LearningCurveSearchPrior().sample_searches(48, n, 3, gen(0))
    for b in range(48):
        _, ids = torch.unique(s.x[b, :, :-1], dim=0, return_inverse=True)
        runs = s.run[b]
        # The same partition: a configuration is one run and a run one configuration.
        assert torch.unique(ids).numel() == torch.unique(runs).numel() == torch.unique(ids * 10_000 + runs).numel()
        earlier = torch.nn.functional.one_hot(ids).cumsum(0).gather(1, ids[:, None]).squeeze(1)  # counts this one
        assert torch.equal(s.epoch[b], earlier)
        assert torch.equal((s.x[b, :, -1].double() * s.max_epochs[b]).round().long(), earlier)


def test_queries_mix_future_budgets_of_started_runs_and_runs_not_started():
    """At a split, the queries (all remaining points) are the continuation of started runs and new runs, both in
    substantial shares, and the full budget is among them."""
    s = LearningCurveSearchPrior().sample_searches(200, 500, 7, gen(1))
    started, full_budget = [], 0
    for b in range(200):
        n = 100 + b  # splits from 100 to 299
        context = torch.zeros(s.stop.shape[1], dtype=torch.bool)
        context[s.run[b, :n]] = True
        started.append(context[s.run[b, n:]].double().mean().item())
        full_budget += int((s.epoch[b, n:] == s.max_epochs[b]).any())
    share = sum(started) / len(started)
    assert 0.3 < share < 0.8, share
    assert full_budget > 100, full_budget  # most searches have a run reaching L after the split


def test_the_schedule_ignores_the_curves():
    """Which runs are started, continued and stopped is independent of their curves: priors that differ only in the
    curves (declines, divergence, late gains, noise) give the same runs, epochs and inputs from the same seed (so a
    query's presence says nothing about its value), and different values."""
    a = LearningCurveSearchPrior(decline_prob=0.05, divergence_prob=0.0, late_gain_prob=0.0, noise_log_mean=-5.0)
    b = LearningCurveSearchPrior(decline_prob=0.9, divergence_prob=0.5, late_gain_prob=1.0, noise_log_mean=-2.0)
    sa, sb = a.sample_searches(32, 300, 4, gen(3)), b.sample_searches(32, 300, 4, gen(3))
    assert torch.equal(sa.run, sb.run) and torch.equal(sa.epoch, sb.epoch) and torch.equal(sa.x, sb.x)
    assert not torch.equal(sa.clean, sb.clean) and not torch.equal(sa.y, sb.y)


# -- values ---------------------------------------------------------------------------------------------------------


def test_points_are_the_curves_plus_gaussian_noise_of_the_runs_level():
    """The noise-free values are the runs' curves at their epochs; away from the bounds (where the reflection into
    [0, 1] does not act) the standardised noise (y - clean) / sigma is N(0, 1)."""
    prior = LearningCurveSearchPrior()
    s = prior.sample_searches(256, 300, 4, gen(2), full_curves=True)
    grid = torch.gather(s.curves.flatten(1), 1, s.run * prior.max_epochs + s.epoch - 1)
    torch.testing.assert_close(s.clean, grid, atol=1e-12, rtol=0)
    assert (s.clean >= 0).all() and (s.clean <= 1).all()
    sigma = torch.gather(s.sigma, 1, s.run)
    keep = (s.clean > 0.2) & (s.clean < 0.8) & (sigma < 0.04)  # beyond 15 sigma of a bound
    z = ((s.y.double() - s.clean) / sigma)[keep]
    m = z.numel()
    assert m > 20_000
    assert abs(z.mean().item()) < 5 / math.sqrt(m)
    assert abs(z.var().item() - 1) < 5 * math.sqrt(2 / m)


def test_the_config_functions_are_standard_normal_with_the_rbf_correlation():
    """Each random function of the configuration is N(0, 1) at a configuration (mean, variance, upper tail), and
    the correlation of its values at two configurations a distance r apart is the RBF kernel exp(-r^2 / 2 l^2)
    averaged over the lengthscale hyperprior (l = 0.5 sqrt(h) exp(0.5 z + 0.3 z') per dimension, by Monte Carlo),
    within 5 standard errors plus 0.01 for the random-feature approximation: nearby configurations learn alike."""
    prior = LearningCurveSearchPrior(irrelevant_prob=0.0)
    b, h = 4000, 3
    g = gen(4)
    c0 = torch.rand(b, 1, h, generator=g, dtype=torch.float64)
    direction = torch.randn(b, 1, h, generator=g, dtype=torch.float64)
    direction = direction / direction.norm(dim=-1, keepdim=True)
    distances = (0.03, 0.3, 0.8, 1.5)  # beyond [0, 1] is fine for the functions themselves
    points = torch.cat([c0, *(c0 + r * direction for r in distances)], 1)
    f = prior.config_functions(points, torch.full((b,), h), g)  # (B, 1 + len(distances), F)
    assert f.shape == (b, 1 + len(distances), len(FUNCTIONS))
    at = f[:, 0].flatten()  # B * F draws, independent across searches and functions
    m = at.numel()
    assert abs(at.mean().item()) < 5 / math.sqrt(m)
    assert abs(at.var().item() - 1) < 5 * math.sqrt(2 / m)
    assert abs((at > 1.6449).double().mean().item() - 0.05) < five_se(0.05, m)
    mc = gen(5)
    n = 400_000
    z = 0.5 * torch.randn(n, h, generator=mc, dtype=torch.float64) + 0.3 * torch.randn(
        n, h, generator=mc, dtype=torch.float64
    )
    ls = 0.5 * math.sqrt(h) * z.exp()
    u = torch.randn(n, h, generator=mc, dtype=torch.float64)
    u = u / u.norm(dim=-1, keepdim=True)
    correlations = []
    for i, r in enumerate(distances):
        per_search = (f[:, 0] * f[:, 1 + i]).mean(1)  # E[f f'] is the correlation: unit variances
        kernel = torch.exp(-0.5 * (r * u / ls).square().sum(1)).mean().item()
        se = per_search.std().item() / math.sqrt(b)
        assert abs(per_search.mean().item() - kernel) < 5 * se + 0.01, (r, per_search.mean().item(), kernel)
        correlations.append(per_search.mean().item())
    assert correlations == sorted(correlations, reverse=True) and correlations[0] > 0.99 and correlations[-1] < 0.3


def test_nearby_configurations_end_alike():
    """Within a search, runs whose configurations are close end (noise-free, at the full budget) closer together than
    runs far apart: per search, the mean |difference of final values| over far pairs minus that over close pairs is
    positive, by more than 5 standard errors over searches."""
    s = LearningCurveSearchPrior().sample_searches(300, 300, 3, gen(5), full_curves=True)
    final = torch.gather(s.curves, 2, (s.max_epochs - 1)[:, None, None].expand(-1, s.curves.shape[1], 1)).squeeze(2)
    gaps = []
    for b in range(300):
        k = int(s.num_runs[b])
        h = int(s.num_hyperparameters[b])
        c, y = s.configs[b, :k, :h], final[b, :k]
        dist = torch.cdist(c, c)
        diff = (y[:, None] - y[None, :]).abs()
        pair = torch.ones(k, k, dtype=torch.bool).triu(1)
        close, far = pair & (dist < 0.1), pair & (dist > 0.5)
        if close.any() and far.any():
            gaps.append((diff[far].mean() - diff[close].mean()).item())
    gaps_t = torch.tensor(gaps, dtype=torch.float64)
    assert len(gaps) > 150
    assert gaps_t.mean() > 5 * gaps_t.std() / math.sqrt(len(gaps)), (gaps_t.mean(), gaps_t.std())
    assert (gaps_t > 0).double().mean() > 0.7


# -- declared rates -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rates",
    [
        {"decline_prob": 0.2, "divergence_prob": 0.03, "late_gain_prob": 0.15},
        {"decline_prob": 0.6, "divergence_prob": 0.3, "late_gain_prob": 0.5},
    ],
    ids=["defaults", "high"],
)
def test_declines_divergence_and_late_gains_appear_at_the_declared_rates(rates):
    """Read off the noise-free curves: a run that diverged sits at the chance level at the end; one that declined
    (and did not diverge) ends strictly below its maximum; every other curve never decreases. These observations are
    exactly the declared flags, and they occur at the declared rates. Late-gain searches jump around their epoch."""
    prior = LearningCurveSearchPrior(min_epochs=20, max_epochs=40, **rates)
    b = 3000
    s = prior.sample_searches(b, 40, 3, gen(6), full_curves=True)
    used = used_runs(s)
    t = torch.arange(1, prior.max_epochs + 1)
    valid = t[None, None, :] <= s.max_epochs[:, None, None]
    curves = torch.where(valid, s.curves, torch.nan)
    last = (s.max_epochs - 1)[:, None, None].expand(-1, curves.shape[1], 1)
    final = torch.gather(curves, 2, last).squeeze(2)
    peak = curves.nan_to_num(-1.0).amax(2)
    diverged = (final == s.chance[:, None]) & used
    declined = ~diverged & (peak - final > 0) & used
    assert torch.equal(diverged, s.diverges & used) and torch.equal(declined, s.declines & ~s.diverges & used)
    steps = curves.diff(dim=2)
    rest = used & ~diverged & ~declined
    assert (steps[rest.unsqueeze(2).expand_as(steps) & valid[:, :, 1:]] >= 0).all()
    # Rates, per search.
    p = rates["divergence_prob"]
    share = (diverged.sum(1) / s.num_runs).double()
    assert abs(share.mean().item() - p) < five_se(p, b), share.mean()
    alive = used & ~diverged
    has = alive.sum(1) > 0
    p = rates["decline_prob"]
    share = (declined.sum(1)[has] / alive.sum(1)[has]).double()  # declines are independent of divergence
    assert abs(share.mean().item() - p) < five_se(p, int(has.sum())), share.mean()
    p = rates["late_gain_prob"]
    assert abs(s.late_gain.double().mean().item() - p) < five_se(p, b)
    # A late-gain search's plain runs rise by at least 0.46 J of what they had gained, within two epochs of the jump.
    jump = s.late_gain_epoch[s.late_gain]
    lo, hi = jump.floor().long() - 1, jump.ceil().long() + 1  # epochs; the logistic step moves 0.27 -> 0.73
    assert (hi <= s.max_epochs[s.late_gain]).all()
    c = curves[s.late_gain]
    y_lo = torch.gather(c, 2, (lo - 1)[:, None, None].expand(-1, c.shape[1], 1)).squeeze(2)
    y_hi = torch.gather(c, 2, (hi - 1)[:, None, None].expand(-1, c.shape[1], 1)).squeeze(2)
    chance = s.chance[s.late_gain][:, None]
    ratio = (y_hi - y_lo) / (y_lo - chance)
    plain = rest[s.late_gain]
    assert plain.sum() > 100
    assert (ratio >= 0.46 * s.late_gain_share[s.late_gain][:, None] - 1e-9)[plain].all()
    assert torch.equal(s.late_gain_share[~s.late_gain], torch.zeros(int((~s.late_gain).sum()), dtype=torch.float64))


def test_rates_zero_and_one():
    s = LearningCurveSearchPrior(decline_prob=0.0, divergence_prob=1.0, late_gain_prob=0.0).sample_searches(
        64, 100, 3, gen(7)
    )
    used = used_runs(s)
    assert not s.declines.any() and torch.equal(s.diverges, used) and not s.late_gain.any()
    s = LearningCurveSearchPrior(decline_prob=1.0, divergence_prob=0.0, late_gain_prob=1.0).sample_searches(
        64, 100, 3, gen(7)
    )
    assert torch.equal(s.declines, used) and not s.diverges.any() and s.late_gain.all()


# -- training path --------------------------------------------------------------------------------------------------


def test_experiment_config_and_stream():
    cfg = compose_train_config("search", ["paths.output_dir=."])
    assert cfg.data.num_features == cfg.data.min_features == 7  # the budget stays the last column
    assert cfg.data.num_points == 500 and cfg.data.max_context == 450 and cfg.data.min_context == 1
    assert cfg.model.normalization.x == cfg.model.normalization.y == "none"
    assert cfg.model.bins.tails == "half_normal" and cfg.trainer.max_steps >= 50_000
    prior = instantiate(cfg.prior)
    assert isinstance(prior, LearningCurveSearchPrior) and prior.max_features == 7
    stream = PriorStream(prior, 4, 500, 7, 1, 450, seed=0, min_features=7)
    batch = stream.batch_at(0)
    assert batch["x"].shape == (4, 500, 7) and batch["y"].shape == (4, 500)
    assert (batch["x"][..., -1] > 0).all() and (batch["x"][..., -1] <= 1).all()


def test_a_tiny_training_run_exports_a_model_that_predicts_searches(tmp_path):
    tiny = [
        "model.net.d_model=16", "model.net.n_layers=1", "model.net.n_heads=2", "model.net.d_ff=32",
        "model.net.num_bins=20", "data.batch_size=4", "data.num_points=60", "data.max_context=50",
        "data.num_val_batches=1", "trainer.max_steps=2", "callbacks=none",
    ]  # fmt: skip
    path = train(compose_cfg(tmp_path, *tiny, experiment="search"))
    predictor = pfn.load(path)
    assert predictor.config["prior"]["name"] == "LearningCurveSearchPrior"
    s = LearningCurveSearchPrior().sample(2, 60, 7, gen(8))
    mean = predictor.predict(s.x[:, :40], s.y[:, :40], s.x[:, 40:]).mean
    assert torch.as_tensor(mean).shape == (2, 20) and torch.isfinite(torch.as_tensor(mean)).all()


# -- argument checks ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"max_features": 1}, "max_features"),
        ({"min_epochs": 1}, "min_epochs"),
        ({"min_epochs": 20, "max_epochs": 10}, "max_epochs"),
        ({"decline_prob": 1.5}, "decline_prob"),
        ({"divergence_prob": -0.1}, "divergence_prob"),
        ({"late_gain_prob": True}, "late_gain_prob"),
        ({"decline_spread": -1.0}, "decline_spread"),
        ({"noise_log_std": -1.0}, "noise_log_std"),
        ({"irrelevant_prob": 1.0}, "irrelevant_prob"),
        ({"lengthscale": 0.0}, "lengthscale"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        LearningCurveSearchPrior(**kwargs)


def test_sample_needs_a_hyperparameter_and_the_budget():
    with pytest.raises(ValueError, match="num_features"):
        LearningCurveSearchPrior().sample(2, 10, 1, gen(0))
    with pytest.raises(ValueError, match="num_features"):
        LearningCurveSearchPrior(max_features=3).sample(2, 10, 4, gen(0))
