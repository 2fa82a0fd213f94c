"""Learning-curve API on the shipped ``lc-wide`` model: the value and budget maps against hand-computed
model inputs, censoring at closed bounds, early stopping, declining curves, long curves (thinned to the
model's context), and clear errors.

References are computed without ``pfn.curves``: model inputs by hand from the documented map
(first budget at 1/G, max_epochs at 1), then the predictor called directly. Deterministic
comparisons use float32 tolerances; Monte Carlo ones a tolerance of 5 standard errors of the sample.
"""

import math
import warnings

import numpy as np
import pytest

import pfn
from pfn import curves
from pfn.curves.inputs import _CurveMap
from pfn.inference.predictor import Predictor

RISING = [0.40, 0.52, 0.60, 0.65, 0.69, 0.71, 0.73, 0.74]
LOSS = [2.3, 1.6, 1.2, 1.0, 0.9, 0.85]
HOPELESS = [0.30, 0.31, 0.315, 0.318, 0.32, 0.321, 0.322, 0.322]
WINNING = [0.60, 0.75, 0.82, 0.86, 0.88]


@pytest.fixture(scope="module")
def lc():
    return curves.load("lc-wide")


@pytest.fixture(scope="module")
def small_grid(lc):
    """The lc-wide network with a 40-point grid declared (as a model trained on 40-point curves would be)."""
    config = {**lc.config, "training": {**lc.config["training"], "num_points": 40, "max_context": 39}}
    return Predictor(lc.net, lc.output, config)


def direct(lc, x, u, xq):
    """The model's predictive of u at inputs xq, given (x, u): no curve mapping involved."""
    return lc.predict(np.asarray(x, float), np.asarray(u, float), np.asarray(xq, float))


# -- the budget map ------------------------------------------------------------------------------
def curve_map(epochs, max_epochs, budget_scale="linear", grid=100):
    values = np.linspace(0.3, 0.5, len(epochs))
    return _CurveMap(values, epochs, max_epochs, "maximize", (0.0, 1.0), budget_scale, grid, "values", grid - 1)


def test_budget_map_puts_the_first_budget_at_one_grid_step_and_max_epochs_at_one():
    # epochs 1..n of a 100-epoch run: the prior's own convention, x = epoch / 100
    m = curve_map([1, 2, 3, 4, 5], 100)
    np.testing.assert_allclose(m.x, [0.01, 0.02, 0.03, 0.04, 0.05], rtol=1e-12)
    np.testing.assert_allclose(m.position([50, 100]), [0.50, 1.00], rtol=1e-12)
    assert m.earliest == pytest.approx(0.0, abs=1e-12)
    # budgets 5..20 of a 50-epoch run: 5 -> 1/100, 50 -> 1, linear in between
    m = curve_map([5, 10, 15, 20], 50)
    np.testing.assert_allclose(m.position([5, 20, 27.5, 50]), [0.01, 0.34, 0.505, 1.0], rtol=1e-12)
    assert m.earliest == pytest.approx(5 - 45 / 99, rel=1e-12)
    # a 40-point grid: x = epoch / 40 for a 40-epoch run
    np.testing.assert_allclose(curve_map([1, 2, 3], 40, grid=40).position([1, 3, 20, 40]), [1 / 40, 3 / 40, 0.5, 1])


def test_log_budgets_are_spaced_by_their_logarithm():
    # training-set sizes 100 * 2^k, k = 0..4, up to 12800 = 100 * 2^7: x = (1 + 99 k / 7) / 100
    m = curve_map([100, 200, 400, 800, 1600], 12800, budget_scale="log")
    k = np.array([0, 1, 2, 3, 4, 5, 7])
    np.testing.assert_allclose(m.position(100 * 2.0**k), (1 + 99 * k / 7) / 100, rtol=1e-12)
    assert m.earliest == pytest.approx(100 * 128 ** (-1 / 99), rel=1e-12)
    linear = curve_map([100, 200, 400, 800, 1600], 12800)
    assert linear.position(1600)[()] == pytest.approx((1 + 99 * 1500 / 12700) / 100, rel=1e-12)


def test_forecast_equals_the_model_at_hand_computed_inputs(lc):
    """extrapolate = the predictor at the inputs computed by hand: any shift of the map changes the answer."""
    f = curves.extrapolate(RISING, max_epochs=100, future_epochs=[20, 100], model=lc)
    ref = direct(lc, np.arange(1, 9) / 100, RISING, [0.20, 1.00])
    np.testing.assert_allclose(f.median, ref.median, atol=1e-5)
    np.testing.assert_allclose(f.cdf(0.75), ref.cdf(0.75), atol=1e-6)
    np.testing.assert_allclose(f.probability_better_than(0.8), 1 - ref.cdf(0.8), atol=1e-6)
    # shifted by one grid step the inputs would be (e - 1) / 100: a different forecast, far beyond float error
    shifted = direct(lc, np.arange(0, 8) / 100, RISING, [0.19, 0.99])
    assert np.abs(shifted.cdf(0.75) - ref.cdf(0.75)).max() > 1e-3


def test_log_budget_forecast_equals_the_model_at_hand_computed_inputs(lc):
    sizes, acc = [100, 200, 400, 800, 1600], [0.50, 0.60, 0.66, 0.70, 0.72]
    f = curves.extrapolate(acc, epochs=sizes, max_epochs=12800, future_epochs=[3200, 12800], budget_scale="log",
                           model=lc)  # fmt: skip
    k = np.arange(5)
    ref = direct(lc, (1 + 99 * k / 7) / 100, acc, (1 + 99 * np.array([5, 7]) / 7) / 100)
    np.testing.assert_allclose(f.median, ref.median, atol=1e-5)
    np.testing.assert_allclose(f.cdf(0.8), ref.cdf(0.8), atol=1e-6)
    linear = curves.extrapolate(acc, epochs=sizes, max_epochs=12800, future_epochs=[3200, 12800], model=lc)
    assert np.abs(linear.cdf(0.8) - f.cdf(0.8)).max() > 1e-2  # the scale matters


# -- the value map ---------------------------------------------------------------------------------
def test_open_upper_bound_is_the_curves_highest_value(lc):
    """bounds=(0, None) for a loss: u = (max - v) / (max - 0), by hand; (0, inf) means the same."""
    top = max(LOSS)
    u = (top - np.array(LOSS)) / top
    ref = direct(lc, np.arange(1, 7) / 100, u, [0.10, 1.0])  # max_epochs=100, future 10 and 100
    for bounds in [(0.0, None), (0.0, math.inf)]:
        f = curves.extrapolate(LOSS, max_epochs=100, future_epochs=[10, 100], direction="minimize", bounds=bounds,
                               model=lc)  # fmt: skip
        np.testing.assert_allclose(f.median, top - top * ref.median, rtol=1e-5)
        np.testing.assert_allclose(f.probability_better_than(0.7), 1 - ref.cdf((top - 0.7) / top), atol=1e-6)
        assert np.isfinite(f.mean).all() and np.isfinite(f.std).all()
    # and the open side is not censored: the model's upper tail of the loss is kept
    f = curves.extrapolate(LOSS, max_epochs=100, future_epochs=[10, 100], direction="minimize", bounds=(0, None),
                           model=lc)  # fmt: skip
    np.testing.assert_allclose(f.quantile(0.999), top - top * ref.quantile(0.001), rtol=1e-5)


def test_direction_and_units_round_trip(lc):
    up = curves.extrapolate(RISING, max_epochs=30, future_epochs=[10, 20, 30], model=lc)
    down = curves.extrapolate(1 - np.array(RISING), max_epochs=30, future_epochs=[10, 20, 30],
                              direction="minimize", model=lc)  # fmt: skip
    np.testing.assert_allclose(down.median, 1 - up.median, atol=1e-5)
    np.testing.assert_allclose(down.quantile(0.1), 1 - up.quantile(0.9), atol=1e-5)
    np.testing.assert_allclose(down.mean, 1 - up.mean, atol=1e-5)
    np.testing.assert_allclose(down.std, up.std, atol=1e-5)
    np.testing.assert_allclose(down.probability_better_than(0.2), up.probability_better_than(0.8), atol=1e-6)
    pct = curves.extrapolate(100 * np.array(RISING), max_epochs=30, future_epochs=[10, 20, 30], bounds=(0, 100),
                             model=lc)  # fmt: skip
    np.testing.assert_allclose(pct.mean, 100 * up.mean, rtol=1e-5)
    np.testing.assert_allclose(pct.std, 100 * up.std, rtol=1e-4)
    np.testing.assert_allclose(pct.log_prob(75.0), up.log_prob(0.75) - np.log(100), atol=1e-5)
    for f in (up, down):
        np.testing.assert_allclose(f.cdf(f.quantile(0.3)), 0.3, atol=1e-4)


def test_closed_bounds_censor_the_forecast(lc):
    """Near the top the model's noise reaches past 1; the forecast is clip(U, 0, 1): quantiles are the
    model's clipped, and mean and std match 200k clipped draws from the model within 5 standard errors."""
    high = [0.95, 0.97, 0.98, 0.99, 0.995]
    f = curves.extrapolate(high, max_epochs=50, future_epochs=[10, 50], model=lc)
    ref = direct(lc, (1 + 99 * np.arange(5) / 49) / 100, high, [(1 + 99 * 9 / 49) / 100, 1.0])
    assert (ref.quantile(0.99) > 1).all()  # the uncensored model does leave [0, 1]
    q = [0.01, 0.5, 0.9, 0.99]
    np.testing.assert_allclose(f.quantile(q), np.clip(ref.quantile(q), 0, 1), atol=1e-6)
    assert (f.quantile(q) <= 1).all() and (f.cdf(1.0) == 1).all() and (f.probability_better_than(1.0) == 0).all()
    import torch

    draws = np.clip(ref.sample(200_000, generator=torch.Generator().manual_seed(0)), 0, 1).astype(np.float64)
    n = draws.shape[0]
    se_mean = draws.std(0) / math.sqrt(n)
    np.testing.assert_array_less(np.abs(f.mean - draws.mean(0)), 5 * se_mean)
    centred = (draws - draws.mean(0)) ** 2
    se_std = centred.std(0) / math.sqrt(n) / (2 * draws.std(0))  # delta method for sqrt of the variance
    np.testing.assert_array_less(np.abs(f.std - draws.std(0)), 5 * se_std + 1e-4)  # 1e-4: the cdf grid's step


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_an_interval_next_to_an_atom_holds_its_level(lc, direction):
    """Near the top, the censored forecast has an atom on the bound heavier than 5%: the equal-tailed 90%
    interval would hold 95% or more of 200k clipped draws from the uncensored model; the interval ends at the
    bound and holds 90% within 5 binomial standard errors. A forecast far from the bounds keeps equal tails."""
    import torch

    high = np.array([0.95, 0.97, 0.98, 0.99, 0.995])
    values = high if direction == "maximize" else 1 - high
    f = curves.extrapolate(values, max_epochs=50, future_epochs=[10, 50], direction=direction, model=lc)
    ref = direct(lc, (1 + 99 * np.arange(5) / 49) / 100, high, [(1 + 99 * 9 / 49) / 100, 1.0])
    draws = np.clip(ref.sample(200_000, generator=torch.Generator().manual_seed(0)), 0, 1).astype(np.float64)
    draws = draws if direction == "maximize" else 1 - draws
    bound = 1.0 if direction == "maximize" else 0.0
    atom = (draws == bound).mean(0)
    assert (atom > 0.06).all()  # the atom holds more than the equal tail
    lo, hi = f.interval(0.9)
    np.testing.assert_array_equal(hi if direction == "maximize" else lo, bound)
    held = ((draws >= lo) & (draws <= hi)).mean(0)
    np.testing.assert_array_less(np.abs(held - 0.9), 5 * math.sqrt(0.9 * 0.1 / len(draws)))
    middling = np.array([0.3, 0.4, 0.45, 0.5])
    mid = curves.extrapolate(middling if direction == "maximize" else 1 - middling, max_epochs=50,
                             future_epochs=[10, 50], direction=direction, model=lc)  # fmt: skip
    np.testing.assert_allclose(np.stack(mid.interval(0.9)), mid.quantile([0.05, 0.95]).T, atol=1e-12)


def test_infinite_best_and_thresholds(lc):
    f = curves.extrapolate(RISING, max_epochs=30, model=lc)
    assert f.cdf(math.inf)[0] == 1 and f.cdf(-math.inf)[0] == 0 and f.log_prob(math.inf)[0] == -math.inf
    assert curves.probability_of_beating(RISING, best=math.inf, max_epochs=30, model=lc) == 0
    assert curves.probability_of_beating(RISING, best=-math.inf, max_epochs=30, model=lc) == 1


# -- early stopping ----------------------------------------------------------------------------------
def test_should_stop_stops_a_hopeless_run_and_keeps_a_winning_one(lc):
    # measured: P(a run at 0.32 ends above 0.9) = 0.0000, P(a run at 0.88 ends above 0.8) = 0.99
    assert curves.should_stop(HOPELESS, best=0.9, max_epochs=30, threshold=0.05, model=lc)
    assert not curves.should_stop(WINNING, best=0.8, max_epochs=30, threshold=0.05, model=lc)
    both = curves.should_stop([HOPELESS, WINNING], best=0.85, max_epochs=30, model=lc)
    assert both.tolist() == [True, False]


def test_should_stop_with_a_loss_open_above(lc):
    """bounds=(0, inf) used to give an infinite median and never stop."""
    flat_loss = [2.3, 2.25, 2.22, 2.21, 2.2, 2.2, 2.2, 2.2]
    f = curves.extrapolate(flat_loss, max_epochs=50, direction="minimize", bounds=(0, math.inf), model=lc)
    assert np.isfinite(f.median).all() and 1.5 < f.median[0] <= 2.3
    assert curves.should_stop(flat_loss, best=0.1, max_epochs=50, direction="minimize", bounds=(0, math.inf), model=lc)


def test_should_stop_is_monotone_in_the_threshold(lc):
    thresholds = [0.0, 0.01, 0.05, 0.2, 0.5, 0.9, 1.0]
    for run in (RISING, [0.2, 0.25, 0.28, 0.3, 0.31], WINNING):
        stops = [curves.should_stop(run, best=0.8, max_epochs=30, threshold=t, model=lc) for t in thresholds]
        assert stops == sorted(stops)  # False ... False True ... True
        assert not stops[0]


# -- declining curves ----------------------------------------------------------------------------------
# rises for two epochs, then overfits (steadily worse: 9 of 11 steps down), and its twin that keeps rising
RISE_FALL = [0.50, 0.58, 0.62, 0.60, 0.58, 0.55, 0.52, 0.49, 0.46, 0.43, 0.40, 0.37]
RISE_ON = [0.50, 0.58, 0.62, 0.64, 0.655, 0.665, 0.67, 0.675, 0.678, 0.68, 0.682, 0.683]
FALLING = [0.90 - 0.04 * e for e in range(12)]  # an accuracy that falls from the first epoch on
RISING_LOSS = [1.0, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7]  # a loss, open above, that diverges


@pytest.mark.parametrize("run", [RISE_FALL, FALLING, RISING_LOSS], ids=["rise_fall", "falling", "rising_loss"])
def test_declining_curves_get_a_forecast(lc, run):
    """Every finite curve gets a finite forecast, inside closed bounds, and a probability of beating a best."""
    direction, bounds = ("minimize", (0, None)) if run is RISING_LOSS else ("maximize", (0, 1))
    assert curves.gets_steadily_worse(run, direction, bounds)  # what extrapolate used to refuse
    for max_epochs in (len(run), 30, 100, 1000):
        f = curves.extrapolate(run, max_epochs=max_epochs, future_epochs=[len(run), max_epochs], direction=direction,
                               bounds=bounds, model=lc)  # fmt: skip
        q = f.quantile([0.01, 0.05, 0.5, 0.95, 0.99])
        assert np.isfinite(q).all() and np.isfinite(f.mean).all() and np.isfinite(f.std).all()
        assert (np.diff(q, axis=-1) >= 0).all() and (q >= 0).all() and (bounds[1] is None or (q <= 1).all())
        best = min(run) if direction == "minimize" else max(run)
        p = curves.probability_of_beating(run, best, max_epochs, direction=direction, bounds=bounds, model=lc)
        assert 0 <= p <= 1
        assert curves.should_stop(run, best, max_epochs, threshold=1.0, direction=direction, bounds=bounds, model=lc)
        assert not curves.should_stop(run, best, max_epochs, threshold=0.0, direction=direction, bounds=bounds,
                                      model=lc)  # fmt: skip


def test_a_declining_curve_is_read_as_a_setback_not_as_a_trend_or_a_rise(lc):
    """Measured (median at max_epochs): RISE_FALL 0.469 at 30 epochs (between its last value 0.37 and its best
    0.62), FALLING 0.576 (last 0.46, best 0.90); above its best by -0.151, -0.114, -0.052 at 30, 50, 100 epochs,
    where the rising twin ends above its best by 0.018, 0.029, 0.049."""
    for run in (RISE_FALL, FALLING):
        median = curves.extrapolate(run, max_epochs=30, model=lc).median[0]
        assert run[-1] < median < max(run)
    for max_epochs in (30, 50, 100):
        fall = curves.extrapolate(RISE_FALL, max_epochs=max_epochs, model=lc).median[0] - max(RISE_FALL)
        rise = curves.extrapolate(RISE_ON, max_epochs=max_epochs, model=lc).median[0] - max(RISE_ON)
        assert fall < rise
    # so early stopping works on them: P(ending above 0.9) = 0.016 (FALLING), 0.0005 (RISE_FALL); above 0.5: 0.37
    assert curves.should_stop([FALLING, RISE_FALL], best=0.9, max_epochs=30, model=lc).tolist() == [True, True]
    assert not curves.should_stop(RISE_FALL, best=0.5, max_epochs=30, model=lc)


# -- batches, lengths and thinning -------------------------------------------------------------------
def test_ragged_batch_equals_single_calls(lc):
    runs = [RISING, RISING[:3], [0.2, 0.3, 0.35, 0.38, 0.4]]
    batch = curves.extrapolate(runs, max_epochs=[30, 25, 30], future_epochs=[[15, 30], [25], [20, 30]], model=lc)
    for run, m, fut, got in zip(runs, [30, 25, 30], [[15, 30], [25], [20, 30]], batch, strict=True):
        alone = curves.extrapolate(run, max_epochs=m, future_epochs=fut, model=lc)
        np.testing.assert_allclose(got.mean, alone.mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got.quantile([0.1, 0.9]), alone.quantile([0.1, 0.9]), rtol=1e-5, atol=1e-6)


def test_curves_up_to_the_models_context_are_forecast_whole(lc, small_grid):
    """The shipped models were trained with contexts of up to 99 points (100-point curves, one held out)."""
    assert curves.max_points(lc) == 99 and curves.max_points(small_grid) == 39
    run = 0.9 - 0.5 * np.exp(-np.arange(1, 100) / 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = curves.extrapolate(run, max_epochs=200, model=lc)
    ref = direct(lc, (1 + 99 * np.arange(99) / 199) / 100, run, [1.0])  # every point, by hand
    np.testing.assert_allclose(f.median, ref.median, atol=1e-5)


SMOOTH_1000 = 0.9 - 0.5 * np.exp(-np.arange(1, 1001) / 200)


@pytest.mark.parametrize("budget_scale", curves.BUDGET_SCALES)
def test_long_curves_are_thinned_to_the_models_context(lc, small_grid, budget_scale):
    """A curve longer than max_points is forecast from the points thin keeps, on the chosen budget scale: the
    same forecast as from thin's output, with no warning about a context the model was not trained on."""
    forecasts = []
    for model, limit, n in [(lc, 99, 100), (lc, 99, 1000), (small_grid, 39, 40)]:
        future = [n, 1500, 2000]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            f = curves.extrapolate(SMOOTH_1000[:n], max_epochs=2000, future_epochs=future, budget_scale=budget_scale,
                                   model=model)  # fmt: skip
        e, v = curves.thin(SMOOTH_1000[:n], max_points=limit, budget_scale=budget_scale)
        assert len(e) == limit
        ref = curves.extrapolate(v, e, max_epochs=2000, future_epochs=future, budget_scale=budget_scale, model=model)
        np.testing.assert_allclose(f.quantile([0.05, 0.5, 0.95]), ref.quantile([0.05, 0.5, 0.95]), atol=1e-6)
        np.testing.assert_allclose(f.mean, ref.mean, atol=1e-6)
        forecasts.append(f)
    if budget_scale == "log":  # thinned on the log axis: not the linear choice of points
        e, v = curves.thin(SMOOTH_1000, max_points=99)
        linear = curves.extrapolate(v, e, max_epochs=2000, future_epochs=[1000, 1500, 2000], budget_scale="log",
                                    model=lc)  # fmt: skip
        assert np.abs(linear.cdf(0.9) - forecasts[1].cdf(0.9)).max() > 1e-2


def test_an_open_bound_of_a_long_curve_is_the_extreme_of_all_its_values(lc):
    """The whole curve is checked and sets the value map; the model sees the kept points, mapped by hand here."""
    loss = 0.1 + 2.0 * np.exp(-np.arange(1000) / 300)
    kept, _ = curves.thin(loss, max_points=99)
    spike = 500 if 501 not in kept else 502  # a 0-based index whose epoch thinning drops
    assert spike + 1 not in kept
    loss[spike] = 3.0
    f = curves.extrapolate(loss, max_epochs=1500, future_epochs=[1000, 1500], direction="minimize", bounds=(0, None),
                           model=lc)  # fmt: skip
    u = (3.0 - loss[kept.astype(int) - 1]) / 3.0
    ref = direct(lc, (1 + 99 * (kept - 1) / 1499) / 100, u, (1 + 99 * np.array([999, 1499]) / 1499) / 100)
    np.testing.assert_allclose(f.median, 3.0 - 3.0 * ref.median, atol=1e-5)
    np.testing.assert_allclose(f.quantile(0.99), 3.0 - 3.0 * ref.quantile(0.01), atol=1e-5)


def test_a_1000_epoch_run_gets_a_sensible_forecast(lc):
    """A smooth run observed for 1000 of its 1500 epochs (noise sd 0.005). Measured: medians 0.890 at epoch 1000
    (truth 0.891) and 0.923 at 1500 (truth 0.899: the prior expects more growth than this run has left), in 90%
    intervals 0.064 and 0.076 wide; P(ending above 0.88) = 0.98, above 0.98 = 0.013."""
    truth = 0.9 - 0.5 * np.exp(-np.arange(1, 1501) / 250)
    values = truth[:1000] + np.random.default_rng(0).normal(0, 0.005, 1000)
    f = curves.extrapolate(values, max_epochs=1500, future_epochs=[1000, 1500], model=lc)
    lo, hi = f.interval(0.9)
    assert np.isfinite(f.mean).all() and np.isfinite(f.std).all()
    assert ((lo <= truth[[999, 1499]]) & (truth[[999, 1499]] <= hi)).all()
    assert (hi - lo < 0.1).all() and (hi <= 1).all()
    assert abs(f.median[0] - truth[999]) < 0.01 and abs(f.median[1] - truth[1499]) < 0.04
    assert not curves.should_stop(values, best=0.88, max_epochs=1500, model=lc)
    assert curves.should_stop(values, best=0.98, max_epochs=1500, threshold=0.05, model=lc)


def saturating_run(seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """A smooth run of 400-1000 observed epochs, pow3 (even seeds) or exponential saturation (odd), with noise of
    sd 0.002-0.01, to finish at 1.2-3 times its observed length: (epochs, values, max_epochs)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(400, 1001))
    epochs = np.arange(1.0, n + 1)
    top = rng.uniform(0.6, 0.95)
    gap = rng.uniform(0.3, top - 0.05)
    if seed % 2:
        mean = top - gap * np.exp(-rng.uniform(3, 10) * epochs / n)
    else:
        alpha, scale = rng.uniform(0.3, 1.0), rng.uniform(1, n / 10)
        mean = top - gap * (1 + epochs / scale) ** -alpha
    max_epochs = float(n * rng.uniform(1.2, 3.0))
    return epochs, np.clip(mean + rng.normal(0, rng.uniform(0.002, 0.01), n), 0, 1), max_epochs


def test_thinning_changes_the_forecast_little(lc):
    """The final-value forecast of a whole 400-1000 point run (thinned to 99 points) against the same run observed
    at only 50 evenly spaced epochs (about every other kept point; the model takes it whole), in units of the
    forecast's own 90% interval width: if halving the points the model sees barely moves the forecast, the points
    thinning drops would not move it much either. Measured over 100 such runs: the medians differ by 0.04 of the
    width on average (at most 0.22), the interval ends by at most 0.32; over the 8 runs here by at most 0.10 and
    0.11."""
    median_shift, end_shift = [], []
    for seed in range(8):
        epochs, values, max_epochs = saturating_run(seed)
        full = curves.extrapolate(values, epochs, max_epochs=max_epochs, model=lc)
        every = np.round(np.linspace(0, len(values) - 1, 50)).astype(int)
        coarse = curves.extrapolate(values[every], epochs[every], max_epochs=max_epochs, model=lc)
        (lo, hi), (clo, chi) = full.interval(0.9), coarse.interval(0.9)
        width = float(hi[0] - lo[0])
        assert 0.02 < width < 0.15  # a forecast, not a shrug: noise and extrapolation, no more
        median_shift.append(abs(float(full.median[0] - coarse.median[0])) / width)
        end_shift.append(max(abs(float(lo[0] - clo[0])), abs(float(hi[0] - chi[0]))) / width)
    assert np.mean(median_shift) < 0.1 and max(median_shift) < 0.2, median_shift
    assert max(end_shift) < 0.25, end_shift


def test_ragged_batch_with_long_and_declining_curves_equals_single_calls(lc):
    falling = [0.9 - 0.04 * e for e in range(12)]
    runs = [RISING, list(SMOOTH_1000), list(np.linspace(0.3, 0.6, 150)), falling, list(SMOOTH_1000[:99])]
    max_epochs = [30, 2000, 300, 50, 2000]
    batch = curves.extrapolate(runs, max_epochs=max_epochs, model=lc)
    for run, m, got in zip(runs, max_epochs, batch, strict=True):
        alone = curves.extrapolate(run, max_epochs=m, model=lc)
        np.testing.assert_allclose(got.quantile([0.1, 0.5, 0.9]), alone.quantile([0.1, 0.5, 0.9]), atol=1e-6)
    p = curves.probability_of_beating(runs, best=0.85, max_epochs=max_epochs, model=lc)
    assert p.shape == (5,) and ((p >= 0) & (p <= 1)).all()


def test_thin_keeps_the_budgets_nearest_an_even_grid():
    values = np.linspace(0.1, 0.9, 150)
    e, v = curves.thin(values, max_points=99)
    targets = 1 + np.arange(99) * 149 / 98  # 99 budgets evenly spaced from epoch 1 to epoch 150
    np.testing.assert_array_equal(e, np.ceil(targets - 0.5))  # nearest; a tie goes to the earlier budget
    np.testing.assert_allclose(v, values[e.astype(int) - 1])
    sizes = 2.0 ** (np.arange(200) / 10)  # geometric budgets, thinned evenly in log: every 200/50th
    e, _ = curves.thin(np.linspace(0, 1, 200), sizes, max_points=50, budget_scale="log")
    assert len(e) == 50 and e[0] == 1 and e[-1] == sizes[-1]
    np.testing.assert_allclose(np.log2(e) * 10, np.ceil(np.arange(50) * 199 / 49 - 0.5))
    e, v = curves.thin([0.1, 0.2, 0.3], max_points=5)
    assert e.tolist() == [1, 2, 3] and v.tolist() == [0.1, 0.2, 0.3]


# -- errors -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "values, kwargs, match",
    [
        ([0.5, float("nan"), 0.6], {}, "values contains NaN"),
        ([], {}, "values is empty"),
        (0.5, {}, "values must be one curve"),
        ("0.5", {}, "values must be one curve"),
        ([0.5, [0.6]], {}, "values mixes numbers and sequences"),
        ([[0.5, 0.6], []], {}, r"values\[1\] must be a non-empty"),
        ([0.5, 1 + 2j], {}, "values must hold real numbers"),
        ([0.5, 1.2], {}, r"outside bounds \(0, 1\)"),
        ([0.5, 0.6], {"direction": "up"}, "direction must be one of"),
        ([0.5, 0.6], {"budget_scale": "exp"}, "budget_scale must be one of"),
        ([0.5, 0.6], {"max_epochs": 1}, "max_epochs must be at least the last observed budget"),
        ([0.5, 0.6], {"max_epochs": None}, "max_epochs must be given"),
        ([0.5, 0.6], {"max_epochs": "50"}, "max_epochs must be a real number"),
        ([0.5, 0.6], {"epochs": [2, 1]}, "epochs must be strictly increasing"),
        ([0.5, 0.6], {"epochs": [0, 1], "budget_scale": "log"}, "epochs must be positive for budget_scale='log'"),
        ([0.5, 0.6], {"bounds": (0,)}, "bounds must be a pair"),
        ([0.5, 0.6], {"bounds": (1, 0)}, "bounds must satisfy lower < upper"),
        ([0.5, 0.6], {"bounds": (0, float("nan"))}, r"bounds\[1\] must be a finite number"),
        ([0.5, 0.5], {"bounds": (None, None)}, "bounds give values an empty range"),
        ([0.5, 0.6], {"future_epochs": [40]}, "future_epochs must lie between .* and max_epochs=30"),
        ([0.5, 0.6], {"future_epochs": [-3]}, "future_epochs must lie between"),
        ([0.5, 0.6], {"future_epochs": "10"}, "future_epochs must be"),
        ([0.5, 0.6], {"model": "gp"}, "not a learning-curve model.*GPPrior.*curve models: lc, lc-real, lc-wide"),
        ([0.5, 0.6], {"model": "no-such-model"}, "model 'no-such-model': no checkpoint file"),
        ([0.5, 0.6], {"model": 3}, "model must be a curve model's name"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(values, kwargs, match):
    args = {"max_epochs": 30, **kwargs}
    with pytest.raises(ValueError, match=match) as err:
        curves.extrapolate(values, **args)
    assert "x_test" not in str(err.value) and "x_train" not in str(err.value)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: curves.should_stop([0.5, 0.6], best=0.8, max_epochs=30, threshold="0.1"), "threshold must be a real"),
        (
            lambda: curves.should_stop([0.5, 0.6], best=0.8, max_epochs=30, threshold=1.5),
            r"threshold must lie in \[0, 1\]",
        ),
        (lambda: curves.probability_of_beating([0.5, 0.6], best=float("nan"), max_epochs=30), "best must be a finite"),
        (lambda: curves.probability_of_beating([0.5, 0.6], best="0.8", max_epochs=30), "best must be a real"),
        (lambda: curves.gets_steadily_worse(0.5), "values must be a sequence"),
        (lambda: curves.gets_steadily_worse([0.5, 0.4], bounds=(0, 1, 2)), "bounds must be a pair"),
        (lambda: curves.gets_steadily_worse([0.5, 0.4], direction="down"), "direction must be one of"),
        (lambda: curves.thin([0.5, 0.6], max_points=1), "max_points must be an integer of at least 2"),
        (lambda: curves.thin([0.5, 0.6], [1, 2, 3], max_points=2), "epochs must have one budget per value"),
        (lambda: curves.load("gp-hyper"), "model 'gp-hyper' is not a learning-curve model"),
        (lambda: curves.extrapolate([0.5, 0.6], max_epochs=30).quantile(1.0), "q must lie strictly between 0 and 1"),
        (lambda: curves.extrapolate([0.5, 0.6], max_epochs=30).interval("0.9"), "level must be a real number"),
        (lambda: curves.extrapolate([0.5, 0.6], max_epochs=30).cdf(float("nan")), "v contains NaN"),
    ],
)
def test_every_public_function_names_the_bad_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_gets_steadily_worse():
    assert curves.gets_steadily_worse([0.6 - 0.03 * e for e in range(20)])
    assert not curves.gets_steadily_worse([0.5 + 0.02 * e for e in range(20)])
    assert curves.gets_steadily_worse([1.0 + 0.1 * e for e in range(8)], "minimize", (0, None))
    assert not curves.gets_steadily_worse([0.5] * 8, bounds=(None, None))  # constant: no range, not worse


def test_model_may_be_a_loaded_predictor():
    assert curves.load() is curves.load("lc-real")
    with pytest.raises(ValueError, match=r"model \(a Predictor\) is not a learning-curve model"):
        curves.extrapolate([0.5, 0.6], max_epochs=30, model=pfn.load("gp"))
