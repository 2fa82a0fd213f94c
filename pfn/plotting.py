"""Plot a 1-D posterior predictive: mean and central bands over the data.

Needs matplotlib (``pip install pfn[plot]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from pfn.inference.predictive import PosteriorPredictive
from pfn.inference.predictor import Predictor
from pfn.types import ArrayLike

if TYPE_CHECKING:  # matplotlib is optional: imported when plotting
    from matplotlib.axes import Axes


def plot_predictive(
    predictor: Predictor,
    x_train: ArrayLike,
    y_train: ArrayLike,
    x_grid: ArrayLike | None = None,
    levels: Sequence[float] = (0.5, 0.9),
    ax: Axes | None = None,
    color: str = "C0",
    label: str = "PFN",
) -> Axes:
    """Draw the predictive mean and central intervals of a 1-D model over ``x_grid`` with the data.

    Args:
        predictor: a loaded regression model with one input feature.
        x_train: the observed inputs, shape (n,).
        y_train: the observed targets, shape (n,).
        x_grid: where to evaluate (default: 300 points spanning the data, or [0, 1] without data).
        levels: central-interval masses to shade, e.g. (0.5, 0.9).
        ax: matplotlib axes to draw on (default: a new figure).
        color: matplotlib color of the mean and the bands.
        label: legend label prefix.

    Returns:
        The axes.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plot_predictive needs matplotlib: pip install 'pfn[plot]'") from err
    xs, ys = np.asarray(x_train, dtype=np.float64).ravel(), np.asarray(y_train, dtype=np.float64)
    if predictor.num_features != 1:
        raise ValueError(f"plot_predictive draws 1-D models; this one has {predictor.num_features} features")
    if x_grid is None:
        lo, hi = (xs.min(), xs.max()) if xs.size else (0.0, 1.0)
        if predictor.x_range is not None:
            lo, hi = predictor.x_range
        x_grid = np.linspace(lo, hi, 300)
    grid = np.asarray(x_grid, dtype=np.float64).ravel()
    pred = predictor.predict(xs, ys, grid)
    if not isinstance(pred, PosteriorPredictive):
        raise ValueError("plot_predictive draws regression models; this one is a classifier")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for i, level in enumerate(sorted(levels, reverse=True)):
        lower, upper = pred.interval(level)
        ax.fill_between(grid, lower, upper, color=color, alpha=0.15 + 0.15 * i, lw=0, label=f"{label} {level:.0%}")
    ax.plot(grid, pred.mean, color=color, label=f"{label} mean")
    ax.scatter(xs, ys, color="C3", s=14, zorder=3, label="data")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    return ax
