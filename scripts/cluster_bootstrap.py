"""Confidence intervals for a mean over items that come in clusters (curves of one dataset, splits of one table).

Items of one cluster are not independent (a dataset whose runs all end higher than forecast misses many
intervals at once), so the interval resamples whole clusters with replacement (the cluster bootstrap) and
takes the percentile interval of the resampled means. With one item per cluster it is the ordinary bootstrap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: bootstrap resamples per interval
RESAMPLES = 4000


def cluster_interval(
    values: Sequence[float] | np.ndarray,
    clusters: Sequence[object],
    level: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` under resampling of whole ``clusters``.

    Each resample draws as many clusters as there are, with replacement, and averages all items of the
    drawn clusters (a cluster drawn twice counts twice), so clusters of unequal size keep their weight.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or len(v) == 0:
        raise ValueError(f"values: expected a non-empty 1-D sequence, got shape {v.shape}")
    if len(clusters) != len(v):
        raise ValueError(f"clusters: expected one label per value ({len(v)}), got {len(clusters)}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: expected a probability in (0, 1), got {level}")
    _, index = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
    sums = np.bincount(index, weights=v)  # per cluster
    sizes = np.bincount(index).astype(np.float64)
    draws = np.random.default_rng(seed).integers(0, len(sums), size=(resamples, len(sums)))
    means = sums[draws].sum(1) / sizes[draws].sum(1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)
