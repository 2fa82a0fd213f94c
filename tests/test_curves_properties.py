"""Property-based tests (Hypothesis, derandomized) of ``curves.extrapolate`` and of the pruner inside
real Optuna studies, on the shipped ``lc-wide``.

- ``extrapolate`` over random finite curves (lengths 1..1500, far beyond the model's context of
  99; rising, falling, noisy, constant; both directions; closed, open and infinite bounds; linear
  and log budgets; default, arithmetic and geometric epochs; ragged batches with long curves)
  returns finite forecasts whose quantiles are monotone and inside closed bounds, or raises a
  ValueError naming an argument; never another exception type, nor a warning. Every curve whose
  bounds give it a range (closed bounds, or an open side and a curve that is not constant there)
  gets a forecast, however long and whichever way it goes.
- Invalid inputs (NaN or inf, wrong types, empty) raise a ValueError naming the argument.
- The pruner in real studies whose trials report random sequences (NaN, inf, runs longer than the
  model's grid, constant and falling curves, both directions): the study never aborts, every trial
  ends COMPLETE or PRUNED, a trial is pruned at its first non-finite report if not before, and the
  best trial is COMPLETE.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pfn import curves

optuna = pytest.importorskip("optuna")

from pfn.pruners import LearningCurvePruner  # noqa: E402
from tests.test_pruner import run_study  # noqa: E402

MODEL = curves.load("lc-wide")
CALIBRATED = curves.load("lc-real")  # carries a calibration, applied by default
LIMIT = curves.max_points(MODEL)  # 99
ARGUMENTS = ("values", "epochs", "future_epochs", "max_epochs", "bounds", "direction", "budget_scale", "model")
NAMES_AN_ARGUMENT = re.compile(r"\b(" + "|".join(ARGUMENTS) + r")\b")
LEVELS = [0.01, 0.1, 0.5, 0.9, 0.99]
SETTINGS = dict(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- strategies ---------------------------------------------------------------------------------------
def shape_u(shape: str, n: int, a: float, b: float, rate: float, seed: int) -> np.ndarray:
    """A curve in [0, 1] that rises from a to b (a <= b), or falls, is noisy, or constant."""
    t = np.arange(n, dtype=np.float64)
    rise = a + (b - a) * (1 - np.exp(-rate * t)) / (1 - np.exp(-rate * max(n - 1, 1)))
    if shape == "rising":
        return rise
    if shape == "falling":
        return rise[::-1].copy()
    if shape == "noisy":
        return np.clip(rise + np.random.default_rng(seed).normal(0, 0.05, n), 0, 1)
    return np.full(n, a)


@st.composite
def curve_cases(draw, max_len: int = 1500):
    n = draw(st.integers(1, max_len))
    shape = draw(st.sampled_from(["rising", "falling", "noisy", "constant"]))
    direction = draw(st.sampled_from(curves.DIRECTIONS))
    a, b = sorted([draw(st.floats(0, 1)), draw(st.floats(0, 1))])
    u = shape_u(shape, n, a, b, draw(st.floats(0.01, 1.0)), draw(st.integers(0, 2**32 - 1)))
    lo = draw(st.floats(-100, 100))
    width = draw(st.floats(1e-2, 1e3))
    hi = lo + width
    # u is "higher is better": an improving curve in the metric's own units
    values = lo + width * u if direction == "maximize" else hi - width * u
    values = np.clip(values, lo, hi)
    kind = draw(st.sampled_from(["closed", "open_upper", "open_lower", "open_both", "inf_upper", "inf_lower"]))
    bounds = {
        "closed": (lo, hi),
        "open_upper": (lo, None),
        "open_lower": (None, hi),
        "open_both": (None, None),
        "inf_upper": (lo, math.inf),
        "inf_lower": (-math.inf, hi),
    }[kind]
    budget_scale = draw(st.sampled_from(curves.BUDGET_SCALES))
    epochs_kind = draw(st.sampled_from(["default", "arithmetic", "geometric"]))
    if epochs_kind == "default":
        epochs = None
        budgets = np.arange(1.0, n + 1)
    elif epochs_kind == "arithmetic":
        budgets = draw(st.floats(0.5, 100)) + draw(st.floats(0.1, 50)) * np.arange(n)
        epochs = budgets.tolist()
    else:
        budgets = draw(st.floats(1, 1000)) * draw(st.floats(1.01, 1.2)) ** np.arange(n)
        epochs = budgets.tolist()
    max_epochs = float(budgets[-1] * draw(st.floats(1, 10)))
    fractions = draw(st.one_of(st.none(), st.lists(st.floats(0, 1), min_size=1, max_size=4)))
    future = None if fractions is None else [budgets[0] + f * (max_epochs - budgets[0]) for f in fractions]
    kwargs = dict(epochs=epochs, future_epochs=future, max_epochs=max_epochs, direction=direction, bounds=bounds,
                  budget_scale=budget_scale)  # fmt: skip
    return values.tolist(), kwargs, has_a_range(values, bounds)


def has_a_range(values: np.ndarray, bounds) -> bool:
    """The documented value map has a non-empty range: an open (None or infinite) side is the curve's own extreme."""
    lower = values.min() if bounds[0] is None or bounds[0] == -math.inf else bounds[0]
    upper = values.max() if bounds[1] is None or bounds[1] == math.inf else bounds[1]
    return bool(upper > lower)


def fits(values: np.ndarray, bounds) -> bool:
    """Inside the closed bounds, and with a range (see has_a_range)."""
    lower, upper = bounds
    inside = (lower is None or values.min() >= lower) and (upper is None or values.max() <= upper)
    return inside and has_a_range(values, bounds)


def check_forecast(f: curves.CurveForecast, bounds) -> None:
    lower, upper = bounds
    closed_lo = lower is not None and math.isfinite(lower)
    closed_hi = upper is not None and math.isfinite(upper)
    q = f.quantile(LEVELS)  # (m, levels)
    assert np.isfinite(q).all() and np.isfinite(f.median).all() and np.isfinite(f.mean).all()
    assert np.isfinite(f.std).all() and (f.std >= 0).all()
    assert (np.diff(q, axis=-1) >= 0).all(), q
    tol = 1e-9 * max(1.0, abs(lower or 0.0), abs(upper or 0.0))
    if closed_lo:
        assert (q >= lower - tol).all() and (f.mean >= lower - tol).all()
    if closed_hi:
        assert (q <= upper + tol).all() and (f.mean <= upper + tol).all()
    p = f.probability_better_than(float(f.median[0]))
    assert ((p >= 0) & (p <= 1)).all()
    lo, hi = f.interval(0.9)  # ordered, and holding at least 90%: P(lo <= V <= hi) = cdf(hi) - cdf(just below lo)
    assert (lo <= hi).all()
    below = f.cdf(lo - 1e-9 * np.maximum(1.0, np.abs(lo)))
    assert (f.cdf(hi) - below >= 0.9 - 1e-6).all(), (lo, hi)


def call_extrapolate(values, kwargs, model=MODEL):
    """The forecast(s), or None after a ValueError that names an argument (any other exception fails)."""
    try:
        return curves.extrapolate(values, model=model, **kwargs)
    except ValueError as err:
        assert NAMES_AN_ARGUMENT.search(str(err)), str(err)
        return None


# -- extrapolate ----------------------------------------------------------------------------------------
@settings(max_examples=150, **SETTINGS)
@given(curve_cases())
def test_extrapolate_forecasts_or_names_the_argument(case):
    values, kwargs, valid = case
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor a warning (e.g. about the model's context)
        f = call_extrapolate(values, kwargs)
    if valid:  # every finite curve with a range: long, declining, noisy or not
        assert f is not None, (len(values), kwargs)
    event("forecast" if f is not None else "ValueError")
    event(f"longer than the model's context ({LIMIT})" if len(values) > LIMIT else "within the model's context")
    if f is not None:
        check_forecast(f, kwargs["bounds"])


@settings(max_examples=60, **SETTINGS)
@given(curve_cases())
def test_calibrated_forecasts_are_valid_distributions(case):
    """The same cases through lc-real, whose stored calibration reshapes every forecast: still finite, ordered
    quantiles inside closed bounds, probabilities in [0, 1]; and a forecast wherever the model alone gives one."""
    values, kwargs, valid = case
    f = call_extrapolate(values, kwargs, model=CALIBRATED)
    if valid:
        assert f is not None, (len(values), kwargs)
    if f is not None:
        check_forecast(f, kwargs["bounds"])


@settings(max_examples=40, **SETTINGS)
@given(st.lists(curve_cases(max_len=300), min_size=1, max_size=4), st.booleans())
def test_ragged_batches_match_the_rules_per_curve(cases, shared_max):
    # one direction, bounds and budget scale for the batch (those are shared), epochs and max_epochs per curve
    base = cases[0][1]
    values = [c[0] for c in cases]
    fixed = dict(direction=base["direction"], bounds=base["bounds"], budget_scale=base["budget_scale"])
    max_epochs = [c[1]["max_epochs"] for c in cases]
    epochs = [c[1]["epochs"] or list(range(1, len(c[0]) + 1)) for c in cases]
    kwargs = dict(epochs=epochs, max_epochs=max(max_epochs) if shared_max else max_epochs, **fixed)
    out = call_extrapolate(values, kwargs)
    if all(fits(np.asarray(v), fixed["bounds"]) for v in values):  # each curve is valid under the shared bounds
        assert out is not None, ([len(v) for v in values], fixed)
    event("forecast" if out is not None else "ValueError")
    event("with a curve longer than the model's context" if max(map(len, values)) > LIMIT else "short curves")
    if out is None:
        return
    assert isinstance(out, list) and len(out) == len(values)
    for f in out:
        check_forecast(f, fixed["bounds"])


BAD_VALUES = ["0.5, 0.6", None, {"a": 1}, object(), 0.5, [], [[]], [0.5, "x"], [0.5, None], [0.5, 1 + 2j], [[0.5], 0.6]]
BAD_ARGUMENTS = {
    "epochs": [5, "1,2", [1, "2"], [2, 1], [1], [1, math.nan], {"a": 1}],
    "max_epochs": ["50", None, math.nan, math.inf, True, [50, 60], 0.5, object()],
    "future_epochs": ["10", [math.nan], [1e9], [-1e9], [], object()],
    "bounds": [(0,), (0, 1, 2), "01", None, 5, (1, 0), (math.inf, None), (0, -math.inf), (0, math.nan), ("0", 1)],
    "direction": ["up", None, 1, ["maximize"]],
    "budget_scale": ["exp", None, 2],
    "model": ["gp", "bnn", "no-such-model", 3, None],
}


@settings(max_examples=60, **SETTINGS)
@given(
    st.sampled_from(["values", *BAD_ARGUMENTS]),
    st.integers(0, 100),
    st.lists(st.floats(0.05, 0.95), min_size=2, max_size=12),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
def test_invalid_inputs_raise_a_value_error_naming_the_argument(argument, pick, good, bad_number):
    good = sorted(good)  # an improving accuracy curve
    kwargs = dict(max_epochs=50, model=MODEL)
    if argument == "values":
        candidates = [*BAD_VALUES, good[:-1] + [bad_number], [good, good[:1] + [bad_number]]]
        values = candidates[pick % len(candidates)]
    else:
        values = good
        options = BAD_ARGUMENTS[argument]
        kwargs[argument] = options[pick % len(options)]
    with pytest.raises(ValueError) as err:
        curves.extrapolate(values, **kwargs)
    named = "bounds" if argument == "bounds" else argument
    assert re.search(rf"\b{named}\b", str(err.value)), (argument, kwargs.get(argument), str(err.value))


# -- the pruner in real studies ----------------------------------------------------------------------
@st.composite
def trial_scripts(draw, first: bool):
    kinds = ["rising"] if first else ["rising", "constant", "noisy", "falling", "nan", "inf", "long", "long"]
    kind = draw(st.sampled_from(kinds))
    n = draw(st.integers(100, 130)) if kind == "long" else draw(st.integers(1, 30))
    a, b = sorted([draw(st.floats(0, 1)), draw(st.floats(0, 1))])
    shape = {"nan": "rising", "inf": "noisy", "long": "rising"}.get(kind, kind)
    u = shape_u(shape, n, a, b, draw(st.floats(0.02, 1.0)), draw(st.integers(0, 2**32 - 1))).tolist()
    if kind in ("nan", "inf"):
        at = draw(st.integers(0, n - 1))
        u[at] = math.nan if kind == "nan" else draw(st.sampled_from([math.inf, -math.inf]))
    return u


@st.composite
def studies(draw):
    direction = draw(st.sampled_from(["maximize", "minimize"]))
    scripts = [draw(trial_scripts(first=True))]
    scripts += draw(st.lists(trial_scripts(first=False), min_size=2, max_size=5))
    if direction == "minimize":  # losses in (0, 3], open above
        scripts = [[3.0 * (1 - v) + 1e-3 if math.isfinite(v) else v for v in s] for s in scripts]
        bounds = (0.0, None)
    else:
        bounds = (0.0, 1.0)
    pruner = dict(
        max_epochs=max(len(s) for s in scripts),
        threshold=draw(st.sampled_from([0.0, 0.05, 0.2, 0.5])),
        min_epochs=draw(st.integers(1, 6)),
        bounds=bounds,
    )
    return direction, scripts, pruner


@settings(max_examples=25, **SETTINGS)
@given(studies())
def test_the_pruner_never_aborts_a_study(case):
    direction, scripts, pruner_args = case
    pruner = LearningCurvePruner(model=MODEL, **pruner_args)
    study, reports = run_study(scripts, pruner, direction)  # a PrunerWarning fails: every trial here can be judged
    assert len(study.trials) == len(scripts)
    states = [t.state for t in study.trials]
    for t in study.trials:
        event(f"{t.state.name}{' after more than the grid' if len(t.intermediate_values) > LIMIT else ''}")
    assert set(states) <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    for i, values in enumerate(scripts):
        bad = [k for k, v in enumerate(values) if not math.isfinite(v)]
        if bad:  # pruned at its first non-finite report, if not before
            assert states[i] == optuna.trial.TrialState.PRUNED and reports[i] <= bad[0] + 1
    assert states[0] == optuna.trial.TrialState.COMPLETE  # an improving first trial: nothing to compare with
    complete = [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert study.best_trial.state == optuna.trial.TrialState.COMPLETE
    assert study.best_value == (max(complete) if direction == "maximize" else min(complete))
