"""Test functions for the Bayesian-optimisation benchmark (scripts/bench_bo.py), all to be minimised.

Written from the definitions of the Virtual Library of Simulation Experiments (Surjanovic and Bingham,
https://www.sfu.ca/~ssurjano/optimization.html), with their usual domains. ``get("hartmann6")`` names a
fixed-dimension function; the scalable ones take their dimension as a suffix: ``get("ackley5")``.

    f = get("levy6")
    f(x)  # x: array of shape (..., f.dim) inside [f.lower, f.upper]; values of shape (...)
    f(x) - f.minimum  # simple regret
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class TestFunction:
    name: str
    dim: int
    lower: Array
    upper: Array
    minimum: float
    minimizers: tuple[tuple[float, ...], ...]
    fn: Callable[[Array], Array]

    __test__ = False  # not a pytest test class

    def __call__(self, x: Array | list[float]) -> Array:
        x = np.asarray(x, dtype=float)
        if x.shape[-1] != self.dim:
            raise ValueError(f"{self.name} takes points of {self.dim} coordinates, got shape {x.shape}")
        return self.fn(x)


def branin(x: Array) -> Array:
    x1, x2 = x[..., 0], x[..., 1]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10


HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
HARTMANN3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
HARTMANN6_A = np.array([
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
])  # fmt: skip
HARTMANN6_P = 1e-4 * np.array([
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
])  # fmt: skip


def hartmann(a: Array, p: Array) -> Callable[[Array], Array]:
    def f(x: Array) -> Array:
        inner = (a * (x[..., None, :] - p) ** 2).sum(-1)  # (..., 4)
        return -(HARTMANN_ALPHA * np.exp(-inner)).sum(-1)

    return f


def ackley(x: Array) -> Array:
    a, b, c = 20.0, 0.2, 2 * math.pi
    return -a * np.exp(-b * np.sqrt((x**2).mean(-1))) - np.exp(np.cos(c * x).mean(-1)) + a + math.e


def levy(x: Array) -> Array:
    w = 1 + (x - 1) / 4
    first = np.sin(math.pi * w[..., 0]) ** 2
    middle = ((w[..., :-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[..., :-1] + 1) ** 2)).sum(-1)
    last = (w[..., -1] - 1) ** 2 * (1 + np.sin(2 * math.pi * w[..., -1]) ** 2)
    return first + middle + last


def rosenbrock(x: Array) -> Array:
    return (100 * (x[..., 1:] - x[..., :-1] ** 2) ** 2 + (x[..., :-1] - 1) ** 2).sum(-1)


def styblinski_tang(x: Array) -> Array:
    return 0.5 * (x**4 - 16 * x**2 + 5 * x).sum(-1)


STYBLINSKI_TANG_X = -2.903534027771178  # the root of 4x^3 - 32x + 5 = 0 that minimises x^4 - 16x^2 + 5x
STYBLINSKI_TANG_MIN = 0.5 * (STYBLINSKI_TANG_X**4 - 16 * STYBLINSKI_TANG_X**2 + 5 * STYBLINSKI_TANG_X)


def _box(dim: int, low: float | list[float], high: float | list[float]) -> tuple[Array, Array]:
    return np.full(dim, 0.0) + low, np.full(dim, 0.0) + high


def _fixed(name: str) -> TestFunction:
    if name == "branin2":
        return TestFunction(
            name, 2, *_box(2, [-5.0, 0.0], [10.0, 15.0]), 0.397887357729738,
            ((-math.pi, 12.275), (math.pi, 2.275), (3 * math.pi, 2.475)), branin,
        )  # fmt: skip
    if name == "hartmann3":
        return TestFunction(
            # -3.86278 in the VLSE; the often quoted -3.86278214782076 is 2.4e-6 below the true minimum
            name, 3, *_box(3, 0.0, 1.0), -3.862779787332663, ((0.114589, 0.555649, 0.852547),),
            hartmann(HARTMANN3_A, HARTMANN3_P),
        )  # fmt: skip
    if name == "hartmann6":
        return TestFunction(
            name, 6, *_box(6, 0.0, 1.0), -3.32236801141551,
            ((0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573),), hartmann(HARTMANN6_A, HARTMANN6_P),
        )  # fmt: skip
    raise KeyError(name)


def _scalable(family: str, dim: int) -> TestFunction:
    name = f"{family}{dim}"
    if family == "ackley":
        return TestFunction(name, dim, *_box(dim, -32.768, 32.768), 0.0, ((0.0,) * dim,), ackley)
    if family == "levy":
        return TestFunction(name, dim, *_box(dim, -10.0, 10.0), 0.0, ((1.0,) * dim,), levy)
    if family == "rosenbrock":
        return TestFunction(name, dim, *_box(dim, -5.0, 10.0), 0.0, ((1.0,) * dim,), rosenbrock)
    if family == "styblinskitang":
        return TestFunction(
            name, dim, *_box(dim, -5.0, 5.0), dim * STYBLINSKI_TANG_MIN, ((STYBLINSKI_TANG_X,) * dim,),
            styblinski_tang,
        )  # fmt: skip
    raise KeyError(name)


FIXED = ("branin2", "hartmann3", "hartmann6")
SCALABLE = ("ackley", "levy", "rosenbrock", "styblinskitang")  # any dimension from 2 up, as a suffix
DEFAULT = ("branin2", "hartmann3", "hartmann6", "ackley5", "levy6", "rosenbrock4", "styblinskitang8")


def get(name: str) -> TestFunction:
    """The test function called ``name``: one of FIXED, or a SCALABLE family with its dimension (``levy6``)."""
    if name in FIXED:
        return _fixed(name)
    match = re.fullmatch(r"([a-z]+)(\d+)", name)
    if match and match[1] in SCALABLE and int(match[2]) >= 2:
        return _scalable(match[1], int(match[2]))
    raise ValueError(f"unknown test function {name!r}: one of {', '.join(FIXED)}, or {'/'.join(SCALABLE)} + dimension")
