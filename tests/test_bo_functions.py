"""The benchmark's test functions (scripts/bo_functions.py): each known minimiser gives the known minimum, and
nothing in the domain (random points, local searches from them) goes below it."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("bo_functions", ROOT / "scripts" / "bo_functions.py")
bo_functions = importlib.util.module_from_spec(spec)
sys.modules["bo_functions"] = bo_functions  # dataclasses looks its module up while creating the class
spec.loader.exec_module(bo_functions)

NAMES = [*bo_functions.FIXED, *(f"{family}{d}" for family in bo_functions.SCALABLE for d in (2, 4, 8)),
         *bo_functions.DEFAULT]  # fmt: skip


@pytest.mark.parametrize("name", sorted(set(NAMES)))
def test_known_minimizer_gives_known_minimum(name):
    f = bo_functions.get(name)
    assert f.name == name and f.lower.shape == f.upper.shape == (f.dim,)
    for x in f.minimizers:
        assert np.all((f.lower <= x) & (np.asarray(x) <= f.upper))
        assert float(f(x)) == pytest.approx(f.minimum, abs=1e-4)


@pytest.mark.parametrize("name", sorted(set(NAMES)))
def test_nothing_below_the_minimum(name):
    f = bo_functions.get(name)
    rng = np.random.default_rng(0)
    x = f.lower + (f.upper - f.lower) * rng.random((20_000, f.dim))
    assert f(x).shape == (20_000,)
    assert f(x).min() >= f.minimum - 1e-9
    # local searches from the best random points and from the minimisers stay above it too
    scipy_optimize = pytest.importorskip("scipy.optimize")
    starts = [*x[np.argsort(f(x))[:5]], *np.asarray(f.minimizers)]
    bounds = list(zip(f.lower, f.upper, strict=True))
    for start in starts:
        done = scipy_optimize.minimize(lambda z: float(f(z)), start, method="L-BFGS-B", bounds=bounds)
        assert done.fun >= f.minimum - 1e-8


def test_vectorised_values_match_pointwise():
    f = bo_functions.get("levy6")
    x = np.random.default_rng(1).uniform(-10, 10, (3, 4, 6))
    assert np.allclose(f(x), [[float(f(p)) for p in row] for row in x])


def test_textbook_values():
    assert float(bo_functions.get("rosenbrock2")([0.0, 0.0])) == 1.0
    assert float(bo_functions.get("styblinskitang2")([0.0, 0.0])) == 0.0
    assert float(bo_functions.get("ackley3")([0.0, 0.0, 0.0])) == pytest.approx(0.0, abs=1e-12)
    assert bo_functions.get("styblinskitang4").minimum == pytest.approx(-39.16617 * 4, abs=1e-4)


def test_unknown_names_are_refused():
    for name in ("branin3", "levy1", "levy", "sphere4"):
        with pytest.raises(ValueError, match="unknown test function"):
            bo_functions.get(name)
    with pytest.raises(ValueError, match="takes points of 6"):
        bo_functions.get("hartmann6")([0.5, 0.5])
