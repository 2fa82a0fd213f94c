"""Prior predictive check: do a learning-curve prior's curves look like real ones?

    python scripts/check_curve_prior.py [--experiments lc lc_wide] [--real scripts/data/real_curves.json]

Compares, for each prior (composed from its experiment config) and the real epoch-wise curves,
the distribution of the final value and of the gain still to come after the first 5% and 10% of
the run. A model cannot extrapolate well what its prior rarely produces: if real curves gain more
after 10% of the run, or end higher, than the prior's do, its forecasts will be pessimistic.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from results import write_results

from pfn.configs import experiment_prior


def summary(curves: np.ndarray) -> list[str]:
    """Final-value quantiles and share of curves gaining more than 0.1 / 0.4 after 5% and 10% of the run."""
    T = curves.shape[1]
    final = curves[:, -1]
    cells = [" / ".join(f"{q:.2f}" for q in np.quantile(final, [0.1, 0.5, 0.9])), f"{np.mean(final > 0.9):.2f}"]
    for frac in (0.05, 0.1):
        gain = final - curves[:, max(0, round(frac * T) - 1)]
        cells.append(f"{np.mean(gain > 0.1):.2f} / {np.mean(gain > 0.4):.2f}")
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", nargs="+", default=["lc", "lc_wide"])
    parser.add_argument("--real", default=str(Path(__file__).parent / "data" / "real_curves.json"))
    parser.add_argument("--curves", type=int, default=20_000, help="prior curves per experiment")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    real = json.loads(Path(args.real).read_text())["epoch_wise"]
    length = len(real[0]["values"])
    rows = [("real epoch-wise curves", np.array([c["values"] for c in real]))]
    for name in args.experiments:
        batch = experiment_prior(name).sample(args.curves, length, 1, torch.Generator().manual_seed(args.seed))
        rows.append((f"prior of experiment={name}", batch.y.double().numpy()))
    lines = [f"Curves of {length} epochs; gains are the final value minus the value after 5% / 10% of the run.", "",
             "| curves | n | final q10 / q50 / q90 | P(final > 0.9) | P(gain > 0.1 / > 0.4) after 5% | after 10% |",
             "|---|---:|---|---:|---|---|"]  # fmt: skip
    lines += [f"| {name} | {len(curves)} | " + " | ".join(summary(curves)) + " |" for name, curves in rows]
    print("\n".join(lines))
    write_results("check_curve_prior", "\n".join(lines))


if __name__ == "__main__":
    main()
