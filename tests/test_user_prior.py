"""A user-defined prior, written outside the library, trains through the config and matches its exact posterior."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import pfn
from tests.test_training import TINY

# The README's example, verbatim.
USER_MODULE = '''
import torch
from priors import Batch

def linear_regression(batch_size, num_points, num_features, generator):
    """y = x . w + noise with w ~ N(0, I), noise ~ N(0, 0.1^2), x ~ U[-1, 1]^d."""
    x = 2 * torch.rand(batch_size, num_points, num_features, generator=generator) - 1
    w = torch.randn(batch_size, num_features, 1, generator=generator)
    y = (x @ w).squeeze(-1) + 0.1 * torch.randn(batch_size, num_points, generator=generator)
    return Batch(x=x, y=y)
'''
NOISE_VAR = 0.01


def exact_predictive(x, y, xq):
    """Bayesian linear regression, w ~ N(0, I): posterior N(mu, S), S = (X'X / s2 + I)^-1, mu = S X'y / s2."""
    cov = np.linalg.inv(x.T @ x / NOISE_VAR + np.eye(x.shape[1]))
    mu = cov @ x.T @ y / NOISE_VAR
    return xq @ mu, np.einsum("md,de,me->m", xq, cov, xq) + NOISE_VAR


def gauss_nll(y, mean, var):
    return 0.5 * (np.log(2 * np.pi * var) + (y - mean) ** 2 / var)


@pytest.mark.slow
def test_user_prior_trains_via_config_and_approaches_the_exact_posterior(tmp_path):
    (tmp_path / "my_priors.py").write_text(USER_MODULE)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    run = subprocess.run(
        [sys.executable, "-m", "pfn.cli", "train", "prior=function", "prior.fn=my_priors.linear_regression",
         "trainer.max_steps=400", "model.lr=2e-3", "logger=csv", f"hydra.run.dir={tmp_path / 'run'}", *TINY],
        capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    path = Path(re.search(r"Exported inference checkpoint: (\S+)", run.stdout).group(1))
    predictor = pfn.load(path)
    assert predictor.config["prior"] == {"name": "FunctionPrior", "function": "my_priors.linear_regression"}

    sys.path.insert(0, str(tmp_path))
    try:
        from my_priors import linear_regression
    finally:
        sys.path.remove(str(tmp_path))
    batch = linear_regression(300, 30, 1, torch.Generator().manual_seed(7))
    x, y = batch.x.double().numpy(), batch.y.double().numpy()
    n = 10
    pfn_nll = -predictor.predict(x[:, :n], y[:, :n], x[:, n:]).log_prob(y[:, n:]).mean()
    exact, prior = [], []
    for b in range(300):
        mean, var = exact_predictive(x[b, :n], y[b, :n], x[b, n:])
        exact.append(gauss_nll(y[b, n:], mean, var).mean())
        prior.append(gauss_nll(y[b, n:], 0.0, (x[b, n:] ** 2).sum(-1) + NOISE_VAR).mean())
    exact_nll, prior_nll = float(np.mean(exact)), float(np.mean(prior))
    print(f"user prior: PFN {pfn_nll:.3f}, exact {exact_nll:.3f}, prior predictive {prior_nll:.3f}")
    # The exact posterior is ~1.5 nats per point better than the prior predictive at 10 points;
    # the tiny 400-step model must close at least 80% of that gap.
    assert pfn_nll - exact_nll < 0.2 * (prior_nll - exact_nll), (pfn_nll, exact_nll, prior_nll)
