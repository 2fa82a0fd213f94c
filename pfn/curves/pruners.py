"""Optuna pruners that stop trials whose learning curve is unlikely to beat the best trial so far.

    import optuna
    from pfn.curves.pruners import LearningCurvePruner, SearchPruner

    study = optuna.create_study(direction="maximize",
                                pruner=LearningCurvePruner(max_epochs=50, threshold=0.02, min_epochs=5))
    study = optuna.create_study(direction="maximize", pruner=SearchPruner(max_epochs=50, threshold=0.1))

:class:`LearningCurvePruner` forecasts each trial's curve alone; :class:`SearchPruner` conditions
on every trial's curve of the study at once (a search model, :class:`pfn.curves.Search`).

Each trial reports its metric with ``trial.report(value, epoch)`` and asks ``trial.should_prune()``.
The pruner never raises during a study: a trial it cannot judge is kept (with a
:class:`PrunerWarning` saying why, once per cause). Optuna is an optional dependency:
``pip install 'pfn[hpo]'``.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

from pfn.curves.calibration import Calibration
from pfn.curves.calibration import resolve as resolve_calibration
from pfn.curves.checks import BUDGET_SCALES, _check_bounds, _check_threshold, _choice, _number
from pfn.curves.forecast import probability_of_beating
from pfn.curves.inputs import gets_steadily_worse
from pfn.curves.models import DEFAULT_MODEL, _model
from pfn.curves.search import DEFAULT_SEARCH_MODEL, Search, load_search_model
from pfn.inference.predictor import Predictor

try:
    import optuna
    from optuna.distributions import BaseDistribution
    from optuna.pruners import BasePruner
    from optuna.trial import TrialState
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("the learning-curve pruners need optuna: pip install 'pfn[hpo]'") from err

from pfn.optuna_space import to_unit  # noqa: E402  (after the check that optuna is installed)


class PrunerWarning(UserWarning):
    """The pruner could not judge a trial (and so kept it running)."""


class _ForecastPruner(BasePruner):
    """What the pruners share: the checks of their common arguments, and a study they never abort
    (a trial that cannot be judged is kept, with a :class:`PrunerWarning` once per cause)."""

    def __init__(self, max_epochs: float, threshold: float, min_epochs: int, bounds: tuple[float | None, float | None]):
        self.max_epochs = _number(max_epochs, "max_epochs")
        if not self.max_epochs > 0:
            raise ValueError(f"max_epochs must be positive, got {max_epochs!r}")
        self.threshold = _check_threshold(threshold)
        if not isinstance(min_epochs, (int, np.integer)) or isinstance(min_epochs, (bool, np.bool_)):
            raise ValueError(f"min_epochs must be a positive integer, got {min_epochs!r} ({type(min_epochs).__name__})")
        if min_epochs < 1:
            raise ValueError(f"min_epochs must be at least 1, got {min_epochs!r}")
        self.min_epochs = int(min_epochs)
        self.bounds = _check_bounds(bounds)
        self._warned: set[str] = set()

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        """Whether to stop ``trial`` now; never raises (a trial that cannot be judged is kept)."""
        try:
            return self._prune(study, trial)
        except Exception as err:  # a pruner must not abort the study
            self._warn(type(err).__name__, f"kept trial {trial.number}: its curve could not be judged ({err})")
            return False

    def _prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        raise NotImplementedError

    def _warn(self, cause: str, message: str) -> None:
        if cause not in self._warned:
            self._warned.add(cause)
            warnings.warn(f"{type(self).__name__} {message}", PrunerWarning, stacklevel=3)


class LearningCurvePruner(_ForecastPruner):
    """Prune a trial when P(its final value beats the best completed trial's) < ``threshold``,
    or when it diverges.

    A trial is pruned, in this order:

    1. at once, even before ``min_epochs``, when it reports NaN or ±inf (a diverged run);
    2. from its ``min_epochs``-th report on, when its curve keeps getting worse
       (:func:`pfn.curves.gets_steadily_worse`: a diverging run). The forecast alone would often
       keep such a run: the model, trained on improving curves, reads a sustained decline as a
       setback it may recover from (with the shipped ``lc-wide``, an accuracy falling from 0.90 to
       0.46 over the first 12 of 100 epochs keeps an 8% chance of ending above 0.90);
    3. from its ``min_epochs``-th report on, once a trial has completed, when the probability
       that its value at ``max_epochs`` is better than the best completed trial's
       (:func:`pfn.curves.probability_of_beating`) is below ``threshold``. A curve that declined
       for a while without diverging (overfitting, a learning-rate spike) is judged this way too.

    **Long runs.** A model forecasts from at most :func:`pfn.curves.max_points` observations
    (99 for the shipped models). :func:`pfn.curves.probability_of_beating` thins a trial with more
    reports as :func:`pfn.curves.thin` does: the reports nearest to that many budgets spaced evenly
    (on ``budget_scale``) from its first report to its last, first and last included; the others
    are not used for the forecast.

    A trial the model cannot judge (a report outside closed ``bounds``, a step beyond
    ``max_epochs``, a step 0 with ``budget_scale="log"``) is kept, and a :class:`PrunerWarning`
    says why (once per cause).

    Args:
        max_epochs: the budget at which trials finish (the step of their last report); a positive number.
        threshold: prune below this probability of beating the best, in [0, 1] (larger prunes more; 0
            prunes only diverged trials).
        min_epochs: never prune a finite curve before this many reports; a positive integer.
        bounds: (lower, upper) of the metric; None (or an infinite bound) for an open side, e.g. a
            loss: ``(0, None)``.
        budget_scale: "linear" or "log" (for geometrically growing budgets).
        model: the learning-curve model's name or path, or a loaded predictor; loaded here, so a
            model that is missing or not a curve model fails at once.
        calibration: as in :func:`pfn.curves.extrapolate`, read here; default None: the model's own
            forecasts, which ``threshold`` and ``min_epochs`` were chosen with. With the calibration
            stored in ``lc-real`` ("auto") the pruner spent more epochs and kept the unpruned best
            no more often on the tuning pools of ``scripts/bench_search.py`` (the calibration fits
            where final values fall on average over many kinds of runs; a pruning decision hangs on
            the upper tail of the best runs' forecasts).

    Raises:
        ValueError: an invalid argument, named in the message.
    """

    def __init__(
        self,
        max_epochs: float,
        threshold: float = 0.02,
        min_epochs: int = 5,
        bounds: tuple[float | None, float | None] = (0.0, 1.0),
        budget_scale: str = "linear",
        model: str | os.PathLike | Predictor = DEFAULT_MODEL,
        calibration: Calibration | str | os.PathLike | None = None,
    ):
        super().__init__(max_epochs, threshold, min_epochs, bounds)
        self.budget_scale = _choice(budget_scale, BUDGET_SCALES, "budget_scale")
        self.model = model
        self.predictor = _model(model)
        self.calibration = resolve_calibration(calibration, self.predictor)

    def _prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        steps = sorted(trial.intermediate_values)
        values = np.array([trial.intermediate_values[s] for s in steps], dtype=np.float64)
        if not np.isfinite(values).all():
            return True  # NaN or inf: a diverged run
        if len(steps) < self.min_epochs:
            return False
        direction = "maximize" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "minimize"
        if gets_steadily_worse(values, direction, self.bounds):
            return True  # a diverging run: the curve model describes improving runs only
        completed = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
        if not completed:
            return False
        best = study.best_value
        if math.isnan(best):
            return False
        epochs = np.array(steps, dtype=np.float64)
        if epochs[-1] > self.max_epochs:
            self._warn("step", f"kept trial {trial.number}: step {steps[-1]} is beyond max_epochs={self.max_epochs:g}")
            return False
        if self.budget_scale == "log" and epochs[0] <= 0:
            self._warn("log", f"kept trial {trial.number}: budget_scale='log' needs positive steps, got {steps[0]}")
            return False
        p = probability_of_beating(
            values, best, self.max_epochs, epochs=epochs, direction=direction,
            bounds=self.bounds, budget_scale=self.budget_scale, model=self.predictor, calibration=self.calibration,
        )  # fmt: skip
        return bool(p < self.threshold)


class SearchPruner(_ForecastPruner):
    """Prune a trial when, given the curves of every trial of the study, P(its final value beats the
    best completed trial's) < ``threshold``.

    Unlike :class:`LearningCurvePruner`, which reads each curve alone, this pruner forecasts with a
    search model (:class:`pfn.curves.Search`): the trial's own curve *and* every other trial's
    curve, complete, pruned or running, each at its configuration. Runs close in the search space
    learn alike, so a search that has seen many curves knows early how a configuration's curve ends.

    A trial is pruned at once when it reports NaN or ±inf (a diverged run); otherwise, from its
    ``min_epochs``-th report on and once a trial has completed, when the probability is below
    ``threshold``. Other trials' curves are used up to their first non-finite report.

    **Configurations.** Each parameter of the trial is one coordinate in [0, 1]: floats and
    integers linearly or on their log scale, discrete ones at the centres of equal cells, a
    categorical's choices at equal cells in their listed order (:func:`pfn.optuna_space.to_unit`). A
    trial that lacks a parameter of the judged trial (a conditional search space) sits at its centre
    0.5. More parameters than the model's hyperparameters (6 for the shipped model) cannot be judged.

    **Budgets.** The step of a report is its epoch, 1 .. ``max_epochs``; a study whose reports start
    at step 0 has every step shifted by one (the report at step 0 is the first epoch's).

    The pruner never raises during a study: a trial it cannot judge is kept (a :class:`PrunerWarning`
    says why, once per cause).

    Args:
        max_epochs: the budget at which trials finish (their last report's epoch), a positive number.
        threshold: prune below this probability of beating the best, in [0, 1]. The default, 0.1,
            was chosen on the same tuning pools as ``min_epochs`` (with it): from 0.05, 0.1 and 0.2, it
            kept the unpruned best on 76, 75 and 62 of 80 seeds, 0.1 for about a sixth fewer epochs
            than 0.05.
        min_epochs: never prune a finite curve before this many reports; a positive integer. The
            default, 4, was chosen on the tuning pools of ``scripts/bench_search.py`` (10 seeds of
            random search and TPE on each of 4 tasks): from 1, 3, 4 and 6, it kept the unpruned
            best on the most seeds (38 of 40 under each sampler, against 34 and 38 with 1) for the
            fewest epochs.
        bounds: (lower, upper) of the metric; None (or an infinite bound) for an open side.
        model: the search model's name or path, or a loaded predictor (loaded here, so a missing or
            wrong model fails at once).
    """

    def __init__(
        self,
        max_epochs: float,
        threshold: float = 0.1,
        min_epochs: int = 4,
        bounds: tuple[float | None, float | None] = (0.0, 1.0),
        model: str | os.PathLike | Predictor = DEFAULT_SEARCH_MODEL,
    ):
        super().__init__(max_epochs, threshold, min_epochs, bounds)
        self.model = model
        self.predictor = load_search_model(model)

    def probability(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> float:
        """P(``trial``'s value at ``max_epochs`` beats the study's best value), given every trial's curve."""
        names = sorted(trial.distributions)
        limit = self.predictor.num_features - 1
        if len(names) > limit:
            raise ValueError(f"{len(names)} parameters, more than the search model's {limit} hyperparameters")
        usable = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        others = [t for t in study.get_trials(deepcopy=False, states=usable) if t.number != trial.number]
        curves = {t.number: _finite_prefix(t) for t in [*others, trial]}
        runs = [t for t in [*others, trial] if curves[t.number][0].size]
        shift = 1.0 if min(float(curves[t.number][0][0]) for t in runs) <= 0 else 0.0
        configs = np.array([[_coordinate(t, n, trial.distributions[n]) for n in names] for t in runs])
        search = Search(
            configs if names else np.zeros((len(runs), 1)),
            [curves[t.number][1] for t in runs],
            self.max_epochs,
            epochs=[curves[t.number][0] + shift for t in runs],
            direction="maximize" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "minimize",
            bounds=self.bounds,
            model=self.predictor,
        )
        return float(search.probability_of_beating(configs[-1] if names else [0.0], best=study.best_value))

    def _prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        values = list(trial.intermediate_values.values())
        if not np.isfinite(np.asarray(values, dtype=np.float64)).all():
            return True  # a NaN or inf report: the run diverged
        if len(values) < self.min_epochs:
            return False
        if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) or math.isnan(study.best_value):
            return False
        return self.probability(study, trial) < self.threshold


def _finite_prefix(trial: optuna.trial.FrozenTrial) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of a trial's reports, up to its first non-finite value."""
    steps = np.array(sorted(trial.intermediate_values), dtype=np.float64)
    values = np.array([trial.intermediate_values[int(s)] for s in steps], dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    end = int(bad[0]) if bad.size else len(values)
    return steps[:end], values[:end]


def _coordinate(trial: optuna.trial.FrozenTrial, name: str, distribution: BaseDistribution) -> float:
    """The trial's parameter ``name`` in [0, 1] (0.5 where the trial lacks it)."""
    if name not in trial.params:
        return 0.5
    return min(max(to_unit(trial.params[name], distribution), 0.0), 1.0)
