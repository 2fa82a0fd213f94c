"""Optuna parameters as coordinates of the unit cube and back, one axis per parameter.

Used by :class:`pfn.bo.PFNSampler` (proposals) and :class:`pfn.curves.SearchPruner` (the configurations
a search model conditions on). Optuna is an optional dependency: ``pip install 'pfn[hpo]'``.
"""

from __future__ import annotations

import math

try:
    from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("mapping Optuna parameters needs optuna: pip install 'pfn[hpo]'") from error

NumericDistribution = FloatDistribution | IntDistribution


def _grid(distribution: NumericDistribution) -> tuple[float, int] | None:
    """(step, number of values) of a discrete linear parameter, None for continuous or log-scaled ones."""
    if distribution.log:
        return None
    step = distribution.step
    if step is None:
        return None
    return float(step), int(round((distribution.high - distribution.low) / step)) + 1


def to_unit(value: float, distribution: BaseDistribution) -> float:
    """A parameter's value as a coordinate in [0, 1]: discrete values at the centres of equal cells.

    A categorical parameter's ``k`` choices sit at the centres of ``k`` equal cells in the order of
    ``choices`` (an ordinal reading: meaningful when the choices are ordered, as a model's layer counts).
    """
    if isinstance(distribution, CategoricalDistribution):
        return (distribution.to_internal_repr(value) + 0.5) / len(distribution.choices)
    assert isinstance(distribution, FloatDistribution | IntDistribution)
    low, high = float(distribution.low), float(distribution.high)
    grid = _grid(distribution)
    if grid is not None:
        step, count = grid
        return (round((value - low) / step) + 0.5) / count
    if distribution.log:
        low, high, value = math.log(low), math.log(high), math.log(value)
    return (value - low) / (high - low) if high > low else 0.5


def from_unit(u: float, distribution: BaseDistribution) -> float | int:
    """The parameter value at coordinate ``u`` in [0, 1], exactly one of the distribution's values."""
    assert isinstance(distribution, FloatDistribution | IntDistribution)
    u = min(max(u, 0.0), 1.0)
    low, high = float(distribution.low), float(distribution.high)
    grid = _grid(distribution)
    if grid is not None:
        step, count = grid
        value = low + step * min(int(u * count), count - 1)
    elif distribution.log:
        value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    else:
        value = low + u * (high - low)
    value = min(max(value, low), high)
    if isinstance(distribution, IntDistribution):
        return int(min(max(round(value), distribution.low), distribution.high))
    return value
