"""The shipped search model through `pfn.curves.Search` on held-out prior searches: the other runs of a search
make each run's forecast better than its own curve alone does, and the intervals hold the truth as often as
they say.

Held-out searches are drawn with a seed no training stream uses; every run started within the first half of a
search's observations is forecast at its later observed budgets, once from the whole first half (all runs) and
once from its own points only. Tolerances come from the sample, with searches as the independent units:
paired log-likelihood differences are averaged per search and compared with three standard errors over
searches (a one-sided z-test at level 0.0013); the 90% intervals' coverage must meet the calibration target
(87-93%) within three standard errors over searches.
"""

import math

import numpy as np
import pytest
import torch

import pfn
from pfn import curves
from pfn.evaluation.evaluate import prior_of
from pfn.pretrained import available

pytestmark = pytest.mark.skipif("search" not in available(), reason="the search model is not shipped")

SEARCHES, POINTS, CONTEXT = 48, 240, 120


@pytest.fixture(scope="module")
def held_out():
    g = torch.Generator().manual_seed(20261126)
    prior = prior_of(pfn.load("search"))  # the shipped model's own prior, as its experiment config builds it
    return prior.sample_searches(SEARCHES, POINTS, 7, g)


def forecasts(s, b: int, own_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """(log-likelihood, covered) at every query point of search ``b`` whose run started in the context."""
    run, epoch, y = s.run[b].numpy(), s.epoch[b].numpy(), s.y[b].double().numpy()
    h, length = int(s.num_hyperparameters[b]), int(s.max_epochs[b])
    context_runs = np.unique(run[:CONTEXT])
    ll, covered = [], []
    groups = [context_runs] if not own_only else [[r] for r in context_runs]
    for group in groups:
        runs = list(group)
        search = curves.Search(
            s.configs[b, runs, :h].numpy(),
            [y[:CONTEXT][run[:CONTEXT] == r] for r in runs],
            max_epochs=length,
            epochs=[epoch[:CONTEXT][run[:CONTEXT] == r] for r in runs],
        )
        later = np.flatnonzero(np.isin(run[CONTEXT:], runs)) + CONTEXT
        if later.size == 0:
            continue
        f = search.forecast_points(s.configs[b, run[later], :h].numpy(), epoch[later].astype(float))
        lo, hi = f.interval(0.9)
        ll.append(f.log_prob(y[later]))
        covered.append((lo <= y[later]) & (y[later] <= hi))
    return np.concatenate(ll), np.concatenate(covered)


def test_the_other_runs_improve_each_runs_forecast(held_out):
    gains = []
    for b in range(SEARCHES):
        full, _ = forecasts(held_out, b, own_only=False)
        own, _ = forecasts(held_out, b, own_only=True)
        gains.append(np.mean(full - own))
    gains = np.array(gains)
    se = gains.std(ddof=1) / math.sqrt(len(gains))
    assert gains.mean() > 3 * se, f"mean gain {gains.mean():.3f} nats per point, standard error {se:.3f}"


def test_intervals_hold_the_truth_as_often_as_they_say(held_out):
    """The 90% intervals' coverage within the calibration target 87-93%, widened by three standard errors over
    searches (points of one search are correlated, so the searches are the independent units)."""
    per_search = np.array([forecasts(held_out, b, own_only=False)[1].mean() for b in range(SEARCHES)])
    se = per_search.std(ddof=1) / math.sqrt(SEARCHES)
    assert 0.87 - 3 * se < per_search.mean() < 0.93 + 3 * se, f"coverage {per_search.mean():.3f}, se {se:.3f}"
