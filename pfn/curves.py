"""Learning-curve extrapolation: the posterior over a training run's future, from its past.

    >>> from pfn import curves
    >>> forecast = curves.extrapolate([0.52, 0.61, 0.66, 0.69], max_epochs=50)
    >>> forecast.median, forecast.interval(0.9)                       # at epoch 50
    >>> curves.probability_of_beating([0.52, 0.61, 0.66, 0.69], best=0.80, max_epochs=50)
    >>> curves.should_stop([0.52, 0.61, 0.66, 0.69], best=0.80, max_epochs=50, threshold=0.05)

The model (``pfn.load("lc-wide")`` by default; ``"lc"`` is LC-PFN's narrower prior) was trained
on curves that rise within [0, 1] over an evenly spaced budget grid. Each curve is mapped into
that space and predictions are mapped back:

- **values**: ``u = (v - lower) / (upper - lower)`` for ``direction="maximize"`` and
  ``u = (upper - v) / (upper - lower)`` for ``"minimize"``, so "better" is always "higher u".
  An open bound (``None``) is taken from the curve itself (its lowest or highest value), which
  lets losses that are unbounded above be extrapolated. The map is affine, so means, quantiles,
  densities (with the Jacobian) and probabilities are exact.
- **budgets**: epochs, optimizer steps or training-set sizes. The first observed budget and
  ``max_epochs`` span the model's grid, linearly (``budget_scale="linear"``) or by their
  logarithm (``"log"``, for geometrically growing budgets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pfn.inference.predictive import PosteriorPredictive
from pfn.inference.predictor import Predictor
from pfn.inference.predictor import load as _load_predictor

DIRECTIONS = ("maximize", "minimize")
BUDGET_SCALES = ("linear", "log")
_MODELS: dict[str, Predictor] = {}
#: the shipped model used when none is given: trained on the wider prior, better calibrated on real runs
DEFAULT_MODEL = "lc-wide"


def load(path_or_name: str = DEFAULT_MODEL) -> Predictor:
    """A learning-curve model (default: the shipped ``lc-wide``), to pass as ``model=`` to the functions here."""
    return _model(path_or_name)


def _model(model: str | Predictor) -> Predictor:
    if isinstance(model, Predictor):
        return model
    key = str(model)
    if key not in _MODELS:
        _MODELS[key] = _load_predictor(model)
    return _MODELS[key]


@dataclass(frozen=True)
class CurveForecast:
    """Posterior predictive of one curve at ``epochs``, in the curve's own units."""

    epochs: np.ndarray
    _u: PosteriorPredictive  # predictive of the mapped value u (higher is better)
    _loc: float  # v = loc + sign * span * u
    _span: float
    _sign: float

    def _v(self, u):
        return self._loc + self._sign * self._span * np.asarray(u)

    def _u_of(self, v) -> np.ndarray:
        return (np.asarray(v, dtype=np.float64) - self._loc) / (self._sign * self._span)

    @property
    def mean(self) -> np.ndarray:
        return self._v(self._u.mean)

    @property
    def std(self) -> np.ndarray:
        return self._span * self._u.std

    @property
    def median(self) -> np.ndarray:
        return self._v(self._u.median)

    def quantile(self, q: float | Sequence[float]) -> np.ndarray:
        """Quantiles in the curve's units (a decreasing map swaps the tails)."""
        q = np.asarray(q, dtype=np.float64)
        return self._v(self._u.quantile((q if self._sign > 0 else 1 - q).tolist()))

    def interval(self, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.quantile(0.5 - level / 2), self.quantile(0.5 + level / 2)
        return lo, hi

    def cdf(self, v) -> np.ndarray:
        """P(value <= v) at each epoch."""
        c = self._u.cdf(np.broadcast_to(self._u_of(v), self.epochs.shape).copy())
        return c if self._sign > 0 else 1 - c

    def log_prob(self, v) -> np.ndarray:
        return self._u.log_prob(np.broadcast_to(self._u_of(v), self.epochs.shape).copy()) - np.log(self._span)

    def probability_better_than(self, v) -> np.ndarray:
        """P(the value is strictly better than ``v``) at each epoch, in the curve's direction."""
        return 1 - self._u.cdf(np.broadcast_to(self._u_of(v), self.epochs.shape).copy())


def _curves(values) -> tuple[list[np.ndarray], bool]:
    """A list of 1-D float arrays, and whether a single curve was given."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    if isinstance(values, np.ndarray) and values.dtype != object:
        single = values.ndim == 1
        curves = [values] if single else list(values)
    else:
        values = list(values)
        single = len(values) > 0 and np.isscalar(values[0])
        curves = [values] if single else values
    out = []
    for i, c in enumerate(curves):
        name = "values" if single else f"values[{i}]"
        try:
            arr = np.asarray(c, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be a sequence of numbers") from err
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D sequence of observed values, got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or inf; pass only the epochs that were observed")
        out.append(arr)
    if not out:
        raise ValueError("values is empty: pass a non-empty curve or a list of curves")
    return out, single


def _per_curve(arg, n: int, name: str) -> list:
    if arg is None or np.isscalar(arg):
        return [arg] * n
    arg = list(arg)
    if n == 1 and (not arg or np.isscalar(arg[0])):
        return [arg]
    if len(arg) != n:
        raise ValueError(f"{name} must be given once or once per curve ({n} curves), got {len(arg)}")
    return arg


def _steadily_worse(u: np.ndarray) -> bool:
    """At least 5 points, at least 80% of the steps worse, and over 5% of the range lost overall."""
    return len(u) >= 5 and u[-1] < u[0] - 0.05 and (np.diff(u) < 0).mean() >= 0.8


def gets_steadily_worse(values, direction: str = "maximize", bounds=(0.0, 1.0)) -> bool:
    """True when a curve keeps getting worse in ``direction``, which a rising-curve model cannot describe.

    :func:`extrapolate` refuses such curves (usually the direction was declared wrongly); the
    Optuna pruner prunes such trials instead (a diverging run).
    """
    v = np.asarray(values, dtype=np.float64)
    loc, span, sign = _value_map(v, direction, bounds)
    return span > 0 and _steadily_worse((v - loc) / (sign * span))


def _value_map(values: np.ndarray, direction: str, bounds) -> tuple[float, float, float]:
    """(loc, span, sign) with ``v = loc + sign * span * u``; an open bound is the curve's own extreme."""
    lower = values.min() if bounds[0] is None else float(bounds[0])
    upper = values.max() if bounds[1] is None else float(bounds[1])
    return (lower, upper - lower, 1.0) if direction == "maximize" else (upper, upper - lower, -1.0)


class _CurveMap:
    """Maps one curve's values and budgets into the model's space."""

    def __init__(self, values, epochs, max_epochs, direction, bounds, budget_scale, grid: int, name: str):
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
        if budget_scale not in BUDGET_SCALES:
            raise ValueError(f"budget_scale must be 'linear' or 'log', got {budget_scale!r}")
        epochs = np.arange(1, len(values) + 1, dtype=np.float64) if epochs is None else np.asarray(epochs, float)
        if epochs.shape != values.shape:
            raise ValueError(f"epochs of {name} must have one budget per value: {values.shape}, got {epochs.shape}")
        if not (np.diff(epochs) > 0).all() or epochs[0] <= 0 and budget_scale == "log":
            raise ValueError(f"epochs of {name} must be strictly increasing (and positive for budget_scale='log')")
        if max_epochs is None or not max_epochs > epochs[-1] - 1e-12:
            raise ValueError(f"max_epochs must be given and at least the last observed budget of {name}")
        if len(values) > grid:
            raise ValueError(
                f"{name} has {len(values)} values; this model extrapolates curves of at most {grid} points"
            )
        self.loc, self.span, self.sign = _value_map(values, direction, bounds)
        lower, upper = (self.loc, self.loc + self.span) if self.sign > 0 else (self.loc - self.span, self.loc)
        if not upper > lower:
            raise ValueError(f"bounds must satisfy lower < upper for {name}, got ({lower}, {upper})")
        if values.min() < lower - 1e-9 or values.max() > upper + 1e-9:
            raise ValueError(
                f"{name} has values outside bounds ({lower:g}, {upper:g}); pass bounds that contain the metric's "
                "range, or None for an open side"
            )
        self.u = (values - self.loc) / (self.sign * self.span)
        if _steadily_worse(self.u):
            raise ValueError(
                f"{name} gets steadily worse in the declared direction ({direction}); if lower is better "
                f"pass direction='minimize', if higher is better direction='maximize'"
            )
        self.first, self.last, self.grid, self.scale = epochs[0], float(max_epochs), grid, budget_scale
        self.x = self.position(epochs)

    def position(self, epochs) -> np.ndarray:
        """Model input in (0, 1]: the first budget at 1/grid, max_epochs at 1."""
        e = np.asarray(epochs, dtype=np.float64)
        if self.last == self.first:
            frac = np.ones_like(e)
        elif self.scale == "log":
            frac = np.log(e / self.first) / np.log(self.last / self.first)
        else:
            frac = (e - self.first) / (self.last - self.first)
        return (1 + frac * (self.grid - 1)) / self.grid


def extrapolate(
    values,
    epochs=None,
    future_epochs=None,
    max_epochs=None,
    *,
    direction: str = "maximize",
    bounds: tuple[float | None, float | None] = (0.0, 1.0),
    budget_scale: str = "linear",
    model: str | Predictor = DEFAULT_MODEL,
) -> CurveForecast | list[CurveForecast]:
    """Posterior predictive of future values of one learning curve or many (ragged lengths allowed).

    Args:
        values: one curve (a sequence of observed values) or a list of curves.
        epochs: the budgets at which values were observed (default 1, 2, 3, ...); one sequence per curve.
        future_epochs: budgets to predict (default: ``[max_epochs]``); one sequence per curve or shared.
        max_epochs: the final budget of the run(s); a number or one per curve. Required.
        direction: "maximize" (accuracy) or "minimize" (error, loss).
        bounds: (lower, upper) the metric can take; None for an open side (taken from the curve).
        budget_scale: "linear" for evenly spaced budgets, "log" for geometrically growing ones.
        model: a learning-curve model's name or path, or a loaded predictor.

    Returns:
        A :class:`CurveForecast` for one curve, or a list of them.
    """
    curves, single = _curves(values)
    n = len(curves)
    predictor = _model(model)
    grid = int(predictor.config.get("training", {}).get("num_points", 100))
    epochs_list = _per_curve(epochs, n, "epochs")
    max_list = _per_curve(max_epochs, n, "max_epochs")
    if future_epochs is None or np.isscalar(future_epochs) or all(np.isscalar(v) for v in future_epochs):
        future_list = [future_epochs] * n  # shared by every curve
    else:
        future_list = _per_curve(future_epochs, n, "future_epochs")
    maps, futures = [], []
    for i, c in enumerate(curves):
        name = "values" if single else f"values[{i}]"
        m = _CurveMap(c, epochs_list[i], max_list[i], direction, bounds, budget_scale, grid, name)
        f = np.atleast_1d(np.asarray(m.last if future_list[i] is None else future_list[i], dtype=np.float64))
        if (f <= 0).any() or (f > m.last + 1e-9).any():
            raise ValueError(f"future_epochs of {name} must lie in (0, max_epochs={m.last:g}]")
        maps.append(m)
        futures.append(f)
    # one forward pass per group of curves with equal numbers of observed and future points
    groups: dict[tuple[int, int], list[int]] = {}
    for i in range(n):
        groups.setdefault((len(curves[i]), len(futures[i])), []).append(i)
    out: list[CurveForecast | None] = [None] * n
    for idx in groups.values():
        x = np.stack([maps[i].x for i in idx])[..., None]
        u = np.stack([maps[i].u for i in idx])
        xq = np.stack([maps[i].position(futures[i]) for i in idx])[..., None]
        pred = predictor.predict(x, u, xq)
        for row, i in enumerate(idx):
            sub = PosteriorPredictive(pred.logits[row], pred.bar, pred.loc[row], pred.scale[row], numpy=True)
            out[i] = CurveForecast(futures[i], sub, maps[i].loc, maps[i].span, maps[i].sign)
    return out[0] if single else out


def probability_of_beating(values, best: float, max_epochs, **kwargs) -> float | np.ndarray:
    """P(the curve's value at ``max_epochs`` is strictly better than ``best``), per curve.

    "Better" follows ``direction`` (higher for "maximize", lower for "minimize"). Other keyword
    arguments are those of :func:`extrapolate`.
    """
    kwargs.pop("future_epochs", None)
    forecasts = extrapolate(values, max_epochs=max_epochs, **kwargs)
    if isinstance(forecasts, CurveForecast):
        return float(forecasts.probability_better_than(best)[-1])
    return np.array([float(f.probability_better_than(best)[-1]) for f in forecasts])


def should_stop(values, best: float, max_epochs, threshold: float = 0.05, **kwargs) -> bool | np.ndarray:
    """Stop a run when its chance of finishing better than ``best`` is below ``threshold``.

    Returns True when ``probability_of_beating(values, best, max_epochs) < threshold``; so a
    larger threshold stops more runs (the rule is monotone in it), 0 never stops, and 1 stops
    every run that is not certain to win. Keyword arguments are those of :func:`extrapolate`.
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold!r}")
    p = probability_of_beating(values, best, max_epochs, **kwargs)
    return p < threshold
