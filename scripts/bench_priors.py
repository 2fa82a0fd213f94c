"""Prior sampling speed, and its share of a training step, for each experiment's default config.

    python scripts/bench_priors.py [--threads 2] [--repeats 7]

For every experiment (gp_1d, gp_hyper, bnn, lc) at its training shape, prints datasets/s
sampled from the prior (median over repeats), the time of one training step of that
experiment's model without sampling, and sampling's share of a whole step.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from hydra.utils import instantiate
from results import write_results

from pfn.configs import compose_train_config
from pfn.model.bar_distribution import BarDistribution
from pfn.training.module import instantiate_module

EXPERIMENTS = ["gp_1d", "gp_hyper", "bnn", "lc"]


def median_seconds(fn, repeats: int, inner: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def bench(experiment: str, repeats: int) -> tuple[int, int, float, float]:
    cfg = compose_train_config(experiment, ["paths.output_dir=/tmp/bench"])
    dm = instantiate(cfg.data)
    stream = dm.training_stream()
    batches = iter(stream)
    sample = median_seconds(lambda: next(batches), repeats, 10)

    module = instantiate_module(
        cfg.model, output=BarDistribution.from_samples(dm.sample_batch(256).y, cfg.model.net.num_bins)
    )
    opt = torch.optim.AdamW(module.parameters(), lr=1e-4)
    fixed = [next(batches) for _ in range(8)]
    k = iter(range(10**9))

    def step():
        loss = module._nll(fixed[next(k) % 8])
        loss.backward()
        opt.step()
        opt.zero_grad()

    train_step = median_seconds(step, repeats, 5)
    return dm.batch_size, dm.num_points, sample, train_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lines = [
        f"Median of {args.repeats} repeats; each experiment's training batch shape and default model.",
        "",
        "| experiment | prior | batch | datasets/s | sampling (ms/batch) | training step w/o sampling (ms) "
        "| sampling share |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    print("\n".join(lines))
    for exp in EXPERIMENTS:
        b, n, sample, step = bench(exp, args.repeats)
        prior = compose_train_config(exp).prior._target_.split(".")[-1]
        lines.append(f"| {exp} | {prior} | {b} x {n} | {b / sample:.0f} | {sample * 1e3:.1f} | {step * 1e3:.1f} "
                     f"| {sample / (sample + step):.1%} |")  # fmt: skip
        print(lines[-1], flush=True)
    write_results("bench_priors", "\n".join(lines), threads=args.threads)


if __name__ == "__main__":
    main()
