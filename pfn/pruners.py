"""Optuna pruner that stops trials whose learning curve is unlikely to beat the best trial so far.

    import optuna
    from pfn.pruners import LearningCurvePruner

    study = optuna.create_study(direction="maximize",
                                pruner=LearningCurvePruner(max_epochs=50, threshold=0.05, min_epochs=5))

Each trial reports its metric with ``trial.report(value, epoch)`` and asks ``trial.should_prune()``.
Optuna is an optional dependency: ``pip install 'pfn[hpo]'``.
"""

from __future__ import annotations

from typing import Any

from pfn import curves

try:
    import optuna
    from optuna.pruners import BasePruner
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("pfn.pruners needs optuna: pip install 'pfn[hpo]'") from err


class LearningCurvePruner(BasePruner):
    """Prune a trial when P(its final value beats the best completed trial's) < ``threshold``,
    or when its curve keeps getting worse (a diverging run).

    Args:
        max_epochs: the budget at which trials finish (the step of their last report).
        threshold: prune below this probability of beating the best (larger prunes more).
        min_epochs: never prune before this many reports.
        bounds: (lower, upper) of the metric; None for an open side (e.g. a loss: ``(0, None)``).
        budget_scale: "linear" or "log" (for geometrically growing budgets).
        model: the learning-curve model's name or path.
    """

    def __init__(
        self,
        max_epochs: float,
        threshold: float = 0.05,
        min_epochs: int = 5,
        bounds: tuple[float | None, float | None] = (0.0, 1.0),
        budget_scale: str = "linear",
        model: Any = curves.DEFAULT_MODEL,
    ):
        if not 0 <= threshold <= 1:
            raise ValueError(f"threshold must lie in [0, 1], got {threshold!r}")
        if min_epochs < 1:
            raise ValueError(f"min_epochs must be at least 1, got {min_epochs!r}")
        self.max_epochs, self.threshold, self.min_epochs = max_epochs, threshold, min_epochs
        self.bounds, self.budget_scale, self.model = bounds, budget_scale, model

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        steps = sorted(trial.intermediate_values)
        if len(steps) < self.min_epochs:
            return False
        completed = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
        if not completed:
            return False
        best = study.best_value
        direction = "maximize" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "minimize"
        values = [trial.intermediate_values[s] for s in steps]
        if curves.gets_steadily_worse(values, direction, self.bounds):
            return True  # a diverging run: the curve model describes improving runs only
        p = curves.probability_of_beating(
            values, best, self.max_epochs, epochs=[float(s) for s in steps], direction=direction,
            bounds=self.bounds, budget_scale=self.budget_scale, model=self.model,
        )  # fmt: skip
        return bool(p < self.threshold)
