"""Argument checks of the curve API: each raises ``ValueError`` naming the argument and what was expected."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

DIRECTIONS = ("maximize", "minimize")
BUDGET_SCALES = ("linear", "log")

Bounds = tuple[float | None, float | None]


# -- argument checks --------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    """A real scalar: Python or NumPy ints and floats, 0-d arrays and tensors; not bool, str or complex."""
    if isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 0:
        value = value.item()
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _number(value: Any, name: str, *, allow_inf: bool = False) -> float:
    """``value`` as a float, or a ValueError naming the argument."""
    if not _is_number(value):
        raise ValueError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    out = float(value.item() if isinstance(value, (np.ndarray, torch.Tensor)) else value)
    if np.isnan(out) or (np.isinf(out) and not allow_inf):
        raise ValueError(f"{name} must be a finite number, got {out!r}")
    return out


def _is_scalar_like(value: Any) -> bool:
    """True for anything that is one item rather than a sequence of them (numbers, strings, None)."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.ndim == 0
    return value is None or isinstance(value, (numbers.Number, np.generic, str, bytes))


def _numbers(values: Any, name: str) -> np.ndarray:
    """A non-empty, finite, 1-D float64 array, or a ValueError naming the argument."""
    if _is_scalar_like(values):
        raise ValueError(f"{name} must be a sequence of numbers, got {values!r} ({type(values).__name__})")
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as err:  # ragged nesting, unconvertible objects
        raise ValueError(f"{name} must be a 1-D sequence of numbers ({err})") from err
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold real numbers, got {arr.dtype} values")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of numbers, got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf; pass only finite numbers (the budgets that were observed)")
    return arr


def _curves(values: Any) -> tuple[list[np.ndarray], bool]:
    """A list of 1-D float arrays, and whether a single curve was given."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    if isinstance(values, np.ndarray) and values.dtype != object and values.ndim == 2:
        values = list(values)  # a batch of equally long curves
    elif isinstance(values, np.ndarray) and values.dtype != object and values.ndim == 1:
        return [_curve(values, "values")], True
    if _is_scalar_like(values) or isinstance(values, dict):
        raise ValueError(
            f"values must be one curve (a sequence of observed values) or a list of curves, got {values!r} "
            f"({type(values).__name__})"
        )
    try:
        items = list(values)
    except TypeError as err:
        raise ValueError(f"values must be a sequence of numbers or of curves, got {type(values).__name__}") from err
    if not items:
        raise ValueError("values is empty: pass a non-empty curve or a list of curves")
    scalar = [_is_scalar_like(v) for v in items]
    if all(scalar):
        return [_curve(items, "values")], True
    if any(scalar):
        raise ValueError("values mixes numbers and sequences: pass one curve (numbers) or a list of curves")
    return [_curve(c, f"values[{i}]") for i, c in enumerate(items)], False


def _curve(values: Any, name: str) -> np.ndarray:
    try:
        return _numbers(values, name)
    except ValueError as err:
        if "NaN or inf" in str(err):
            raise ValueError(f"{name} contains NaN or inf; pass only the epochs that were observed") from None
        raise


def _choice(value: Any, allowed: tuple[str, ...], name: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
    return value


def _check_bounds(bounds: Any) -> Bounds:
    """(lower, upper) with None for an open side; ``-inf`` below and ``inf`` above mean open."""
    if _is_scalar_like(bounds) or isinstance(bounds, dict):
        raise ValueError(f"bounds must be a pair (lower, upper), None for an open side; got {bounds!r}")
    try:
        pair = tuple(bounds)
    except TypeError as err:
        raise ValueError(f"bounds must be a pair (lower, upper), got {type(bounds).__name__}") from err
    if len(pair) != 2:
        raise ValueError(f"bounds must be a pair (lower, upper), None for an open side; got {len(pair)} items")
    lower, upper = (None if b is None else _number(b, f"bounds[{i}]", allow_inf=True) for i, b in enumerate(pair))
    if lower == np.inf or upper == -np.inf:
        raise ValueError(f"bounds must satisfy lower < upper, got {bounds!r}")
    lower = None if lower == -np.inf else lower
    upper = None if upper == np.inf else upper
    if lower is not None and upper is not None and not lower < upper:
        raise ValueError(f"bounds must satisfy lower < upper, got ({lower:g}, {upper:g})")
    return lower, upper


def _check_threshold(threshold: Any) -> float:
    t = _number(threshold, "threshold")
    if not 0 <= t <= 1:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold!r}")
    return t
