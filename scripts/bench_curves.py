"""Time learning-curve forecasts: many curves in one `pfn.curves.extrapolate` call.

    python scripts/bench_curves.py [--models lc-real lc-wide] [--dtypes float32 bfloat16] [--curves 1000]
        [--points 100] [--repeats 7]

Curves of ``--points`` observed values (drawn from the lc_real prior, so the values look like real
runs), each forecast at its final budget, all in one call (the model batches them). Prints and writes
the median seconds per call and per curve over ``--repeats`` calls after one warm-up, on one thread, for
each model in each network dtype (``pfn.load(name, dtype=...)``; bfloat16 pays off on CPUs with bfloat16
matrix units such as Intel AMX).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import torch
from results import write_results

import pfn
from pfn import curves
from pfn.configs import experiment_prior


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=[curves.DEFAULT_MODEL])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    parser.add_argument("--curves", type=int, default=1000)
    parser.add_argument("--points", type=int, default=100, help="observed values per curve")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    # Curves twice as long as what is observed: the forecast is for the final budget, beyond the observations.
    y = experiment_prior("lc_real").sample(args.curves, 2 * args.points, 1, torch.Generator().manual_seed(0)).y
    values = [row[: args.points].clamp(0, 1).tolist() for row in y]  # noisy values may stray past the bounds
    final = y[:, -1].clamp(1e-6, 1 - 1e-6).tolist()  # each curve's value at the forecast budget
    lines = [f"{args.curves} curves of {args.points} observed values each, forecast at budget {2 * args.points} "
             f"in one `extrapolate` call (with the model's stored calibration, if it has one: lc-real); median of "
             f"{args.repeats} calls after a warm-up. Log-likelihood: the mean log density the forecast gives each "
             "curve's value at that budget (nats).", "",
             "| model | dtype | seconds per call | ms per curve | log-likelihood |",
             "|---|---|---:|---:|---:|"]  # fmt: skip
    for name, dtype in itertools.product(args.models, args.dtypes):
        model = pfn.load(name, dtype=dtype)
        forecasts = curves.extrapolate(values, max_epochs=2 * args.points, model=model)  # also the warm-up
        loglik = statistics.fmean(float(f.log_prob(v)[0]) for f, v in zip(forecasts, final, strict=True))
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            curves.extrapolate(values, max_epochs=2 * args.points, model=model)
            times.append(time.perf_counter() - start)
        t = statistics.median(times)
        lines.append(f"| {name} | {dtype} | {t:.3f} | {1e3 * t / args.curves:.3f} | {loglik:.4f} |")
        print(lines[-1], flush=True)
    print("\n".join(lines))
    write_results("bench_curves", "\n".join(lines), threads=1)


if __name__ == "__main__":
    main()
