"""Score learning-curve extrapolation against baselines on held-out prior curves.

    python scripts/eval_curves.py [--models lc lc-wide] [--curves 100] [--real scripts/data/real_curves.json]
                                  [--methods pfn last power-law mcmc] [--results-name eval_curves]

For each curve (length T, shared by the models) and cutoff c, every method sees the first round(c T)
noisy values (clipped to [0, 1], as accuracies are; the same input for every method) and
predicts the noisy value at epoch T (clipped alike; a PFN's forecast is censored at 0 and 1, so it gives
no density beyond them). Reported per method and cutoff: mean
log-likelihood of the observed final value, MSE of the predictive mean, seconds per curve.
Methods:
  pfn NAME   a learning-curve PFN (`pfn.curves.extrapolate`), one row per model in --models, and one
             without its stored calibration ("uncalibrated") for a model that has one
  last       Gaussian at the last observed value, sd = RMS of the prefix's one-step changes
  power-law  least-squares fit of y = a - b t^(-c); Gaussian with the fit's residual sd
  mcmc       Domhan et al. (2015) style: emcee over the same parametric prior the PFN was trained
             on (LC-PFN's pow3 + ilog2 + janoschek, weights, noise, and its [0, 1] / rising-end
             constraint); predictive = mixture of the sampled curves' Gaussians
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import emcee
import numpy as np
import torch
from results import write_results
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


def mcmc_final(
    t_obs: np.ndarray, y_obs: np.ndarray, T: int, steps: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior samples of (clean value at epoch T, sigma) by emcee over the parametric prior;
    ``t_obs`` are the observed points' positions on the prior's 1..T epoch grid."""
    t_full = np.arange(1, T + 1, dtype=np.float64)

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


def baseline_forecast(
    method: str, t: np.ndarray, y: np.ndarray, T: int, mcmc_steps: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A baseline's predictive of the value at position T given values ``y`` at positions ``t`` on 1..T: the
    means and standard deviations of an equally weighted Gaussian mixture (one component but for MCMC)."""
    if method == "last":
        sd = max(np.sqrt(np.mean(np.diff(y) ** 2)) if len(y) > 1 else 0.0, 1e-3)
        return np.array([y[-1]]), np.array([sd])
    if method == "power-law":
        try:
            p, _ = curve_fit(power_law, t, y, p0=(y[-1], y[-1] - y[0], 0.5), maxfev=5000)
            resid = np.sqrt(np.mean((power_law(t, *p) - y) ** 2))
            mean = power_law(float(T), *p)
        except (RuntimeError, TypeError):  # no fit (or fewer points than parameters): last value
            mean, resid = y[-1], 0.0
        return np.array([mean]), np.array([max(resid, 1e-3)])
    return mcmc_final(t, y, T, mcmc_steps, rng)  # mcmc


def mixture_log_lik(final: float, means: np.ndarray, sds: np.ndarray) -> float:
    """Log-density of ``final`` under the equally weighted Gaussian mixture (means, sds)."""
    return float(logsumexp(gauss_logpdf(final, means, sds)) - math.log(len(sds)))


def with_uncalibrated(models: dict) -> dict:
    """Row name -> (model, calibration argument): each model with its stored calibration ("auto"), and a model
    that has one also without it (row "NAME uncalibrated", calibration None)."""
    rows = {}
    for name, model in models.items():
        rows[name] = (model, "auto")
        if curves.Calibration.of_model(model) is not None:
            rows[f"{name} uncalibrated"] = (model, None)
    return rows


def score(method: str, t_obs: list[np.ndarray], y_obs: list[np.ndarray], final: np.ndarray, T: int, models, args,
          rng, scale: str = "linear") -> tuple[float, float, float]:  # fmt: skip
    """Mean log-likelihood and MSE of each curve's value at epoch T, and seconds per curve.

    With ``scale="log"`` (positions that are already log budgets) a PFN gets the budgets exp(t / T) on the log
    budget scale: the same model inputs, and the calibration of sample-wise curves."""
    start = time.perf_counter()
    k = len(final)
    mean, ll = np.empty(k), np.empty(k)
    if method.startswith("pfn "):
        model, calibration = models[method.removeprefix("pfn ")]
        budgets = [np.exp(t / T) for t in t_obs] if scale == "log" else t_obs
        fc = curves.extrapolate(y_obs, epochs=budgets, max_epochs=math.e if scale == "log" else T, model=model,
                                bounds=(0.0, 1.0), budget_scale=scale, calibration=calibration)  # fmt: skip
        for i, (f, v) in enumerate(zip(fc, final, strict=True)):
            mean[i], ll[i] = f.mean[0], f.log_prob(v)[0]
    if not method.startswith("pfn "):
        for i, (t, y) in enumerate(zip(t_obs, y_obs, strict=True)):
            means, sds = baseline_forecast(method, t, y, T, args.mcmc_steps, rng)
            mean[i], ll[i] = means.mean(), mixture_log_lik(final[i], means, sds)
    return float(ll.mean()), float(((mean - final) ** 2).mean()), (time.perf_counter() - start) / k


def table(name: str, sets: list[tuple[np.ndarray, np.ndarray]], T: int, models, args, rng,
          scale: str = "linear") -> list[str]:  # fmt: skip
    """Score every method at every cutoff on curves given as (positions on 1..T, values); the table's lines."""
    lines = [f"**{name}: {len(sets)} curves; predicting the value at the last budget**", "",
             "| cutoff | method | log-likelihood | MSE | seconds per curve |", "|---:|---|---:|---:|---:|"]  # fmt: skip
    print("\n" + "\n".join(lines))
    for cut in args.cutoffs:
        t_obs, y_obs, final = [], [], []
        for t, y in sets:
            n = min(len(y) - 1, max(2, round(cut * len(y))))
            t_obs.append(t[:n])
            y_obs.append(np.clip(y[:n], 0.0, 1.0))
            final.append(min(max(y[-1], 0.0), 1.0))
        methods = [m for name in args.methods for m in ([f"pfn {k}" for k in models] if name == "pfn" else [name])]
        for method in methods:
            ll, mse, sec = score(method, t_obs, y_obs, np.array(final), T, models, args, rng, scale)
            lines.append(f"| {cut:.0%} | {method} | {ll:.3f} | {mse:.5f} | {sec:.4f} |")
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["lc", "lc-wide"], help="learning-curve models to score")
    parser.add_argument("--curves", type=int, default=100, help="held-out prior curves (0 to skip)")
    parser.add_argument("--real", help="JSON of real curves from scripts/make_real_curves.py")
    parser.add_argument("--cutoffs", type=float, nargs="+", default=[0.1, 0.2, 0.4, 0.8])
    parser.add_argument("--mcmc-steps", type=int, default=1500)
    parser.add_argument("--methods", nargs="+", default=["pfn", "last", "power-law", "mcmc"])
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--results-name", default="eval_curves", help="the results file's name (docs/results/NAME.md)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = with_uncalibrated({name: curves.load(name) for name in args.models})
    lengths = {int(m.config["training"]["num_points"]) for m, _ in models.values()}
    if len(lengths) != 1:
        parser.error(f"--models must share one curve length, got {sorted(lengths)}")
    T = lengths.pop()
    rng = np.random.default_rng(args.seed)
    grid = np.arange(1, T + 1, dtype=np.float64)
    tables = []
    if "mcmc" in args.methods:
        tables = [f"MCMC: emcee, {2 * NDIM + 2} walkers x {args.mcmc_steps} steps (first half discarded).", ""]
        print(tables[0])
    if args.curves:
        batch = LearningCurvePrior().sample(args.curves, T, 1, torch.Generator().manual_seed(args.seed))
        tables += table(f"held-out prior curves of {T} epochs", [(grid, y) for y in batch.y.double().numpy()], T,
                        models, args, rng) + [""]  # fmt: skip
    if args.real:
        data = json.loads(Path(args.real).read_text())
        epoch_wise = [
            (np.asarray(c["epochs"], float) * T / c["epochs"][-1], np.asarray(c["values"])) for c in data["epoch_wise"]
        ]
        tables += table("real epoch-wise curves (digits MLP, 100 epochs)", epoch_wise, T, models, args, rng) + [""]
        sample_wise = []
        for c in data["sample_wise"]:
            s_ = np.asarray(c["epochs"], float)
            pos = 1 + np.log(s_ / s_[0]) / np.log(s_[-1] / s_[0]) * (T - 1)  # geometric budgets, evenly on the grid
            sample_wise.append((pos, np.asarray(c["values"])))
        tables += table(
            "real sample-wise curves (digits MLP, training sets 16..1024)", sample_wise, T, models, args, rng, "log"
        )
    write_results(args.results_name, "\n".join(tables), threads=1)


if __name__ == "__main__":
    main()
