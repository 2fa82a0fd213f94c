"""Training throughput of a recipe on a CPU or a GPU, where the time goes, and how close to peak.

    python scripts/bench_train.py [--threads 1 2] [--steps 40] [--repeats 5] [overrides ...]
    python scripts/bench_train.py --device cuda --precision bf16-mixed --compile --sample-on-device experiment=gp_hyper

Times full training steps (prior sampling, forward, backward, gradient clipping and AdamW step) of
the `gp_1d` experiment (or the Hydra overrides given) and prints, per thread count, the median over
repeats of: datasets/s and tokens/s; each phase's share of a step; the model's achieved GFLOP/s
(analytic count of the matmul and attention FLOPs, backward = 2 x forward) beside the measured peak
of a matrix multiply on the same device in the dtype of the chosen precision (float32, TF32 off, for
32-true; bfloat16 for bf16-mixed), and their ratio, the model FLOP utilisation (MFU).

--precision bf16-mixed runs the forward pass and loss under bfloat16 autocast, as Lightning does.
--compile compiles the transformer as `model.compile=true` does; the warm-up steps go through every
recompilation (empty context, one context point, one query) before timing starts.
--sample-on-device draws each step's datasets on the device from its recipe, as
`data.sample_on_device=true` does; without it they are drawn on the CPU and copied to the device,
and the copy counts as sampling. On a GPU the phases are separated by synchronising the device.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator

import torch
from hydra.utils import instantiate
from results import write_results

from pfn.configs import compose_train_config
from pfn.data.datamodule import PriorDataModule
from pfn.model.bar_distribution import BarDistribution
from pfn.training.module import instantiate_module

PHASES = ("sample", "forward", "backward", "optimizer")
PRECISIONS = {"32-true": torch.float32, "bf16-mixed": torch.bfloat16}


def clock(device: torch.device) -> float:
    """Seconds, once the device has finished the work queued so far."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def matmul_peak_gflops(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> float:
    """Measured GFLOP/s of a large square matrix multiply in ``dtype`` on ``device``, as a linear layer
    computes it (on CPUs without native bfloat16 that path is many times faster than ``a @ b``)."""
    device = torch.device(device)
    size, repeats = (8192, 20) if device.type == "cuda" else (1024, 10)
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    torch.nn.functional.linear(a, b)
    t0 = clock(device)
    for _ in range(repeats):
        torch.nn.functional.linear(a, b)
    return 2 * size**3 * repeats / (clock(device) - t0) / 1e9


def step_flops(cfg, n_ctx: float, m: float) -> float:
    """Training FLOPs of one step, counting multiply-adds of projections, MLPs, attention and head."""
    net = cfg.model.net
    d, f, k, layers, b = net.d_model, net.d_ff, net.num_bins, net.n_layers, cfg.data.batch_size
    c = n_ctx + 1  # context tokens, with the empty token
    per_layer = c * (4 * d * d + 2 * d * f) + m * (2 * d * d + 2 * d * f) + 2 * c * c * d + 2 * m * c * d
    last_layer_saving = c * (2 * d * d + 2 * d * f) + 2 * c * c * d  # the last layer only makes keys/values
    forward_macs = b * (layers * per_layer - last_layer_saving + m * d * k)
    return 3 * 2 * forward_macs  # 2 FLOPs per multiply-add; backward costs twice the forward


def warmup_contexts(cfg) -> list[int]:
    """Context sizes that make ``torch.compile`` specialise (0 or 1 context points, one query) and a typical one."""
    lo, hi = cfg.data.min_context, cfg.data.max_context
    return sorted({lo, min(lo + 1, hi), (lo + hi) // 2, max(hi - 1, lo), hi})


def batches(dm: PriorDataModule, device: torch.device) -> Iterator[dict]:
    """The training stream's batches on ``device``: drawn there from recipes, or on the CPU and copied."""
    stream = dm.training_stream()
    for item in stream:
        if dm.sample_on_device:
            yield stream.draw(item, device)
        else:
            yield {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in item.items()}


def measure(cfg, steps: int, device: str = "cpu", precision: str = "32-true") -> dict[str, float]:
    """Seconds per step spent in each phase, after warm-up steps."""
    device = torch.device(device)
    dm = instantiate(cfg.data)
    output = BarDistribution.from_samples(dm.sample_batch(256).y, cfg.model.net.num_bins)
    module = instantiate_module(cfg.model, output=output).to(device)
    module.setup("fit")  # compiles the transformer when model.compile=true
    opt = torch.optim.AdamW(module.parameters(), lr=1e-4)
    stream = batches(dm, device)
    warmup = warmup_contexts(cfg) if cfg.model.get("compile") else [None] * 3
    spent = dict.fromkeys(PHASES, 0.0)
    for i in range(len(warmup) + steps):
        t0 = clock(device)
        batch = next(stream)
        if i < len(warmup) and warmup[i] is not None:
            batch["num_context"] = warmup[i]
        t1 = clock(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
            loss = module._nll(batch)
        t2 = clock(device)
        loss.backward()
        t3 = clock(device)
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        t4 = clock(device)
        if i >= len(warmup):
            for phase, dt in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                spent[phase] += dt / steps
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", help="CPU threads (default: 1 2 on a CPU, all on a GPU)")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, ...")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default="32-true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the transformer (model.compile=true)")
    parser.add_argument("--compile-backend", default="inductor", help="e.g. aot_eager to check --compile quickly")
    parser.add_argument("--sample-on-device", action="store_true", help="draw datasets on the device")
    parser.add_argument(
        "--results-name",
        help="docs/results/NAME.md (default: bench_train, with the device, precision and compile on a GPU)",
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model.net.d_model=256")
    args = parser.parse_args()
    device = torch.device(args.device)
    threads = args.threads or ([1, 2] if device.type == "cpu" else [torch.get_num_threads()])
    chosen = [o.split("=", 1)[1] for o in args.overrides if o.startswith("experiment=")]
    overrides = [o for o in args.overrides if not o.startswith("experiment=")]
    flags = [f"model.compile={str(args.compile).lower()}", f"model.compile_backend={args.compile_backend}",
             f"data.sample_on_device={str(args.sample_on_device).lower()}"]  # fmt: skip
    cfg = compose_train_config(chosen[-1] if chosen else "gp_1d", ["paths.output_dir=/tmp/bench", *flags, *overrides])
    b, n = cfg.data.batch_size, cfg.data.num_points
    mean_ctx = (cfg.data.min_context + cfg.data.max_context) / 2
    flops = step_flops(cfg, mean_ctx, n - mean_ctx)
    net = cfg.model.net
    lines = [f"{args.precision}, compile {args.compile}"
          f"{f' ({args.compile_backend})' if args.compile else ''}, sample on device {args.sample_on_device}; "
          f"batch {b} x {n} points, d_model {net.d_model}, {net.n_layers} layers, d_ff {net.d_ff}, "
          f"{net.num_bins} bins; {flops / 1e9:.2f} GFLOP per step (mean context size); "
          f"median of {args.repeats} x {args.steps} steps", "",
             "| threads | step (ms) | datasets/s | datasets/s per thread | tokens/s | sample | forward | backward "
             "| optimizer | model GFLOP/s | matmul peak GFLOP/s | MFU |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    print("\n".join(lines), flush=True)
    for count in threads:
        torch.set_num_threads(count)
        torch.manual_seed(0)
        runs = [measure(cfg, args.steps, args.device, args.precision) for _ in range(args.repeats)]
        phase = {p: statistics.median(r[p] for r in runs) for p in PHASES}
        step = statistics.median(sum(r.values()) for r in runs)
        peak = statistics.median(matmul_peak_gflops(device, PRECISIONS[args.precision]) for _ in range(3))
        achieved = flops / step / 1e9
        shares = " | ".join(f"{phase[p] / step:.0%}" for p in PHASES)
        lines.append(f"| {count} | {step * 1e3:.1f} | {b / step:.0f} | {b / step / count:.0f} | {b * n / step:.0f} | "
                     f"{shares} | {achieved:.1f} | {peak:.1f} | {achieved / peak:.1%} |")  # fmt: skip
        print(lines[-1], flush=True)
    variant = "" if device.type == "cpu" else f"_{device.type}_{args.precision}{'_compile' if args.compile else ''}"
    write_results(args.results_name or f"bench_train{variant}", "\n".join(lines), threads=None, device=args.device)


if __name__ == "__main__":
    main()
