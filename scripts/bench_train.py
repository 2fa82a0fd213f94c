"""Training throughput of the gp_1d recipe on this machine's CPU.

    python scripts/bench_train.py [--threads 1 2] [--steps 40] [--repeats 5]

Times full training steps (prior sampling, forward, backward, AdamW step) of the
default model (`model=small`) on the `gp_1d` data shape, and prints the median
datasets/s and tokens/s over repeats, with the share of time spent sampling the prior.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from pfn.data.prior_stream import PriorStream
from pfn.model.bar_distribution import BarDistribution


def measure(cfg, steps: int) -> tuple[float, float]:
    """Seconds per step for a full training step, and for prior sampling alone."""
    dm = instantiate(cfg.data)
    bar = BarDistribution.from_samples(dm.sample_batch(256).y, cfg.model.net.num_bins)
    module = instantiate(cfg.model, output=bar)
    opt = torch.optim.AdamW(module.parameters(), lr=1e-4)
    stream = PriorStream(dm.prior, dm.batch_size, dm.num_points, dm.num_features, dm.min_context, dm.max_context, 0)
    batches = iter(stream)
    for _ in range(3):  # warm-up
        loss = module._nll(next(batches))
        loss.backward()
        opt.step()
        opt.zero_grad()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = module._nll(next(batches))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
    step = (time.perf_counter() - t0) / steps
    t0 = time.perf_counter()
    for _ in range(steps):
        next(batches)
    return step, (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model.net.d_model=256")
    args = parser.parse_args()
    with initialize_config_module("pfn.configs", version_base="1.3"):
        cfg = compose("train", overrides=["experiment=gp_1d", "paths.output_dir=/tmp/bench", *args.overrides])
    b, n = cfg.data.batch_size, cfg.data.num_points
    print(f"gp_1d: batch {b} x {n} points, d_model {cfg.model.net.d_model}, {cfg.model.net.n_layers} layers, "
          f"{cfg.model.net.num_bins} bins; median of {args.repeats} x {args.steps} steps")  # fmt: skip
    print("| threads | step (ms) | datasets/s | datasets/s per thread | tokens/s | prior sampling share |")
    print("|---:|---:|---:|---:|---:|---:|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        runs = [measure(cfg, args.steps) for _ in range(args.repeats)]
        step = statistics.median(r[0] for r in runs)
        sample = statistics.median(r[1] for r in runs)
        print(f"| {threads} | {step * 1e3:.1f} | {b / step:.0f} | {b / step / threads:.0f} | {b * n / step:.0f} "
              f"| {sample / step:.1%} |")  # fmt: skip


if __name__ == "__main__":
    main()
