"""Argument checks for prior constructors: each raises a ``ValueError`` that names the argument and says
what it must be (never a ``TypeError`` or an error from deep inside sampling later)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Iterable
from typing import Any


def is_integer(value: Any) -> bool:
    """An integer (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """A finite real number (int or float, Python or NumPy), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_integer(value: Any, name: str, low: int = 1) -> int:
    """``value`` as an int when it is an integer >= ``low``."""
    if not is_integer(value) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_real(value: Any, name: str, low: float | None = None, strict: bool = False) -> float:
    """``value`` as a float when it is a finite number (>= ``low``, or > ``low`` when ``strict``)."""
    if not is_real(value) or (low is not None and (value <= low if strict else value < low)):
        bound = "" if low is None else f" {'>' if strict else '>='} {low:g}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return float(value)


def check_probability(value: Any, name: str) -> float:
    """``value`` as a float when it is a number in [0, 1]."""
    if not is_real(value) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def check_option(value: Any, name: str, options: Collection[str]) -> str:
    """``value`` when it is one of the strings ``options``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value


def check_options(values: Any, name: str, options: Collection[str]) -> list[str]:
    """A non-empty list of names from ``options`` (a list or tuple; a bare string is refused)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"{name} must be a non-empty list of names from {sorted(options)}, got {values!r}")
    values = list(values)
    unknown = [v for v in values if not isinstance(v, str) or v not in options]
    if unknown or not values:
        raise ValueError(f"{name} must be a non-empty list of names from {sorted(options)}, got {values!r}")
    return values
