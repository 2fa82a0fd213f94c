"""A curve's values and budgets in the model's units: the value map, the budget positions and thinning.

The model sees a curve as points ``(x, u)``: ``u`` maps the values so that higher is better and
the metric's range (closed bounds, or the curve's own extremes on an open side) is [0, 1]; ``x``
places the budgets on the model's grid, the first observed budget one grid step after 0 and the
final budget (``max_epochs``) at 1, evenly on the linear or log budget scale. A curve longer than
the model's context is thinned to the budgets nearest to evenly spaced ones.
"""

from __future__ import annotations

import numpy as np

from pfn.curves.checks import (
    BUDGET_SCALES,
    DIRECTIONS,
    Bounds,
    _check_bounds,
    _choice,
    _curve,
    _is_number,
    _number,
    _numbers,
)
from pfn.types import ArrayLike


def _steadily_worse(u: np.ndarray) -> bool:
    """At least 5 points, at least 80% of the steps worse, and over 5% of the range lost overall."""
    return len(u) >= 5 and u[-1] < u[0] - 0.05 and (np.diff(u) < 0).mean() >= 0.8


def _value_map(values: np.ndarray, direction: str, bounds: Bounds) -> tuple[float, float, float]:
    """(loc, span, sign) with ``v = loc + sign * span * u``; an open bound is the curve's own extreme."""
    lo = float(values.min()) if bounds[0] is None else bounds[0]
    hi = float(values.max()) if bounds[1] is None else bounds[1]
    return (lo, hi - lo, 1.0) if direction == "maximize" else (hi, hi - lo, -1.0)


def _check_value_range(values: np.ndarray, loc: float, span: float, sign: float, name: str, whole: str) -> None:
    """The value map's range is finite and not empty, and holds every value; ``whole`` ("curve", "search")
    names what an open side is taken from, in the message."""
    lower, upper = (loc, loc + span) if sign > 0 else (loc - span, loc)
    if not np.isfinite(span):
        raise ValueError(f"the range of bounds for {name} is too wide to represent: ({lower:g}, {upper:g})")
    if not span > 0:
        raise ValueError(
            f"bounds give {name} an empty range ({lower:g}, {upper:g}): an open side is taken from the {whole}, "
            f"so a constant {whole} needs closed bounds"
        )
    tol = 1e-9 * max(1.0, abs(lower), abs(upper))
    if values.min() < lower - tol or values.max() > upper + tol:
        raise ValueError(
            f"{name} has values outside bounds ({lower:g}, {upper:g}); pass bounds that contain the metric's "
            "range, or None for an open side"
        )


def gets_steadily_worse(values: ArrayLike, direction: str = "maximize", bounds: Bounds = (0.0, 1.0)) -> bool:
    """True when a curve keeps getting worse in ``direction``: a diverging run (or a wrongly declared direction).

    At least 5 values, at least 80% of the steps worse, and over 5% of the range (``bounds``, an
    open side taken from the curve) lost from the first value to the last. :func:`extrapolate`
    forecasts such curves like any other, but its model, trained on improving curves, reads the
    decline as a setback it may recover from; the Optuna pruner prunes such trials instead.
    """
    v = _curve(values, "values")
    direction = _choice(direction, DIRECTIONS, "direction")
    loc, span, sign = _value_map(v, direction, _check_bounds(bounds))
    return bool(np.isfinite(span) and span > 0 and _steadily_worse((v - loc) / (sign * span)))


def _checked_epochs(values: np.ndarray, epochs: ArrayLike | None, budget_scale: str, name: str) -> np.ndarray:
    """The observed budgets (default 1, 2, 3, ...): one per value, strictly increasing, positive on a log scale."""
    of = "" if name == "values" else f" of {name}"
    budgets = np.arange(1.0, len(values) + 1) if epochs is None else _numbers(epochs, f"epochs{of}")
    if budgets.shape != values.shape:
        raise ValueError(f"epochs{of} must have one budget per value: {values.shape}, got {budgets.shape}")
    if not (np.diff(budgets) > 0).all():
        raise ValueError(f"epochs{of} must be strictly increasing")
    if budget_scale == "log" and budgets[0] <= 0:
        raise ValueError(f"epochs{of} must be positive for budget_scale='log', got {budgets[0]:g}")
    return budgets


def _checked_budgets(
    values: np.ndarray, epochs: ArrayLike | None, max_epochs: ArrayLike | None, budget_scale: str, name: str
) -> tuple[np.ndarray, float]:
    """The observed budgets (default 1, 2, 3, ...) and max_epochs, checked against the values and each other."""
    budgets = _checked_epochs(values, epochs, budget_scale, name)
    if max_epochs is None:
        raise ValueError("max_epochs must be given: the final budget of the run(s)")
    last = _number(max_epochs, "max_epochs")
    if not last >= budgets[-1] - 1e-12 * max(1.0, abs(budgets[-1])):
        raise ValueError(
            f"max_epochs must be at least the last observed budget of {name} ({budgets[-1]:g}), got {last:g}"
        )
    return budgets, last


class _CurveMap:
    """Maps one curve's values and budgets into the model's space (arguments already type-checked).

    Every value is checked and sets the value map; a curve longer than ``limit`` is then thinned
    (as :func:`thin` does) to the inputs ``x`` and mapped values ``u`` that the model sees.
    """

    def __init__(
        self, values: np.ndarray, epochs: ArrayLike | None, max_epochs: ArrayLike | None, direction: str,
        bounds: Bounds, budget_scale: str, grid: int, name: str, limit: int,
    ):  # fmt: skip
        budgets, self.last = _checked_budgets(values, epochs, max_epochs, budget_scale, name)
        self.loc, self.span, self.sign = _value_map(values, direction, bounds)
        _check_value_range(values, self.loc, self.span, self.sign, name, "curve")
        worse_bound, better_bound = (bounds[0], bounds[1]) if self.sign > 0 else (bounds[1], bounds[0])
        self.closed = (worse_bound is not None, better_bound is not None)
        self.first, self.grid, self.scale = float(budgets[0]), grid, budget_scale
        kept = _thin_indices(budgets, limit, budget_scale)  # a long curve: the points nearest even budgets
        self.x = self.position(budgets[kept])
        self.u = (values[kept] - self.loc) / (self.sign * self.span)

    def position(self, epochs: ArrayLike) -> np.ndarray:
        """Model input: the first budget at 1/grid, max_epochs at 1 (one grid step is 1/grid)."""
        e = np.asarray(epochs, dtype=np.float64)
        if self.last == self.first:
            frac = np.ones_like(e)
        elif self.scale == "log":  # budget_scale="log": even steps in log(budget)
            frac = np.log(e / self.first) / np.log(self.last / self.first)
        else:
            frac = (e - self.first) / (self.last - self.first)
        return (1 + frac * (self.grid - 1)) / self.grid

    @property
    def earliest(self) -> float:
        """The budget at model input 0: one grid step before the first observed budget."""
        if self.last == self.first:
            return self.last
        if self.scale == "log":
            return self.first * (self.last / self.first) ** (-1 / (self.grid - 1))
        return self.first - (self.last - self.first) / (self.grid - 1)

    def future(self, future_epochs: ArrayLike | None, name: str) -> np.ndarray:
        """Checked budgets to forecast (default: max_epochs)."""
        if future_epochs is None:
            return np.array([self.last])
        label = f"future_epochs of {name}" if name != "values" else "future_epochs"
        f = np.array([_number(future_epochs, label)]) if _is_number(future_epochs) else _numbers(future_epochs, label)
        lo, hi = self.earliest, self.last
        tol = 1e-9 * max(1.0, abs(lo), abs(hi))
        bad = f[(f < lo - tol) | (f > hi + tol)]
        if bad.size:
            raise ValueError(
                f"{label} must lie between {lo:g} (one grid step before the first observed budget) and "
                f"max_epochs={hi:g}, got {bad[0]:g}"
            )
        return f


def thin(
    values: ArrayLike, epochs: ArrayLike | None = None, *, max_points: int, budget_scale: str = "linear"
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce one curve to at most ``max_points`` observations, keeping its first and last.

    The kept budgets are, in order, those nearest to ``max_points`` budgets spaced evenly (on
    ``budget_scale``) from the first observed budget to the last. A curve that is short enough
    is returned whole. This is a plain reduction: the dropped observations are not used.
    :func:`extrapolate` (and so :func:`probability_of_beating` and :func:`should_stop`) thins a
    curve longer than the model's :func:`max_points` this way itself.

    Args:
        values: the observed values of one curve.
        epochs: their budgets (default 1, 2, 3, ...), strictly increasing.
        max_points: the most points to keep, at least 2 (see :func:`max_points` for a model's).
        budget_scale: "linear" or "log" (positive budgets).

    Returns:
        ``(epochs, values)`` of the kept points, as float arrays.
    """
    v = _curve(values, "values")
    budget_scale = _choice(budget_scale, BUDGET_SCALES, "budget_scale")
    e = _checked_epochs(v, epochs, budget_scale, "values")
    if not (isinstance(max_points, (int, np.integer)) and not isinstance(max_points, bool)) or max_points < 2:
        raise ValueError(f"max_points must be an integer of at least 2, got {max_points!r}")
    keep = _thin_indices(e, int(max_points), budget_scale)
    return e[keep], v[keep]


def _thin_indices(budgets: np.ndarray, k: int, budget_scale: str) -> np.ndarray:
    """Indices of the budgets :func:`thin` keeps: all when there are at most ``k``, else exactly ``k``."""
    n = len(budgets)
    if n <= k:
        return np.arange(n)
    s = np.log(budgets) if budget_scale == "log" else np.asarray(budgets, dtype=np.float64)
    targets = np.linspace(s[0], s[-1], k)
    i = np.searchsorted(s, targets)
    left = s[np.maximum(i - 1, 0)]
    right = s[np.minimum(i, n - 1)]
    i = np.where((i > 0) & ((i == n) | (targets - left <= right - targets)), i - 1, i)  # the nearer neighbour
    # Each kept index strictly after the last, leaving room for the rest: keep_j = min(max(i_j, keep_{j-1} + 1),
    # n - k + j), which in terms of keep_j - j is a running maximum capped at n - k.
    j = np.arange(k)
    return np.minimum(np.maximum.accumulate(i - j), n - k) + j
