"""Predictor: units, context caching, chunking, precision, devices, domain checks and pretrained names."""

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import integrate, stats

import pfn
from pfn.checkpoint import save_checkpoint
from pfn.model import BarDistribution, PFNTransformer
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
    """Even with grad mode on and inputs that require grad, predict builds no graph, leaves the network's
    parameters trainable and without gradients, and leaves the inputs' own graph usable."""
    x, y, q = (torch.tensor(a, dtype=torch.float32, requires_grad=True) for a in data())
    with torch.enable_grad():
        pred = unit_interval_model.predict(x, y, q)
        mean, lp = pred.mean, pred.log_prob(y[:7] * 2)  # a target that requires grad is fine too
    assert mean.grad_fn is None and not mean.requires_grad and not lp.requires_grad
    assert not pred.logits.requires_grad
    params = list(unit_interval_model.net.parameters())
    assert params and all(p.requires_grad and p.grad is None for p in params)
    (x.sum() + 2 * y.sum()).backward()
    assert torch.equal(x.grad, torch.ones_like(x)) and torch.equal(y.grad, torch.full_like(y, 2.0))
    assert all(p.grad is None for p in params)


def test_bfloat16_differs_from_float32_by_rounding(checkpoint_file):
    """bfloat16 keeps 8 significant bits (unit roundoff 2^-8): the mean moves by a small fraction of the
    predictive spread, between 2^-14 and 2^-4 of it, and not by zero (which would mean bf16 was ignored)."""
    x, y, q = data()
    a = pfn.load(checkpoint_file).predict(x, y, q)
    b = pfn.load(checkpoint_file, dtype="bfloat16").predict(x, y, q)
    shift = np.abs(b.mean - a.mean) / a.std
    assert 2**-14 < shift.max() < 2**-4, shift
    assert b.mean.dtype == np.float64 and b.logits.dtype == torch.float32


def test_float64_agrees_with_a_float64_forward_pass(checkpoint_file):
    """dtype="float64" runs the network in float64: its logits match a float64 copy of the network to
    1e-12, which float32 (unit roundoff 6e-8) cannot."""
    x, y, q = data()
    p64, p32 = pfn.load(checkpoint_file, dtype=torch.float64), pfn.load(checkpoint_file)
    net64 = copy.deepcopy(p32.net).double()
    with torch.no_grad():
        ref = net64(*(torch.tensor(a, dtype=torch.float64)[None] for a in (x, y, q)))[0]
    b = p64.predict(x, y, q)
    assert b.logits.dtype == torch.float64
    torch.testing.assert_close(b.logits, ref, rtol=1e-12, atol=1e-12)
    assert (p32.predict(x, y, q).logits.double() - ref).abs().max() > 1e-9
    np.testing.assert_allclose(b.mean, p64.output.mean(ref).numpy(), rtol=1e-12, atol=1e-12)


def test_zero_context_is_the_prior_predictive(normalizing):
    """With no context there is nothing to standardise by: the predictive is the network's output for an
    empty context, in the prior's units (loc 0, scale 1), queries passed unscaled."""
    _, _, q = data()
    pred = normalizing.predict(np.zeros((0, 2)), np.zeros(0), q)
    with torch.no_grad():
        raw = normalizing.net(torch.zeros(1, 0, 2), torch.zeros(1, 0), torch.tensor(q, dtype=torch.float32)[None])[0]
    bar = normalizing.output
    np.testing.assert_allclose(pred.mean, bar.mean(raw.double()).numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(pred.std, bar.variance(raw.double()).sqrt().numpy(), rtol=1e-6)
    np.testing.assert_allclose(pred.quantile(0.9), bar.icdf(raw.double(), 0.9).numpy(), rtol=1e-6, atol=1e-6)


def test_zero_context_gp_matches_the_gp_prior():
    """`gp` with no data predicts the GP prior's marginal, N(0, outputscale + noise) = N(0, 0.2). The
    tolerance, 0.03 in probability, is twice the trained model's own error at n = 0 (0.016)."""
    pred = pfn.load("gp").predict(np.zeros((0, 1)), np.zeros(0), np.linspace(0, 1, 11))
    for y in (-1.0, -0.5, -0.2, 0.0, 0.3, 0.8):
        np.testing.assert_allclose(pred.cdf(y), stats.norm.cdf(y / math.sqrt(0.2)), atol=0.03)


def test_zero_context_gp_hyper_matches_the_hyperprior_mixture():
    """`gp-hyper` standardises by the context; with none, its predictive must be the prior's marginal in
    the prior's units: y ~ N(0, s + v), s ~ LogNormal(0, 0.5), v ~ LogUniform(1e-4, 0.3), whose cdf is
    a double integral (scipy). Tolerance 0.03 in probability: twice the model's error at n = 0 (0.012)."""

    def reference_cdf(y: float) -> float:
        def integrand(log_s: float, log_v: float) -> float:
            sd = math.sqrt(math.exp(log_s) + math.exp(log_v))
            return stats.norm.cdf(y / sd) * stats.norm.pdf(log_s, 0, 0.5) / math.log(0.3 / 1e-4)

        return integrate.dblquad(integrand, math.log(1e-4), math.log(0.3), -4, 4, epsabs=1e-6)[0]

    pred = pfn.load("gp-hyper").predict(np.zeros((0, 1)), np.zeros(0), np.linspace(0, 1, 5)[:, None])
    for y in (-2.0, -1.0, -0.4, 0.4, 1.0, 2.0):
        np.testing.assert_allclose(pred.cdf(y), reference_cdf(y), atol=0.03)


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
    with pytest.raises(FileNotFoundError, match=r"pretrained models( in \S+)?: model, tiny"):
        pfn.load("nope")


def assert_equivariant(model, x, y, q, a: float, b: float, rtol: float = 1e-4):
    """Predicting from a * y + b (a > 0) must give every statistic of predicting from y, transformed:
    locations by a * . + b, spreads by a, the variance by a^2, densities by -log a, entropy by +log a,
    probabilities unchanged, and samples distributed as a * Y + b."""
    A, B = model.predict(x, y, q), model.predict(x, a * y + b, q)

    def close(actual, expected, spread):  # spread: the statistic's natural size in B's units, per query
        err = np.abs(np.asarray(actual) - expected)
        bound = rtol * (np.abs(expected) + spread)
        assert np.all(err <= bound), f"off by {np.max(err / bound):.3g} times the tolerance"

    s = a * A.std
    close(B.mean, a * A.mean + b, s)
    close(B.median, a * A.median + b, s)
    close(B.mode, a * A.mode + b, s)
    close(B.quantile([0.05, 0.5, 0.95]), a * A.quantile([0.05, 0.5, 0.95]) + b, s[:, None])
    for lo_hi_b, lo_hi_a in zip(B.interval(0.8), A.interval(0.8), strict=True):
        close(lo_hi_b, a * lo_hi_a + b, s)
    close(B.std, a * A.std, s)
    close(B.variance, a**2 * A.variance, s**2)
    close(B.upper_confidence_bound(2.0), a * A.upper_confidence_bound(2.0) + b, s)
    close(B.upper_confidence_bound(1.0, maximize=False), a * A.upper_confidence_bound(1.0, maximize=False) + b, s)
    t = A.mean + 0.7 * A.std
    close(B.cdf(a * t + b), A.cdf(t), 1)
    close(B.probability_of_improvement(a * t + b), A.probability_of_improvement(t), 1)
    close(B.log_prob(a * t + b), A.log_prob(t) - math.log(a), 1)
    close(B.entropy(), A.entropy() + math.log(a), 1)
    for maximize in (True, False):
        close(B.expected_improvement(a * t + b, maximize), a * A.expected_improvement(t, maximize), s)
    # samples: n draws per query; their mean within 5 standard errors, and the fraction below B's
    # 30% quantile within 5 binomial standard errors of 0.3 (unscaled draws would miss both by far)
    n = 4000
    draws = B.sample(n, generator=torch.Generator().manual_seed(0))
    assert np.all(np.abs(draws.mean(0) - B.mean) < 5 * B.std / math.sqrt(n))
    assert np.all(np.abs((draws <= B.quantile(0.3)).mean(0) - 0.3) < 5 * math.sqrt(0.21 / n))


@pytest.mark.parametrize("a, b", [(1000.0, -7.0), (1e-7, 0.0), (1e-7, 3e-6), (1e150, -1e151), (1e-150, 0.0)])
def test_every_statistic_follows_the_units_of_y(normalizing, a, b):
    x, y, q = data()
    assert_equivariant(normalizing, x, y, q, a, b)


@pytest.mark.parametrize("a, b", [(1000.0, -7.0), (1e-7, 5e-7), (3e8, 1e9)])
def test_gp_hyper_follows_the_units_of_y(a, b):
    x, _, q = data(d=2, n=12)
    y = np.sin(6 * x[:, 0]) + x[:, 1]
    assert_equivariant(pfn.load("gp-hyper"), x, y, q, a, b)


def test_standardised_inputs_keep_float64_precision():
    """Standardising happens in float64 before the cast to the network's float32: x given as Unix
    timestamps (1.7e9, float32 spacing 128 s) and y shifted by 1e7 (float32 spacing 1) predict as the
    unshifted data do, to float32 resolution of the standardised values (relative 1e-6 of the spread)."""
    model = pfn.load("gp-hyper")
    x, y, q = data(d=1, n=15)
    y = np.sin(6 * x[:, 0])
    ref = model.predict(x, y, q)
    t0, dt = 1.7e9, 100.0  # 100 seconds in all
    moved = model.predict(t0 + dt * x, y + 1e7, t0 + dt * q)
    np.testing.assert_allclose(moved.mean - 1e7, ref.mean, atol=1e-4 * ref.std.min())
    np.testing.assert_allclose(moved.std, ref.std, rtol=1e-4)
    np.testing.assert_allclose(moved.log_prob(y[:7] + 1e7), ref.log_prob(y[:7]), rtol=1e-4, atol=1e-4)


def test_a_context_spread_tiny_in_absolute_terms_is_not_constant():
    """y in units of 1e-7 has a spread below the training-time threshold (1e-6) yet is far from constant
    relative to its size: it must not be treated as constant (which put the mean off by 4e5)."""
    model = pfn.load("gp-hyper")
    x, _, q = data(d=1, n=15)
    y = np.sin(6 * x[:, 0])
    ref, tiny = model.predict(x, y, q), model.predict(x, 1e-7 * y, q)
    np.testing.assert_allclose(tiny.mean / 1e-7, ref.mean, rtol=1e-4, atol=1e-4 * ref.std.min())
    np.testing.assert_allclose(tiny.log_prob(1e-7 * y[:7]), ref.log_prob(y[:7]) - math.log(1e-7), rtol=1e-5)
    # a context constant to rounding (relative spread 1e-17) still counts as constant: scale 1
    const = model.predict(x, np.full(15, 0.3) + 1e-17, q)
    assert np.isfinite(const.mean).all() and np.all(const.std < 10)


MEMORY_CHILD = r"""
import json, resource, sys
import numpy as np, torch
import pfn
torch.set_num_threads(1)
predictor = pfn.load(sys.argv[1])
chunk = int(sys.argv[2])
predictor.chunk_size = chunk or None
m = 50_000  # x 4000 bins: 800 MB of float32 logits if held whole
x, y, q = np.linspace(0, 1, 10), np.sin(np.arange(10.0)), np.random.default_rng(0).random(m)
def vm_bytes():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
limit = vm_bytes() + 400 * 2**20  # room for chunks (16 MB per tensor), not for the whole logits
resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
try:
    pred = predictor.predict(x, y, q)
    out = {"mean": float(pred.mean.mean()), "median": float(pred.median.mean()), "shape": list(pred.shape)}
except MemoryError as err:
    out = {"memory_error": str(err)}
print(json.dumps(out))
"""


@pytest.fixture
def many_bins(tmp_path):
    """A tiny network with 4000 bins: logits are 16 KB per query, the network cheap."""
    torch.manual_seed(0)
    net = PFNTransformer(num_features=1, num_bins=4000, d_model=8, n_layers=1, n_heads=2, d_ff=16).eval()
    with torch.no_grad():
        net.head.weight.normal_(0, 0.5)
    bar = BarDistribution.from_samples(torch.randn(100_000, generator=torch.Generator().manual_seed(0)), 4000)
    return save_checkpoint(tmp_path / "wide.safetensors", net, bar, prior={"name": "test"})


def run_memory_child(path, chunk: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(pfn.__file__).parent.parent)}
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(path), str(chunk)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="address-space limits via /proc and RLIMIT_AS")
def test_many_queries_fit_in_bounded_memory(many_bins):
    """50k queries of a 4000-bin model (800 MB of logits) predict within 400 MB of headroom; forcing every
    query into one chunk runs out of memory there, and that surfaces as MemoryError naming chunk_size."""
    bounded = run_memory_child(many_bins, chunk=0)
    assert "memory_error" not in bounded, bounded["memory_error"]
    assert bounded["shape"] == [50_000] and math.isfinite(bounded["mean"]) and math.isfinite(bounded["median"])
    whole = run_memory_child(many_bins, chunk=50_000)
    assert whole.get("memory_error", "").startswith("out of memory"), whole
    assert "predictor.chunk_size" in whole["memory_error"]


CONTEXTS_CHILD = r"""
import json, resource, sys
import numpy as np, torch
import pfn
torch.set_num_threads(1)
predictor = pfn.load(sys.argv[1])
b, n = 10_000, 100  # keys and values of every context: 2 layers x 2 x 10k x 101 x 16 floats, 260 MB
rng = np.random.default_rng(0)
x, y, q = rng.random((b, n, 1)), rng.normal(size=(b, n)), rng.random((b, 1, 1))
def vm_bytes():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
limit = vm_bytes() + 150 * 2**20  # room for a group of contexts, not for all of them
resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
try:
    pred = predictor.predict(x, y, q) if sys.argv[2] == "one-shot" else predictor.condition(x, y).predict(q)
    out = {"mean": float(pred.mean.mean()), "shape": list(pred.shape)}
except MemoryError as err:
    out = {"memory_error": str(err)}
print(json.dumps(out))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="address-space limits via /proc and RLIMIT_AS")
def test_one_shot_prediction_of_many_contexts_fits_in_bounded_memory(tmp_path):
    """A one-shot predict over 10k contexts of 100 points encodes and decodes a group of them at a time, within
    150 MB of headroom; condition() keeps every context's keys and values (260 MB) and runs out of memory there,
    which surfaces as a MemoryError that says what to reduce."""
    torch.manual_seed(0)
    net = PFNTransformer(num_features=1, num_bins=32, d_model=16, n_layers=2, n_heads=2, d_ff=32).eval()
    bar = BarDistribution.from_samples(torch.randn(10_000, generator=torch.Generator().manual_seed(0)), 32)
    path = save_checkpoint(tmp_path / "small.safetensors", net, bar, prior={"name": "test"})
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(pfn.__file__).parent.parent)}
    out = {}
    for mode in ("one-shot", "cached"):
        done = subprocess.run([sys.executable, "-c", CONTEXTS_CHILD, str(path), mode], capture_output=True, text=True,
                              env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        out[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    assert "memory_error" not in out["one-shot"], out["one-shot"]["memory_error"]
    assert out["one-shot"]["shape"] == [10_000, 1] and math.isfinite(out["one-shot"]["mean"])
    assert out["cached"].get("memory_error", "").startswith("out of memory"), out["cached"]
    assert "fewer datasets per call" in out["cached"]["memory_error"]
