"""Training throughput of a recipe on this machine's CPU, where the time goes, and how close to peak.

    python scripts/bench_train.py [--threads 1 2] [--steps 40] [--repeats 5] [overrides ...]

Times full training steps (prior sampling, forward, backward, gradient clipping and AdamW step) of
the `gp_1d` experiment (or the Hydra overrides given) and prints, per thread count, the median over
repeats of: datasets/s and tokens/s; each phase's share of a step; the model's achieved GFLOP/s
(analytic count of the matmul and attention FLOPs, backward = 2 x forward) beside the measured peak
of a float32 matrix multiply on the same threads.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from pfn.model.bar_distribution import BarDistribution

PHASES = ("sample", "forward", "backward", "optimizer")


def matmul_peak_gflops(size: int = 1024, repeats: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - t0) / 1e9


def step_flops(cfg, n_ctx: float, m: float) -> float:
    """Training FLOPs of one step, counting multiply-adds of projections, MLPs, attention and head."""
    net = cfg.model.net
    d, f, k, layers, b = net.d_model, net.d_ff, net.num_bins, net.n_layers, cfg.data.batch_size
    c = n_ctx + 1  # context tokens, with the empty token
    per_layer = c * (4 * d * d + 2 * d * f) + m * (2 * d * d + 2 * d * f) + 2 * c * c * d + 2 * m * c * d
    last_layer_saving = c * (2 * d * d + 2 * d * f) + 2 * c * c * d  # the last layer only makes keys/values
    forward_macs = b * (layers * per_layer - last_layer_saving + m * d * k)
    return 3 * 2 * forward_macs  # 2 FLOPs per multiply-add; backward costs twice the forward


def measure(cfg, steps: int) -> dict[str, float]:
    """Seconds per step spent in each phase."""
    dm = instantiate(cfg.data)
    module = instantiate(cfg.model, output=BarDistribution.from_samples(dm.sample_batch(256).y, cfg.model.net.num_bins))
    opt = torch.optim.AdamW(module.parameters(), lr=1e-4)
    stream = dm.training_stream()
    batches = iter(stream)
    spent = dict.fromkeys(PHASES, 0.0)
    for i in range(steps + 3):  # 3 warm-up steps
        t0 = time.perf_counter()
        batch = next(batches)
        t1 = time.perf_counter()
        loss = module._nll(batch)
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        t4 = time.perf_counter()
        if i >= 3:
            for phase, dt in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                spent[phase] += dt / steps
    return spent


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
    mean_ctx = (cfg.data.min_context + cfg.data.max_context) / 2
    flops = step_flops(cfg, mean_ctx, n - mean_ctx)
    net = cfg.model.net
    print(f"batch {b} x {n} points, d_model {net.d_model}, {net.n_layers} layers, d_ff {net.d_ff}, "
          f"{net.num_bins} bins; {flops / 1e9:.2f} GFLOP per step (mean context size); "
          f"median of {args.repeats} x {args.steps} steps")  # fmt: skip
    print("| threads | step (ms) | datasets/s | datasets/s per thread | tokens/s | sample | forward | backward "
          "| optimizer | model GFLOP/s | matmul peak GFLOP/s | share of peak |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        runs = [measure(cfg, args.steps) for _ in range(args.repeats)]
        phase = {p: statistics.median(r[p] for r in runs) for p in PHASES}
        step = statistics.median(sum(r.values()) for r in runs)
        peak = statistics.median(matmul_peak_gflops() for _ in range(3))
        achieved = flops / step / 1e9
        shares = " | ".join(f"{phase[p] / step:.0%}" for p in PHASES)
        print(f"| {threads} | {step * 1e3:.1f} | {b / step:.0f} | {b / step / threads:.0f} | {b * n / step:.0f} | "
              f"{shares} | {achieved:.1f} | {peak:.1f} | {achieved / peak:.0%} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
