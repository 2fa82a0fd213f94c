"""Forecasts of learning curves: :class:`CurveForecast`, :func:`extrapolate` and the stopping rule."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import torch

from pfn.curves.calibration import Calibration, group_of
from pfn.curves.calibration import resolve as resolve_calibration
from pfn.curves.checks import (
    BUDGET_SCALES,
    DIRECTIONS,
    Bounds,
    _check_bounds,
    _check_threshold,
    _choice,
    _curves,
    _is_scalar_like,
    _number,
)
from pfn.curves.inputs import _CurveMap
from pfn.curves.models import DEFAULT_MODEL, _grid, _model, max_points
from pfn.inference.predictive import PosteriorPredictive
from pfn.inference.predictor import Predictor
from pfn.types import ArrayLike

if TYPE_CHECKING:  # annotations only: no runtime dependency on typing_extensions
    from typing_extensions import Unpack

#: points of the model's std integration grid (trapezoid rule over the censored cdf)
_STD_GRID = 1025


# -- the forecast -----------------------------------------------------------------------------
@dataclass(frozen=True)
class CurveForecast:
    """Posterior predictive of one curve at ``epochs``, in the curve's own units.

    Closed bounds censor the model's predictive: probability the model puts beyond a closed
    bound sits on that bound (see the module's description).
    """

    epochs: np.ndarray
    _u: PosteriorPredictive  # the model's predictive of the mapped value u (higher is better)
    _loc: float  # v = loc + sign * span * u
    _span: float
    _sign: float
    _closed: tuple[bool, bool] = field(default=(False, False))  # is u = 0 (worse end) / u = 1 (better end) a bound
    _fraction: np.ndarray | None = None  # per epoch: model input of the last observed budget / that of the epoch

    @property
    def _u_range(self) -> tuple[float, float]:
        return (0.0 if self._closed[0] else -np.inf), (1.0 if self._closed[1] else np.inf)

    def _v(self, u: ArrayLike) -> np.ndarray:
        return self._loc + self._sign * self._span * np.asarray(u, dtype=np.float64)

    def _u_of(self, v: ArrayLike, name: str) -> np.ndarray:
        try:
            arr = np.asarray(v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be a real number or one per epoch ({err})") from err
        if arr.dtype.kind not in "iuf":
            raise ValueError(f"{name} must be a real number or one per epoch, got {v!r}")
        arr = arr.astype(np.float64)
        if np.isnan(arr).any():
            raise ValueError(f"{name} contains NaN")
        try:
            arr = np.broadcast_to(arr, self.epochs.shape)
        except ValueError as err:
            raise ValueError(f"{name} must be a scalar or have one value per epoch {self.epochs.shape}") from err
        return (arr - self._loc) / (self._sign * self._span)

    def _model_cdf(self, u: np.ndarray) -> np.ndarray:
        """The model's P(U <= u) (uncensored), with 0 at -inf and 1 at +inf."""
        finite = np.isfinite(u)
        c = np.asarray(self._u.cdf(np.where(finite, u, 0.0)), dtype=np.float64)
        return np.where(finite, c, (u > 0).astype(np.float64))

    def _cdf_u(self, u: np.ndarray, left: bool = False) -> np.ndarray:
        """Censored P(U <= u), or P(U < u) with ``left``: the atoms sit on the closed ends."""
        a, b = self._u_range
        c = self._model_cdf(u)
        if left:
            return np.where(u <= a, 0.0, np.where(u > b, 1.0, c))
        return np.where(u < a, 0.0, np.where(u >= b, 1.0, c))

    def _model_cdf_grid(self, xs: np.ndarray) -> np.ndarray:
        """The model's P(U <= x) for every epoch and every x of a grid: shape (*epochs, len(xs))."""
        pred = self._u
        logits = torch.as_tensor(pred.logits).double()
        loc, scale = (torch.as_tensor(t).double()[..., None] for t in (pred.loc, pred.scale))
        z = (torch.as_tensor(xs, dtype=torch.float64) - loc) / scale  # (*epochs, G)
        z = z.expand(*logits.shape[:-1], len(xs))
        step = max(1, 2**22 // max(1, logits.shape[:-1].numel() * logits.shape[-1]))  # bound the (.., G, K) chunk
        parts = [
            pred.bar.cdf(logits[..., None, :].expand(*z[..., i : i + step].shape, -1), z[..., i : i + step])
            for i in range(0, len(xs), step)
        ]
        return torch.cat(parts, dim=-1).cpu().numpy()

    @cached_property
    def _mean_u(self) -> np.ndarray:
        """E[clip(U, a, b)] = a + E[(U - a)+] - E[(U - b)+], exactly (an open side drops its terms)."""
        a, b = self._u_range
        mean = np.asarray(self._u.mean, dtype=np.float64)
        if np.isfinite(a):
            mean = a + np.asarray(self._u.expected_improvement(a), dtype=np.float64)
        if np.isfinite(b):
            mean = mean - np.asarray(self._u.expected_improvement(b), dtype=np.float64)
        return mean

    @cached_property
    def _std_u(self) -> np.ndarray:
        """sqrt(E[(X - mean)^2]) of the censored X, from E[(X - m)^2] = int 2|x - m| P(X beyond x) dx."""
        a, b = self._u_range
        if not (np.isfinite(a) and np.isfinite(b)):  # an open side: integrate out to a far quantile
            far = np.asarray(self._u.quantile([1e-9, 1 - 1e-9]), dtype=np.float64)
            a = a if np.isfinite(a) else min(float(far[..., 0].min()), 0.0)
            b = b if np.isfinite(b) else max(float(far[..., 1].max()), 1.0)
        xs = np.linspace(a, b, _STD_GRID)
        mean = self._mean_u[..., None]
        cdf = self._model_cdf_grid(xs)
        beyond = np.where(xs >= mean, 1 - cdf, cdf)  # P(X > x) above the mean, P(X <= x) below it
        second = np.trapezoid(2 * np.abs(xs - mean) * beyond, xs, axis=-1)
        return np.sqrt(np.clip(second, 0, None))

    @property
    def mean(self) -> np.ndarray:
        """Predictive mean at each epoch (of the forecast censored at closed bounds; exact)."""
        return self._v(self._mean_u)

    @property
    def std(self) -> np.ndarray:
        """Predictive standard deviation at each epoch (censored at closed bounds; numerical integration)."""
        return self._span * self._std_u

    @property
    def median(self) -> np.ndarray:
        """Predictive median at each epoch."""
        return self.quantile(0.5)

    def quantile(self, q: float | Sequence[float]) -> np.ndarray:
        """Quantiles in the curve's units, each level strictly between 0 and 1 (a sequence adds a last axis).

        They are the model's quantiles clipped to the closed bounds (a decreasing map swaps the tails).
        """
        levels = np.asarray(q.detach().cpu().numpy() if isinstance(q, torch.Tensor) else q)
        if levels.dtype.kind not in "iuf" or levels.ndim > 1 or levels.size == 0:
            raise ValueError(f"q must be a level or a 1-D sequence of levels in (0, 1), got {q!r}")
        levels = levels.astype(np.float64)
        if not ((levels > 0) & (levels < 1)).all():
            raise ValueError(f"q must lie strictly between 0 and 1, got {q!r}")
        u = np.asarray(self._u.quantile((levels if self._sign > 0 else 1 - levels).tolist()), dtype=np.float64)
        return self._v(np.clip(u, *self._u_range))

    def interval(self, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """Interval holding ``level`` (in (0, 1)) of the predictive mass at each epoch: (lower, upper).

        Equal tails, ``(1 - level) / 2`` on each side, except next to an atom on a closed bound: an atom of
        at least that much mass (say P(accuracy = 1)) lies inside the interval whole, so the interval ends
        at that bound and leaves all of ``1 - level`` to the other tail. The equal-tailed interval would
        then hold ``1 - (1 - level) / 2`` or more (95% for a "90%" interval); this one holds ``level``
        wherever the predictive allows (an atom heavier than ``level`` alone holds more).
        """
        lv = _number(level, "level")
        if not 0 < lv < 1:
            raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
        alpha = 1 - lv
        # model-scale (u, higher is better) quantiles at the equal tails and at each one-sided tail
        q = np.clip(np.asarray(self._u.quantile([alpha / 2, 1 - alpha / 2, alpha, 1 - alpha]), np.float64),
                    *self._u_range)  # fmt: skip
        lower, upper = q[..., 0], q[..., 1]
        a, b = self._u_range
        worse_atom, better_atom = self._atoms()
        at_worse = worse_atom >= alpha / 2  # the interval starts at the worse bound: [a, q(1 - alpha)]
        at_better = ~at_worse & (better_atom >= alpha / 2)  # it ends at the better bound: [q(alpha), b]
        lower = np.where(at_worse, a, np.where(at_better, q[..., 2], lower))
        upper = np.where(at_worse, q[..., 3], np.where(at_better, b, upper))
        ends = self._v(lower), self._v(upper)
        return ends if self._sign > 0 else (ends[1], ends[0])

    def cdf(self, v: ArrayLike) -> np.ndarray:
        """P(value <= v) at each epoch; ``v`` a number (±inf allowed) or one per epoch."""
        u = self._u_of(v, "v")
        return self._cdf_u(u) if self._sign > 0 else 1 - self._cdf_u(u, left=True)

    def log_prob(self, v: ArrayLike) -> np.ndarray:
        """Log density of ``v`` at each epoch (the continuous part; -inf beyond a closed bound)."""
        u = self._u_of(v, "v")
        a, b = self._u_range
        inside = np.isfinite(u) & (u >= a) & (u <= b)
        lp = np.asarray(self._u.log_prob(np.where(inside, u, 0.5)), dtype=np.float64) - np.log(self._span)
        return np.where(inside, lp, -np.inf)

    def probability_better_than(self, v: ArrayLike) -> np.ndarray:
        """P(the value is strictly better than ``v``) at each epoch, in the curve's direction."""
        return 1 - self._cdf_u(self._u_of(v, "v"))

    def _atoms(self) -> tuple[np.ndarray, np.ndarray]:
        """P(U = a) and P(U = b) at each epoch: the model's mass beyond each closed bound, which the censored
        forecast puts on it (0 on an open side)."""
        a, b = self._u_range
        none = np.zeros(self.epochs.shape)
        worse = self._model_cdf(np.full(self.epochs.shape, a)) if np.isfinite(a) else none
        better = 1 - self._model_cdf(np.full(self.epochs.shape, b)) if np.isfinite(b) else none
        return worse, better

    def _pit(self, v: float, rng: np.random.Generator) -> float:
        """The model's P(U <= u) of the value ``v`` at the last epoch; on a closed bound, where the censored
        forecast has an atom, a uniform draw across the atom's mass (a randomised PIT)."""
        u = float(self._u_of(v, "v")[-1])
        a, b = self._u_range
        worse, better = (float(atom[-1]) for atom in self._atoms())
        if u >= b:
            return 1 - better + rng.uniform() * better
        if u <= a:
            return rng.uniform() * worse
        return float(self._model_cdf(np.full(self.epochs.shape, u))[-1])


def _per_curve(arg: Any, n: int, name: str, sequence_per_curve: bool) -> list[Any]:
    """``arg`` repeated for n curves, or checked to hold one entry per curve.

    With ``sequence_per_curve`` (epochs, future_epochs) a flat sequence of numbers belongs to a
    single curve (epochs) or is shared (future_epochs); otherwise (max_epochs) a number is shared.
    """
    if arg is None or _is_scalar_like(arg):
        return [arg] * n
    if isinstance(arg, torch.Tensor):
        arg = arg.detach().cpu().numpy()
    if isinstance(arg, dict):
        raise ValueError(f"{name} must be a number, a sequence, or one per curve; got a dict")
    try:
        items = list(arg)
    except TypeError as err:
        raise ValueError(f"{name} must be a number, a sequence, or one per curve; got {type(arg).__name__}") from err
    if sequence_per_curve and all(_is_scalar_like(v) for v in items):
        return [arg] * n  # one sequence for the only curve, or shared by every curve (checked later)
    if len(items) != n:
        raise ValueError(f"{name} must be given once or once per curve ({n} curves), got {len(items)}")
    return items


def extrapolate(
    values: ArrayLike,
    epochs: ArrayLike | None = None,
    future_epochs: ArrayLike | None = None,
    max_epochs: ArrayLike | None = None,
    *,
    direction: str = "maximize",
    bounds: Bounds = (0.0, 1.0),
    budget_scale: str = "linear",
    model: str | os.PathLike | Predictor = DEFAULT_MODEL,
    calibration: Calibration | str | os.PathLike | None = "auto",
) -> CurveForecast | list[CurveForecast]:
    """Posterior predictive of future values of one learning curve or many (ragged lengths allowed).

    Every finite curve gets a forecast, however long it is and whichever way it goes:

    - **Long curves.** A curve of more than :func:`max_points` values (99 for the shipped models,
      the largest context they were trained on) is thinned as :func:`thin` does: the model sees the
      values at the budgets nearest to ``max_points`` budgets spaced evenly on ``budget_scale``
      from the first observed budget to the last, both kept. The whole curve is still checked and
      sets the value map (an open bound is the extreme of all its values). The kept points show the
      curve's shape, level and noise over its whole range; the dropped ones would mostly average
      noise, so the forecast of a smooth curve barely changes (measured in the guide).
    - **Declining curves** (overfitting, a learning-rate spike, an unstable run) are forecast like
      any other. The model was trained on improving curves, so it reads a decline as noise or a
      setback rather than a trend: the forecast does not continue the decline, it is wider, and the
      further ``max_epochs`` lies beyond the observations, the more recovery it allows.
      :func:`gets_steadily_worse` picks out runs that keep getting worse (the Optuna pruner prunes them).

    Args:
        values: one curve (a sequence of observed values) or a list of curves, of any lengths.
        epochs: the budgets at which values were observed (default 1, 2, 3, ...); one sequence per curve.
        future_epochs: budgets to predict (default: ``[max_epochs]``); one sequence per curve or shared.
            Each lies between one grid step before the first observed budget and ``max_epochs``.
        max_epochs: the final budget of the run(s); a number or one per curve. Required.
        direction: "maximize" (accuracy) or "minimize" (error, loss).
        bounds: (lower, upper) the metric can take; None (or an infinite bound) for an open side,
            taken from the curve. Closed bounds censor the forecast.
        budget_scale: "linear" for evenly spaced budgets, "log" for geometrically growing ones (also
            the scale on which long curves are thinned).
        model: a learning-curve model's name or path, or a loaded predictor (see :func:`load`).
        calibration: a :class:`Calibration` of the model on finished runs (or a path to one saved),
            None for the model's own predictive, or "auto": the one stored with the model, if any
            (the shipped ``lc-real`` has one, fitted on real runs; see :mod:`pfn.curves.calibration`).

    Returns:
        A :class:`CurveForecast` for one curve, or a list of them.

    Raises:
        ValueError: an invalid argument (NaN or inf, an empty curve, values outside closed bounds, ...);
            the message names it and says what was expected.
    """
    curves, single = _curves(values)
    n = len(curves)
    direction = _choice(direction, DIRECTIONS, "direction")
    budget_scale = _choice(budget_scale, BUDGET_SCALES, "budget_scale")
    checked_bounds = _check_bounds(bounds)
    predictor = _model(model)
    recalibration = resolve_calibration(calibration, predictor)
    grid, limit = _grid(predictor), max_points(predictor)
    epochs_list = _per_curve(epochs, n, "epochs", sequence_per_curve=True)
    max_list = _per_curve(max_epochs, n, "max_epochs", sequence_per_curve=False)
    future_list = _per_curve(future_epochs, n, "future_epochs", sequence_per_curve=True)
    maps, futures = [], []
    for i, c in enumerate(curves):
        name = "values" if single else f"values[{i}]"
        m = _CurveMap(c, epochs_list[i], max_list[i], direction, checked_bounds, budget_scale, grid, name, limit)
        maps.append(m)
        futures.append(m.future(future_list[i], name))
    # one forward pass per group of curves with equal numbers of observed and future points
    groups: dict[tuple[int, int], list[int]] = {}
    for i in range(n):
        groups.setdefault((len(maps[i].u), len(futures[i])), []).append(i)
    out: dict[int, CurveForecast] = {}
    for idx in groups.values():
        x = np.stack([maps[i].x for i in idx])[..., None]
        u = np.stack([maps[i].u for i in idx])
        xq = np.stack([np.clip(maps[i].position(futures[i]), 0.0, 1.0) for i in idx])[..., None]
        pred = predictor.predict(x, u, xq)
        assert isinstance(pred, PosteriorPredictive)  # a curve model is a regressor
        fractions = np.stack([maps[i].x[-1] for i in idx])[:, None] / np.maximum(xq[..., 0], 1e-9)  # (curves, future)
        logits = pred.logits
        if recalibration is not None:  # one group for the whole call: bounds, direction and scale are shared
            logits = recalibration.recalibrate(logits, group_of(maps[idx[0]].closed, budget_scale), fractions)
        for row, i in enumerate(idx):
            m = maps[i]
            sub = PosteriorPredictive(logits[row], pred.bar, pred.loc[row], pred.scale[row], numpy=True)
            out[i] = CurveForecast(futures[i], sub, m.loc, m.span, m.sign, m.closed, fractions[row])
    return out[0] if single else [out[i] for i in range(n)]


def probability_of_beating(
    values: ArrayLike,
    best: float,
    max_epochs: ArrayLike,
    *,
    epochs: ArrayLike | None = None,
    direction: str = "maximize",
    bounds: Bounds = (0.0, 1.0),
    budget_scale: str = "linear",
    model: str | os.PathLike | Predictor = DEFAULT_MODEL,
    calibration: Calibration | str | os.PathLike | None = "auto",
) -> float | np.ndarray:
    """P(the curve's value at ``max_epochs`` is strictly better than ``best``), per curve.

    "Better" follows ``direction`` (higher for "maximize", lower for "minimize"); ``best`` is a
    number (±inf allowed). The other arguments are those of :func:`extrapolate`, and so is the
    forecast: any finite curve is judged, a declining one included, and one longer than
    :func:`max_points` is thinned first.
    """
    best_value = _number(best, "best", allow_inf=True)
    forecasts = extrapolate(
        values, epochs=epochs, max_epochs=max_epochs, direction=direction, bounds=bounds,
        budget_scale=budget_scale, model=model, calibration=calibration,
    )  # fmt: skip
    if isinstance(forecasts, CurveForecast):
        return float(forecasts.probability_better_than(best_value)[-1])
    return np.array([float(f.probability_better_than(best_value)[-1]) for f in forecasts])


class CurveOptions(TypedDict, total=False):
    """Keyword arguments shared by :func:`probability_of_beating` and :func:`should_stop` (see :func:`extrapolate`)."""

    epochs: ArrayLike | None
    direction: str
    bounds: Bounds
    budget_scale: str
    model: str | os.PathLike | Predictor
    calibration: Calibration | str | os.PathLike | None


def should_stop(
    values: ArrayLike, best: float, max_epochs: ArrayLike, threshold: float = 0.05, **options: Unpack[CurveOptions]
) -> bool | np.ndarray:
    """Stop a run when its chance of finishing better than ``best`` is below ``threshold``.

    Returns True when ``probability_of_beating(values, best, max_epochs) < threshold``; so a
    larger threshold stops more runs (the rule is monotone in it), 0 never stops, and 1 stops
    every run that is not certain to win. The keyword arguments (``epochs``, ``direction``, ``bounds``,
    ``budget_scale``, ``model``, ``calibration``) are those of :func:`extrapolate`, whose forecast it uses: any finite
    curve is judged, a declining one included, and one longer than :func:`max_points` is thinned first.
    """
    limit = _check_threshold(threshold)
    stop = np.asarray(probability_of_beating(values, best, max_epochs, **options)) < limit
    return bool(stop) if stop.ndim == 0 else stop
