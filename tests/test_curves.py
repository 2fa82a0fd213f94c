"""Learning-curve API, early stopping and the Optuna pruner, on a small model trained on the LC prior."""

import numpy as np
import pytest

from pfn import curves
from pfn.training.train import train
from tests.test_training import compose_cfg


@pytest.fixture(scope="session")
def lc_model(tmp_path_factory):
    path = train(compose_cfg(tmp_path_factory.mktemp("lc"), "experiment=lc", "trainer.max_steps=300", "model.lr=2e-3",
                             "data.num_points=40", "data.max_context=39", "data.min_context=1"))  # fmt: skip
    return curves.load(path)


RISING = [0.40, 0.52, 0.60, 0.65, 0.69, 0.71, 0.73, 0.74]


def test_mapping_round_trips_direction_and_bounds(lc_model):
    up = curves.extrapolate(RISING, max_epochs=30, future_epochs=[10, 20, 30], model=lc_model)
    # the same run reported as an error rate (1 - accuracy), lower is better
    down = curves.extrapolate(1 - np.array(RISING), max_epochs=30, future_epochs=[10, 20, 30],
                              direction="minimize", model=lc_model)  # fmt: skip
    np.testing.assert_allclose(down.median, 1 - up.median, atol=1e-5)
    np.testing.assert_allclose(down.quantile(0.1), 1 - up.quantile(0.9), atol=1e-5)
    np.testing.assert_allclose(down.probability_better_than(0.2), up.probability_better_than(0.8), atol=1e-6)
    # in percent, with bounds (0, 100): everything scales by 100, densities by 1/100
    pct = curves.extrapolate(100 * np.array(RISING), max_epochs=30, future_epochs=[10, 20, 30], bounds=(0, 100),
                             model=lc_model)  # fmt: skip
    np.testing.assert_allclose(pct.mean, 100 * up.mean, rtol=1e-5)
    np.testing.assert_allclose(pct.std, 100 * up.std, rtol=1e-5)
    np.testing.assert_allclose(pct.log_prob(75.0), up.log_prob(0.75) - np.log(100), atol=1e-5)
    # quantile and cdf are inverse in the user's units, for both directions
    for f in (up, down):
        np.testing.assert_allclose(f.cdf(f.quantile(0.3)), 0.3, atol=1e-4)


def test_losses_unbounded_above(lc_model):
    loss = [2.3, 1.6, 1.2, 1.0, 0.9, 0.85]
    f = curves.extrapolate(loss, max_epochs=20, direction="minimize", bounds=(0.0, None), model=lc_model)
    assert f.median[0] < 2.3 and f.quantile(0.05)[0] > -0.5


def test_ragged_batch_equals_single_calls(lc_model):
    runs = [RISING, RISING[:3], [0.2, 0.3, 0.35, 0.38, 0.4]]
    batch = curves.extrapolate(runs, max_epochs=[30, 25, 30], future_epochs=[[15, 30], [25], [20, 30]], model=lc_model)
    for run, m, fut, got in zip(runs, [30, 25, 30], [[15, 30], [25], [20, 30]], batch, strict=True):
        alone = curves.extrapolate(run, max_epochs=m, future_epochs=fut, model=lc_model)
        np.testing.assert_allclose(got.mean, alone.mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got.quantile([0.1, 0.9]), alone.quantile([0.1, 0.9]), rtol=1e-5, atol=1e-6)


def test_non_integer_and_geometric_budgets(lc_model):
    sizes = [100, 200, 400, 800, 1600]  # sample-wise curve: accuracy against training-set size
    f = curves.extrapolate([0.5, 0.6, 0.66, 0.7, 0.72], epochs=sizes, max_epochs=12800, future_epochs=[3200, 12800],
                           budget_scale="log", model=lc_model)  # fmt: skip
    assert f.mean.shape == (2,) and np.isfinite(f.mean).all()


def test_should_stop_is_monotone_in_the_threshold(lc_model):
    thresholds = [0.0, 0.01, 0.05, 0.2, 0.5, 0.9, 1.0]
    for run in (RISING, [0.2, 0.25, 0.28, 0.3, 0.31], [0.6, 0.75, 0.82, 0.86, 0.88]):
        stops = [curves.should_stop(run, best=0.8, max_epochs=30, threshold=t, model=lc_model) for t in thresholds]
        assert stops == sorted(stops)  # False ... False True ... True
        assert not stops[0]


@pytest.mark.parametrize(
    "values, kwargs, match",
    [
        ([0.5, float("nan"), 0.6], {}, "contains NaN"),
        ([], {}, "non-empty"),
        ([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], {}, "steadily worse.*direction='minimize'"),
        ([0.5, 1.2], {}, r"outside bounds \(0, 1\)"),
        ([0.5, 0.6], {"direction": "up"}, "direction must be"),
        ([0.5, 0.6], {"max_epochs": 1}, "max_epochs must be given and at least"),
        ([0.5, 0.6], {"epochs": [2, 1]}, "strictly increasing"),
        ([0.5] * 50, {"max_epochs": 100}, "at most 40 points"),
    ],
)
def test_bad_curves_are_refused(lc_model, values, kwargs, match):
    args = {"max_epochs": 30, "model": lc_model, **kwargs}
    with pytest.raises(ValueError, match=match):
        curves.extrapolate(values, **args)


def run_scripted_study(scripted: dict, direction: str, pruner):
    """An Optuna study whose trial i reports the curve ``scripted[i]`` epoch by epoch, asking to prune
    after each report; returns the study and the last epoch each trial reported."""
    import optuna

    epochs_run = {}

    def objective(trial):
        values = scripted[trial.number]
        for epoch, v in enumerate(values, start=1):
            trial.report(v, epoch)
            epochs_run[trial.number] = epoch
            if trial.should_prune():
                raise optuna.TrialPruned()
        return values[-1]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=direction, pruner=pruner)
    study.optimize(objective, n_trials=len(scripted))
    return study, epochs_run


def test_pruner_prunes_a_hopeless_trial_and_keeps_a_promising_one(lc_model):
    optuna = pytest.importorskip("optuna")
    from pfn.pruners import LearningCurvePruner

    def curve(final, speed):
        return [final * (1 - np.exp(-speed * e)) for e in range(1, 21)]

    scripted = {0: curve(0.9, 0.4), 1: [0.30 + 0.002 * e for e in range(20)], 2: curve(0.99, 0.5)}
    pruner = LearningCurvePruner(max_epochs=20, min_epochs=5, threshold=0.05, model=lc_model)
    study, epochs_run = run_scripted_study(scripted, "maximize", pruner)
    state = optuna.trial.TrialState
    assert [t.state for t in study.trials] == [state.COMPLETE, state.PRUNED, state.COMPLETE]
    assert epochs_run[1] <= 6  # stopped as soon as pruning was allowed


def test_pruner_for_minimisation(lc_model):
    optuna = pytest.importorskip("optuna")
    from pfn.pruners import LearningCurvePruner

    losses = {0: [1.0 / (1 + 0.5 * e) for e in range(1, 21)], 1: [0.9 - 0.001 * e for e in range(20)]}
    pruner = LearningCurvePruner(max_epochs=20, min_epochs=5, bounds=(0.0, None), model=lc_model)
    study, _ = run_scripted_study(losses, "minimize", pruner)
    assert study.trials[1].state == optuna.trial.TrialState.PRUNED


def test_pruner_prunes_a_diverging_trial(lc_model):
    optuna = pytest.importorskip("optuna")
    from pfn.pruners import LearningCurvePruner

    scripted = {0: [0.5 + 0.02 * e for e in range(20)], 1: [0.6 - 0.03 * e for e in range(20)]}
    study, _ = run_scripted_study(scripted, "maximize", LearningCurvePruner(20, min_epochs=5, model=lc_model))
    assert study.trials[1].state == optuna.trial.TrialState.PRUNED
    assert curves.gets_steadily_worse(scripted[1]) and not curves.gets_steadily_worse(scripted[0])
