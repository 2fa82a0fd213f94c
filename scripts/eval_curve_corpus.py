"""Forecast the final value of real learning curves: the held-out part of the curve corpus.

    python scripts/eval_curve_corpus.py [--models lc-wide lc] [--split heldout] [--mcmc-steps 600]

Curves of `scripts/data/curve_corpus.json.gz` (runs of many learners on scikit-learn's bundled and
synthetic datasets; the split is by dataset, and nothing here was tuned on the held-out part). At each
cutoff c a method sees the first round(c n) of a curve's n observed values (at least 2, at most n - 1)
and forecasts the value at its last budget. Sample-wise curves (growing training sets, geometric
budgets) are forecast on the log budget axis, epoch- and iteration-wise ones on the linear axis.

Table 1, bounded metrics (accuracy and R^2, both in [0, 1], higher is better; a run's error curve is
1 - its accuracy curve and would count it twice): every method, per cutoff, the mean log-likelihood of
the final value (nats per curve), the MSE of the predictive mean, and how often the 90% and 50%
intervals hold the final value (a Gaussian's central ones; the PFN's ``interval(level)``, with equal tails
except next to an atom on a bound, where it ends at the bound and holds ``level``). Curves of one dataset
are not independent (a dataset whose runs all end higher than forecast misses many intervals at once), so
each coverage comes with a 95% interval from resampling whole datasets (scripts/cluster_bootstrap.py).
  pfn NAME   `pfn.curves.extrapolate` with a learning-curve model (bounds [0, 1]), with the calibration
             stored in it, if any (fitted on the tuning part: scripts/calibrate_curves.py), and without
             it ("uncalibrated")
  last       Gaussian at the last observed value, sd = RMS of the prefix's one-step changes
  power-law  least-squares fit of y = a - b t^(-c) on the budget axis; Gaussian with the fit's residual sd
  mcmc       Domhan et al. (2015) style: emcee over LC-PFN's parametric prior (see scripts/eval_curves.py),
             the budgets mapped onto its 1..100 epoch grid
Table 2, open metrics (log loss and MSE, lower is better, no upper bound): the PFN models only
(``direction="minimize", bounds=(0, None)``), coverage of the intervals.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from cluster_bootstrap import cluster_interval
from curve_learners import load_corpus
from eval_curves import NDIM, baseline_forecast, mixture_log_lik, with_uncalibrated
from results import write_results
from scipy.stats import norm

from pfn import curves

CORPUS = Path(__file__).parent / "data" / "curve_corpus.json.gz"
GRID = 100  # the parametric baselines' epoch grid
LEVELS = (0.9, 0.5)


def positions(budgets: np.ndarray, kind: str) -> np.ndarray:
    """Budgets mapped onto 1 .. GRID: linearly, or on the log axis for sample-wise curves."""
    b = np.log(budgets) if kind == "sample" else budgets.astype(float)
    return 1 + (b - b[0]) / (b[-1] - b[0]) * (GRID - 1)


def score_baseline(method: str, t: np.ndarray, y: np.ndarray, final: float, args, rng) -> dict[str, float]:
    """A baseline's scores for one prefix (positions t on the grid, values y) and the final value."""
    means, sds = baseline_forecast(method, t, y, GRID, args.mcmc_steps, rng)
    row = {"ll": mixture_log_lik(final, means, sds), "se": float((means.mean() - final) ** 2)}
    if len(means) == 1:  # a Gaussian: its central intervals exactly
        half = {level: norm.ppf(0.5 + level / 2) * sds[0] for level in LEVELS}
        lows = {level: means[0] - half[level] for level in LEVELS}
        highs = {level: means[0] + half[level] for level in LEVELS}
    else:  # a mixture (MCMC): quantiles of draws from it
        draws = means + sds * rng.standard_normal((64, len(sds)))
        lows = {level: np.quantile(draws, 0.5 - level / 2) for level in LEVELS}
        highs = {level: np.quantile(draws, 0.5 + level / 2) for level in LEVELS}
    for level in LEVELS:
        row[f"cov{level}"] = float(lows[level] <= final <= highs[level])
    return row


def score_pfn(model, prefixes: list[dict], direction: str, bounds, calibration="auto") -> list[dict[str, float]]:
    """The model's scores for every prefix (one batched call per budget axis)."""
    rows: list[dict[str, float]] = [{} for _ in prefixes]
    for scale in ("linear", "log"):
        idx = [i for i, p in enumerate(prefixes) if p["scale"] == scale]
        if not idx:
            continue
        fcs = curves.extrapolate(
            [prefixes[i]["values"] for i in idx], epochs=[prefixes[i]["budgets"] for i in idx],
            max_epochs=[prefixes[i]["max_budget"] for i in idx], direction=direction, bounds=bounds,
            budget_scale=scale, model=model, calibration=calibration,
        )  # fmt: skip
        for i, fc in zip(idx, fcs, strict=True):
            final = prefixes[i]["final"]
            rows[i] = {"ll": float(fc.log_prob(final)[0]), "se": float((fc.mean[0] - final) ** 2)}
            for level in LEVELS:
                lo, hi = fc.interval(level)
                rows[i][f"cov{level}"] = float(lo[0] <= final <= hi[0])
    return rows


def prefixes_at(corpus: list[dict], cut: float) -> list[dict]:
    out = []
    for c in corpus:
        b, v = np.asarray(c["budgets"], float), np.asarray(c["values"], float)
        n = min(len(v) - 1, max(2, round(cut * len(v))))
        scale = "log" if c["kind"] == "sample" else "linear"
        out.append({"budgets": b[:n], "values": v[:n], "max_budget": float(b[-1]), "final": float(v[-1]),
                    "scale": scale, "t": positions(b, c["kind"])[:n], "dataset": c["dataset"]})  # fmt: skip
    return out


def with_interval(values: list[float], datasets: list[str]) -> str:
    """The mean of ``values`` and its 95% interval from resampling whole datasets."""
    low, high = cluster_interval(values, datasets)
    return f"{np.mean(values):.3f} ({low:.2f}–{high:.2f})"


def coverage_cells(rows: list[dict[str, float]], datasets: list[str]) -> str:
    """The coverage of each level in LEVELS, with its interval, as table cells."""
    return " | ".join(with_interval([r[f"cov{level}"] for r in rows], datasets) for level in LEVELS)


def mean_row(rows: list[dict[str, float]], datasets: list[str]) -> str:
    ll, se = (float(np.mean([r[k] for r in rows])) for k in ("ll", "se"))
    return f"{ll:.3f} | {se:.4f} | {coverage_cells(rows, datasets)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["lc-wide", "lc"], help="learning-curve models (names or paths)")
    parser.add_argument("--split", default="heldout", choices=["heldout", "tuning"])
    parser.add_argument("--cutoffs", type=float, nargs="+", default=[0.1, 0.25, 0.5, 0.8])
    parser.add_argument("--methods", nargs="+", default=["pfn", "last", "power-law", "mcmc"])
    parser.add_argument("--mcmc-steps", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results-name", default="eval_curve_corpus")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    models = with_uncalibrated(
        {Path(m).parent.name if m.endswith(".safetensors") else m: curves.load(m) for m in args.models}
    )
    bounded = [c for m in ("accuracy", "r2") for c in load_corpus(CORPUS, args.split, metric=m)]
    open_ = [c for m in ("log_loss", "mse") for c in load_corpus(CORPUS, args.split, metric=m)]
    kinds = ", ".join(f"{k} {sum(c['kind'] == k for c in bounded)}" for k in ("epoch", "iteration", "sample"))
    lines = [f"**Bounded metrics (accuracy, R^2): {len(bounded)} {args.split} curves ({kinds}); "
             f"forecasting the value at the last budget.** MCMC: emcee, {2 * NDIM + 2} walkers x {args.mcmc_steps} "
             "steps (first half discarded).", "",
             "| cutoff | method | log-likelihood | MSE | 90% coverage (95% CI) | 50% coverage (95% CI) |",
             "|---:|---|---:|---:|---:|---:|"]  # fmt: skip
    print("\n".join(lines), flush=True)
    methods = [m for name in args.methods for m in ([f"pfn {k}" for k in models] if name == "pfn" else [name])]
    for cut in args.cutoffs:
        prefixes = prefixes_at(bounded, cut)
        datasets = [p["dataset"] for p in prefixes]
        for method in methods:
            if method.startswith("pfn "):
                model, calibration = models[method.removeprefix("pfn ")]
                rows = score_pfn(model, prefixes, "maximize", (0.0, 1.0), calibration=calibration)
            else:
                rows = [score_baseline(method, p["t"], p["values"], p["final"], args, rng) for p in prefixes]
            lines.append(f"| {cut:.0%} | {method} | {mean_row(rows, datasets)} |")
            print(lines[-1], flush=True)
    lines += ["", f"**Open metrics (log loss, MSE): {len(open_)} {args.split} curves; PFN models.**", "",
              "| cutoff | model | 90% coverage (95% CI) | 50% coverage (95% CI) |", "|---:|---|---:|---:|"]  # fmt: skip
    for cut in args.cutoffs:
        prefixes = prefixes_at(open_, cut)
        datasets = [p["dataset"] for p in prefixes]
        for name, (model, calibration) in models.items():
            rows = score_pfn(model, prefixes, "minimize", (0.0, None), calibration=calibration)
            lines.append(f"| {cut:.0%} | pfn {name} | {coverage_cells(rows, datasets)} |")
            print(lines[-1], flush=True)
    write_results(args.results_name, "\n".join(lines), threads=1)


if __name__ == "__main__":
    main()
