"""Prior predictive check: do a learning-curve prior's curves look like real ones?

    python scripts/check_curve_prior.py [--experiments lc lc_wide lc_real] [--split tuning]

Compares the curves of each prior (composed from its experiment config, 100 epochs) with the real
curves of the curve corpus's tuning part (`scripts/data/curve_corpus.json.gz`; accuracy and R^2 curves,
both in [0, 1] and maximised, each thinned to at most 100 evenly spaced points, by budget kind and all
together). Per set of curves:

- final value: quantiles 10/50/90%;
- gains still to come: the share of curves whose final value exceeds their value after 10% / 50% of
  the run by more than 0.02 / 0.1 / 0.3 (late gains);
- declines: the share whose smoothed maximum (running mean of 3) exceeds the smoothed final value by
  more than 0.01 / 0.03 / 0.1 (overfitting, instability; noise alone also counts here);
- noise: quantiles of a robust noise estimate, 1.4826 median |second difference| / sqrt(6);
- start: quantiles of the first value.

A model cannot forecast well what its prior rarely produces: where real curves end higher, gain
more late or decline more often than the prior's do, its forecasts are biased or overconfident.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from curve_learners import load_corpus
from results import write_results

from pfn.configs import experiment_prior

CORPUS = Path(__file__).parent / "data" / "curve_corpus.json.gz"
LENGTH = 100


def thinned(values: list[float], k: int = LENGTH) -> np.ndarray:
    v = np.asarray(values, float)
    return v if len(v) <= k else v[np.unique(np.round(np.linspace(0, len(v) - 1, k)).astype(int))]


def quantiles(a: np.ndarray, digits: int = 2) -> str:
    return " / ".join(f"{q:.{digits}f}" for q in np.quantile(a, [0.1, 0.5, 0.9]))


def shares(a: np.ndarray, thresholds: tuple[float, ...]) -> str:
    return " / ".join(f"{np.mean(a > t):.2f}" for t in thresholds)


def summary(curves: list[np.ndarray]) -> list[str]:
    """The table cells of one set of curves (see the module docstring)."""
    final = np.array([c[-1] for c in curves])
    cells = [quantiles(final)]
    for frac in (0.1, 0.5):
        gain = np.array([c[-1] - c[max(0, round(frac * len(c)) - 1)] for c in curves])
        cells.append(shares(gain, (0.02, 0.1, 0.3)))
    smooth = [np.convolve(c, np.ones(3) / 3, "valid") if len(c) >= 5 else c for c in curves]
    cells.append(shares(np.array([s.max() - s[-1] for s in smooth]), (0.01, 0.03, 0.1)))
    noise = np.array([1.4826 * np.median(np.abs(np.diff(c, 2))) / np.sqrt(6) if len(c) > 2 else 0.0 for c in curves])
    cells += [quantiles(noise, 4), quantiles(np.array([c[0] for c in curves]))]
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", nargs="+", default=["lc", "lc_wide", "lc_real"])
    parser.add_argument("--split", default="tuning", choices=["tuning", "heldout"])
    parser.add_argument("--curves", type=int, default=5000, help="prior curves per experiment")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = []
    for kind in ("epoch", "iteration", "sample", None):
        real = [thinned(c["values"]) for m in ("accuracy", "r2") for c in load_corpus(CORPUS, args.split, kind, m)]
        rows.append((f"real, {kind}-wise" if kind else "real, all kinds", real))
    for name in args.experiments:
        batch = experiment_prior(name).sample(args.curves, LENGTH, 1, torch.Generator().manual_seed(args.seed))
        rows.append((f"prior of experiment={name}", list(batch.y.double().numpy())))
    lines = [f"Real curves: the corpus's {args.split} part (accuracy and R^2, thinned to at most {LENGTH} points); "
             f"prior curves of {LENGTH} epochs.", "",
             "| curves | n | final q10 / q50 / q90 | gain after 10% > 0.02 / 0.1 / 0.3 | after 50% | "
             "decline > 0.01 / 0.03 / 0.1 | noise q10 / q50 / q90 | start q10 / q50 / q90 |",
             "|---|---:|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {name} | {len(curves)} | " + " | ".join(summary(curves)) + " |" for name, curves in rows]
    print("\n".join(lines))
    write_results("check_curve_prior", "\n".join(lines))


if __name__ == "__main__":
    main()
