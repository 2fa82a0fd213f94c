"""Time learning-curve forecasts: many curves in one `pfn.curves.extrapolate` call.

    python scripts/bench_curves.py [--models lc-real lc-wide] [--dtypes float32 bfloat16] [--curves 1000]
        [--points 100] [--repeats 7]

Curves of ``--points`` observed values (drawn from the lc_real prior, so the values look like real
runs), each forecast at its final budget, all in one call (the model batches them). Prints and writes
the median seconds per call and per curve over ``--repeats`` calls after one warm-up, on one thread, for
each model in each network dtype (``pfn.load(name, dtype=...)``; bfloat16 pays off on CPUs with bfloat16
instructions such as AVX-512 BF16 or Intel AMX), and the memory one call adds: each model and dtype runs in a fresh
subprocess, whose peak resident set size is read before and after its first call. The last column compares
the network pass of a one-shot ``predictor.predict`` (which encodes and decodes a group of curves at a time) with
``predictor.condition(...).predict(...)`` (which keeps every curve's keys and values) on the same inputs: the
median ratio of their times over ``--repeats`` interleaved pairs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
from results import write_results

import pfn
from pfn import curves
from pfn.configs import experiment_prior


def measure(name: str, dtype: str, num_curves: int, points: int, repeats: int) -> dict[str, float]:
    """Seconds per call (median), mean log-likelihood and the peak memory added by the first call (MiB)."""
    torch.set_num_threads(1)
    # Curves twice as long as what is observed: the forecast is for the final budget, beyond the observations.
    y = experiment_prior("lc_real").sample(num_curves, 2 * points, 1, torch.Generator().manual_seed(0)).y
    values = [row[:points].clamp(0, 1).tolist() for row in y]  # noisy values may stray past the bounds
    final = y[:, -1].clamp(1e-6, 1 - 1e-6).tolist()  # each curve's value at the forecast budget
    model = pfn.load(name, dtype=dtype)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    forecasts = curves.extrapolate(values, max_epochs=2 * points, model=model)  # also the warm-up
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    loglik = statistics.fmean(float(f.log_prob(v)[0]) for f, v in zip(forecasts, final, strict=True))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        curves.extrapolate(values, max_epochs=2 * points, model=model)
        times.append(time.perf_counter() - start)
    # the network pass alone: cached (condition, then predict) against one-shot, interleaved
    k = min(points, model.max_context or points)  # what extrapolate passes on (it thins longer curves)
    x = torch.linspace(0, 0.5, k).expand(num_curves, k)[..., None]
    u, xq = torch.as_tensor(values)[:, :k], torch.ones(num_curves, 1, 1)
    ratios = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.condition(x, u).predict(xq)
        middle = time.perf_counter()
        model.predict(x, u, xq)
        ratios.append((middle - start) / (time.perf_counter() - middle))
    return {"seconds": statistics.median(times), "loglik": loglik, "peak_mib": peak, "ratio": statistics.median(ratios)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=[curves.DEFAULT_MODEL])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    parser.add_argument("--curves", type=int, default=1000)
    parser.add_argument("--points", type=int, default=100, help="observed values per curve")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "DTYPE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one measurement, in a fresh process
        print(json.dumps(measure(*args.child, args.curves, args.points, args.repeats)))
        return
    lines = [f"{args.curves} curves of {args.points} observed values each, forecast at budget {2 * args.points} "
             f"in one `extrapolate` call (with the model's stored calibration, if it has one: lc-real); median of "
             f"{args.repeats} calls after a warm-up. Log-likelihood: the mean log density the forecast gives each "
             "curve's value at that budget (nats). Added memory: the rise of the peak resident set size of a fresh "
             "process over the first call. Cached / one-shot: see the script's docstring.", "",
             "| model | dtype | seconds per call | ms per curve | log-likelihood | added memory (MiB) "
             "| cached / one-shot |",
             "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, dtype in itertools.product(args.models, args.dtypes):
        child = [sys.executable, __file__, "--child", name, dtype, "--curves", str(args.curves),
                 "--points", str(args.points), "--repeats", str(args.repeats)]  # fmt: skip
        r = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        t = r["seconds"]
        lines.append(
            f"| {name} | {dtype} | {t:.3f} | {1e3 * t / args.curves:.3f} | {r['loglik']:.4f} | {r['peak_mib']:.0f} "
            f"| {r['ratio']:.2f} |"
        )
        print(lines[-1], flush=True)
    print("\n".join(lines))
    write_results("bench_curves", "\n".join(lines), threads=1)


if __name__ == "__main__":
    main()
