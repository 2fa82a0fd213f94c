"""Predictor: units, context caching, chunking, precision, devices, domain checks and pretrained names."""

import math

import numpy as np
import pytest
import torch

import pfn
from pfn.checkpoint import save_checkpoint
from tests.helpers import random_dataset


@pytest.fixture
def normalizing(tmp_path, small_net, small_bar):
    """A model trained with x and y standardised by the context, so equivariant to units."""
    path = save_checkpoint(
        tmp_path / "norm.safetensors", small_net, small_bar, prior={"name": "test"},
        normalization={"x": "standardize", "y": "standardize", "units": "equivariant"},
    )  # fmt: skip
    return pfn.load(path)


@pytest.fixture
def unit_interval_model(tmp_path, small_net, small_bar):
    """A prior-units model whose inputs were U[0, 1]."""
    path = save_checkpoint(tmp_path / "gp.safetensors", small_net, small_bar, prior={}, domain={"x": [0.0, 1.0]})
    return pfn.load(path)


def data(seed=0, n=20, m=7, d=2):
    return random_dataset(n, m, d, seed)


def test_scaling_y_by_1000_scales_predictions_by_1000(normalizing):
    x, y, q = data()
    a = normalizing.predict(x, y, q)
    b = normalizing.predict(x, 1000 * y, q)
    np.testing.assert_allclose(b.mean, 1000 * a.mean, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b.quantile([0.1, 0.5, 0.9]), 1000 * a.quantile([0.1, 0.5, 0.9]), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(b.std, 1000 * a.std, rtol=1e-4)
    np.testing.assert_allclose(b.log_prob(1000 * y[:7]), a.log_prob(y[:7]) - math.log(1000), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b.entropy(), a.entropy() + math.log(1000), rtol=1e-4, atol=1e-4)


def test_shifting_and_rescaling_x_changes_nothing(normalizing):
    x, y, q = data()
    a = normalizing.predict(x, y, q)
    b = normalizing.predict(50 + 3 * x, y + 10, 50 + 3 * q)
    np.testing.assert_allclose(b.mean, a.mean + 10, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b.std, a.std, rtol=1e-4)


def test_prior_units_model_is_not_rescaled(unit_interval_model):
    assert unit_interval_model.config["normalization"]["units"] == "prior"
    x, y, q = data()
    a, b = unit_interval_model.predict(x, y, q), unit_interval_model.predict(x, 1000 * y, q)
    assert not np.allclose(b.mean, 1000 * a.mean, rtol=0.1)


def test_cached_context_answers_many_query_batches(normalizing):
    x, y, _ = data()
    conditioned = normalizing.condition(x, y)
    for seed in range(3):
        q = np.random.default_rng(seed + 10).random((11, 2))
        cached = conditioned.predict(q)
        fresh = normalizing.predict(x, y, q)
        np.testing.assert_allclose(cached.mean, fresh.mean, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(cached.log_prob(np.zeros(11)), fresh.log_prob(np.zeros(11)), rtol=1e-6, atol=1e-6)


def test_cache_gives_the_networks_single_pass(unit_interval_model):
    """The cached path equals one uncached forward pass of the network."""
    x, y, q = (torch.tensor(a, dtype=torch.float32)[None] for a in data())
    logits = unit_interval_model.net(x, y, q)
    cached = unit_interval_model.condition(x[0], y[0]).predict(q[0])
    torch.testing.assert_close(cached.logits, logits[0], rtol=1e-5, atol=1e-6)


def test_chunked_queries_equal_one_pass(unit_interval_model):
    x, y, _ = data()
    q = np.random.default_rng(3).random((50, 2))
    whole = unit_interval_model.predict(x, y, q).mean
    unit_interval_model.chunk_size = 7
    np.testing.assert_allclose(unit_interval_model.predict(x, y, q).mean, whole, rtol=1e-5, atol=1e-5)


def test_torch_outputs_carry_no_autograd_state(unit_interval_model):
    x, y, q = (torch.tensor(a, dtype=torch.float32, requires_grad=True) for a in data())
    pred = unit_interval_model.predict(x, y, q)
    assert not pred.mean.requires_grad and not pred.logits.requires_grad
    assert all(not p.grad for p in unit_interval_model.net.parameters() if p.grad is not None)


def test_bfloat16_is_close_to_float32(checkpoint_file):
    x, y, q = data()
    a = pfn.load(checkpoint_file).predict(x, y, q)
    b = pfn.load(checkpoint_file, dtype="bfloat16").predict(x, y, q)
    np.testing.assert_allclose(b.mean, a.mean, atol=0.05)


def test_float64_runs(checkpoint_file):
    x, y, q = data()
    a = pfn.load(checkpoint_file).predict(x, y, q)
    b = pfn.load(checkpoint_file, dtype=torch.float64).predict(x, y, q)
    np.testing.assert_allclose(b.mean, a.mean, rtol=1e-4, atol=1e-5)


def test_zero_context_is_the_prior_predictive(normalizing):
    _, _, q = data()
    pred = normalizing.predict(np.zeros((0, 2)), np.zeros(0), q)
    assert np.isfinite(pred.mean).all() and pred.mean.shape == (7,)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"device": "cuda"} if not torch.cuda.is_available() else {"device": "tpu"}, "device="),
        ({"dtype": "float16"}, "dtype must be one of"),
    ],
)
def test_bad_device_or_dtype(checkpoint_file, kwargs, match):
    with pytest.raises(ValueError, match=match):
        pfn.load(checkpoint_file, **kwargs)


def test_inputs_outside_the_trained_range_are_refused(unit_interval_model):
    x, y, q = data()
    with pytest.raises(ValueError, match=r"x_train values must lie in \[0, 1\]"):
        unit_interval_model.predict(x + 2, y, q)
    with pytest.raises(ValueError, match=r"x_test values must lie in \[0, 1\].*rescale"):
        unit_interval_model.predict(x, y, q - 1)


def test_fewer_features_are_zero_padded_when_trained_so(tmp_path, small_net, small_bar):
    path = save_checkpoint(tmp_path / "m.safetensors", small_net, small_bar, prior={}, training={"min_features": 1})
    p = pfn.load(path)
    x, y, q = data(d=1)
    padded = p.predict(np.hstack([x, np.zeros_like(x)]), y, np.hstack([q, np.zeros_like(q)]))
    np.testing.assert_allclose(p.predict(x[:, 0], y, q[:, 0]).mean, padded.mean, rtol=1e-6)
    with pytest.raises(ValueError, match="d = 1 to 2 features"):
        p.predict(np.hstack([x, x, x]), y, np.hstack([q, q, q]))


def test_pretrained_names_resolve(tmp_path, checkpoint_file, monkeypatch):
    monkeypatch.setenv("PFN_PRETRAINED_DIR", str(tmp_path))
    (tmp_path / "tiny.safetensors").write_bytes(checkpoint_file.read_bytes())
    assert pfn.load("tiny").num_features == 2
    listing = pfn.list_pretrained()
    assert [m["name"] for m in listing] == ["model", "tiny"]
    assert listing[1]["prior"]["name"] == "GPPrior" and listing[1]["size_mb"] > 0
    with pytest.raises(FileNotFoundError, match="pretrained models: model, tiny"):
        pfn.load("nope")
