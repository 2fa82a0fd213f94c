"""Learning curves conditioned on the whole hyperparameter search (freeze-thaw): :class:`Search`.

    >>> from pfn import curves
    >>> search = curves.Search(configs=[[0.1, 0.5], [0.8, 0.2]],
    ...                        values=[[0.50, 0.61, 0.66], [0.40, 0.45]], max_epochs=50)
    >>> f = search.forecast([[0.1, 0.5], [0.5, 0.5]])      # epoch 50; the second run has not started
    >>> f.median, f.interval(0.9)                             # one row per configuration
    >>> search.probability_of_beating([[0.5, 0.5]])           # P(final value beats the incumbent)

A *search model* (``pfn.load("search")`` by default) is a checkpoint trained on
:class:`priors.LearningCurveSearchPrior`: its inputs are a configuration in [0, 1]^h (h up to the
model's features minus one, the other columns zero) and the budget ``epoch / max_epochs`` last; its
output is the value in [0, 1], higher is better. Values are mapped as :func:`pfn.curves.extrapolate`
maps them (``direction``, closed ``bounds`` censor the forecast, an open bound is taken from the
values of the whole search), so the forecasts are :class:`pfn.curves.CurveForecast` objects.

Every run of the search is one configuration and its curve, observed from its first budget on;
runs may have any lengths (ragged), and two runs may share a configuration (repeated seeds: the
model reads their values as replicates). The model forecasts from at most its training context
(:attr:`Search.max_context`, 450 points for the shipped model); a longer history is thinned, every
run alike, as :func:`pfn.curves.thin` thins a curve: each run keeps its first and last observation
and the ones nearest evenly spaced budgets in between (:func:`fit_context`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from pfn.curves.checks import DIRECTIONS, Bounds, _check_bounds, _choice, _is_scalar_like, _number, _numbers
from pfn.curves.forecast import CurveForecast
from pfn.curves.inputs import _check_value_range, _thin_indices, _value_map
from pfn.curves.models import _cached
from pfn.inference.predictive import PosteriorPredictive
from pfn.inference.predictor import ConditionedPredictor, Predictor
from pfn.types import ArrayLike

#: the prior every search model is trained on (``config["prior"]["name"]`` of its checkpoint)
SEARCH_PRIOR = "LearningCurveSearchPrior"
#: the shipped search model used when none is given
DEFAULT_SEARCH_MODEL = "search"


# -- the model ------------------------------------------------------------------------------------
def load_search_model(model: str | os.PathLike | Predictor = DEFAULT_SEARCH_MODEL) -> Predictor:
    """The search model ``model`` (a name, a path or a loaded Predictor), checked to be one.

    Raises:
        ValueError: no such file or shipped model, or its prior is not a search prior.
    """
    return _cached(model, _check_search_model, "search model")


def _check_search_model(predictor: Predictor, label: str) -> Predictor:
    prior = predictor.config.get("prior")
    name = prior.get("name") if isinstance(prior, dict) else None
    if name != SEARCH_PRIOR or predictor.is_classifier or predictor.num_features < 2:
        raise ValueError(
            f"model {label} is not a search model: its prior is {name or 'not recorded'}; a search model's checkpoint "
            f"has prior {SEARCH_PRIOR!r} (train one with `pfn train experiment=search`)"
        )
    return predictor


def _grid(predictor: Predictor) -> int:
    """Most observations of one run the model saw in training: the prior's largest number of epochs."""
    return int(predictor.config["prior"].get("max_epochs", 100))


# -- the history ----------------------------------------------------------------------------------
def fit_context(lengths: ArrayLike, limit: int, per_run: int | None = None) -> np.ndarray:
    """How many observations each run keeps so that the whole search fits ``limit`` points.

    Every run keeps ``min(length, k)`` observations with the largest ``k`` (at most ``per_run``) for
    which the total fits; when even one observation per run does not fit, the ``limit`` runs
    with the most observations keep their last one, the others none (ties: the earlier run).

    Returns:
        The number of observations each run keeps, an integer array like ``lengths``.
    """
    n = np.asarray(lengths, dtype=np.int64)
    cap = int(n.max(initial=0)) if per_run is None else min(int(per_run), int(n.max(initial=0)))
    if n.size == 0 or cap == 0:
        return np.zeros_like(n)
    if (n > 0).sum() > limit:
        keep = np.zeros_like(n)
        keep[np.argsort(-n, kind="stable")[:limit]] = 1
        return np.minimum(keep, n)
    lo, hi = 1, cap  # the largest k with sum(min(n, k)) <= limit, by bisection
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if np.minimum(n, mid).sum() <= limit else (lo, mid - 1)
    return np.minimum(n, lo)


def _configs(configs: Any, name: str, num_hyperparameters: int | None, limit: int) -> np.ndarray:
    """(n, h) float64 array in [0, 1], h <= limit (and equal to ``num_hyperparameters`` when given)."""
    if isinstance(configs, torch.Tensor):
        configs = configs.detach().cpu().numpy()
    try:
        arr = np.asarray(configs)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a 2-D array of configurations, one row each ({err})") from err
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold real numbers in [0, 1], got {arr.dtype} values")
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (configurations, hyperparameters), got {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf; configurations are points of [0, 1]^h")
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError(
            f"{name} must lie in [0, 1] (scale each hyperparameter to the unit interval, e.g. log-scale then "
            f"min-max), got values from {arr.min():g} to {arr.max():g}"
        )
    if num_hyperparameters is not None and arr.shape[1] != num_hyperparameters:
        raise ValueError(f"{name} must have {num_hyperparameters} hyperparameters per row, as the search's configs")
    if arr.shape[1] > limit:
        raise ValueError(f"{name} has {arr.shape[1]} hyperparameters; this search model takes at most {limit}")
    return arr


class Search:
    """A hyperparameter search's history, forecast jointly: any configuration at any budget.

    Args:
        configs: the runs' configurations, shape (runs, h), each hyperparameter scaled to [0, 1]
            (h at most the model's :attr:`max_hyperparameters`; 6 for the shipped model).
        values: one curve per run (sequences of any lengths, at least one value each).
        max_epochs: the budget at which a run is complete (the same for every run).
        epochs: the budgets of each run's values (default 1, 2, 3, ...), one sequence per run,
            strictly increasing, positive and at most ``max_epochs``.
        direction: "maximize" (accuracy) or "minimize" (error, loss).
        bounds: (lower, upper) of the metric; None (or an infinite bound) for an open side, taken
            from the values of the whole search. Closed bounds censor the forecasts.
        model: a search model's name or path, or a loaded predictor (:func:`load_search_model`).

    Raises:
        ValueError: an invalid argument (NaN or inf, an empty curve, a configuration outside
            [0, 1], values outside closed bounds, ...), named in the message.
    """

    def __init__(
        self,
        configs: ArrayLike,
        values: Any,
        max_epochs: float,
        *,
        epochs: Any = None,
        direction: str = "maximize",
        bounds: Bounds = (0.0, 1.0),
        model: str | os.PathLike | Predictor = DEFAULT_SEARCH_MODEL,
    ):
        self.predictor = load_search_model(model)
        self.max_hyperparameters = self.predictor.num_features - 1
        self.configs = _configs(configs, "configs", None, self.max_hyperparameters)
        self.num_hyperparameters = self.configs.shape[1]
        n = len(self.configs)
        self.max_epochs = _number(max_epochs, "max_epochs")
        if not self.max_epochs > 0:
            raise ValueError(f"max_epochs must be positive, got {max_epochs!r}")
        self.direction = _choice(direction, DIRECTIONS, "direction")
        self.bounds = _check_bounds(bounds)
        self.values = _runs(values, n, "values")
        self.epochs = self._budgets(epochs, n)
        everything = np.concatenate(self.values)
        self._loc, self._span, self._sign = _value_map(everything, self.direction, self.bounds)
        _check_value_range(everything, self._loc, self._span, self._sign, "values", "search")
        worse, better = self.bounds if self._sign > 0 else self.bounds[::-1]
        self._closed = (worse is not None, better is not None)
        self._conditioned: ConditionedPredictor | None = None

    # -- checks --
    def _budgets(self, epochs: Any, n: int) -> list[np.ndarray]:
        out = [np.arange(1.0, len(v) + 1) for v in self.values] if epochs is None else _runs(epochs, n, "epochs")
        for i, (e, v) in enumerate(zip(out, self.values, strict=True)):
            if e.shape != v.shape:
                raise ValueError(f"epochs[{i}] must have one budget per value of values[{i}] ({len(v)}), got {len(e)}")
            if not (np.diff(e) > 0).all():
                raise ValueError(f"epochs[{i}] must be strictly increasing")
            if e[0] <= 0 or e[-1] > self.max_epochs * (1 + 1e-12):
                raise ValueError(
                    f"epochs[{i}] must lie in (0, max_epochs={self.max_epochs:g}], got {e[0]:g} .. {e[-1]:g}"
                )
        return out

    # -- the model's view --
    @property
    def max_context(self) -> int:
        """The most observations the model conditions on (its largest training context)."""
        return int(self.predictor.max_context or _grid(self.predictor))

    @property
    def num_points(self) -> int:
        """Observations in the history."""
        return sum(len(v) for v in self.values)

    @property
    def incumbent(self) -> float:
        """The best value observed so far, at any budget, in ``direction``."""
        best = max(float((self._sign * v).max()) for v in self.values)
        return self._sign * best

    def beyond_incumbent(self, share: float) -> float:
        """The value a ``share`` of the way from the :attr:`incumbent` to the best value the metric can take.

        The best value is the closed bound on the better side; with that side open it lies one
        range of the search's values beyond the incumbent.
        """
        u_best = (self.incumbent - self._loc) / (self._sign * self._span)
        room = 1.0 - u_best if self._closed[1] else 1.0
        return self._loc + self._sign * self._span * (u_best + _number(share, "share") * room)

    def _inputs(self, configs: np.ndarray, budgets: np.ndarray) -> np.ndarray:
        """Model inputs (m, num_features): the configuration, zeros, then ``budget / max_epochs``."""
        x = np.zeros((len(configs), self.predictor.num_features))
        x[:, : configs.shape[1]] = configs
        x[:, -1] = budgets / self.max_epochs
        return x

    def context(self) -> tuple[np.ndarray, np.ndarray]:
        """The (inputs, mapped values) the model conditions on, after thinning (see :func:`fit_context`)."""
        keep = fit_context([len(v) for v in self.values], self.max_context, per_run=_grid(self.predictor))
        xs, us = [], []
        for c, e, v, k in zip(self.configs, self.epochs, self.values, keep, strict=True):
            if k == 0:
                continue
            idx = _thin_indices(e, int(k), "linear") if k > 1 else np.array([len(e) - 1])
            xs.append(self._inputs(np.repeat(c[None], len(idx), axis=0), e[idx]))
            us.append((v[idx] - self._loc) / (self._sign * self._span))
        return np.concatenate(xs), np.concatenate(us)

    def _condition(self) -> ConditionedPredictor:
        if self._conditioned is None:
            x, u = self.context()
            self._conditioned = self.predictor.condition(x, u)
        return self._conditioned

    # -- forecasts --
    def forecast(self, configs: ArrayLike, epochs: ArrayLike | None = None) -> CurveForecast:
        """Posterior predictive of each configuration's value at ``epochs`` (default ``max_epochs``).

        Args:
            configs: one configuration (h,) or many (q, h), in [0, 1]: started runs, or runs not
                started yet.
            epochs: a budget or a 1-D sequence of budgets in (0, max_epochs], shared by every configuration.

        Returns:
            A :class:`pfn.curves.CurveForecast` in the metric's units whose arrays have shape
            (len(epochs),) for one configuration and (q, len(epochs)) for many.
        """
        single = not _is_scalar_like(configs) and np.ndim(configs) == 1
        given = np.atleast_2d(configs) if single else configs
        q = _configs(given, "configs", self.num_hyperparameters, self.max_hyperparameters)
        budgets = self._future(epochs)
        grid = np.repeat(budgets[None], len(q), axis=0)  # (q, E)
        x = self._inputs(np.repeat(q, len(budgets), axis=0), grid.reshape(-1))
        pred = self._condition().predict(x)
        assert isinstance(pred, PosteriorPredictive)  # a search model is a regressor
        shape = grid.shape[1:] if single else grid.shape
        logits = torch.as_tensor(pred.logits).reshape(*shape, -1)
        loc, scale = (torch.broadcast_to(t, pred.shape).reshape(shape) for t in (pred.loc, pred.scale))
        u = PosteriorPredictive(logits, pred.bar, loc, scale, numpy=True)
        return CurveForecast(grid[0] if single else grid, u, self._loc, self._span, self._sign, self._closed)

    def forecast_points(self, configs: ArrayLike, epochs: ArrayLike) -> CurveForecast:
        """Posterior predictive of ``configs[i]``'s value at ``epochs[i]``, each configuration at its own budget.

        Args:
            configs: (q, h) configurations in [0, 1].
            epochs: (q,) budgets in (0, max_epochs].

        Returns:
            A :class:`pfn.curves.CurveForecast` whose arrays have shape (q,).
        """
        q = _configs(configs, "configs", self.num_hyperparameters, self.max_hyperparameters)
        budgets = self._future(epochs)
        if budgets.shape != (len(q),):
            raise ValueError(f"epochs must hold one budget per configuration ({len(q)}), got {budgets.shape}")
        pred = self._condition().predict(self._inputs(q, budgets))
        assert isinstance(pred, PosteriorPredictive)
        return CurveForecast(budgets, pred, self._loc, self._span, self._sign, self._closed)

    def probability_of_beating(
        self, configs: ArrayLike, best: float | None = None, epoch: float | None = None
    ) -> np.ndarray:
        """P(each configuration's value at ``epoch`` (default ``max_epochs``) is strictly better than ``best``).

        ``best`` defaults to the :attr:`incumbent`, the best value observed so far. Returns one
        probability per configuration (shape (q,), or a 0-d array for one configuration).
        """
        level = self.incumbent if best is None else _number(best, "best", allow_inf=True)
        at = self.max_epochs if epoch is None else _number(epoch, "epoch")
        p = self.forecast(configs, [at]).probability_better_than(level)
        return p[..., 0]

    def _future(self, epochs: ArrayLike | None) -> np.ndarray:
        if epochs is None:
            return np.array([self.max_epochs])
        f = np.array([_number(epochs, "epochs")]) if np.ndim(epochs) == 0 else _numbers(epochs, "epochs")
        bad = f[(f <= 0) | (f > self.max_epochs * (1 + 1e-12))]
        if bad.size:
            raise ValueError(f"epochs must lie in (0, max_epochs={self.max_epochs:g}], got {bad[0]:g}")
        return f

    def __repr__(self) -> str:
        return (
            f"Search({len(self.configs)} runs, {self.num_points} observations, {self.num_hyperparameters} "
            f"hyperparameters, max_epochs={self.max_epochs:g}, direction={self.direction!r})"
        )


def _runs(values: Any, n: int, name: str) -> list[np.ndarray]:
    """One non-empty finite 1-D float array per run (ragged lengths allowed)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    if isinstance(values, np.ndarray) and values.dtype != object and values.ndim == 2:
        values = list(values)
    if _is_scalar_like(values) or isinstance(values, dict):
        raise ValueError(f"{name} must be a list of sequences, one per run, got {type(values).__name__}")
    items = list(values)
    if len(items) != n:
        raise ValueError(f"{name} must hold one sequence per configuration ({n}), got {len(items)}")
    out = []
    for i, v in enumerate(items):
        try:
            out.append(_numbers(v, f"{name}[{i}]"))
        except ValueError as err:
            if "NaN or inf" in str(err):
                raise ValueError(
                    f"{name}[{i}] contains NaN or inf; pass only the finite observations (a diverged run's "
                    "NaN losses are not values: stop the run, or record the metric's worst value)"
                ) from None
            raise
    return out
