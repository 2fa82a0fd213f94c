"""Property-based tests (Hypothesis, seeded) of ``predict`` / ``condition`` inputs and of the predictive statistics.

Strategies draw datasets of random sizes (n = 0 to 12 context points, m = 0 to 4 queries, 1 to 3
features, one dataset or a batch of up to 3), pass them as any numeric array-like (lists, NumPy
arrays of several dtypes, orders and negative strides, torch tensors of float and integer dtypes),
rescale them by factors and shifts from 1e-8 to 1e8, or corrupt them (NaN, inf, wrong shapes, too
many features, strings, complex numbers, ragged lists, None). They run against the shipped models
``gp`` (prior units, x in [0, 1], half-normal tails) and ``gp-hyper`` (standardised, Pareto tails).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import pfn
from pfn.inference.predictive import PosteriorPredictive

SETTINGS = {
    "derandomize": True,
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
MODELS = ("gp", "gp-hyper")


@functools.cache
def model(name: str) -> pfn.Predictor:
    return pfn.load(name)


# -- strategies ---------------------------------------------------------------------------------
@st.composite
def datasets(
    draw, name: str, min_context: int = 0, min_queries: int = 0, batched: bool | None = None, grid: bool = True
):
    """(x_train, y_train, x_test) as float64 arrays, unbatched (n, d) / (n,) / (m, d) or batched.

    With ``grid``, every value is a multiple of 1/64 below 16 in size, so it is exact in float32 and
    converting between float dtypes cannot change it.
    """
    predictor = model(name)
    d = draw(st.integers(predictor.min_features, predictor.num_features))
    n, m = draw(st.integers(min_context, 12)), draw(st.integers(min_queries, 4))
    batched = draw(st.booleans()) if batched is None else batched
    b = draw(st.integers(1, 3)) if batched else 1
    lo, hi = (0.0, 1.0) if predictor.x_range is not None else (-8.0, 8.0)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.uniform(lo, hi, (b, n + m, d))
    y = np.sin(3 * x.sum(-1)) + 0.3 * rng.normal(size=(b, n + m))
    if grid:
        x, y = np.round(x * 64) / 64, np.round(y * 64) / 64
    xt, yt, xq = x[:, :n], y[:, :n], x[:, n:]
    if not batched:
        xt, yt, xq = xt[0], yt[0], xq[0]
        if d == 1 and draw(st.booleans()):  # (n,) is accepted for one feature
            xt, xq = xt[:, 0], xq[:, 0]
    return xt, yt, xq


def as_container(kind: str, a: np.ndarray):
    """The float64 array ``a`` (values exact in float32) passed as another numeric array-like."""
    if kind == "list":
        return a.tolist()
    if kind == "float32":
        return a.astype(np.float32)
    if kind == "negative strides":
        flipped = np.flip(a).copy()
        return np.flip(flipped)  # a view with negative strides, equal to a
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "strided":  # every other element of a larger buffer
        buffer = np.zeros((*a.shape[:-1], 2 * a.shape[-1]))
        buffer[..., ::2] = a
        return buffer[..., ::2]
    if kind == "torch float64":
        return torch.tensor(a, dtype=torch.float64)
    if kind == "torch float32":
        return torch.tensor(a, dtype=torch.float32)
    if kind == "torch transposed":  # not contiguous
        if a.ndim < 2:
            return torch.tensor(a)
        return torch.from_numpy(np.ascontiguousarray(np.swapaxes(a, -1, -2))).transpose(-1, -2)
    raise AssertionError(kind)


CONTAINERS = ["numpy", "list", "float32", "negative strides", "fortran", "strided", "torch float64", "torch float32",
              "torch transposed"]  # fmt: skip


# -- inputs -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=25, **SETTINGS)
@given(data=st.data())
def test_any_numeric_array_like_predicts_as_float64_numpy(name, data):
    """Every container of the same numbers gives the same predictions, NumPy in NumPy out, torch in torch
    out, with the queries' shape."""
    predictor = model(name)
    xt, yt, xq = data.draw(datasets(name))
    ref = predictor.predict(xt, yt, xq)
    assert isinstance(ref.mean, np.ndarray) and ref.mean.dtype == np.float64
    batch = (xt.shape[0],) if xt.ndim == 3 else ()
    m = xq.shape[-2] if xq.ndim >= 2 else xq.shape[0]
    assert ref.shape == (*batch, m) and ref.quantile([0.2, 0.8]).shape == (*batch, m, 2)
    kinds = [data.draw(st.sampled_from(CONTAINERS), label=f"container of {arg}") for arg in ("x", "y", "q")]
    args = [a if k == "numpy" else as_container(k, a) for k, a in zip(kinds, (xt, yt, xq), strict=True)]
    got = predictor.predict(*args)
    torch_out = isinstance(args[0], torch.Tensor)
    assert isinstance(got.mean, torch.Tensor) == torch_out
    mean = got.mean.numpy() if torch_out else got.mean
    np.testing.assert_array_equal(mean, ref.mean)
    # condition once, then predict: the same numbers
    np.testing.assert_array_equal(predictor.condition(xt, yt).predict(xq).std, ref.std)


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=15, **SETTINGS)
@given(data=st.data())
def test_one_shot_prediction_in_groups_equals_the_cached_one(name, data):
    """However a batch is split into groups of datasets (a one-shot predict encodes and decodes one group at a
    time), every statistic is that of the whole context encoded once, up to float32 rounding."""
    from pfn.inference import predictor as module

    predictor = model(name)
    xt, yt, xq = data.draw(datasets(name, batched=True))
    b, n = xt.shape[:2]
    group = data.draw(st.integers(1, b), label="datasets per group")
    cached = predictor.condition(xt, yt).predict(xq)
    saved, module.ENCODE_TOKENS = module.ENCODE_TOKENS, group * (n + 1)
    try:
        grouped = predictor.predict(xt, yt, xq)
    finally:
        module.ENCODE_TOKENS = saved
    np.testing.assert_allclose(grouped.mean, cached.mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grouped.quantile([0.1, 0.9]), cached.quantile([0.1, 0.9]), rtol=1e-5, atol=1e-6)


@settings(max_examples=15, **SETTINGS)
@given(data=st.data())
def test_integer_inputs_predict_as_their_float_values(data):
    predictor = model("gp-hyper")
    n, m, d = data.draw(st.integers(0, 10)), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
    ints = st.integers(-1000, 1000)
    x = np.array(data.draw(st.lists(ints, min_size=(n + m) * d, max_size=(n + m) * d))).reshape(n + m, d)
    y = np.array(data.draw(st.lists(ints, min_size=n, max_size=n)), dtype=np.int64)
    dtype = data.draw(st.sampled_from([np.int16, np.int32, np.int64, torch.int32, torch.int64]))
    ref = predictor.predict(x[:n].astype(float), y.astype(float), x[n:].astype(float)).mean
    if isinstance(dtype, torch.dtype):
        got = predictor.predict(torch.tensor(x[:n], dtype=dtype), torch.tensor(y, dtype=dtype), torch.tensor(x[n:]))
        np.testing.assert_array_equal(got.mean.numpy(), ref)
    else:
        got = predictor.predict(x[:n].astype(dtype), y.astype(dtype), x[n:].astype(dtype))
        np.testing.assert_array_equal(got.mean, ref)


def corrupt(kind: str, xt, yt, xq, num_features: int, rng: np.random.Generator):
    """The dataset with one argument made invalid; returns (x_train, y_train, x_test, name of that argument)."""
    args = {"x_train": xt, "y_train": yt, "x_test": xq}
    name = ["x_train", "y_train", "x_test"][rng.integers(3)]
    if np.size(args[name]) == 0:  # x_test may be empty (m = 0); the context is not
        name = "x_train"
    a = np.array(args[name], dtype=np.float64)
    if kind in ("nan", "inf", "-inf"):
        a.flat[rng.integers(a.size)] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}[kind]
        args[name] = a
    elif kind == "extra axes":
        args[name] = a[..., None, None]
    elif kind == "one y too many":
        name = "y_train"
        args[name] = np.concatenate([a, np.zeros((*a.shape[:-1], 1))], axis=-1)
    elif kind == "too many features":
        name = "x_train"
        x = np.asarray(xt)[:, None] if np.ndim(xt) == 1 else np.asarray(xt)
        args[name] = np.concatenate([x, np.zeros((*x.shape[:-1], num_features + 1 - x.shape[-1]))], axis=-1)
    elif kind == "wrong query features":
        name = "x_test"
        q = np.asarray(xq)[..., None] if np.ndim(xq) == 1 else np.asarray(xq)
        args[name] = np.concatenate([q, q], axis=-1)
    elif kind == "strings":
        args[name] = np.full(a.shape, "1.0x")
    elif kind == "complex":
        args[name] = a + 1j
    elif kind == "ragged":
        args[name] = [[0.1, 0.2], [0.3]]
    elif kind == "none":
        args[name] = None
    elif kind == "dict":
        args[name] = {"values": a}
    elif kind == "outside the trained range":
        name = "x_train" if name == "y_train" else name
        args[name] = np.array(args[name], dtype=np.float64) + 5.0
    else:
        raise AssertionError(kind)
    return args["x_train"], args["y_train"], args["x_test"], name


KINDS = ["nan", "inf", "-inf", "extra axes", "one y too many", "too many features", "wrong query features", "strings",
         "complex", "ragged", "none", "dict", "outside the trained range"]  # fmt: skip


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=40, **SETTINGS)
@given(data=st.data())
def test_invalid_inputs_raise_value_error_naming_the_argument(name, data):
    predictor = model(name)
    xt, yt, xq = data.draw(datasets(name, min_context=1))
    kind = data.draw(st.sampled_from(KINDS if predictor.x_range is not None else KINDS[:-1]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x_train, y_train, x_test, arg = corrupt(kind, xt, yt, xq, predictor.num_features, rng)
    with pytest.raises(ValueError, match=f"^{arg}"):  # every message starts with the argument's name
        predictor.predict(x_train, y_train, x_test)
    if arg == "x_test":  # the same through a conditioned predictor
        with pytest.raises(ValueError, match=f"^{arg}"):
            predictor.condition(x_train, y_train).predict(x_test)


# -- predictive statistics -------------------------------------------------------------------
levels = st.lists(st.floats(1e-4, 1 - 1e-4), min_size=1, max_size=6).map(sorted)


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=20, **SETTINGS)
@given(data=st.data())
def test_quantiles_cdf_interval_and_densities_are_consistent(name, data):
    predictor = model(name)
    xt, yt, xq = data.draw(datasets(name, batched=False))
    pred = predictor.predict(xt, yt, xq)
    q = np.array(data.draw(levels))
    quantiles = pred.quantile(q)  # (m, L)
    assert (np.diff(quantiles, axis=-1) >= 0).all()  # monotone in q
    for j, level in enumerate(q):  # cdf(quantile(q)) = q: the bar cdf is continuous and strictly increasing
        np.testing.assert_allclose(pred.cdf(quantiles[:, j]), level, atol=2e-5)
    lo, hi = pred.interval(data.draw(st.floats(0.01, 0.99)))
    assert (lo <= pred.median).all() and (pred.median <= hi).all()
    # cdf monotone in y and within [0, 1], from far below to far above (in units of the spread)
    offsets = np.array(sorted(data.draw(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=8))))
    values = np.stack([pred.cdf(pred.mean + k * pred.std) for k in offsets], axis=-1)
    assert ((values >= 0) & (values <= 1)).all() and (np.diff(values, axis=-1) >= -1e-12).all()
    for k in offsets:  # log density finite for every finite y; PI = 1 - cdf
        y = pred.mean + k * pred.std
        assert np.isfinite(pred.log_prob(y)).all()
        np.testing.assert_array_equal(pred.probability_of_improvement(y), 1 - pred.cdf(y))
        np.testing.assert_array_equal(pred.probability_of_improvement(y, maximize=False), pred.cdf(y))


def cdf_integrals(pred: PosteriorPredictive, i: int, c: float, points: int = 4000) -> tuple[float, float]:
    """By the trapezoidal rule, for query i: the integral of 1 - F above c and of F below c, out to the
    1e-9 and 1 - 1e-9 quantiles (the heavier, Pareto, tails beyond hold below 1e-5 spreads), on grids
    geometric in the distance from c (fine near c, where the integrands are largest)."""
    one = PosteriorPredictive(pred.logits[i].expand(points + 1, -1), pred.bar, pred.loc, pred.scale, numpy=True)
    lo, hi = pred.quantile([1e-9, 1 - 1e-9])[i]
    std = pred.std[i]

    def distances(reach: float) -> np.ndarray:
        return np.concatenate([[0.0], np.geomspace(1e-6 * std, max(reach, 2e-6 * std), points)])

    above, below = c + distances(hi - c), c - distances(c - lo)[::-1]
    return float(np.trapezoid(1 - one.cdf(above), above)), float(np.trapezoid(one.cdf(below), below))


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=12, **SETTINGS)
@given(data=st.data())
def test_expected_improvement_is_the_integral_of_the_cdf(name, data):
    """EI(maximize) = integral of 1 - F above best, EI(minimize) = integral of F below best (both >= 0)."""
    predictor = model(name)
    xt, yt, xq = data.draw(datasets(name, min_queries=1, batched=False))
    pred = predictor.predict(xt, yt, xq)
    k = data.draw(st.floats(-4, 4))
    best = pred.mean + k * pred.std
    ei_max, ei_min = pred.expected_improvement(best), pred.expected_improvement(best, maximize=False)
    assert (ei_max >= 0).all() and (ei_min >= 0).all()
    for i in range(len(best)):
        up, down = cdf_integrals(pred, i, best[i])
        tol = 2e-4 * pred.std[i]  # the quadrature's own error (truncation, trapezoids) stays below 4e-5 spreads
        assert abs(ei_max[i] - up) < tol and abs(ei_min[i] - down) < tol, (ei_max[i], up, ei_min[i], down)


scales = st.floats(-8, 8).map(lambda e: 10.0**e)
shifts = st.tuples(st.sampled_from([-1.0, 0.0, 1.0]), st.floats(-6, 6)).map(lambda t: t[0] * 10.0 ** t[1])


@settings(max_examples=25, **SETTINGS)
@given(data=st.data(), a=scales, b=shifts, ax=scales, bx=shifts)
def test_gp_hyper_is_equivariant_under_affine_maps(data, a, b, ax, bx):
    """y -> a y + a b and x -> ax x + ax bx, with a, ax from 1e-8 to 1e8 and |b|, |bx| up to 1e6 (beyond,
    float64 itself cannot hold the data's spread next to the shift): locations map by a . + a b, spreads
    by a, log densities by -log a, and EI by a; x's units change nothing."""
    predictor = model("gp-hyper")
    xt, yt, xq = data.draw(datasets("gp-hyper", min_context=2, min_queries=1, grid=False))
    assume(np.ptp(yt, axis=-1).min() > 1e-3)  # a (near-)constant context has no scale to follow
    A = predictor.predict(xt, yt, xq)
    B = predictor.predict(ax * xt + ax * bx, a * yt + a * b, ax * xq + ax * bx)
    rtol, shift, scale = 1e-4, a * b, a * A.std
    assert np.all(np.abs(B.mean - (a * A.mean + shift)) <= rtol * (abs(shift) + scale))
    assert np.all(np.abs(B.quantile(0.9) - (a * A.quantile(0.9) + shift)) <= rtol * (abs(shift) + scale))
    np.testing.assert_allclose(B.std, scale, rtol=rtol)
    t = A.mean - 0.5 * A.std
    np.testing.assert_allclose(B.log_prob(a * t + shift), A.log_prob(t) - math.log(a), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(B.expected_improvement(a * t + shift), a * A.expected_improvement(t), rtol=1e-3)
