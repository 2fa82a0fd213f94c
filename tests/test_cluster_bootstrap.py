"""The cluster bootstrap behind the coverage intervals of scripts/eval_curve_corpus.py, against textbook formulas:
with one item per cluster it is the binomial interval p +- 1.96 sqrt(p (1 - p) / n); clusters of identical items
count as one item each; clusters of unequal size weigh by their size."""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("cluster_bootstrap", ROOT / "scripts" / "cluster_bootstrap.py")
cb = importlib.util.module_from_spec(spec)
sys.modules["cluster_bootstrap"] = cb
spec.loader.exec_module(cb)


def test_single_items_give_the_binomial_interval():
    """400 Bernoulli(0.3) items: the percentile interval is the normal one within 0.01 (its Monte Carlo error
    with 4000 resamples is about 0.002, the skewness of a binomial of 400 shifts the ends by less than 0.003)."""
    values = (np.random.default_rng(0).random(400) < 0.3).astype(float)
    p, n = values.mean(), len(values)
    half = 1.96 * math.sqrt(p * (1 - p) / n)
    low, high = cb.cluster_interval(values, range(n))
    assert low == pytest.approx(p - half, abs=0.01) and high == pytest.approx(p + half, abs=0.01)


def test_clusters_of_identical_items_count_once():
    """20 clusters of 30 equal items: the same interval as the 20 cluster values alone (same resamples), about
    sqrt(30) times as wide as the 600 items' binomial interval would be."""
    per_cluster = (np.random.default_rng(1).random(20) < 0.5).astype(float)
    values, clusters = np.repeat(per_cluster, 30), np.repeat(np.arange(20), 30)
    interval = cb.cluster_interval(values, clusters)
    assert interval == cb.cluster_interval(per_cluster, range(20))
    p = per_cluster.mean()
    naive = 2 * 1.96 * math.sqrt(p * (1 - p) / 600)
    assert interval[1] - interval[0] == pytest.approx(math.sqrt(30) * naive, rel=0.2)


def test_clusters_weigh_by_their_size():
    """One item of 1 and 99 items of 0: half the resamples draw both clusters, whose mean is 0.01 (not 0.5, the
    mean of the two clusters' means), so the central 2% of the resampled means is 0.01."""
    values, clusters = [1.0] + [0.0] * 99, ["a"] + ["b"] * 99
    assert cb.cluster_interval(values, clusters, level=0.02) == pytest.approx((0.01, 0.01))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="values"):
        cb.cluster_interval([], [])
    with pytest.raises(ValueError, match="clusters"):
        cb.cluster_interval([1.0, 0.0], ["a"])
    with pytest.raises(ValueError, match="level"):
        cb.cluster_interval([1.0, 0.0], ["a", "b"], level=1.0)
