"""Optuna pruner that stops trials whose learning curve is unlikely to beat the best trial so far.

    import optuna
    from pfn.curves.pruners import LearningCurvePruner

    study = optuna.create_study(direction="maximize",
                                pruner=LearningCurvePruner(max_epochs=50, threshold=0.05, min_epochs=5))

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

from pfn.curves.checks import BUDGET_SCALES, _check_bounds, _check_threshold, _choice, _number
from pfn.curves.forecast import gets_steadily_worse, probability_of_beating
from pfn.curves.models import DEFAULT_MODEL, _model
from pfn.inference.predictor import Predictor

try:
    import optuna
    from optuna.pruners import BasePruner
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("the learning-curve pruner needs optuna: pip install 'pfn[hpo]'") from err


class PrunerWarning(UserWarning):
    """The pruner could not judge a trial (and so kept it running)."""


class LearningCurvePruner(BasePruner):
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

    Raises:
        ValueError: an invalid argument, named in the message.
    """

    def __init__(
        self,
        max_epochs: float,
        threshold: float = 0.05,
        min_epochs: int = 5,
        bounds: tuple[float | None, float | None] = (0.0, 1.0),
        budget_scale: str = "linear",
        model: str | os.PathLike | Predictor = DEFAULT_MODEL,
    ):
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
        self.budget_scale = _choice(budget_scale, BUDGET_SCALES, "budget_scale")
        self.model = model
        self.predictor = _model(model)
        self._warned: set[str] = set()

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        """Whether to stop ``trial`` now; never raises (a trial that cannot be judged is kept)."""
        try:
            return self._prune(study, trial)
        except Exception as err:  # a pruner must not abort the study
            self._warn(type(err).__name__, f"kept trial {trial.number}: its curve could not be judged ({err})")
            return False

    def _warn(self, cause: str, message: str) -> None:
        if cause not in self._warned:
            self._warned.add(cause)
            warnings.warn(f"LearningCurvePruner {message}", PrunerWarning, stacklevel=3)

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
            bounds=self.bounds, budget_scale=self.budget_scale, model=self.predictor,
        )  # fmt: skip
        return bool(p < self.threshold)
