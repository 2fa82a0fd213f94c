"""Freeze-thaw hyperparameter search: which run to continue next, decided by a search model.

    import numpy as np
    from pfn import curves

    candidates = np.random.default_rng(0).random((200, 3))        # configurations in [0, 1]^3

    def train(index, epochs, state):
        model = state or make_model(candidates[index])             # a new run, or the paused one
        values = [fit_one_epoch_and_score(model) for _ in range(epochs)]
        return values, model                                        # the new values, and the run to resume

    result = curves.freeze_thaw(train, candidates, max_epochs=50, total_epochs=1000, seed=0)
    result.best_index, result.best_value, result.epochs_used

Each decision continues one run by ``step`` epochs: a paused run from where it stopped (its state
is handed back to ``train``), or a candidate not started yet. The run is chosen by a randomised
probability of improvement at a random horizon (the acquisition of in-context freeze-thaw BO,
Rakotoarison et al., 2024): a horizon ``H`` (epochs ahead, uniform on 1 .. max_epochs) and a
threshold ``tau`` (a share ``10^U(-4, -1)`` of the way from the incumbent to the metric's best
possible value) are drawn, and the run maximising ``P(value at min(its epochs + H, max_epochs) >
tau)`` under :class:`pfn.curves.Search` is continued. Random horizons and thresholds let the search
move between exploiting nearly finished runs and trying new ones, without tuned constants.

Once a run has reached the metric's best possible value (a closed bound in the direction of
improvement, e.g. accuracy 1.0), nothing can beat it, and the probability of improvement is 0 for
every run. Such a run is then trained to ``max_epochs``; if it ends at that value the search stops,
leaving the rest of the budget unspent. If it ends below it, the run to continue is the one most
likely to end at the best possible value (``P(value at max_epochs = bound)``, the forecast's mass
on the bound).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pfn.curves.checks import DIRECTIONS, Bounds, _check_bounds, _choice, _number
from pfn.curves.search import DEFAULT_SEARCH_MODEL, Search, _configs, load_search_model
from pfn.inference.predictor import Predictor
from pfn.types import ArrayLike

#: ``train(index, epochs, state) -> (values, state)``: continue run ``index`` by ``epochs`` epochs
TrainFunction = Callable[[int, int, Any], tuple[Sequence[float], Any]]


@dataclass
class FreezeThawResult:
    """What a freeze-thaw search did: every run's curve, and its choices in order.

    Attributes:
        curves: each started candidate's observed values, by candidate index.
        decisions: (candidate index, epochs trained) of every call of ``train``, in order.
        epochs_used: epochs trained in all (at most ``total_epochs``).
        best_index: the candidate with the best observed value (at any epoch), in ``direction``.
        best_value: that value.
    """

    curves: dict[int, list[float]] = field(default_factory=dict)
    decisions: list[tuple[int, int]] = field(default_factory=list)
    epochs_used: int = 0
    best_index: int = -1
    best_value: float = float("nan")


def freeze_thaw(
    train: TrainFunction,
    candidates: ArrayLike,
    max_epochs: int,
    total_epochs: int,
    *,
    step: int = 1,
    initial_runs: int = 1,
    direction: str = "maximize",
    bounds: Bounds = (0.0, 1.0),
    model: str | os.PathLike | Predictor = DEFAULT_SEARCH_MODEL,
    seed: int | None = None,
) -> FreezeThawResult:
    """Run a freeze-thaw search over a pool of candidate configurations within ``total_epochs``.

    Args:
        train: ``train(index, epochs, state) -> (values, state)`` continues the run of
            ``candidates[index]`` by ``epochs`` epochs and returns the ``epochs`` new values (one per
            epoch) and the state to resume from later (``state`` is None for a new run, else what
            the last call for that run returned).
        candidates: (n, h) configurations in [0, 1]^h, h at most the model's hyperparameters.
        max_epochs: a run's full budget, a positive integer; no run is trained past it.
        total_epochs: the search's budget of epochs over all runs; never exceeded.
        step: epochs per decision (a positive integer; the last one of a run or of the search may be shorter).
        initial_runs: candidates started before the model decides (picked at random; at least 1).
        direction: "maximize" or "minimize", as for :class:`pfn.curves.Search`.
        bounds: (lower, upper) of the metric, as for :class:`pfn.curves.Search`.
        model: the search model's name or path, or a loaded predictor.
        seed: seeds the initial runs, the horizons and the thresholds.

    Returns:
        A :class:`FreezeThawResult`.

    Raises:
        ValueError: an invalid argument, or ``train`` returning other than ``epochs`` finite values.
    """
    pool = _configs(candidates, "candidates", None, load_search_model(model).num_features - 1)
    full, budget, chunk, first = (_positive_int(v, name) for v, name in [
        (max_epochs, "max_epochs"), (total_epochs, "total_epochs"), (step, "step"), (initial_runs, "initial_runs")
    ])  # fmt: skip
    direction = _choice(direction, DIRECTIONS, "direction")
    bounds = _check_bounds(bounds)
    rng = np.random.default_rng(seed)
    states: dict[int, Any] = {}
    result = FreezeThawResult()
    sign = 1.0 if direction == "maximize" else -1.0
    best_possible = bounds[1] if direction == "maximize" else bounds[0]
    reach = np.inf if best_possible is None else sign * best_possible  # the best possible value, signed

    def advance(index: int) -> None:
        done = len(result.curves.get(index, []))
        epochs = min(chunk, full - done, budget - result.epochs_used)
        values, states[index] = train(index, epochs, states.get(index))
        got = np.asarray(values, dtype=np.float64).reshape(-1)
        if got.shape != (epochs,) or not np.isfinite(got).all():
            raise ValueError(
                f"train({index}, {epochs}, state) must return {epochs} finite values (one per epoch) and a state, "
                f"got {len(got)} value(s){'' if np.isfinite(got).all() else ' with NaN or inf'}"
            )
        result.curves.setdefault(index, []).extend(got.tolist())
        result.decisions.append((index, epochs))
        result.epochs_used += epochs

    for index in rng.permutation(len(pool))[: min(first, len(pool))]:
        if result.epochs_used < budget:
            advance(int(index))
    while result.epochs_used < budget:
        done = np.array([len(result.curves.get(i, [])) for i in range(len(pool))])
        open_runs = np.flatnonzero(done < full)
        if open_runs.size == 0:
            break
        started = sorted(result.curves)
        at_bound = [i for i in started if max(sign * v for v in result.curves[i]) >= reach]
        if any(done[i] >= full and sign * result.curves[i][-1] >= reach for i in at_bound):
            break  # a run ended at the best possible value: nothing left to gain
        unfinished = [i for i in at_bound if done[i] < full]
        if unfinished:  # nothing can beat it: finish it
            advance(unfinished[0])
            continue
        search = Search(
            pool[started], [result.curves[i] for i in started], full, direction=direction, bounds=bounds, model=model
        )
        bound = best_possible if at_bound else None
        advance(int(open_runs[_pick(search, pool[open_runs], done[open_runs], full, rng, bound, sign)]))
    best = max(result.curves.items(), key=lambda kv: max(sign * v for v in kv[1]))  # at least one run started
    result.best_index, result.best_value = best[0], sign * max(sign * v for v in best[1])
    return result


def _pick(
    search: Search,
    configs: np.ndarray,
    done: np.ndarray,
    full: int,
    rng: np.random.Generator,
    bound: float | None = None,
    sign: float = 1.0,
) -> int:
    """Index (into ``configs``) of the run maximising P(value at its horizon > a random threshold); with the
    incumbent at the best possible value ``bound``, of the run maximising P(value at ``full`` = bound)."""
    if bound is not None:
        target = np.full(len(configs), float(full))
        tau = bound - sign * 1e-9 * (1.0 + abs(bound))  # just short of the bound: P(beyond) is the mass on it
    else:
        horizon = int(rng.integers(1, full + 1))
        target = np.minimum(done + horizon, full).astype(np.float64)
        tau = search.beyond_incumbent(10 ** rng.uniform(-4, -1))
    p = search.forecast_points(configs, target).probability_better_than(tau)
    return int(np.argmax(p + 1e-12 * rng.random(len(p))))  # random tie-break


def _positive_int(value: Any, name: str) -> int:
    number = _number(value, name)
    if isinstance(value, bool) or not number.is_integer() or number < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(number)
