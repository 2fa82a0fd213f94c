"""Time learning-curve forecasts: many curves in one `pfn.curves.extrapolate` call.

    python scripts/bench_curves.py [--model lc-wide] [--curves 1000] [--points 100] [--repeats 7]

Curves of ``--points`` observed values (drawn from the lc_real prior, so the values look like real
runs), each forecast at its final budget, all in one call (the model batches them). Prints and writes
the median seconds per call and per curve over ``--repeats`` calls after one warm-up, on one thread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from results import write_results

from pfn import curves
from pfn.configs import experiment_prior


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=[curves.DEFAULT_MODEL])
    parser.add_argument("--curves", type=int, default=1000)
    parser.add_argument("--points", type=int, default=100, help="observed values per curve")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    # Curves twice as long as what is observed: the forecast is for the final budget, beyond the observations.
    y = experiment_prior("lc_real").sample(args.curves, 2 * args.points, 1, torch.Generator().manual_seed(0)).y
    values = [row[: args.points].clamp(0, 1).tolist() for row in y]  # noisy values may stray past the bounds
    lines = [f"{args.curves} curves of {args.points} observed values each, forecast at budget {2 * args.points} "
             f"in one `extrapolate` call; median of {args.repeats} calls after a warm-up.", "",
             "| model | seconds per call | ms per curve |", "|---|---:|---:|"]  # fmt: skip
    for name in args.models:
        model = curves.load(name)
        curves.extrapolate(values, max_epochs=2 * args.points, model=model)  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            curves.extrapolate(values, max_epochs=2 * args.points, model=model)
            times.append(time.perf_counter() - start)
        t = statistics.median(times)
        lines.append(f"| {name} | {t:.3f} | {1e3 * t / args.curves:.3f} |")
        print(lines[-1], flush=True)
    print("\n".join(lines))
    write_results("bench_curves", "\n".join(lines), threads=1)


if __name__ == "__main__":
    main()
