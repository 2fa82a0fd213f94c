"""Scores of several estimators on the same seeded train/test splits of each dataset (the eval_* scripts)."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

TRAIN_MAX, TEST_MAX = 500, 1000

Score = Callable[[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray], dict[str, float]]


def scores_over_splits(
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    names: list[str],
    methods: dict[str, Callable[[int, int], Any]],
    score: Score,
    splits: int,
    stratified: bool,
) -> dict[str, dict[str, dict[str, float]]]:
    """Per dataset and method, each score's mean over ``splits`` splits (``seconds``: the median).

    Each dataset is split (stratified by y for classifiers, seeded) into a training part of min(500, n / 2)
    points and a test part of at most 1000; ``methods`` maps names to factories of (split seed, columns), and
    ``score(estimator, X, y, train, test)`` fits and scores one estimator on one split.
    """
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name in names:
        X, y = data[name]
        train_size = min(TRAIN_MAX, len(y) // 2)
        test_size = min(TEST_MAX, len(y) - train_size)
        splitter = (StratifiedShuffleSplit if stratified else ShuffleSplit)(
            splits, train_size=train_size, test_size=test_size, random_state=0
        )
        per_method: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
        for seed, (train, test) in enumerate(splitter.split(X, y)):
            for method, make in methods.items():
                per_method[method].append(score(make(seed, X.shape[1]), X, y, train, test))
        results[name] = {
            m: {k: (statistics.median if k == "seconds" else statistics.mean)([s[k] for s in runs]) for k in runs[0]}
            for m, runs in per_method.items()
        }
        print(name, {m: {k: round(v, 4) for k, v in r.items()} for m, r in results[name].items()}, flush=True)
    return results
