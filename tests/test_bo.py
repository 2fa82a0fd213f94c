"""Bayesian optimisation front end (issue 14): the acquisition search, suggest, and the Optuna sampler."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import pfn
from pfn.bo import OUTPUT_WARPS, maximize_acquisition, suggest, warp_outputs
from pfn.bo.acquisition import LOCAL_CYCLE, LOCAL_NEIGHBOURS, _select_context, local_region

optuna = pytest.importorskip("optuna")
from pfn.bo import PFNSampler  # noqa: E402
from pfn.bo.optuna_sampler import _finite  # noqa: E402
from pfn.optuna_space import from_unit as _from_unit  # noqa: E402
from pfn.optuna_space import to_unit as _to_unit  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def model():
    return pfn.load("gp-hyper")  # 3 features, up to 100 context points, x and y standardised


def _data(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=g, dtype=torch.float64)
    return x, -((x - 0.3) ** 2).sum(-1) + 0.3 * torch.sin(7 * x).sum(-1)


def _log_ei_search(model, n, d, seed=0):
    """Observations of _data, the model conditioned on them, and their log EI at the best value."""
    x, y = _data(n, d, seed)
    conditioned = model.condition(x, y)
    best = float(y.max())
    return x, y, conditioned, lambda p: p.log_expected_improvement(best)


# -- the acquisition search -----------------------------------------------------------------------------
@pytest.mark.parametrize("d", [1, 2])
def test_the_search_reaches_the_grid_maximum_of_log_ei(model, d):
    """Reference: the same acquisition on a dense grid of the cube (brute force, no optimiser)."""
    x, y, conditioned, acq = _log_ei_search(model, 8, d)

    axis = torch.linspace(0, 1, 2001 if d == 1 else 151, dtype=torch.float64)
    grid = axis[:, None] if d == 1 else torch.cartesian_prod(axis, axis)
    with torch.no_grad():
        grid_max = max(float(torch.as_tensor(acq(conditioned.predict(grid[i : i + 4096]))).max())
                       for i in range(0, len(grid), 4096))  # fmt: skip
    point, value = maximize_acquisition(conditioned, acq, generator=torch.Generator().manual_seed(1))
    assert point.shape == (d,) and ((point >= 0) & (point <= 1)).all()
    again = float(torch.as_tensor(acq(conditioned.predict(point[None]))).item())
    assert again == pytest.approx(value, rel=1e-5)  # the value returned is the point's (float32 network)
    assert value >= grid_max - 0.02  # log EI in nats: within 2% of the grid's best EI
    # without gradient steps, the best random candidate is (much) worse in 2-D than the grid
    _, random_only = maximize_acquisition(conditioned, acq, n_candidates=64, steps=0,
                                          generator=torch.Generator().manual_seed(1))  # fmt: skip
    assert random_only <= value


def test_gradient_steps_improve_on_the_starting_candidates(model):
    x, y, conditioned, acq = _log_ei_search(model, 10, 3)

    few = dict(n_candidates=32, n_starts=4, anchors=None)
    _, start = maximize_acquisition(conditioned, acq, steps=0, generator=torch.Generator().manual_seed(2), **few)
    _, ascended = maximize_acquisition(conditioned, acq, steps=40, generator=torch.Generator().manual_seed(2), **few)
    assert ascended > start + 0.01


def test_more_steps_never_find_a_lower_value(model):
    """A step that does not raise a start's acquisition is undone, so with the same seed (the same
    candidates and the same first steps) the value found cannot fall as steps are added."""
    x, y, conditioned, acq = _log_ei_search(model, 12, 3, seed=3)

    values = [maximize_acquisition(conditioned, acq, n_candidates=32, n_starts=3, steps=k,
                                   generator=torch.Generator().manual_seed(4))[1] for k in range(9)]  # fmt: skip
    assert all(later >= earlier for earlier, later in zip(values, values[1:], strict=False))
    assert values[-1] > values[0]


def test_an_optimum_on_a_face_of_the_cube_is_reached(model):
    """Observations only at x0 <= 0.3 leave the upper confidence bound highest on the far face x0 = 1,
    at an interior x1; along that face the reference is a dense grid of the same bound (brute force)."""
    g = torch.Generator().manual_seed(5)
    x = torch.rand(30, 2, generator=g, dtype=torch.float64) * torch.tensor([0.3, 1.0], dtype=torch.float64)
    y = -4 * (x[:, 1] - 0.6) ** 2
    conditioned = model.condition(x, y)

    def acq(p):
        return p.upper_confidence_bound(1.0)

    point, value = maximize_acquisition(conditioned, acq, n_candidates=64, n_starts=4, steps=20,
                                        generator=torch.Generator().manual_seed(6))  # fmt: skip
    axis = torch.linspace(0, 1, 2001, dtype=torch.float64)
    face = torch.stack([torch.ones_like(axis), axis], -1)
    with torch.no_grad():
        on_face = torch.as_tensor(acq(conditioned.predict(face)))
    assert point[0] == 1.0  # exactly on the face, not outside it
    assert value >= float(on_face.max()) - 1e-4
    assert abs(float(point[1]) - float(axis[on_face.argmax()])) < 0.01


def test_a_non_differentiable_acquisition_and_bad_search_settings_are_named(model):
    x, y = _data(6, 2)
    conditioned = model.condition(x, y)

    def detached(p):
        return p.mean.detach()

    with pytest.raises(ValueError, match="acquisition must compute its values from the predictive"):
        maximize_acquisition(conditioned, detached, n_candidates=8)
    point, _ = maximize_acquisition(conditioned, detached, n_candidates=8, steps=0)  # candidates only: fine
    assert ((point >= 0) & (point <= 1)).all()
    for bad, match in [(dict(n_starts=0), "n_starts"), (dict(steps=-1), "steps"), (dict(steps=1.5), "steps"),
                       (dict(step_size=0.0), "step_size")]:  # fmt: skip
        with pytest.raises(ValueError, match=match):
            maximize_acquisition(conditioned, lambda p: p.mean, n_candidates=8, **bad)


# -- suggest ---------------------------------------------------------------------------------------------
def test_suggest_is_reproducible_and_inside_the_cube(model):
    x, y = _data(12, 3)
    a = suggest(model, x, y, q=3, generator=torch.Generator().manual_seed(5))
    b = suggest(model, x, y, q=3, generator=torch.Generator().manual_seed(5))
    assert a.shape == (3, 3) and torch.equal(a, b)
    assert ((a >= 0) & (a <= 1)).all()


def test_a_batch_spreads_out_through_its_fantasies(model):
    """Each point after the first is chosen with the earlier ones observed at their predicted mean,
    which lowers the expected improvement around them: without that, all three land on one optimum."""
    for seed in range(4):
        x, y = _data(12, 3, seed)
        batch = suggest(model, x, y, q=3, generator=torch.Generator().manual_seed(5))
        assert torch.pdist(batch).min() > 0.1


def test_the_incumbent_is_the_best_value_in_the_chosen_direction(model):
    x, y = _data(12, 2)
    for maximize, expected in ((True, float(y.max())), (False, float(y.min()))):
        seen = []

        def acquisition(p, best, seen=seen, maximize=maximize):
            seen.append(best)
            return p.log_expected_improvement(best, maximize=maximize)

        suggest(model, x, y, maximize=maximize, acquisition=acquisition, steps=2, output_warp="none")
        assert set(seen) == {expected}


def test_minimising_and_maximising_look_in_opposite_places(model):
    """1-D: y = x observed at 10 points; improvement upward is at x = 1, downward at x = 0."""
    x = torch.linspace(0.05, 0.95, 10, dtype=torch.float64)[:, None]
    y = x[:, 0].clone()
    g = torch.Generator().manual_seed(0)
    assert suggest(model, x, y, maximize=True, generator=g).item() > 0.9
    assert suggest(model, x, y, maximize=False, generator=g).item() < 0.1


def test_rank_warp_gives_the_normal_scores_of_the_ranks():
    stats = pytest.importorskip("scipy.stats")
    y = torch.tensor([3.0, 1.0, 2.0, 2.0, 100.0, -7.0], dtype=torch.float64)
    expected = stats.norm.ppf((stats.rankdata(y.numpy()) - 0.5) / len(y))  # ties share their mean rank
    np.testing.assert_allclose(warp_outputs(y, "rank").numpy(), expected, rtol=1e-12)
    assert torch.equal(warp_outputs(y, "none"), y)
    with pytest.raises(ValueError, match="output_warp must be one of 'none', 'power', 'rank'"):
        warp_outputs(y, "log")


@pytest.mark.parametrize("sample", ["lognormal", "negative lognormal", "normal", "branin-like"])
def test_power_warp_is_the_maximum_likelihood_yeo_johnson_transform(sample):
    """scipy fits the exponent by Brent's method on the same standardised values; the warp's grid and
    golden-section search must find the same exponent, so the same transformed values."""
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    y = {
        "lognormal": rng.lognormal(size=30),
        "negative lognormal": -rng.lognormal(size=30),
        "normal": rng.normal(size=30),
        "branin-like": np.array([0.4, 0.5, 1.0, 3.0, 10.0, 50.0, 300.0]),
    }[sample]
    expected, _ = stats.yeojohnson((y - y.mean()) / y.std(ddof=1))
    np.testing.assert_allclose(warp_outputs(torch.tensor(y), "power").numpy(), expected, rtol=1e-6, atol=1e-7)


def test_power_warp_spreads_the_values_near_the_minimum_of_a_heavy_tailed_objective():
    y = torch.tensor([0.4, 0.5, 1.0, 3.0, 10.0, 50.0, 300.0], dtype=torch.float64)
    z, plain = warp_outputs(y, "power"), (y - y.mean()) / y.std()
    # the gap between the two best values, as a share of the whole range, grows more than 5x (6.6x: lambda = -2.17)
    assert (z[1] - z[0]) / (z.max() - z.min()) > 5 * (plain[1] - plain[0]) / (plain.max() - plain.min())
    assert torch.equal(warp_outputs(torch.full((4,), 3.0, dtype=torch.float64), "power"), torch.zeros(4))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40))
def test_rank_warp_keeps_the_order_and_the_incumbent(values):
    y = torch.tensor(values, dtype=torch.float64)
    z = warp_outputs(y, "rank")
    assert torch.isfinite(z).all()
    i, j = torch.meshgrid(torch.arange(len(y)), torch.arange(len(y)), indexing="ij")
    assert torch.equal(y[i] < y[j], z[i] < z[j]) and torch.equal(y[i] == y[j], z[i] == z[j])
    assert int(z.argmax()) in torch.nonzero(y == y.max()).flatten().tolist()


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.floats(-1e6, 1e6) | st.sampled_from([0.0, 1.0]), min_size=1, max_size=40))
def test_power_warp_is_finite_and_never_reverses_the_order(values):
    """Values a float apart may merge after the transform; none may swap, and the best stays the best."""
    y = torch.tensor(values, dtype=torch.float64)
    z = warp_outputs(y, "power")
    assert torch.isfinite(z).all()
    i, j = torch.meshgrid(torch.arange(len(y)), torch.arange(len(y)), indexing="ij")
    below, tied = y[i] < y[j], y[i] == y[j]
    assert not (z[i][below] > z[j][below]).any()
    assert torch.equal(z[i][tied], z[j][tied])  # ties stay tied
    assert z[int(y.argmax())] == z.max() and z[int(y.argmin())] == z.min()


def test_a_warped_search_sees_the_warped_incumbent(model):
    x, y = _data(12, 2)
    seen = []
    suggest(model, x, y, acquisition=lambda p, best: seen.append(best) or p.mean, steps=1, output_warp="rank")
    assert set(seen) == {float(warp_outputs(y, "rank").max())}
    with pytest.raises(ValueError, match="output_warp must be one of"):
        PFNSampler(model=model, output_warp="quantile")


@st.composite
def observations(draw):
    """Any finite observations of 1-3 inputs in the unit cube: repeated points, tied or constant values,
    magnitudes from 1e-12 to 1e12."""
    d, n = draw(st.integers(1, 3)), draw(st.integers(0, 24))  # from 21 on, local suggestions
    unit = st.floats(0.0, 1.0, allow_nan=False) | st.sampled_from([0.0, 1.0])
    x = draw(st.lists(st.lists(unit, min_size=d, max_size=d), min_size=n, max_size=n))
    scale = draw(st.sampled_from([1e-12, 1.0, 1e12]))
    y = draw(
        st.lists(st.sampled_from([-1.0, 0.0, 2.0]) | st.floats(-1e3, 1e3, allow_nan=False), min_size=n, max_size=n)
    )
    return torch.tensor(x, dtype=torch.float64).reshape(n, d), scale * torch.tensor(y, dtype=torch.float64)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(data=observations(), maximize=st.booleans(), warp=st.sampled_from(OUTPUT_WARPS), q=st.integers(1, 2))
def test_any_finite_observations_give_reproducible_points_in_the_cube(model, data, maximize, warp, q):
    x, y = data
    effort = dict(n_candidates=16, n_starts=2, steps=2, output_warp=warp, maximize=maximize, q=q)
    points = suggest(model, x, y, generator=torch.Generator().manual_seed(0), **effort)
    assert points.shape == (q, x.shape[1]) and points.dtype == torch.float64
    assert torch.isfinite(points).all() and (points >= 0).all() and (points <= 1).all()
    assert torch.equal(points, suggest(model, x, y, generator=torch.Generator().manual_seed(0), **effort))


def test_no_observations_give_a_random_point(model):
    p = suggest(model, torch.zeros(0, 2), torch.zeros(0), generator=torch.Generator().manual_seed(0))
    assert p.shape == (1, 2) and ((p >= 0) & (p <= 1)).all()


def test_more_observations_than_the_context_holds(model):
    x, y = _data(250, 2)
    assert model.max_context == 100
    xc, yc = _select_context(x, y, model.max_context, True, torch.Generator().manual_seed(0))
    assert len(yc) == 100
    assert set(yc.topk(25).values.tolist()) == set(y.topk(25).values.tolist())  # the best quarter is kept
    assert len(set(xc[:, 0].tolist())) == 100  # no observation twice
    point = suggest(model, x, y, generator=torch.Generator().manual_seed(0))
    assert ((point >= 0) & (point <= 1)).all()


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (torch.rand(5, 4), torch.rand(5), "4 features.*1 to 3"),
        (torch.rand(5, 2), torch.tensor([0.1, float("nan"), 0.2, 0.3, 0.4]), "y_train contains NaN"),
        (torch.rand(5, 2) * 2, torch.rand(5), r"x_train must lie in the unit cube"),
        (torch.rand(5, 2), torch.rand(4), r"y_train must have shape \(5,\)"),
        (torch.rand(5), torch.rand(5), r"x_train must have shape \(n, d\)"),
    ],
)
def test_bad_observations_are_named(model, x, y, match):
    with pytest.raises(ValueError, match=match):
        suggest(model, x, y)


def test_bad_q_is_named(model):
    with pytest.raises(ValueError, match="q must be a positive integer"):
        suggest(model, *_data(5, 2), q=0)


# -- local suggestions -------------------------------------------------------------------------------------
def test_a_box_keeps_the_search_inside_it_and_finds_its_grid_maximum(model):
    """Reference: the acquisition on a dense grid of the box (brute force), at the box's own coordinates."""
    x, y, conditioned, acq = _log_ei_search(model, 8, 2)

    lower, upper = torch.tensor([0.55, 0.1], dtype=torch.float64), torch.tensor([0.8, 0.3], dtype=torch.float64)
    axis = torch.linspace(0, 1, 151, dtype=torch.float64)
    grid = lower + torch.cartesian_prod(axis, axis) * (upper - lower)
    with torch.no_grad():
        grid_max = float(torch.as_tensor(acq(conditioned.predict(grid))).max())
    point, value = maximize_acquisition(conditioned, acq, bounds=(lower, upper), anchors=x[:3],
                                        generator=torch.Generator().manual_seed(1))  # fmt: skip
    assert ((point >= lower) & (point <= upper)).all()
    assert float(torch.as_tensor(acq(conditioned.predict(point[None]))).item()) == pytest.approx(value, rel=1e-5)
    assert grid_max - 0.02 <= value  # as good as the grid of the box (log EI in nats)
    _, whole = maximize_acquisition(conditioned, acq, generator=torch.Generator().manual_seed(1))
    assert value <= whole + 1e-6  # the box holds no more than the whole cube


@pytest.mark.parametrize(
    ("lower", "upper", "match"),
    [([0.2, 0.2], [0.1, 0.5], "0 <= lower < upper <= 1"), ([-0.1, 0.0], [0.5, 0.5], "0 <= lower"),
     ([0.0], [0.5], r"shape \(2,\)")],
)  # fmt: skip
def test_bad_bounds_are_named(model, lower, upper, match):
    conditioned = model.condition(*_data(5, 2))
    bounds = (torch.tensor(lower, dtype=torch.float64), torch.tensor(upper, dtype=torch.float64))
    with pytest.raises(ValueError, match=match):
        maximize_acquisition(conditioned, lambda p: p.mean, bounds=bounds)


def test_the_local_region_holds_the_best_point_and_its_nearest_neighbours():
    """Points at Chebyshev distances 0.01, 0.02, ... from the best one: the region's half-side is the
    distance to the 20th, by hand."""
    center = torch.tensor([0.5, 0.4], dtype=torch.float64)
    k = torch.arange(1, 31, dtype=torch.float64)
    offsets = torch.stack([0.01 * k * (-1) ** k, 0.003 * k], dim=1)  # largest coordinate difference: 0.01 k
    x = torch.cat([center[None], center + offsets])[torch.randperm(31, generator=torch.Generator().manual_seed(0))]
    y = ((x - center) ** 2).sum(-1)
    got_center, half, inside = local_region(x, y, maximize=False)
    assert torch.equal(got_center, center) and half == pytest.approx(0.01 * LOCAL_NEIGHBOURS)
    assert int(inside.sum()) == LOCAL_NEIGHBOURS + 1
    assert torch.equal(inside, (x - center).abs().amax(1) <= 0.01 * LOCAL_NEIGHBOURS + 1e-12)
    _, half_max, _ = local_region(x, -y, maximize=True)
    assert half_max == pytest.approx(0.01 * LOCAL_NEIGHBOURS)  # the best is the largest value now: the same point
    _, tiny, _ = local_region(center.repeat(25, 1), torch.zeros(25), maximize=False)
    assert tiny == pytest.approx(1e-3)  # repeated points: the smallest region, not an empty one
    _, wide, _ = local_region(torch.tensor([[0.0, 0.0]] * 2 + [[1.0, 1.0]] * 25), torch.arange(27.0), False)
    assert wide == 0.5  # at most half the cube's side


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_local_suggestions_stay_in_the_central_third_of_the_region(model, maximize, seed):
    """7 random points and 24 within 0.04 of the optimum: with 31 observations (more than 20, not a multiple
    of 3) the suggestion is local, within a third of the region's half-side of the best observation (the
    region recomputed here with numpy), where a global one goes exploring far outside."""
    centre = torch.tensor([0.42, 0.57], dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    cluster = centre + 0.04 * (2 * torch.rand(24, 2, generator=g, dtype=torch.float64) - 1)
    x = torch.cat([torch.rand(7, 2, generator=g, dtype=torch.float64), cluster])
    y = ((x - centre) ** 2).sum(-1) * (-1.0 if maximize else 1.0)
    assert len(y) > LOCAL_NEIGHBOURS and len(y) % LOCAL_CYCLE != 0
    xs = x.numpy()
    best = xs[int(np.argmax(y.numpy()) if maximize else np.argmin(y.numpy()))]
    third = np.sort(np.abs(xs - best).max(1))[LOCAL_NEIGHBOURS] / 3
    point = suggest(model, x, y, maximize=maximize, generator=torch.Generator().manual_seed(0))[0].numpy()
    assert np.abs(point - best).max() <= third + 1e-9
    whole = suggest(model, x, y, maximize=maximize, local=False, generator=torch.Generator().manual_seed(0))
    assert np.abs(whole[0].numpy() - best).max() > 10 * third


def test_every_third_suggestion_and_the_first_twenty_are_global(model):
    for n in (LOCAL_NEIGHBOURS, 3 * LOCAL_NEIGHBOURS):
        x, y = _data(n, 2, seed=1)
        local = suggest(model, x, y, generator=torch.Generator().manual_seed(0))
        assert torch.equal(local, suggest(model, x, y, local=False, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="local must be True or False"):
        suggest(model, x, y, local=1)


def test_local_suggestions_close_in_on_the_minimum_of_a_smooth_function(model):
    """A 2-D quadratic, 21 random points then 15 suggestions, 4 seeds: local refinement ends, in geometric
    mean, at least 3 times closer to the minimum value than searching the whole cube every time
    (measured: about 6 times)."""
    centre = torch.tensor([0.37, 0.61], dtype=torch.float64)

    def f(x):
        return 10 * ((x - centre) ** 2).sum(-1)

    log_ratio = []
    for seed in range(4):
        regrets = []
        for local in (True, False):
            g = torch.Generator().manual_seed(seed)
            x = torch.rand(21, 2, generator=g, dtype=torch.float64)
            y = f(x)
            for _ in range(15):
                p = suggest(model, x, y, maximize=False, local=local, generator=g, n_candidates=128, n_starts=4)
                x, y = torch.cat([x, p]), torch.cat([y, f(p)])
            regrets.append(float(y.min()))
        log_ratio.append(math.log(regrets[1] / regrets[0]))
    assert np.mean(log_ratio) > math.log(3)


# -- the Optuna sampler ------------------------------------------------------------------------------------
def light(model, **options):
    """A sampler with a small acquisition search (the tests' studies stay fast)."""
    return PFNSampler(model, n_candidates=256, n_starts=2, steps=10, **options)


def test_a_short_study_improves_on_its_startup_trials(model):
    """1-D quadratic, minimum 0 at x = 0.37 on [-2, 2]: 6 random startup trials, then 8 from the PFN."""
    for seed in range(3):
        study = optuna.create_study(sampler=light(model, n_startup_trials=6, seed=seed))
        study.optimize(lambda t: (t.suggest_float("x", -2, 2) - 0.37) ** 2, n_trials=14)
        startup_best = min(t.value for t in study.trials[:6])
        assert study.best_value < startup_best
        assert study.best_value < 0.01  # within 0.1 of the minimiser
        assert len(study.sampler.suggest_seconds) == 8


def test_maximising_with_int_and_log_parameters(model):
    def objective(trial):
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        depth = trial.suggest_int("depth", 1, 12)
        return -((math.log10(lr) + 3) ** 2) - 0.1 * (depth - 4) ** 2

    study = optuna.create_study(direction="maximize", sampler=light(model, n_startup_trials=6, seed=0))
    study.optimize(objective, n_trials=20)
    assert study.best_value > max(t.value for t in study.trials[:6])
    assert study.best_value > -0.3
    assert all(isinstance(t.params["depth"], int) and 1 <= t.params["depth"] <= 12 for t in study.trials)


def test_the_same_seed_gives_the_same_study(model):
    def run(seed):
        study = optuna.create_study(sampler=light(model, n_startup_trials=3, seed=seed))
        study.optimize(lambda t: t.suggest_float("a", 0, 1) + t.suggest_int("b", 0, 5), n_trials=6)
        return [t.params for t in study.trials]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_pruned_failed_and_running_trials_are_ignored(model):
    """The model's suggestion depends on the completed trials only."""
    dists = {"a": optuna.distributions.FloatDistribution(0, 1), "b": optuna.distributions.FloatDistribution(0, 1)}
    completed = [
        optuna.trial.create_trial(params={"a": a, "b": b}, distributions=dists, value=(a - 0.2) ** 2 + b)
        for a, b in np.random.default_rng(0).random((6, 2))
    ]
    others = [
        optuna.trial.create_trial(params={"a": 0.5, "b": 0.5}, distributions=dists, state=state, value=None)
        for state in (optuna.trial.TrialState.FAIL, optuna.trial.TrialState.PRUNED)
    ]

    def next_params(trials):
        study = optuna.create_study(sampler=light(model, n_startup_trials=5, seed=7))
        study.add_trials(trials)
        trial = study.ask()
        return trial.suggest_float("a", 0, 1), trial.suggest_float("b", 0, 1)

    assert next_params(completed) == next_params(completed[:3] + others + completed[3:])
    assert next_params(completed) != next_params(completed[:5])  # and it does depend on the completed ones


def test_infinite_values_become_the_worst_finite_value():
    minimize, maximize = optuna.study.StudyDirection.MINIMIZE, optuna.study.StudyDirection.MAXIMIZE
    v = np.array([1.0, np.inf, 3.0, -np.inf])
    assert _finite(v, minimize).tolist() == [1.0, 3.0, 3.0, 3.0]
    assert _finite(v, maximize).tolist() == [1.0, 1.0, 3.0, 1.0]


def test_too_many_parameters_are_a_clear_error(model):
    study = optuna.create_study(sampler=light(model, n_startup_trials=2, seed=0))
    objective = lambda t: sum(t.suggest_float(f"x{i}", 0, 1) for i in range(4))  # noqa: E731
    # the first trial (random) reveals the search space; the second stops the study, before more are wasted
    with pytest.raises(ValueError, match="4 parameters, but the model takes at most 3"):
        study.optimize(objective, n_trials=3)
    assert [t.state for t in study.trials][0] == optuna.trial.TrialState.COMPLETE


def test_categorical_parameters_are_refused_by_name(model):
    study = optuna.create_study(sampler=light(model, seed=0))
    with pytest.raises(ValueError, match="'opt' is categorical"):
        study.optimize(lambda t: float(t.suggest_categorical("opt", ["sgd", "adam"]) == "sgd"), n_trials=1)
    # a single choice carries no information and is fine
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + len(t.suggest_categorical("one", ["a"])), n_trials=2)


def test_nan_objective_values_fail_the_trial_and_are_left_out(model):
    study = optuna.create_study(sampler=light(model, n_startup_trials=2, seed=0))
    study.optimize(lambda t: float("nan") if t.number % 2 else t.suggest_float("x", 0, 1), n_trials=8)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 4
    assert len(study.sampler.suggest_seconds) >= 2  # the model ran on the completed ones


# -- the parameter <-> unit-cube map -----------------------------------------------------------------------
@st.composite
def distributions_and_values(draw):
    kind = draw(st.sampled_from(["float", "float_log", "float_step", "int", "int_log", "int_step"]))
    if kind.startswith("int"):
        low = draw(st.integers(1 if kind == "int_log" else -1000, 1000))
        step = draw(st.integers(1, 7)) if kind == "int_step" else 1
        high = low + step * draw(st.integers(1, 300))
        dist = optuna.distributions.IntDistribution(low, high, log=kind == "int_log", step=step)
        value = low + step * draw(st.integers(0, (high - low) // step))
    else:
        low = draw(st.floats(1e-6 if kind == "float_log" else -1e6, 1e6, allow_nan=False))
        if kind == "float_step":
            low = max(-1e3, min(low, 1e3))  # further out, Optuna's own grid check fails on its own grid (float error)
            step = draw(st.sampled_from([0.001, 0.1, 0.25, 1.0, 3.0]))
            count = draw(st.integers(1, 500))
            dist = optuna.distributions.FloatDistribution(low, low + step * count, step=step)
            count = round((dist.high - dist.low) / step)  # Optuna may shorten the range to whole steps
            value = min(low + step * draw(st.integers(0, count)), dist.high)
        else:
            high = low + draw(st.floats(1e-3, 1e6, allow_nan=False)) * (max(1.0, abs(low)) if low > 0 else 1.0)
            dist = optuna.distributions.FloatDistribution(low, high, log=kind == "float_log")
            value = draw(st.floats(low, high, allow_nan=False))
    return dist, value


@settings(max_examples=300, deadline=None, derandomize=True)
@given(distributions_and_values(), st.floats(0, 1))
def test_the_unit_cube_map_round_trips_and_stays_in_the_distribution(case, u):
    dist, value = case
    assert 0 <= _to_unit(value, dist) <= 1
    back = _from_unit(_to_unit(value, dist), dist)
    if isinstance(dist, optuna.distributions.IntDistribution) or dist.step is not None:
        assert back == pytest.approx(value, rel=1e-9, abs=1e-9)
    else:
        assert back == pytest.approx(value, rel=1e-9, abs=1e-9 * (dist.high - dist.low))
    anywhere = _from_unit(u, dist)
    assert dist._contains(dist.to_internal_repr(anywhere))
