"""Score learning-curve extrapolation against baselines on held-out prior curves.

    python scripts/eval_curves.py [--model lc] [--curves 100] [--cutoffs 0.1 0.2 0.4 0.8] [--mcmc-steps 1500]

For each curve (length T from the model) and cutoff c, every method sees the first round(c T)
noisy values (clipped to [0, 1], as accuracies are; the same input for every method) and
predicts the noisy value at epoch T. Reported per method and cutoff: mean
log-likelihood of the observed final value, MSE of the predictive mean, seconds per curve.
Methods:
  pfn        the learning-curve PFN (`pfn.curves.extrapolate`)
  last       Gaussian at the last observed value, sd = RMS of the prefix's one-step changes
  power-law  least-squares fit of y = a - b t^(-c); Gaussian with the fit's residual sd
  mcmc       Domhan et al. (2015) style: emcee over the same parametric prior the PFN was trained
             on (LC-PFN's pow3 + ilog2 + janoschek, weights, noise, and its [0, 1] / rising-end
             constraint); predictive = mixture of the sampled curves' Gaussians
"""

from __future__ import annotations

import argparse
import math
import time

import emcee
import numpy as np
import torch
from scipy.optimize import curve_fit
from scipy.special import logsumexp

from pfn import curves
from priors.learning_curves import FAMILIES, LCPFN_FAMILIES, LearningCurvePrior

LOG_2PI = math.log(2 * math.pi)


def gauss_logpdf(y, mean, sd):
    return -0.5 * (LOG_2PI + 2 * np.log(sd) + ((y - mean) / sd) ** 2)


# -- the parametric prior as a density over a flat parameter vector ------------------------------
SPECS = [(fam, key, spec) for fam in LCPFN_FAMILIES for key, spec in FAMILIES[fam][0].items()]
NP = len(SPECS)  # curve parameters, then one weight per family, then log sigma
NDIM = NP + len(LCPFN_FAMILIES) + 1


def curves_of(theta: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Noise-free curves (W, T) for parameter vectors theta (W, NDIM)."""
    tt = torch.as_tensor(t, dtype=torch.float64)[None]
    th = torch.as_tensor(theta, dtype=torch.float64)
    y = torch.zeros(theta.shape[0], len(t), dtype=torch.float64)
    for k, fam in enumerate(LCPFN_FAMILIES):
        params = {key: th[:, i : i + 1] for i, (f, key, _) in enumerate(SPECS) if f == fam}
        y = y + th[:, NP + k : NP + k + 1] * FAMILIES[fam][1](tt, params)
    return y.numpy()


def log_prior(theta: np.ndarray, t_full: np.ndarray) -> np.ndarray:
    lp = np.zeros(theta.shape[0])
    for i, (_, _, (kind, a, b)) in enumerate(SPECS):
        v = theta[:, i]
        if kind == "u":
            lp += np.where((v >= a) & (v <= b), -math.log(b - a), -np.inf)
        elif kind == "n":
            lp += gauss_logpdf(v, a, b)
        else:  # log-normal
            with np.errstate(divide="ignore", invalid="ignore"):
                lp += np.where(
                    v > 0, gauss_logpdf(np.log(np.abs(v) + 1e-300), a, b) - np.log(np.abs(v) + 1e-300), -np.inf
                )
    w = theta[:, NP : NP + len(LCPFN_FAMILIES)]
    lp += np.where(((w >= 0) & (w <= 1)).all(1), 0.0, -np.inf)
    lp += gauss_logpdf(theta[:, -1], -4.0, 1.0)
    ok = np.isfinite(lp)
    if ok.any():  # the prior's rejection: the whole clean curve in [0, 1], ending above its start
        y = curves_of(theta[ok], t_full)
        valid = np.isfinite(y).all(1) & (y >= 0).all(1) & (y <= 1).all(1) & (y[:, -1] > y[:, 0])
        lp[np.flatnonzero(ok)[~valid]] = -np.inf
    return lp


def prior_draws(n: int, t_full: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = []
    while sum(len(o) for o in out) < n:
        theta = np.empty((4 * n, NDIM))
        for i, (_, _, (kind, a, b)) in enumerate(SPECS):
            z = rng.standard_normal(4 * n)
            theta[:, i] = rng.uniform(a, b, 4 * n) if kind == "u" else (a + b * z if kind == "n" else np.exp(a + b * z))
        theta[:, NP:-1] = rng.uniform(0, 1, (4 * n, len(LCPFN_FAMILIES)))
        theta[:, -1] = rng.normal(-4, 1, 4 * n)
        out.append(theta[np.isfinite(log_prior(theta, t_full))])
    return np.concatenate(out)[:n]


def mcmc_final(y_obs: np.ndarray, T: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Posterior samples of (final clean value, sigma) by emcee over the parametric prior."""
    t_full = np.arange(1, T + 1, dtype=np.float64)
    t_obs = t_full[: len(y_obs)]

    def log_post(theta):
        lp = log_prior(theta, t_full)
        ok = np.isfinite(lp)
        if ok.any():
            f = curves_of(theta[ok], t_obs)
            sd = np.exp(theta[ok, -1])[:, None]
            lp[ok] += gauss_logpdf(y_obs[None], f, sd).sum(1)
        return lp

    walkers = 2 * NDIM + 2
    sampler = emcee.EnsembleSampler(walkers, NDIM, log_post, vectorize=True)
    sampler.random_state = np.random.RandomState(int(rng.integers(2**31))).get_state()  # reproducible chains
    sampler.run_mcmc(prior_draws(walkers, t_full, rng), steps, progress=False)
    theta = sampler.get_chain(discard=steps // 2, thin=5, flat=True)
    return curves_of(theta, t_full)[:, -1], np.exp(theta[:, -1])


def power_law(t, a, b, c):
    return a - b * np.power(t, -c)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lc")
    parser.add_argument("--curves", type=int, default=100)
    parser.add_argument("--cutoffs", type=float, nargs="+", default=[0.1, 0.2, 0.4, 0.8])
    parser.add_argument("--mcmc-steps", type=int, default=1500)
    parser.add_argument("--methods", nargs="+", default=["pfn", "last", "power-law", "mcmc"])
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = curves.load(args.model)
    T = int(model.config["training"]["num_points"])
    batch = LearningCurvePrior().sample(args.curves, T, 1, torch.Generator().manual_seed(args.seed))
    ys = batch.y.double().numpy()
    rng = np.random.default_rng(args.seed)
    print(f"{args.curves} held-out prior curves of {T} epochs; predicting epoch {T}; "
          f"MCMC: emcee, {2 * NDIM + 2} walkers x {args.mcmc_steps} steps")  # fmt: skip
    print("| cutoff | method | log-likelihood | MSE | seconds per curve |")
    print("|---:|---|---:|---:|---:|")
    for cut in args.cutoffs:
        n = max(2, round(cut * T))
        obs, final = np.clip(ys[:, :n], 0.0, 1.0), ys[:, -1]
        for method in args.methods:
            start = time.perf_counter()
            if method == "pfn":
                fc = curves.extrapolate(list(obs), max_epochs=T, model=model, bounds=(0.0, 1.0))
                ll = np.array([f.log_prob(v)[0] for f, v in zip(fc, final, strict=True)])
                mean = np.array([f.mean[0] for f in fc])
            elif method == "last":
                mean = obs[:, -1]
                sd = np.maximum(np.sqrt((np.diff(obs, axis=1) ** 2).mean(1)), 1e-3)
                ll = gauss_logpdf(final, mean, sd)
            elif method == "power-law":
                mean, ll = np.empty(len(ys)), np.empty(len(ys))
                t = np.arange(1, n + 1, dtype=np.float64)
                for i, y in enumerate(obs):
                    try:
                        p, _ = curve_fit(power_law, t, y, p0=(y[-1], y[-1] - y[0], 0.5), maxfev=5000)
                        resid = np.sqrt(np.mean((power_law(t, *p) - y) ** 2))
                        mean[i] = power_law(float(T), *p)
                    except RuntimeError:  # no fit: fall back to the last value
                        mean[i], resid = y[-1], 0.0
                    ll[i] = gauss_logpdf(final[i], mean[i], max(resid, 1e-3))
            else:
                mean, ll = np.empty(len(ys)), np.empty(len(ys))
                for i, y in enumerate(obs):
                    f_final, sd = mcmc_final(y, T, args.mcmc_steps, rng)
                    mean[i] = f_final.mean()
                    ll[i] = logsumexp(gauss_logpdf(final[i], f_final, sd)) - math.log(len(sd))
            seconds = (time.perf_counter() - start) / len(ys)
            print(f"| {cut:.0%} | {method} | {ll.mean():.3f} | {((mean - final) ** 2).mean():.5f} | {seconds:.4f} |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
