"""How the curve models forecast runs that get worse: medians and chances for three example runs.

    python scripts/curve_declines.py [--models lc-real lc-wide lc]

Runs (accuracies, 12 epochs observed): *rise, then fall* (0.50 up to 0.62 at epoch 3, then down to
0.37: overfitting), its twin *rising on* (0.50 up to 0.683), and *falling* (0.90 down to 0.46 from
the first epoch). For each model: the median forecast at epochs 30 and 100, the probability that
the value at epoch 100 beats 0.9, and whether ``should_stop`` (threshold 0.05) stops the run
against a best of 0.9 at 30 epochs.
"""

from __future__ import annotations

import argparse

import torch
from results import write_results

from pfn import curves

RUNS = {
    "rise, then fall": [0.50, 0.58, 0.62, 0.60, 0.58, 0.55, 0.52, 0.49, 0.46, 0.43, 0.40, 0.37],
    "rising on": [0.50, 0.58, 0.62, 0.64, 0.655, 0.665, 0.67, 0.675, 0.678, 0.68, 0.682, 0.683],
    "falling": [0.90 - 0.04 * e for e in range(12)],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["lc-real", "lc-wide", "lc"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    lines = ["| model | run | last value | median at 30 | median at 100 | P(value at 100 > 0.9) | stopped at 30 |",
             "|---|---|---:|---:|---:|---:|---|"]  # fmt: skip
    for name in args.models:
        model = curves.load(name)
        for run_name, run in RUNS.items():
            med = [curves.extrapolate(run, max_epochs=m, model=model).median[0] for m in (30, 100)]
            p = curves.probability_of_beating(run, 0.9, 100, model=model)
            stop = curves.should_stop(run, best=0.9, max_epochs=30, threshold=0.05, model=model)
            lines.append(f"| {name} | {run_name} | {run[-1]:.2f} | {med[0]:.2f} | {med[1]:.2f} | {p:.3f} | "
                         f"{'yes' if stop else 'no'} |")  # fmt: skip
            print(lines[-1], flush=True)
    write_results("curve_declines", "\n".join(lines), threads=1)


if __name__ == "__main__":
    main()
