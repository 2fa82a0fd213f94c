"""Predictor: NumPy in/NumPy out, accepted shapes, and clear errors for bad input."""

import numpy as np
import pytest
import torch

import pfn
from tests.helpers import random_dataset


@pytest.fixture
def predictor(checkpoint_file):
    return pfn.load(checkpoint_file)


def dataset(n=15, m=6, d=2, seed=0):
    return random_dataset(n, m, d, seed)


def test_numpy_in_numpy_out_torch_in_torch_out(predictor):
    x, y, q = dataset()
    pred = predictor.predict(x, y, q)
    assert isinstance(pred.mean, np.ndarray) and pred.mean.shape == (6,)
    assert pred.quantile(0.5).shape == (6,) and pred.quantile([0.1, 0.5, 0.9]).shape == (6, 3)
    assert pred.log_prob(np.zeros(6)).shape == (6,)
    lo, hi = pred.interval(0.9)
    assert (lo < pred.median).all() and (pred.median < hi).all()
    tpred = predictor.predict(torch.tensor(x), torch.tensor(y), torch.tensor(q))
    assert isinstance(tpred.mean, torch.Tensor)
    np.testing.assert_allclose(tpred.mean.numpy(), pred.mean, rtol=1e-6)


def test_cpu_encodes_datasets_in_groups_with_the_same_result(predictor, monkeypatch):
    """A batch too large for one group of ENCODE_TOKENS context tokens is encoded group by group (here 3 groups
    of 2 datasets and a last one of 1): every dataset's keys and values, and so its predictions, are those of
    one pass over the whole batch, up to float32 rounding."""
    from pfn.inference import predictor as module

    xs, ys, qs = (np.stack(a) for a in zip(*(dataset(seed=s) for s in range(7)), strict=True))
    whole = predictor.predict(xs, ys, qs)
    monkeypatch.setattr(module, "ENCODE_TOKENS", 2 * (xs.shape[1] + 1))
    cond = predictor.condition(xs, ys)
    assert cond.num_datasets == 7 and cond.cache[0][0].shape[0] == 7
    grouped = cond.predict(qs)
    np.testing.assert_allclose(grouped.logits.numpy(), whole.logits.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grouped.mean, whole.mean, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stored", [True, False])
def test_one_shot_prediction_in_groups_equals_the_cached_one(predictor, monkeypatch, stored):
    """predict(x, y, q) encodes and decodes one group of datasets at a time, never holding the whole context's
    keys and values (stored logits), or encodes the whole context when the statistics decode the queries again
    (logits not stored): either way its numbers are those of condition(x, y).predict(q), queries in chunks too."""
    from pfn.inference import predictor as module

    xs, ys, qs = (np.stack(a) for a in zip(*(dataset(seed=s) for s in range(7)), strict=True))
    monkeypatch.setattr(module, "ENCODE_TOKENS", 2 * (xs.shape[1] + 1))
    if not stored:
        monkeypatch.setattr(module, "STORED_ELEMENTS", 1)
    predictor.chunk_size = 4  # 6 queries: chunks of 4 and 2
    one_shot = predictor.predict(xs, ys, qs)
    cached = predictor.condition(xs, ys).predict(qs)
    np.testing.assert_allclose(one_shot.quantile([0.1, 0.5, 0.9]), cached.quantile([0.1, 0.5, 0.9]), rtol=1e-5)
    np.testing.assert_allclose(one_shot.log_prob(ys[:, :6]), cached.log_prob(ys[:, :6]), rtol=1e-5, atol=1e-5)
    if stored:
        np.testing.assert_allclose(one_shot.logits.numpy(), cached.logits.numpy(), rtol=1e-5, atol=1e-5)


def test_batch_equals_single_calls(predictor):
    xs, ys, qs = zip(*(dataset(seed=s) for s in range(3)), strict=True)
    batch = predictor.predict(np.stack(xs), np.stack(ys), np.stack(qs))
    assert batch.mean.shape == (3, 6)
    for i in range(3):
        np.testing.assert_allclose(batch.mean[i], predictor.predict(xs[i], ys[i], qs[i]).mean, rtol=1e-5, atol=1e-6)


def test_one_dimensional_x_is_accepted(tmp_path, small_bar):
    from pfn.checkpoint import save_checkpoint
    from pfn.model import PFNTransformer

    net = PFNTransformer(1, 32, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    p = pfn.load(save_checkpoint(tmp_path / "m.safetensors", net, small_bar, prior={}))
    x, y = np.linspace(0, 1, 10), np.sin(np.arange(10.0))
    a = p.predict(x, y, np.array([0.5, 0.7])).mean
    b = p.predict(x[:, None], y, np.array([[0.5], [0.7]])).mean
    np.testing.assert_array_equal(a, b)


def test_empty_context_is_the_prior_predictive(predictor):
    _, _, q = dataset()
    pred = predictor.predict(np.zeros((0, 2)), np.zeros(0), q)
    assert np.isfinite(pred.mean).all()


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda x, y, q: (np.where(np.arange(30).reshape(15, 2) == 3, np.nan, x), y, q), "x_train contains NaN"),
        (lambda x, y, q: (x, np.append(y[:-1], np.inf), q), "y_train contains NaN or inf"),
        (lambda x, y, q: (x, y, np.full_like(q, np.nan)), "x_test contains NaN"),
        (lambda x, y, q: (x, y[:-1], q), r"y_train must have one value per row of x_train"),
        (lambda x, y, q: (np.hstack([x, x]), y, q), r"x_train must have shape \(n, d\).* d = 2 features"),
        (lambda x, y, q: (x, y, q[:, :1]), r"x_test must have shape \(m, 2\): the same number of features"),
        (lambda x, y, q: (x, [str(v) + "a" for v in y], q), "y_train must be numeric"),
    ],
)
def test_bad_input_names_the_argument(predictor, mutate, match):
    with pytest.raises(ValueError, match=match):
        predictor.predict(*mutate(*dataset()))


def test_more_context_than_trained_warns(predictor):
    x, y, q = dataset(n=60)
    with pytest.warns(UserWarning, match="trained on at most 50"):
        predictor.predict(x, y, q)


def test_bad_summary_arguments(predictor):
    pred = predictor.predict(*dataset())
    with pytest.raises(ValueError, match="quantile levels"):
        pred.quantile(1.0)
    with pytest.raises(ValueError, match="interval level"):
        pred.interval(95)
    with pytest.raises(ValueError, match="queries' shape"):
        pred.log_prob(np.zeros(5))


def test_any_numeric_array_like_gives_the_same_prediction(predictor):
    """Negative strides, Fortran order, integer and float32 dtypes, lists and torch tensors are all the
    same data: the predictions agree with those from contiguous float64 arrays."""
    x, y, q = dataset()
    x, y, q = np.round(x * 8) / 8, np.round(y * 8) / 8, np.round(q * 8) / 8  # exact in float32
    ref = predictor.predict(x, y, q).mean
    rev = predictor.predict(x[::-1].copy()[::-1], y[::-1].copy()[::-1], q[::-1].copy()[::-1])  # negative strides
    assert x[::-1].copy()[::-1].strides[0] < 0
    np.testing.assert_array_equal(rev.mean, ref)
    np.testing.assert_array_equal(predictor.predict(np.asfortranarray(x), y, np.asfortranarray(q)).mean, ref)
    np.testing.assert_array_equal(predictor.predict(x.astype(np.float32), y.astype(np.float32), q).mean, ref)
    np.testing.assert_array_equal(predictor.predict(x.tolist(), y.tolist(), q.tolist()).mean, ref)
    t = predictor.predict(torch.tensor(x, dtype=torch.float32), torch.tensor(y), torch.tensor(q)[::1])
    np.testing.assert_array_equal(t.mean.numpy(), ref)
    xi, qi = (x > 0.5).astype(np.int64), (q > 0.5).astype(np.int32)  # integer inputs
    np.testing.assert_array_equal(
        predictor.predict(xi, y, qi).mean, predictor.predict(xi.astype(float), y, qi.astype(float)).mean
    )
    np.testing.assert_array_equal(
        predictor.predict(torch.from_numpy(xi), torch.tensor(y), torch.from_numpy(qi)).mean.numpy(),
        predictor.predict(xi.astype(float), y, qi.astype(float)).mean,
    )


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros((3, 2)) + 1j, np.zeros(3), np.zeros((2, 2))), "x_train must be real-valued"),
        ((np.zeros((3, 2)), torch.zeros(3, dtype=torch.complex64), np.zeros((2, 2))), "y_train must be real-valued"),
        ((np.zeros((3, 2)), np.zeros(3), [[0.1, 0.2], [0.3]]), "x_test must be numeric array-like"),
        ((None, np.zeros(3), np.zeros((2, 2))), "x_train must be numeric array-like"),
        ((np.zeros((3, 2)), np.array(["a", "b", "c"]), np.zeros((2, 2))), "y_train must be numeric array-like"),
    ],
)
def test_non_real_input_names_the_argument(predictor, args, match):
    with pytest.raises(ValueError, match=match):
        predictor.predict(*args)


@pytest.mark.parametrize("bad", [-1, 0, 2.5, "10", True, 1e3])
def test_chunk_size_must_be_a_positive_integer(predictor, bad):
    with pytest.raises(ValueError, match=r"chunk_size must be a positive integer \(queries per chunk\) or None"):
        predictor.chunk_size = bad


def test_chunk_size_accepts_integers(predictor):
    x, y, q = dataset(m=9)
    whole = predictor.predict(x, y, q).mean
    predictor.chunk_size = np.int64(2)
    assert predictor.chunk_size == 2 and type(predictor.chunk_size) is int
    np.testing.assert_allclose(predictor.predict(x, y, q).mean, whole, rtol=1e-5, atol=1e-6)
    predictor.chunk_size = None
    np.testing.assert_array_equal(predictor.predict(x, y, q).mean, whole)


def test_empty_batches_and_query_sets(predictor):
    x, y, q = dataset()
    assert predictor.predict(x, y, q[:0]).quantile([0.1, 0.9]).shape == (0, 2)
    empty = predictor.predict(np.zeros((0, 4, 2)), np.zeros((0, 4)), np.zeros((0, 3, 2)))
    assert empty.mean.shape == (0, 3) and empty.sample(2).shape == (2, 0, 3)
