"""Tails fitted per context size (pfn.model.tail_scales): the fitted scales, the distribution they give, and
what they change for a model that standardises y by a context of two points."""

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from safetensors import safe_open
from scipy import optimize, stats

import pfn
from pfn.checkpoint import save_checkpoint, write_checkpoint
from pfn.configs import experiment_prior
from pfn.model.bar_distribution import BarDistribution
from pfn.model.tail_scales import TailScales, fit_tail_scales
from pfn.model.tails import HalfNormalTail, ParetoTail
from pfn.pretrained import resolve
from pfn.training.train import build_module
from tests.test_bar_distribution import grid
from tests.test_training import compose_cfg


def lomax(shape: float, scale: float, size: int, seed: int) -> torch.Tensor:
    return torch.as_tensor(stats.lomax.rvs(shape, scale=scale, size=size, random_state=seed))


def test_maximum_likelihood_scales_match_an_independent_fit():
    t = lomax(3.0, 2.5, 5000, seed=0)
    nll = lambda log_s: -stats.lomax.logpdf(t.numpy(), 3.0, scale=math.exp(log_s)).sum()  # noqa: E731
    reference = math.exp(optimize.minimize_scalar(nll, bounds=(-5, 5), method="bounded", options={"xatol": 1e-10}).x)
    assert float(ParetoTail.mle_scale(t)) == pytest.approx(reference, rel=1e-6)
    h = torch.as_tensor(stats.halfnorm.rvs(scale=1.7, size=5000, random_state=1))
    assert float(HalfNormalTail.mle_scale(h)) == pytest.approx(stats.halfnorm.fit(h.numpy(), floc=0)[1], rel=1e-6)


def test_the_fitted_scale_recovers_the_one_that_drew_the_distances():
    """The maximum-likelihood scale at Lomax shape a has asymptotic sd s sqrt((a + 2) / (a N)) (Fisher information
    a / ((a + 2) s^2) per draw); 4 of them is the tolerance."""
    n, s = 20_000, 2.5
    sd = s * math.sqrt(5 / (3 * n))
    assert abs(float(ParetoTail.mle_scale(lomax(3.0, s, n, seed=2))) - s) < 4 * sd


@pytest.fixture
def bar():
    return BarDistribution.from_samples(torch.randn(50_000, generator=torch.Generator().manual_seed(0)), 64, "pareto")


def with_tails(bar, distance_left, distance_right, datasets_left, datasets_right, queries=40, seed=0):
    """Targets (datasets, queries): standard normal, except that the first query of the first ``datasets_left``
    datasets lies ``distance_left`` (a tensor of one distance per dataset and query) past the left inner border,
    and likewise on the right."""
    z = torch.randn(max(datasets_left, datasets_right, 100), queries, generator=torch.Generator().manual_seed(seed))
    z = z.double().clamp(float(bar.borders[1]) + 1e-3, float(bar.borders[-2]) - 1e-3)  # inside the bins
    b = bar.borders.double()
    z[:datasets_left, : distance_left.shape[1]] = b[1] - distance_left
    z[:datasets_right, -distance_right.shape[1] :] = b[-2] + distance_right
    return z


def test_tails_are_widened_where_the_targets_reach_further_and_only_there(bar):
    """Right: 400 datasets x 5 distances from a Lomax 3 times the default scale -> factor 3 (sd of the estimate:
    3 sqrt(5 / (3 * 2000)) = 0.087; 4 of them tolerated). Left: distances from half the default scale -> factor 1
    (a tail is never narrowed). A tail reached by targets of only 10 datasets, however many, keeps the default."""
    s_left, s_right = ParetoTail(bar.widths[0]).s.item(), ParetoTail(bar.widths[-1]).s.item()
    far = lomax(3.0, 3 * s_right, 2000, seed=3).reshape(400, 5)
    near = lomax(3.0, 0.5 * s_left, 2000, seed=4).reshape(400, 5)
    few = lomax(3.0, 3 * s_right, 300, seed=5).reshape(10, 30)
    targets = [
        (2, with_tails(bar, near, far, 400, 400)),
        (3, with_tails(bar, near[:0], few, 0, 10)),
        (4, with_tails(bar, near[:0], far[:0], 0, 0)),
    ]
    scales = fit_tail_scales(targets, bar.borders, "pareto")
    assert scales.context_sizes == (2,) and scales.left == (1.0,)
    assert abs(scales.right[0] - 3.0) < 4 * 3 * math.sqrt(5 / (3 * 2000))
    assert fit_tail_scales(targets[1:], bar.borders, "pareto") is None


def test_a_context_size_gets_its_own_tails(bar):
    """At 2 context points the tails' medians sit 1.5 and 3 outer-bin widths past the inner borders (the default:
    one width); the density still integrates to 1 and its tail is the Lomax written out by hand; other sizes
    keep the default tails."""
    bar.tail_scales = TailScales((2,), (1.5,), (3.0,))
    two = bar.at_context(2)
    assert bar.at_context(2) is two and bar.at_context(3) is bar and two.tail_factors == (1.5, 3.0)
    logits = torch.randn(3, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    p = logits.softmax(-1)
    b, w = bar.borders.double(), bar.widths.double()
    right_median = two.icdf(logits, 1 - p[:, -1] / 2)
    left_median = two.icdf(logits, p[:, 0] / 2)
    assert torch.allclose(right_median, b[-2] + 3 * w[-1], rtol=1e-6)
    assert torch.allclose(left_median, b[1] - 1.5 * w[0], rtol=1e-6)
    assert torch.allclose(bar.icdf(logits, 1 - p[:, -1] / 2), b[-2] + w[-1], rtol=1e-6)
    y, dy = grid(bar)
    total = (two.log_prob(logits[:, None, :].expand(3, y.numel(), 64), y.expand(3, -1)).exp() * dy).sum(-1)
    assert torch.allclose(total, torch.ones(3, dtype=torch.float64), atol=1e-6)
    s = 3 * w[-1] / (2 ** (1 / 3) - 1)
    t = torch.tensor([0.5, 7.0, 300.0], dtype=torch.float64)
    by_hand = p[:, -1:].log() + math.log(3) - s.log() - 4 * torch.log1p(t / s)
    y_far = (b[-2] + t).expand(3, -1)
    assert torch.allclose(two.log_prob(logits[:, None, :].expand(3, 3, 64), y_far), by_hand, rtol=1e-9)


def test_predictions_use_the_tails_of_their_context_size():
    """With tails widened 3 times on the right at 2 context points, a prediction from 2 points has the same tail
    mass and its tail's median 3 times as far past the inner border (in the data's units); from 3 points nothing
    changes. The differentiable path agrees."""
    widened, default = pfn.load("gp-hyper"), pfn.load("gp-hyper")
    widened.output.tail_scales, default.output.tail_scales = TailScales((2,), (2.0,), (3.0,)), None
    x, y = [[0.1], [0.7], [0.4]], [3.0, 3.2, 2.9]
    for n, factor in ((2, 3.0), (3, 1.0)):
        for xq in ([[0.2]], [[1.4]]):
            wide, base = widened.predict(x[:n], y[:n], xq), default.predict(x[:n], y[:n], xq)
            border = float(base.loc + base.scale * default.output.borders[-2].double())  # in y's units
            mass = 1 - float(base.cdf(border)[0])
            assert float(wide.cdf(border)[0]) == pytest.approx(1 - mass, abs=1e-12)
            gap = float(wide.quantile(1 - mass / 2)[0]) - border
            assert gap == pytest.approx(factor * (float(base.quantile(1 - mass / 2)[0]) - border), rel=1e-5)
            grad = widened.predict(x[:n], y[:n], torch.tensor(xq, dtype=torch.float64), differentiable=True)
            assert grad.quantile(0.999).detach().numpy() == pytest.approx(wide.quantile(0.999), rel=1e-5)


def test_fitted_tails_make_two_point_predictions_of_the_bo_prior_better():
    """The shipped `bo` model's tails fitted at 2 points, against its default tails, on 1024 fresh datasets of its
    prior: a lower NLL by more than 3 standard errors of the paired per-dataset difference, and 90% intervals
    that hold more of the targets (measured: +0.067 +- 0.014 nats, coverage 0.858 -> 0.895)."""
    model = pfn.load("bo")
    assert model.output.tail_scales is not None and model.output.tail_scales.factors(2) != (1.0, 1.0)
    batch = experiment_prior("bo").sample(1024, 52, 8, torch.Generator().manual_seed(11))
    x, y, xq, yq = batch.x[:, :2], batch.y[:, :2], batch.x[:, 2:], batch.y[:, 2:]
    fitted = model.predict(x, y, xq)
    model.output.tail_scales = None
    default = model.predict(x, y, xq)
    gain = torch.as_tensor(fitted.log_prob(yq) - default.log_prob(yq)).mean(1)  # per dataset
    assert gain.mean() > 3 * gain.std() / math.sqrt(gain.numel())

    def cover(pred):
        lo, hi = pred.interval(0.9)
        return float(((yq >= lo) & (yq <= hi)).double().mean())

    assert cover(fitted) > cover(default)


def test_training_fits_tails_for_standardised_targets_and_keeps_them_across_a_resume(tmp_path):
    cfg = compose_cfg(tmp_path, "data.num_points=40", "data.max_context=30", experiment="gp_hyper")
    module = build_module(cfg.model, instantiate(cfg.data))
    scales = module.output.tail_scales
    assert scales is not None and 2 in scales.context_sizes and max(scales.factors(2)) > 1
    saved = {}
    module.on_save_checkpoint(saved)
    module.output.tail_scales = None
    module.on_load_checkpoint(saved)
    assert module.output.tail_scales == scales
    plain = compose_cfg(tmp_path, "data.num_points=40", "data.max_context=30")  # gp_1d: y in the prior's units
    assert build_module(plain.model, instantiate(plain.data)).output.tail_scales is None


@pytest.mark.parametrize(
    "data, message",
    [
        ([1, 2], "an object of three lists"),
        ({"context_sizes": [2], "left": [2.0]}, "an object of three lists"),
        ({"context_sizes": [2], "left": [2.0], "right": []}, "equal lengths"),
        ({"context_sizes": [True], "left": [2.0], "right": [2.0]}, "integers >= 0"),
        ({"context_sizes": [2], "left": [float("nan")], "right": [2.0]}, "left tail factors must be finite"),
    ],
)
def test_malformed_tail_scales_are_named(data, message):
    with pytest.raises(ValueError, match=message):
        TailScales.from_dict(data)


def test_the_script_gives_a_model_trained_without_them_the_tails_training_fits(tmp_path):
    """scripts/fit_tail_scales.py on `gp-hyper` without its tails writes them back as shipped, and leaves the
    weights and every other header field as they were."""
    shipped = pfn.load("gp-hyper")
    assert shipped.output.tail_scales is not None
    with safe_open(str(resolve("gp-hyper")), framework="pt") as f:
        tensors = {k: f.get_tensor(k).clone() for k in f.keys()}  # noqa: SIM118 (a safe_open handle)
    config = copy.deepcopy(shipped.config)
    del config["output"]["tail_scales"]
    write_checkpoint(tmp_path / "plain.safetensors", tensors, json.dumps(config))
    assert pfn.load(tmp_path / "plain.safetensors").output.tail_scales is None
    script = Path(__file__).resolve().parent.parent / "scripts" / "fit_tail_scales.py"
    out = tmp_path / "fitted.safetensors"
    args = [sys.executable, str(script), str(tmp_path / "plain.safetensors"), "--experiment", "gp_hyper"]
    subprocess.run([*args, "--output", str(out)], check=True, capture_output=True)
    fitted = pfn.load(out)
    assert fitted.output.tail_scales == shipped.output.tail_scales and fitted.config == shipped.config
    for k, v in shipped.net.state_dict().items():
        assert torch.equal(v, fitted.net.state_dict()[k]), k


def test_tail_scales_are_saved_with_the_checkpoint_and_loaded_back(tmp_path, small_net):
    bar = BarDistribution.from_samples(torch.randn(10_000, generator=torch.Generator().manual_seed(0)), 32, "pareto")
    bar.tail_scales = TailScales((2, 3), (1.5, 1.0), (2.5, 1.25))
    path = save_checkpoint(tmp_path / "model.safetensors", small_net, bar, prior={})
    loaded = pfn.load(path).output
    assert loaded.tail_scales == bar.tail_scales and loaded.at_context(2).tail_factors == (1.5, 2.5)
    bar.tail_scales = None
    plain = save_checkpoint(tmp_path / "plain.safetensors", small_net, bar, prior={})
    assert pfn.load(plain).output.tail_scales is None
