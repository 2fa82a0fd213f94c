"""Prediction latency against context size and query count, with and without a cached context.

    python scripts/bench_inference.py [--checkpoint PATH] [--threads 1] [--repeats 15]

Uncached: ``predictor.predict(x_train, y_train, x_test)`` (encodes the context every call).
Cached: ``conditioned.predict(x_test)`` after ``conditioned = predictor.condition(x_train, y_train)``.
Without --checkpoint, uses the default gp_1d architecture with random weights (latency does not
depend on the weights). Prints medians over repeats, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from results import write_results

import pfn
from pfn.checkpoint import save_checkpoint
from pfn.model import BarDistribution, PFNTransformer


def default_checkpoint() -> Path:
    torch.manual_seed(0)
    net = PFNTransformer(num_features=1, num_bins=1000)
    bar = BarDistribution.from_samples(torch.randn(100_000), 1000)
    return save_checkpoint(Path(tempfile.mkdtemp()) / "bench.safetensors", net, bar, prior={"name": "random"})


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--contexts", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--queries", type=int, nargs="+", default=[1, 100, 1000])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    predictor = pfn.load(args.checkpoint or default_checkpoint())
    cfg = predictor.net.config()
    lines = [f"d_model {cfg['d_model']}, {cfg['n_layers']} layers, {cfg['num_bins']} bins; median of {args.repeats} "
             "calls computing the predictive mean; one dataset per call; cached: the context encoded once by "
             "`condition`.", "",
             "| context | queries | uncached (ms) | cached (ms) | speed-up |",
             "|---:|---:|---:|---:|---:|"]  # fmt: skip
    print("\n".join(lines))
    rng = np.random.default_rng(0)
    for n in args.contexts:
        x, y = rng.random(n), rng.normal(size=n)
        conditioned = predictor.condition(x, y)
        for m in args.queries:
            q = rng.random(m)
            uncached = median_ms(lambda: predictor.predict(x, y, q).mean, args.repeats)  # noqa: B023
            cached = median_ms(lambda: conditioned.predict(q).mean, args.repeats)  # noqa: B023
            lines.append(f"| {n} | {m} | {uncached:.2f} | {cached:.2f} | {uncached / cached:.1f}x |")
            print(lines[-1], flush=True)
    write_results("bench_inference", "\n".join(lines), threads=args.threads)


if __name__ == "__main__":
    main()
