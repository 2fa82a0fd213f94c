"""Differentiable predictions: gradients of posterior statistics and acquisitions w.r.t. x_test (issue 14)."""

import math

import numpy as np
import pytest
import torch

import pfn
from pfn.model.tails import HalfNormalTail

H = 1e-5  # central finite-difference step


@pytest.fixture(scope="module", params=["gp-hyper", "gp"])
def problem(request):
    predictor = pfn.load(request.param, dtype="float64")
    d = predictor.num_features
    g = torch.Generator().manual_seed(0)
    x_train = 0.1 + 0.8 * torch.rand(12, d, generator=g, dtype=torch.float64)
    y_train = torch.sin(5 * x_train).sum(-1)
    x_test = 0.15 + 0.7 * torch.rand(4, d, generator=g, dtype=torch.float64)
    return predictor.condition(x_train, y_train), x_test


STATISTICS = {
    "mean": lambda pr: pr.mean,
    "std": lambda pr: pr.std,
    "ei": lambda pr: pr.expected_improvement(0.3),
    "ei_min": lambda pr: pr.expected_improvement(0.3, maximize=False),
    "log_ei": lambda pr: pr.log_expected_improvement(1.5),
    "log_ei_min": lambda pr: pr.log_expected_improvement(-1.0, maximize=False),
}


def _gradient(cond, x, stat):
    x = x.clone().requires_grad_(True)
    stat(cond.predict(x, differentiable=True)).sum().backward()
    return x.grad


def _finite_difference(cond, x, stat):
    """Queries are independent, so shifting feature j of every query at once gives d out_i / d x_ij."""
    fd = torch.empty_like(x)
    for j in range(x.shape[-1]):
        up, down = x.clone(), x.clone()
        up[:, j] += H
        down[:, j] -= H
        fd[:, j] = (stat(cond.predict(up)) - stat(cond.predict(down))) / (2 * H)
    return fd


@pytest.mark.parametrize("name", sorted(STATISTICS))
def test_gradients_agree_with_finite_differences(problem, name):
    cond, x = problem
    stat = STATISTICS[name]
    grad, fd = _gradient(cond, x, stat), _finite_difference(cond, x, stat)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert (grad - fd).norm() / fd.norm() <= 1e-3


def test_differentiable_path_gives_the_default_numbers(problem):
    cond, x = problem
    xg = x.clone().requires_grad_(True)
    diff, plain = cond.predict(xg, differentiable=True), cond.predict(x)
    pairs = [
        (diff.mean, plain.mean),
        (diff.std, plain.std),
        (diff.quantile([0.1, 0.9]), plain.quantile([0.1, 0.9])),
        (diff.cdf(0.4), plain.cdf(0.4)),
        (diff.log_prob(0.4), plain.log_prob(0.4)),
        (diff.entropy(), plain.entropy()),
        (diff.expected_improvement(0.3), plain.expected_improvement(0.3)),
        (diff.log_expected_improvement(0.3), plain.log_expected_improvement(0.3)),
        (diff.upper_confidence_bound(2.0), plain.upper_confidence_bound(2.0)),
    ]
    for got, want in pairs:
        assert isinstance(got, torch.Tensor) and got.requires_grad and got.dtype == torch.float64
        torch.testing.assert_close(got.detach(), want, rtol=1e-12, atol=1e-12)


def test_predictor_predict_is_differentiable_and_leaves_the_weights_alone():
    predictor = pfn.load("gp-hyper", dtype="float64")
    g = torch.Generator().manual_seed(1)
    x_train, x = torch.rand(8, 3, generator=g), torch.rand(5, 3, generator=g, requires_grad=True)  # float32 queries
    pred = predictor.predict(x_train.numpy(), torch.cos(3 * x_train).sum(-1).numpy(), x, differentiable=True)
    pred.expected_improvement(0.5).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(w.grad is None and w.requires_grad for w in predictor.net.parameters())


def test_log_ei_is_log_ei_where_ei_is_not_tiny(problem):
    cond, x = problem
    pred = cond.predict(x)
    mean, std = pred.mean, pred.std
    for k in np.linspace(-3, 3, 13):
        for maximize in (True, False):
            best = mean + (k if maximize else -k) * std
            ei = pred.expected_improvement(best, maximize=maximize)
            log_ei = pred.log_expected_improvement(best, maximize=maximize)
            keep = ei > 1e-6
            assert keep.any()
            torch.testing.assert_close(log_ei[keep], ei[keep].log(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("sigmas", [50.0, 1e4])
def test_log_ei_stays_finite_with_useful_gradients_far_out(problem, sigmas):
    cond, x = problem
    plain = cond.predict(x)
    for maximize in (True, False):
        best = plain.mean + (sigmas if maximize else -sigmas) * plain.std
        xg = x.clone().requires_grad_(True)
        log_ei = cond.predict(xg, differentiable=True).log_expected_improvement(best, maximize=maximize)
        assert torch.isfinite(log_ei).all()
        log_ei.sum().backward()
        assert torch.isfinite(xg.grad).all() and (xg.grad.abs().sum(-1) > 0).all()
        if sigmas == 50.0:  # smooth there too: the gradient is the finite difference's
            stat = lambda pr, b=best, mx=maximize: pr.log_expected_improvement(b, maximize=mx)  # noqa: E731
            fd = _finite_difference(cond, x, stat)
            assert (xg.grad - fd).norm() / fd.norm() <= 1e-3


def test_log_ei_finite_where_ei_underflows():
    pred = pfn.load("gp", dtype="float64").predict(torch.tensor([0.2, 0.5]), torch.tensor([0.1, -0.2]), torch.rand(3))
    best = pred.mean + 1e4 * pred.std
    assert (pred.expected_improvement(best) == 0).all()
    assert torch.isfinite(pred.log_expected_improvement(best)).all()


def test_log_ei_is_monotone_in_best(problem):
    cond, x = problem
    pred = cond.predict(x)
    grid = torch.linspace(-20, 20, 401, dtype=torch.float64)
    up = torch.stack([pred.log_expected_improvement(float(b)) for b in grid])
    down = torch.stack([pred.log_expected_improvement(float(b), maximize=False) for b in grid])
    assert (up.diff(dim=0) < 0).all() and (down.diff(dim=0) > 0).all()


def test_half_normal_log_excess_is_continuous_at_the_series_switch():
    tail = HalfNormalTail(torch.tensor(1.0, dtype=torch.float64))
    u = torch.tensor([40 - 1e-12, 40 + 1e-12], dtype=torch.float64)  # the slope, about 40, adds 8e-11
    values = tail.log_excess(u * tail.s)
    assert abs(values[1] - values[0]) < 1e-9
    a = torch.linspace(0, 30, 61, dtype=torch.float64) * tail.s  # where the direct form is accurate
    torch.testing.assert_close(tail.log_excess(a), tail.excess(a).log(), rtol=1e-9, atol=1e-9)


def test_numpy_queries_are_refused_when_differentiable(problem):
    cond, x = problem
    with pytest.raises(ValueError, match="x_test must be a torch tensor"):
        cond.predict(x.numpy(), differentiable=True)


def test_too_many_differentiable_queries_are_refused(problem):
    cond, _ = problem
    m = 2**24 // cond.predictor.net.num_bins + 1
    with pytest.raises(ValueError, match="queries per call"):
        cond.predict(torch.full((m, cond.num_features), 0.5, dtype=torch.float64), differentiable=True)


def test_differentiable_batched_queries(problem):
    cond, x = problem
    predictor = cond.predictor
    d = predictor.num_features
    x_train = torch.rand(2, 6, d, dtype=torch.float64)
    batched = predictor.condition(x_train, x_train.sum(-1))
    xb = torch.stack([x, x.flip(0)]).requires_grad_(True)
    pred = batched.predict(xb, differentiable=True)
    assert pred.mean.shape == (2, x.shape[0])
    torch.testing.assert_close(pred.mean.detach(), batched.predict(xb.detach()).mean, rtol=1e-12, atol=1e-12)
    pred.mean.sum().backward()
    assert torch.isfinite(xb.grad).all()
    assert math.isfinite(float(xb.grad.abs().sum())) and xb.grad.abs().sum() > 0
