"""Search-conditioned forecasts (`pfn.curves.Search`), the freeze-thaw scheduler and the search pruner.

The API is tested with a tiny search model trained here in seconds (`experiment=search`, real steps on the
real prior): what the model is shown (inputs, mapped values, thinning), how its predictive comes back
(shapes, directions, incumbent), the scheduler's bookkeeping and the pruner's decisions against a
`Search` built by hand. How well the shipped model forecasts is measured in `test_search_model.py`.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

optuna = pytest.importorskip("optuna")

import pfn  # noqa: E402
from pfn.curves import Search, fit_context, freeze_thaw  # noqa: E402
from pfn.pruners import PrunerWarning, SearchPruner  # noqa: E402
from pfn.training.train import train  # noqa: E402
from tests.test_training import compose_cfg  # noqa: E402

TINY_SEARCH = [
    "model.net.d_model=16", "model.net.n_layers=1", "model.net.n_heads=2", "model.net.d_ff=32",
    "model.net.num_bins=50", "data.batch_size=4", "data.num_points=60", "data.max_context=40",
    "data.num_val_batches=1", "trainer.val_check_interval=1000", "trainer.max_steps=20", "callbacks=none",
]  # fmt: skip


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> pfn.Predictor:
    """A tiny search model (6 hyperparameters + budget, context up to 40), 20 real training steps."""
    run_dir = tmp_path_factory.mktemp("search_model")
    return pfn.load(train(compose_cfg(run_dir, *TINY_SEARCH, experiment="search")))


def saturating(final: float, n: int, speed: float = 0.3) -> list[float]:
    return [final * (1 - math.exp(-speed * e)) for e in range(1, n + 1)]


CONFIGS = [[0.1, 0.5], [0.8, 0.2], [0.4, 0.9]]
VALUES = [saturating(0.8, 5), saturating(0.6, 3), saturating(0.7, 8)]


# -- what the model sees ------------------------------------------------------------------------------
def test_the_context_is_each_runs_configuration_then_the_budget_over_max_epochs(model):
    search = Search(CONFIGS, VALUES, max_epochs=20, model=model)
    x, u = search.context()
    assert x.shape == (16, 7) and u.shape == (16,)
    row = 5 + 2  # run 1's third observation (epoch 3)
    np.testing.assert_array_equal(x[row], [0.8, 0.2, 0, 0, 0, 0, 3 / 20])
    assert u[row] == pytest.approx(VALUES[1][2])  # bounds (0, 1), maximised: u is the value
    assert search.num_points == 16 and search.incumbent == pytest.approx(max(map(max, VALUES)))


def test_minimised_metrics_are_mirrored_and_open_bounds_come_from_the_whole_search(model):
    losses = [[2.0 - v for v in c] for c in VALUES]  # a loss in (lowest, highest) of the search
    search = Search(CONFIGS, losses, max_epochs=20, direction="minimize", bounds=(0, None), model=model)
    _, u = search.context()
    top = max(max(c) for c in losses)
    np.testing.assert_allclose(u, [(top - v) / top for c in losses for v in c])
    assert search.incumbent == pytest.approx(min(map(min, losses)))


def test_forecasts_are_the_models_predictive_at_the_mapped_inputs(model):
    search = Search(CONFIGS, VALUES, max_epochs=20, model=model)
    x, u = search.context()
    queries = np.array([[0.1, 0.5, 0, 0, 0, 0, 1.0], [0.3, 0.3, 0, 0, 0, 0, 1.0], [0.3, 0.3, 0, 0, 0, 0, 0.5]])
    direct = model.predict(x, u, queries)
    forecast = search.forecast([[0.1, 0.5], [0.3, 0.3]], epochs=[10, 20])
    assert forecast.median.shape == (2, 2) and forecast.epochs.shape == (2, 2)
    median = np.clip(direct.quantile(0.5), 0, 1)  # bounds (0, 1) censor the model's predictive
    np.testing.assert_allclose(forecast.median[0, 1], median[0], rtol=1e-6)
    np.testing.assert_allclose(forecast.median[1], median[[2, 1]], rtol=1e-6)  # epochs 10, 20 of (0.3, 0.3)
    one = search.forecast([0.3, 0.3], epochs=[10, 20])
    assert one.median.shape == (2,)
    np.testing.assert_allclose(one.median, forecast.median[1])
    points = search.forecast_points([[0.1, 0.5], [0.3, 0.3]], [20, 10])
    np.testing.assert_allclose(points.median, [forecast.median[0, 1], forecast.median[1, 0]])


def test_a_minimised_search_forecasts_the_mirror_image_of_the_maximised_one(model):
    up = Search(CONFIGS, VALUES, max_epochs=20, model=model)
    down = Search(CONFIGS, [[1 - v for v in c] for c in VALUES], max_epochs=20, direction="minimize", model=model)
    queries = [[0.1, 0.5], [0.9, 0.9]]
    np.testing.assert_allclose(down.forecast(queries).quantile(0.1), 1 - up.forecast(queries).quantile(0.9))
    np.testing.assert_allclose(down.probability_of_beating(queries), up.probability_of_beating(queries))


def test_probability_of_beating_defaults_to_the_incumbent(model):
    search = Search(CONFIGS, VALUES, max_epochs=20, model=model)
    queries = [[0.1, 0.5], [0.3, 0.3]]
    np.testing.assert_allclose(
        search.probability_of_beating(queries), search.probability_of_beating(queries, best=search.incumbent)
    )
    certain = search.probability_of_beating(queries, best=-0.5)
    np.testing.assert_array_equal(certain, [1.0, 1.0])  # every value of a (0, 1) metric beats -0.5


def test_duplicate_configurations_and_ragged_curves_are_a_valid_history(model):
    search = Search([[0.5, 0.5], [0.5, 0.5], [0.2, 0.7]], [saturating(0.7, 9), saturating(0.72, 2), [0.3]],
                    max_epochs=10, model=model)  # fmt: skip
    x, _ = search.context()
    assert (x[:11, :2] == 0.5).all() and len(x) == 12
    assert np.isfinite(search.forecast([[0.5, 0.5]]).median).all()


def test_explicit_budgets_place_each_observation(model):
    search = Search([[0.5]], [[0.2, 0.4, 0.5]], max_epochs=100, epochs=[[1, 10, 100]], model=model)
    x, _ = search.context()
    np.testing.assert_allclose(x[:, -1], [0.01, 0.1, 1.0])
    np.testing.assert_array_equal(x[:, 0], 0.5)


# -- a history longer than the model's context ----------------------------------------------------------
@pytest.mark.parametrize(
    ("lengths", "limit", "expected"),
    [([3, 100, 50], 60, [3, 28, 28]), ([5, 5], 10, [5, 5]), ([10, 10, 10], 10, [3, 3, 3]),
     ([1] * 6, 4, [1] * 4 + [0] * 2), ([2, 9, 4], 2, [0, 1, 1])],
)  # fmt: skip
def test_fit_context_keeps_the_largest_equal_share_per_run(lengths, limit, expected):
    np.testing.assert_array_equal(fit_context(lengths, limit), expected)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.integers(1, 120), min_size=1, max_size=30), st.integers(1, 500))
def test_fit_context_fits_the_limit_and_no_larger_share_would(lengths, limit):
    keep = fit_context(lengths, limit)
    n = np.array(lengths)
    assert keep.sum() <= limit and (keep <= n).all()
    if (n > 0).sum() <= limit:
        k = keep.max()
        assert (keep == np.minimum(n, k)).all()
        assert k == n.max() or np.minimum(n, k + 1).sum() > limit


def test_a_long_history_is_thinned_to_the_models_context_keeping_every_runs_first_and_last(model):
    rng = np.random.default_rng(0)
    lengths = [30, 2, 25, 12]  # 69 observations; the model's context is 40
    configs = rng.random((4, 3))
    search = Search(configs, [saturating(0.5 + 0.1 * i, n) for i, n in enumerate(lengths)], max_epochs=30,
                    model=model)  # fmt: skip
    assert search.max_context == 40
    x, _ = search.context()
    assert len(x) == sum(fit_context(lengths, 40)) <= 40
    for c, n in zip(configs, lengths, strict=True):
        budgets = x[(x[:, :3] == c).all(axis=1), -1] * 30
        assert budgets[0] == 1 and budgets[-1] == n  # first and last epoch kept
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # never more context than the model was trained on
        search.forecast(configs)


# -- bad input ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": [[0.1, float("nan")], [0.2], [0.3]]}, r"values\[0\] contains NaN"),
        ({"values": [[0.1], [], [0.3]]}, r"values\[1\] must be a non-empty"),
        ({"values": [[0.1], [0.2]]}, "one sequence per configuration"),
        ({"values": [[0.1], [1.2], [0.3]]}, "outside bounds"),
        ({"configs": [[0.1, 0.5], [0.8, 1.2], [0.4, 0.9]]}, r"configs must lie in \[0, 1\]"),
        ({"configs": np.full((3, 7), 0.5)}, "at most 6"),
        ({"configs": [0.1, 0.2, 0.3]}, "shape"),
        ({"epochs": [[1], [3], [25]]}, r"epochs\[2\] must lie in \(0, max_epochs=20\]"),
        ({"epochs": [[1], [2, 3], [1]]}, r"epochs\[1\] must have one budget per value"),
        ({"max_epochs": 0}, "max_epochs must be positive"),
        ({"direction": "up"}, "direction must be one of"),
        ({"values": [[0.5], [0.5], [0.5]], "bounds": (None, None)}, "bounds give values an empty range"),
    ],
)
def test_bad_history_is_refused_naming_the_argument(model, kwargs, message):
    args = {"configs": CONFIGS, "values": [[0.1], [0.2], [0.3]], "max_epochs": 20, **kwargs}
    with pytest.raises(ValueError, match=message):
        Search(**args, model=model)


def test_bad_queries_and_models_are_refused(model):
    search = Search(CONFIGS, VALUES, max_epochs=20, model=model)
    with pytest.raises(ValueError, match="2 hyperparameters per row"):
        search.forecast([[0.1, 0.2, 0.3]])
    with pytest.raises(ValueError, match=r"epochs must lie in \(0, max_epochs=20\]"):
        search.forecast([[0.1, 0.2]], epochs=[21])
    with pytest.raises(ValueError, match="configs contains NaN"):
        search.forecast([[0.1, float("nan")]])
    with pytest.raises(ValueError, match="one budget per configuration"):
        search.forecast_points([[0.1, 0.2], [0.3, 0.4]], [5])
    with pytest.raises(ValueError, match="not a search model"):
        Search(CONFIGS, VALUES, max_epochs=20, model="lc")


# -- the freeze-thaw scheduler ------------------------------------------------------------------------------
class Runs:
    """A user's training function: run i's value after epoch t is a saturating curve towards final[i]; the
    state is the run's epoch count, and every call checks it resumes the run where it stopped."""

    def __init__(self, finals: np.ndarray):
        self.finals = finals
        self.epochs: dict[int, int] = {}

    def __call__(self, index: int, epochs: int, state):
        assert state == self.epochs.get(index), "a paused run must resume from the state it returned"
        start = self.epochs.get(index, 0)
        self.epochs[index] = start + epochs
        return [self.finals[index] * (1 - math.exp(-0.3 * t)) for t in range(start + 1, start + epochs + 1)], (
            start + epochs
        )


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(3, 12), st.integers(2, 9), st.integers(1, 60), st.integers(1, 4), st.integers(1, 3))
def test_freeze_thaw_resumes_paused_runs_and_never_exceeds_its_budgets(n, max_epochs, total, step, initial):
    rng = np.random.default_rng(n)
    runs = Runs(rng.uniform(0.2, 0.9, n))
    result = freeze_thaw(runs, rng.random((n, 2)), max_epochs, total, step=step, initial_runs=initial,
                         model=MODEL[0], seed=0)  # fmt: skip
    assert result.epochs_used == min(total, n * max_epochs) == sum(e for _, e in result.decisions)
    assert all(len(c) <= max_epochs for c in result.curves.values())
    assert all(1 <= e <= step for _, e in result.decisions)
    assert {i: len(c) for i, c in result.curves.items()} == runs.epochs
    best = max(result.curves, key=lambda i: max(result.curves[i]))
    assert result.best_index == best and result.best_value == max(result.curves[best])


MODEL: list = []


@pytest.fixture(autouse=True)
def _share_model(model):
    """Hypothesis tests cannot take function-scoped fixtures: they read the module's model from here."""
    MODEL[:] = [model]


def test_freeze_thaw_minimising_reports_the_lowest_value(model):
    runs = Runs(np.array([0.9, 0.5, 0.7]))
    result = freeze_thaw(lambda i, e, s: ([1 - v for v in runs(i, e, s)[0]], runs.epochs[i]), [[0.1], [0.5], [0.9]],
                         5, 15, direction="minimize", initial_runs=3, model=model, seed=1)  # fmt: skip
    lowest = min(min(c) for c in result.curves.values())
    assert result.best_value == lowest and min(result.curves[result.best_index]) == lowest


def test_freeze_thaw_refuses_training_functions_that_return_the_wrong_values(model):
    with pytest.raises(ValueError, match=r"train\(\d, 2, state\) must return 2 finite values .* NaN"):
        freeze_thaw(lambda i, e, s: ([0.5, float("nan")], None), [[0.1], [0.5]], 5, 10, step=2, model=model)
    with pytest.raises(ValueError, match="must return 2 finite values"):
        freeze_thaw(lambda i, e, s: ([0.5], None), [[0.1], [0.5]], 5, 10, step=2, model=model)
    with pytest.raises(ValueError, match="total_epochs must be a positive integer"):
        freeze_thaw(Runs(np.ones(2)), [[0.1], [0.5]], 5, 2.5, model=model)


# -- the search pruner --------------------------------------------------------------------------------------
State = optuna.trial.TrialState


def study_with(curves_by_trial: list[tuple[float, list[float], bool]], pruner, first_step: int = 1):
    """A real study: trial i has parameter x = curves_by_trial[i][0], reports its curve and completes (or
    is left pruned when the flag is False)."""
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for x, values, complete in curves_by_trial:
        study.enqueue_trial({"x": x})
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        for e, v in enumerate(values, start=first_step):
            trial.report(v, e)
        study.tell(trial, values[-1] if complete else None, state=State.COMPLETE if complete else State.PRUNED)
    return study


def test_the_search_pruner_judges_with_every_trials_curve(model):
    pruner = SearchPruner(max_epochs=20, model=model)
    history = [(0.2, saturating(0.8, 20), True), (0.9, saturating(0.5, 6), False)]
    for first_step in (0, 1):
        study = study_with(history, pruner, first_step)
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        for e, v in enumerate(saturating(0.6, 4), start=first_step):
            trial.report(v, e)
        frozen = study.trials[-1]
        by_hand = Search([[0.2], [0.9], [frozen.params["x"]]], [saturating(0.8, 20), saturating(0.5, 6),
                         saturating(0.6, 4)], max_epochs=20, model=model)  # fmt: skip
        expected = float(by_hand.probability_of_beating([frozen.params["x"]], best=study.best_value))
        assert pruner.probability(study, frozen) == pytest.approx(expected, abs=1e-9)
        assert pruner.prune(study, frozen) == (expected < 0.05)


def test_the_search_pruner_prunes_diverged_runs_waits_for_min_epochs_and_keeps_what_it_cannot_judge(model):
    study = study_with([(0.2, saturating(0.8, 20), True)], None)
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    trial.report(float("nan"), 1)
    assert SearchPruner(max_epochs=20, model=model).prune(study, study.trials[-1])
    study = study_with([(0.2, saturating(0.8, 20), True)], None)
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    trial.report(0.1, 1)
    trial.report(0.2, 2)
    for min_epochs, pruned in [(3, False), (2, True)]:  # threshold 1 prunes every run not certain to win
        assert (
            SearchPruner(max_epochs=20, threshold=1.0, min_epochs=min_epochs, model=model).prune(
                study, study.trials[-1]
            )
            == pruned
        )
    wide = {f"p{i}": optuna.distributions.FloatDistribution(0, 1) for i in range(7)}
    study = optuna.create_study(direction="maximize")
    done = study.ask(wide)
    done.report(0.5, 1)
    study.tell(done, 0.5)
    trial = study.ask(wide)
    trial.report(0.1, 1)
    with pytest.warns(PrunerWarning, match="7 parameters, more than the search model's 6"):
        assert not SearchPruner(max_epochs=20, threshold=1.0, min_epochs=1, model=model).prune(study, study.trials[-1])


def test_freeze_thaw_goes_on_when_the_run_at_the_best_possible_value_ends_below_it(model):
    """Run 1 touches accuracy 1.0, then falls back: it is finished, and the search spends the rest of its budget."""

    def train(index: int, epochs: int, state):
        start = state or 0
        epochs_run = range(start + 1, start + epochs + 1)
        values = [(1.0 if t <= 4 else 0.95) if index == 1 else 0.7 * (1 - math.exp(-0.3 * t)) for t in epochs_run]
        return values, start + epochs

    result = freeze_thaw(train, [[0.1], [0.4], [0.6], [0.9]], 10, 35, step=2, initial_runs=4, model=model, seed=0)
    assert len(result.curves[1]) == 10 and result.curves[1][-1] == 0.95 and result.epochs_used == 35
    assert result.best_index == 1 and result.best_value == 1.0


def test_freeze_thaw_finishes_a_run_at_the_best_possible_value_then_stops(model):
    """Accuracy 1.0 cannot be beaten: the run that reached it is trained in full and the budget is left."""
    finals = np.array([0.6, 1.0, 0.8, 0.7])  # run 1 is at 1.0 from its first epoch

    def train(index: int, epochs: int, state):
        start = state or 0
        values = [
            1.0 if index == 1 else finals[index] * (1 - math.exp(-0.3 * t))
            for t in range(start + 1, start + epochs + 1)
        ]
        return values, start + epochs

    result = freeze_thaw(train, [[0.1], [0.4], [0.6], [0.9]], 10, 35, step=2, initial_runs=4, model=model, seed=0)
    assert result.curves[1] == [1.0] * 10 and result.best_index == 1 and result.best_value == 1.0
    assert result.epochs_used == 4 * 2 + 8 and all(len(result.curves[i]) == 2 for i in (0, 2, 3))

    # minimising error, bounded below by 0: the same, mirrored
    def error(index: int, epochs: int, state):
        values, state = train(index, epochs, state)
        return [1 - v for v in values], state

    mirrored = freeze_thaw(error, [[0.1], [0.4], [0.6], [0.9]], 10, 35, step=2, initial_runs=4,
                           direction="minimize", model=model, seed=0)  # fmt: skip
    assert mirrored.curves[1] == [0.0] * 10 and mirrored.epochs_used == 16
