"""The Optuna pruner in real studies (shipped ``lc-wide``): whom it prunes, when, and that it never
aborts a study.

Decisions are tested on curves whose probability of beating the best is far from the threshold
(measured values in the comments), so they do not hinge on float rounding.
"""

import math
import warnings

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from pfn import curves  # noqa: E402
from pfn.pruners import LearningCurvePruner, PrunerWarning  # noqa: E402

State = optuna.trial.TrialState


def saturating(final: float, n: int = 30, speed: float = 0.4) -> list[float]:
    return [final * (1 - math.exp(-speed * e)) for e in range(1, n + 1)]


# a run that plateaus at 0.80 (P of ending above 0.95 after 8 reports: 0.002; above 0.55: 0.9997)
PLATEAU_080 = [0.6, 0.7, 0.75, 0.78, 0.79, 0.795, 0.797, 0.798, 0.799] + [0.8] * 21
# a run stuck near 0.32 (P of ending above 0.9: 0.0099 after one report, below 0.002 from the second on)
FLAT_032 = [0.30, 0.31, 0.315, 0.318, 0.32, 0.321, 0.322] + [0.322] * 23


def run_study(scripted: list[list[float]], pruner, direction: str = "maximize", finished: tuple[float, ...] = ()):
    """A real study whose trial i reports ``scripted[i]`` at steps 1, 2, ..., asking to prune after each
    report; returns the study and the number of reports each trial made. ``finished`` are the final
    values of completed trials added first (trials 0, 1, ...), in that order."""
    reports: dict[int, int] = {}
    offset = len(finished)

    def objective(trial):
        values = scripted[trial.number - offset]
        for epoch, v in enumerate(values, start=1):
            trial.report(v, epoch)
            reports[trial.number] = epoch
            if trial.should_prune():
                raise optuna.TrialPruned()
        return values[-1]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=direction, pruner=pruner)
    for value in finished:
        study.add_trial(optuna.trial.create_trial(value=value, state=State.COMPLETE))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrunerWarning)  # a trial the pruner could not judge fails the test
        study.optimize(objective, n_trials=len(scripted))
    return study, reports


@pytest.fixture(scope="module")
def lc():
    return curves.load("lc-wide")


def test_compares_with_the_best_completed_trial_not_the_worst_or_the_last(lc):
    # completed trials ended at 0.70, 0.95 and 0.55 (the best is neither first nor last); the probe
    # plateaus at 0.80: hopeless against 0.95, safe against 0.55 or 0.70
    pruner = LearningCurvePruner(30, threshold=0.05, min_epochs=8, model=lc)
    study, reports = run_study([PLATEAU_080], pruner, finished=(0.70, 0.95, 0.55))
    assert study.trials[3].state == State.PRUNED
    assert reports[3] == 8  # at the first report it may be pruned
    assert study.best_trial.number == 1
    # without the 0.95 trial the same probe runs to the end
    study, reports = run_study([PLATEAU_080], LearningCurvePruner(30, min_epochs=8, model=lc), finished=(0.70, 0.55))
    assert study.trials[2].state == State.COMPLETE and reports[2] == 30


def test_compares_with_the_best_when_minimising(lc):
    # error rates: the best completed trial ended at 0.05 (not first, not last); the probe plateaus at 0.20
    pruner = LearningCurvePruner(30, min_epochs=8, model=lc)
    study, reports = run_study([[1 - v for v in PLATEAU_080]], pruner, "minimize", finished=(0.30, 0.05, 0.45))
    assert study.trials[3].state == State.PRUNED and reports[3] == 8
    study, reports = run_study([[1 - v for v in PLATEAU_080]], LearningCurvePruner(30, min_epochs=8, model=lc),
                               "minimize", finished=(0.30, 0.45))  # fmt: skip
    assert study.trials[2].state == State.COMPLETE


@pytest.mark.parametrize("min_epochs", [1, 3, 6])
def test_prunes_at_exactly_the_min_epochs_th_report(lc, min_epochs):
    study, reports = run_study([saturating(0.9), FLAT_032], LearningCurvePruner(30, min_epochs=min_epochs, model=lc))
    assert study.trials[1].state == State.PRUNED
    assert reports[1] == min_epochs


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_diverged_trial_is_pruned_at_once_and_the_study_goes_on(lc, bad):
    # the NaN comes at report 2, before min_epochs=5: pruned there, and later trials run normally
    diverged = [0.5, bad] + [0.6] * 28
    scripted = [saturating(0.9), diverged, saturating(0.95), [bad] * 30]
    study, reports = run_study(scripted, LearningCurvePruner(30, min_epochs=5, model=lc))
    assert [t.state for t in study.trials] == [State.COMPLETE, State.PRUNED, State.COMPLETE, State.PRUNED]
    assert reports[1] == 2 and reports[3] == 1
    assert study.best_trial.number == 2 and study.best_trial.state == State.COMPLETE


def test_a_nan_in_the_first_trial_does_not_fail_it_or_the_study(lc):
    study, _ = run_study([[0.2, math.nan], saturating(0.8)], LearningCurvePruner(30, model=lc))
    assert [t.state for t in study.trials] == [State.PRUNED, State.COMPLETE]


def test_a_diverging_trial_is_pruned(lc):
    scripted = [[0.5 + 0.02 * e for e in range(20)], [0.6 - 0.03 * e for e in range(20)]]
    study, reports = run_study(scripted, LearningCurvePruner(20, min_epochs=5, model=lc))
    assert study.trials[1].state == State.PRUNED and reports[1] == 5


def test_long_runs_are_thinned_not_fatal(lc):
    """Trials of 150 reports (the model takes 99): the long best trial completes, and a long hopeless one
    is pruned at its 120th report, where min_epochs first allows it (so only from a thinned curve), with no
    warning from the model about a context longer than it was trained on."""
    long_good = saturating(0.95, n=150, speed=0.1)
    long_flat = [0.3 + 0.02 * (1 - math.exp(-e / 10)) for e in range(1, 151)]
    pruner = LearningCurvePruner(150, min_epochs=120, model=lc)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*trained on at most")  # would reach the study as a PrunerWarning
        study, reports = run_study([long_good, long_flat, long_good], pruner)
    assert [t.state for t in study.trials] == [State.COMPLETE, State.PRUNED, State.COMPLETE]
    assert reports == {0: 150, 1: 120, 2: 150}
    assert study.best_trial.state == State.COMPLETE


def test_a_long_trial_that_zigzags_down_is_judged_not_kept(lc):
    """A long run losing ground in a zigzag (two steps down, one up: not steadily worse) whose thinned curve falls
    at every kept point: judged by its forecast, and pruned against a best of 0.9, not kept with a warning."""
    t = np.arange(500)
    zigzag = list(0.8 - 0.0003 * t + 0.001 * (t % 3 == 2))
    assert not curves.gets_steadily_worse(zigzag[:450])
    assert curves.gets_steadily_worse(curves.thin(zigzag[:450], max_points=99)[1])
    study, reports = run_study([zigzag], LearningCurvePruner(500, min_epochs=450, model=lc), finished=(0.9,))
    assert study.trials[1].state == State.PRUNED and reports[1] == 450


def test_a_loss_open_above(lc):
    losses = [[1.0 / (1 + 0.5 * e) for e in range(1, 21)], [0.9 - 0.001 * e for e in range(20)]]
    study, reports = run_study(losses, LearningCurvePruner(20, min_epochs=5, bounds=(0.0, None), model=lc), "minimize")
    assert study.trials[1].state == State.PRUNED and reports[1] == 5
    study, _ = run_study(losses, LearningCurvePruner(20, min_epochs=5, bounds=(0.0, math.inf), model=lc), "minimize")
    assert study.trials[1].state == State.PRUNED


def test_a_trial_it_cannot_judge_is_kept_with_a_warning(lc):
    """Reports outside the closed bounds, or beyond max_epochs: the study goes on and says why, once."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        values = saturating(0.9) if trial.number == 0 else [1.5] * 10  # a percentage reported as a fraction
        for epoch, v in enumerate(values, start=1):
            trial.report(v, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return values[-1]

    study = optuna.create_study(direction="maximize", pruner=LearningCurvePruner(30, min_epochs=3, model=lc))
    with pytest.warns(PrunerWarning, match="kept trial 1.*outside bounds") as record:
        study.optimize(objective, n_trials=3)
    assert [t.state for t in study.trials] == [State.COMPLETE] * 3
    assert len(record) == 1  # once per cause

    def runs_too_long(trial):  # 15 reports where the pruner was told runs end at step 10
        values = saturating(0.6 if trial.number == 0 else 0.95, n=15)
        for epoch, v in enumerate(values, start=1):
            trial.report(v, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return values[-1]

    study = optuna.create_study(direction="maximize", pruner=LearningCurvePruner(10, min_epochs=3, model=lc))
    with pytest.warns(PrunerWarning, match="step 11 is beyond max_epochs=10"):
        study.optimize(runs_too_long, n_trials=2)
    assert [t.state for t in study.trials] == [State.COMPLETE] * 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_epochs": "50"}, "max_epochs must be a real number"),
        ({"max_epochs": 0}, "max_epochs must be positive"),
        ({"max_epochs": math.inf}, "max_epochs must be a finite number"),
        ({"threshold": 1.5}, r"threshold must lie in \[0, 1\]"),
        ({"threshold": math.nan}, "threshold must be a finite number"),
        ({"min_epochs": 0}, "min_epochs must be at least 1"),
        ({"min_epochs": 2.5}, "min_epochs must be a positive integer"),
        ({"min_epochs": True}, "min_epochs must be a positive integer"),
        ({"bounds": (0,)}, "bounds must be a pair"),
        ({"bounds": (1, 0)}, "bounds must satisfy lower < upper"),
        ({"budget_scale": "exponential"}, "budget_scale must be one of"),
        ({"model": "gp"}, "model 'gp' is not a learning-curve model.*shipped curve models: lc, lc-real, lc-wide"),
        ({"model": "no-such-model"}, "model 'no-such-model': no checkpoint file"),
    ],
)
def test_constructor_validates_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LearningCurvePruner(**{"max_epochs": 30, **kwargs})


def test_probabilities_behind_the_decisions(lc):
    """The margins the tests above rely on, measured (not a reference: a guard against a model change)."""
    assert curves.probability_of_beating(PLATEAU_080[:8], 0.95, 30, model=lc) < 0.01
    assert curves.probability_of_beating(PLATEAU_080[:8], 0.70, 30, model=lc) > 0.9
    assert curves.probability_of_beating(FLAT_032[:1], 0.9 * (1 - math.exp(-0.4 * 30)), 30, model=lc) < 0.02
    assert np.all([curves.probability_of_beating(PLATEAU_080[:k], 0.95, 30, model=lc) > 0.05 for k in (3, 4, 5)])
    # why diverging trials are pruned by rule: the forecast alone keeps this one at threshold 0.05 (P = 0.08)
    falling = [0.90 - 0.04 * e for e in range(12)]
    assert curves.gets_steadily_worse(falling)
    assert curves.probability_of_beating(falling, 0.9, 100, model=lc) > 0.05
