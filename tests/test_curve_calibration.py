"""Recalibration of curve forecasts (pfn.curves.Calibration): the map acts exactly on the model's cdf, a map fitted
on runs the model is overconfident about restores the coverage of fresh runs from the same process, and the stored
form and arguments are checked."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pfn import curves
from pfn.curves import calibration
from pfn.curves.calibration import CONFIG_KEY, GROUPS, LEVELS, Calibration

MODEL = curves.load("lc-wide")  # a model without a stored calibration
LV = np.asarray(LEVELS)
SETTINGS = dict(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def constant_map(table_row: np.ndarray, cutoffs=(0.5,), groups=GROUPS) -> Calibration:
    rows = np.tile(table_row, (len(cutoffs), 1))
    counts = {g: [0] * len(cutoffs) for g in groups}
    return Calibration(np.asarray(cutoffs, float), LV, {g: rows for g in groups}, counts)


def runs(n: int, seed: int, jump_sd: float = 0.06, length: int = 30) -> list[dict]:
    """Power-law accuracy curves with little noise whose final value takes an extra Gaussian jump the prefix cannot
    show: a process the model, trained on smooth runs, is overconfident about."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, length + 1)
    out = []
    for _ in range(n):
        a, b, c = rng.uniform(0.7, 0.9), rng.uniform(0.2, 0.5), rng.uniform(0.4, 1.2)
        v = a - b * t ** (-c) + 0.004 * rng.standard_normal(length)
        v[-1] += jump_sd * rng.standard_normal()
        out.append({"values": np.clip(v, 0.0, 1.0)})
    return out


def coverage(forecasts, finals, level: float) -> float:
    hits = [lo[-1] <= y <= hi[-1] for f, y in zip(forecasts, finals, strict=True) for lo, hi in [f.interval(level)]]
    return float(np.mean(hits))


def test_identity_map_leaves_the_forecast_unchanged():
    values = [0.31, 0.45, 0.52, 0.58, 0.6]
    raw = curves.extrapolate(values, future_epochs=[8, 20, 40], max_epochs=40, model=MODEL, calibration=None)
    same = curves.extrapolate(values, future_epochs=[8, 20, 40], max_epochs=40, model=MODEL,
                              calibration=constant_map(LV))  # fmt: skip
    np.testing.assert_allclose(same.quantile([0.05, 0.5, 0.95]), raw.quantile([0.05, 0.5, 0.95]), atol=1e-9)
    np.testing.assert_allclose(same.log_prob(0.65), raw.log_prob(0.65), atol=1e-9)
    np.testing.assert_allclose(same.mean, raw.mean, atol=1e-9)


@pytest.mark.parametrize("direction,bounds", [("maximize", (0.0, 1.0)), ("minimize", (0.0, None))])
def test_recalibrated_cdf_is_the_map_applied_to_the_model_cdf(direction, bounds):
    """At the model's bin borders the recalibrated cdf is R(F) exactly (R linear between its levels): the reference
    interpolates the uncalibrated forecast's own cdf with numpy. In the model's space "better" is higher, so for a
    minimised metric the map acts on 1 - cdf of the value."""
    values = [0.8, 0.6, 0.5, 0.45, 0.43] if direction == "minimize" else [0.3, 0.45, 0.5, 0.56, 0.58]
    kw = dict(max_epochs=30, direction=direction, bounds=bounds, model=MODEL)
    cal = constant_map(LV**0.6)  # widens the upper tail, strictly increasing
    raw = curves.extrapolate(values, calibration=None, **kw)
    new = curves.extrapolate(values, calibration=cal, **kw)
    u = raw._u
    borders = (u.bar.borders.double() * u.scale + u.loc).numpy().ravel()
    v = raw._v(borders[(borders > 0.05) & (borders < 0.95)][::25])  # borders inside the value range
    f_raw = np.array([raw.cdf(x)[0] for x in v])
    expected = np.interp(f_raw, LV, LV**0.6) if direction == "maximize" else 1 - np.interp(1 - f_raw, LV, LV**0.6)
    np.testing.assert_allclose([new.cdf(x)[0] for x in v], expected, atol=1e-9)
    assert np.ptp(expected - f_raw) > 0.05  # the map does change the cdf here


def test_map_is_interpolated_between_observed_fractions():
    """Two fitted fractions with different maps: a forecast whose observed fraction lies halfway between them gets
    the average map; one outside them gets the nearest (its fraction is the model input of the last observation over
    that of the forecast budget)."""
    table = np.stack([LV, LV**0.5])
    cal = Calibration(np.array([0.2, 0.6]), LV, {g: table for g in GROUPS}, {g: [0, 0] for g in GROUPS})
    values = [0.3, 0.45, 0.5, 0.56]
    # four observations of epochs 1..4 and max_epochs = 100 (the grid): inputs 0.01 ... 0.04, forecast at 0.4 and 1
    fc = curves.extrapolate(values, future_epochs=[10, 40, 100], max_epochs=100, model=MODEL, calibration=cal)
    raw = curves.extrapolate(values, future_epochs=[10, 40, 100], max_epochs=100, model=MODEL, calibration=None)
    np.testing.assert_allclose(fc._fraction, [0.4, 0.1, 0.04], rtol=1e-12)
    v = np.full(3, 0.6)
    f = raw.cdf(v)
    expected = [np.interp(f[0], LV, (LV + LV**0.5) / 2), np.interp(f[1], LV, LV), np.interp(f[2], LV, LV)]
    # between borders R(F) is linear in F only approximately: compare at the value's own bin cdf to 1e-3
    np.testing.assert_allclose(fc.cdf(v), expected, atol=2e-3)


def test_fit_on_overconfident_runs_restores_coverage_of_fresh_runs():
    """Runs whose final value jumps (sd 0.06) beyond what the first 30% shows: the model's 90% intervals hold far too
    few final values. A map fitted on 300 runs brings the coverage of 300 fresh runs of the same process to 90% and
    50%, within 4 binomial standard errors (4 sqrt(0.9 0.1 / 300) = 0.069, 4 sqrt(0.25 / 300) = 0.115), and raises
    their mean log-likelihood."""
    fit_runs, fresh = runs(300, seed=1), runs(300, seed=2)
    cal = Calibration.fit(fit_runs, MODEL, cutoffs=[0.3])
    assert cal.counts == {"bounded/linear": [300]}
    prefixes, finals = [r["values"][:9] for r in fresh], [r["values"][-1] for r in fresh]
    raw = curves.extrapolate(prefixes, max_epochs=30, model=MODEL, calibration=None)
    new = curves.extrapolate(prefixes, max_epochs=30, model=MODEL, calibration=cal)
    n = len(fresh)
    assert coverage(raw, finals, 0.9) < 0.9 - 4 * math.sqrt(0.09 / n)  # the model alone undercovers
    assert abs(coverage(new, finals, 0.9) - 0.9) < 4 * math.sqrt(0.09 / n)
    assert abs(coverage(new, finals, 0.5) - 0.5) < 4 * math.sqrt(0.25 / n)
    ll = [np.mean([f.log_prob(y)[-1] for f, y in zip(fcs, finals, strict=True)]) for fcs in (raw, new)]
    assert ll[1] > ll[0] + 0.1


def test_fit_spreads_pits_over_the_atom_on_a_closed_bound():
    """Runs that all end exactly on the upper bound (accuracy 1): the censored forecast has an atom there, of mass
    1 - F_j(1) for run j, and each run's PIT is drawn uniformly over [F_j(1), 1]. The fitted map at a level L is
    0.98 mean_j Phi((logit L - logit PIT_j) / h) + 0.02 L; its expectation over the draws is computed by quadrature
    over each run's atom (F_j(1) from the uncalibrated forecasts), and the map lies within 4 standard errors of
    a mean of 200 terms in [0, 1] (4 * 0.5 / sqrt(200) = 0.14) of it."""
    from scipy.special import logit
    from scipy.stats import norm

    t = np.arange(1, 21)
    finished = [{"values": np.append(0.9 + 0.09 * (1 - t[:-1] ** -0.5) * s, 1.0)} for s in np.linspace(0.6, 1.0, 200)]
    h = 1.5  # far from the Silverman bandwidth of these PITs (about 0.4)
    cal = Calibration.fit(finished, MODEL, cutoffs=[0.5], bandwidth=h)
    fcs = curves.extrapolate([r["values"][:10] for r in finished], max_epochs=20, model=MODEL, calibration=None)
    f1 = np.array([f._model_cdf(np.ones(1))[-1] for f in fcs])  # the model's P(U <= 1), below the atom
    assert np.median(1 - f1) > 0.05
    k = int(np.searchsorted(LV, np.median(f1)))  # the first stored level above most runs' F_j(1)
    grid = (np.arange(2000) + 0.5) / 2000  # midpoint rule over each atom
    u = f1[:, None] + grid[None, :] * (1 - f1[:, None])
    expected = 0.98 * norm.cdf((logit(LV[k]) - logit(u)) / h).mean() + 0.02 * LV[k]
    assert abs(cal.maps["bounded/linear"][0, k] - expected) < 4 * 0.5 / math.sqrt(len(finished))


def test_round_trip_and_the_stored_calibration_is_used_by_default(tmp_path):
    from safetensors.torch import load_file

    from pfn.checkpoint import read_config, write_checkpoint
    from pfn.pretrained import resolve

    cal = Calibration.fit(runs(40, seed=3), MODEL, cutoffs=[0.3, 0.6], description="test runs")
    back = Calibration.load(cal.save(tmp_path / "cal.json"))
    assert back.description == "test runs" and back.counts == cal.counts
    np.testing.assert_allclose(back.maps["bounded/linear"], cal.maps["bounded/linear"], atol=1e-6)
    source = resolve("lc-wide")
    config = read_config(source)
    config[CONFIG_KEY] = cal.to_dict()
    path = write_checkpoint(tmp_path / "calibrated.safetensors", load_file(str(source)), json.dumps(config))
    values = [0.3, 0.45, 0.5, 0.56, 0.6]
    auto = curves.extrapolate(values, max_epochs=30, model=path)
    explicit = curves.extrapolate(values, max_epochs=30, model=MODEL, calibration=tmp_path / "cal.json")
    plain = curves.extrapolate(values, max_epochs=30, model=path, calibration=None)
    np.testing.assert_allclose(auto.quantile([0.05, 0.5, 0.95]), explicit.quantile([0.05, 0.5, 0.95]), atol=1e-9)
    assert np.abs(plain.quantile([0.05, 0.95]) - auto.quantile([0.05, 0.95])).max() > 1e-3


def test_auto_reads_the_calibration_the_model_stores_now():
    """With calibration="auto" a model's stored maps are validated once, not per call; a replaced one is used."""
    from pfn.checkpoint import read_config
    from pfn.pretrained import resolve

    model = curves.load(resolve("lc-wide"))
    assert model is not MODEL and read_config(resolve("lc-wide")).get(CONFIG_KEY) is None
    values, quantiles = [0.3, 0.45, 0.5, 0.56, 0.6], [0.05, 0.5, 0.95]
    plain = curves.extrapolate(values, max_epochs=30, model=model).quantile(quantiles)
    for table_row in (np.sqrt(LV), LV**2, np.sqrt(LV)):  # widening, narrowing, and back
        model.config[CONFIG_KEY] = constant_map(table_row).to_dict()
        auto = curves.extrapolate(values, max_epochs=30, model=model).quantile(quantiles)
        explicit = curves.extrapolate(values, max_epochs=30, model=model, calibration=constant_map(table_row))
        np.testing.assert_allclose(auto, explicit.quantile(quantiles), atol=1e-9)
        assert np.abs(auto - plain).max() > 1e-3
        assert calibration._stored(model) is calibration._stored(model)  # read once while it is unchanged


def test_shipped_default_model_carries_a_calibration_for_every_group():
    cal = Calibration.of_model(curves.load())
    assert cal is not None and set(cal.maps) == set(GROUPS)
    assert min(min(c) for c in cal.counts.values()) >= 20


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda d: d.update(version=2), "version must be 1"),
        (lambda d: d["maps"].update(weird=d["maps"]["bounded/linear"]), "unknown group 'weird'"),
        (lambda d: d["maps"]["bounded/linear"].pop(), r"maps\['bounded/linear'\] must have shape"),
        (lambda d: d["maps"]["bounded/linear"][0].reverse(), "increase strictly from 0 to 1"),
        (lambda d: d.update(levels=[0.0, 0.5, 0.9]), "levels must increase from 0 to 1"),
        (lambda d: d.update(cutoffs=[0.5, 0.3]), "cutoffs must be a non-empty increasing"),
        (lambda d: d.pop("maps"), "needs numeric 'cutoffs', 'levels' and 'maps'"),
    ],
)
def test_invalid_stored_form_is_refused(mutate, match):
    data = constant_map(LV**0.8, cutoffs=(0.3, 0.6)).to_dict()
    mutate(data)
    with pytest.raises(ValueError, match=match):
        Calibration.from_dict(data)


@pytest.mark.parametrize(
    "args,kwargs,match",
    [
        ([{"values": [0.1, 0.2]}], {}, r"runs\[0\]\['values'\] must hold at least 3 values"),
        ([{"values": [0.1, float("nan"), 0.3]}], {}, r"runs\[0\]\['values'\].*NaN"),
        ([{"values": [0.1, 0.2, 0.3], "epoch": [1, 2, 3]}], {}, r"runs\[0\] has unknown keys \['epoch'\]"),
        ([{"values": [0.1, 0.2, 0.3], "epochs": [1, 2]}], {}, r"runs\[0\]\['epochs'\] must have one budget per value"),
        ([{"values": [0.1, 0.2, 0.3], "direction": "up"}], {}, r"runs\[0\]\['direction'\] must be one of"),
        ([{"values": [0.1, 0.2, 0.3]}, {"values": [0.1, 1.2, 0.3]}], {}, r"runs\[1\]\['values'\] has values outside"),
        ([{"values": [0.1, 0.2, 0.3], "epochs": [1, 3, 2]}], {}, r"epochs of runs\[0\] must be strictly increasing"),
        ([{"values": [0.1, 0.2, 0.3]}], {"cutoffs": [0.5, 1.0]}, "cutoffs must be a non-empty increasing"),
        ([{"values": [0.1, 0.2, 0.3]}], {"smoothing": 0.0}, "smoothing must be a number in"),
        ([{"values": [0.1, 0.2, 0.3]}], {"bandwidth": -1.0}, "bandwidth must be a positive number or None"),
        ([[0.1, 0.2, 0.3]], {}, r"runs\[0\] must be a mapping with 'values'"),
        ([], {}, "runs must be a non-empty sequence"),
    ],
)
def test_fit_names_the_bad_argument(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Calibration.fit(args, MODEL, **kwargs)


@pytest.mark.parametrize("calibration,match", [(3, "calibration must be"), ("no/such.json", "cannot be read as JSON")])
def test_bad_calibration_argument_is_named(calibration, match):
    with pytest.raises(ValueError, match=match):
        curves.extrapolate([0.3, 0.4, 0.5], max_epochs=20, model=MODEL, calibration=calibration)


@settings(max_examples=60, **SETTINGS)
@given(
    seed=st.integers(0, 2**31 - 1),
    power=st.floats(0.2, 5.0),
    fraction=st.floats(0.0, 3.0),
)
def test_recalibrated_logits_are_a_distribution_with_the_mapped_cdf(seed, power, fraction):
    """Any strictly increasing map and any logits give probabilities that sum to one, and a cdf equal to the map of
    the old cdf at every bin border (numpy's interpolation as the reference)."""
    g = torch.Generator().manual_seed(seed)
    logits = 4 * torch.randn(3, 50, generator=g, dtype=torch.float64)
    row = 0.98 * LV**power + 0.02 * LV
    cal = Calibration(np.array([0.5, 0.9]), LV, {"open/log": np.stack([row, LV])}, {"open/log": [1, 1]})
    out = cal.recalibrate(logits, "open/log", np.full(3, fraction))
    p = torch.softmax(out, -1).numpy()
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-12)
    old = torch.softmax(logits, -1).cumsum(-1).clamp(0, 1).numpy()
    w = np.clip((min(max(fraction, 0.5), 0.9) - 0.5) / 0.4, 0, 1)
    expected = np.interp(old, LV, (1 - w) * row + w * LV)
    np.testing.assert_allclose(p.cumsum(-1), expected, atol=1e-9)
    assert cal.recalibrate(logits, "bounded/log", np.full(3, fraction)) is logits  # no map for this group


def test_many_queries_are_recalibrated_block_by_block_each_at_its_own_fraction(monkeypatch):
    """Queries (here 2 x 5) go through in blocks (of 3, so the last block is short): each query's cdf is still the
    map at its own observed fraction applied to its own cdf, and the logits keep their shape."""
    monkeypatch.setattr(calibration, "RECALIBRATE_QUERIES", 3)
    logits = 4 * torch.randn(2, 5, 50, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    fraction = np.linspace(0.5, 0.9, 10).reshape(2, 5)
    row = 0.98 * LV**3 + 0.02 * LV
    cal = Calibration(np.array([0.5, 0.9]), LV, {"open/log": np.stack([row, LV])}, {"open/log": [1, 1]})
    out = cal.recalibrate(logits, "open/log", fraction)
    assert out.shape == logits.shape
    old = torch.softmax(logits, -1).cumsum(-1).clamp(0, 1).numpy()
    for i, j in np.ndindex(2, 5):
        w = (fraction[i, j] - 0.5) / 0.4
        expected = np.interp(old[i, j], LV, (1 - w) * row + w * LV)
        np.testing.assert_allclose(torch.softmax(out[i, j], -1).cumsum(-1).numpy(), expected, atol=1e-9)


def test_pruner_reads_its_calibration_at_once():
    pytest.importorskip("optuna")
    from pfn.pruners import LearningCurvePruner

    assert LearningCurvePruner(max_epochs=10).calibration is None  # default: the model's own forecasts
    assert LearningCurvePruner(max_epochs=10, model=MODEL, calibration="auto").calibration is None  # lc-wide has none
    assert LearningCurvePruner(max_epochs=10, calibration="auto").calibration is not None  # the default lc-real has
    with pytest.raises(ValueError, match="calibration must be"):
        LearningCurvePruner(max_epochs=10, calibration=0.5)


@st.composite
def finished_runs(draw):
    """A few runs of any length from 3, any direction, bounds and budget scale; values inside the bounds, except
    now and then in the last run (NaN, inf or a value outside closed bounds), which must be refused by name."""
    n = draw(st.integers(1, 6))
    out = []
    for i in range(n):
        length = draw(st.integers(3, 40))
        rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
        direction = draw(st.sampled_from(["maximize", "minimize"]))
        bounds = draw(st.sampled_from([(0.0, 1.0), (0.0, None), (None, None)]))
        values = rng.uniform(0.05, 0.95, length)
        if bounds != (0.0, 1.0):
            values = values * draw(st.floats(0.1, 50.0))
        bad = draw(st.sampled_from([None, None, None, None, None, "nan", "inf", "outside"])) if i == n - 1 else None
        if bad is not None:
            values[draw(st.integers(0, length - 1))] = {"nan": np.nan, "inf": np.inf, "outside": -1.0}[bad]
        run = {"values": values.tolist(), "direction": direction, "bounds": bounds}
        if draw(st.booleans()):
            run["epochs"] = np.cumsum(rng.uniform(0.5, 3.0, length)).tolist()
            run["budget_scale"] = draw(st.sampled_from(["linear", "log"]))
        out.append(run)
    return out


@settings(max_examples=40, **SETTINGS)
@given(runs_=finished_runs())
def test_fit_on_any_runs_gives_valid_maps_or_names_the_run(runs_):
    try:
        cal = Calibration.fit(runs_, MODEL, cutoffs=[0.3, 0.7], min_runs=1)
    except ValueError as err:
        event("refused")
        assert re.search(r"runs\[\d\]", str(err)), str(err)
        return
    event("fitted")
    assert cal.maps and set(cal.maps) <= set(GROUPS)
    back = Calibration.from_dict(cal.to_dict())  # every row increases strictly from 0 to 1 (checked there)
    for group, table in back.maps.items():
        assert table.shape == (2, len(LEVELS)) and sum(cal.counts[group]) >= 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_calibrated_forecast_on_a_gpu_model_equals_the_cpu_one():
    import pfn

    values = [0.3, 0.45, 0.5, 0.56, 0.6]
    cpu = curves.extrapolate(values, max_epochs=30, model=pfn.load("lc-real"))
    gpu = curves.extrapolate(values, max_epochs=30, model=pfn.load("lc-real", device="cuda"))
    np.testing.assert_allclose(gpu.quantile([0.05, 0.5, 0.95]), cpu.quantile([0.05, 0.5, 0.95]), atol=1e-4)


def test_transforms_give_one_pit_per_run_and_cutoff_with_its_group():
    from pfn.curves.calibration import transforms

    finished = runs(2, seed=5) + [
        {"values": [2.0, 1.2, 0.9, 0.8, 0.75, 0.7], "epochs": [1, 2, 4, 8, 16, 32], "direction": "minimize",
         "bounds": (0.0, None), "budget_scale": "log"}
    ]  # fmt: skip
    out = transforms(finished, MODEL, cutoffs=[0.3, 0.6])
    assert sorted(t.run for t in out) == [0, 0, 1, 1, 2, 2]
    assert {t.group for t in out if t.run == 2} == {"open/log"} and {t.group for t in out if t.run < 2} == {
        "bounded/linear"
    }
    assert all(0 < t.pit < 1 and 0 < t.fraction < 1 for t in out)
