"""Time to quality: the NLL gap to the exact GP after a fixed budget of 1-thread CPU training.

    python scripts/time_to_quality.py --minutes 5 [--minutes 15] [--datasets 512]

Measures this machine's training rate for the gp_1d recipe (1 thread), sets trainer.max_steps so
the run (and its cosine schedule) ends when the budget is spent, trains with `pfn train`, and
reports the mean NLL gap to the exact GP posterior over context sizes 1 to 100.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import torch

import pfn
from pfn.configs import compose_train_config
from pfn.evaluation.evaluate import evaluate, prior_of

CONTEXT_SIZES = [1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 100]


def steps_per_second(overrides: list[str]) -> float:
    sys.path.insert(0, "scripts")
    from bench_train import measure

    torch.set_num_threads(1)
    cfg = compose_train_config("gp_1d", ["paths.output_dir=/tmp/ttq", *overrides])
    return 1 / sum(measure(cfg, 30).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[5.0, 15.0])
    parser.add_argument("--datasets", type=int, default=512)
    parser.add_argument("--overrides", nargs="*", default=[], help="extra Hydra overrides")
    args = parser.parse_args()
    rate = steps_per_second(args.overrides)
    print(f"measured {rate:.2f} training steps/s on 1 thread", flush=True)
    rows = []
    for minutes in args.minutes:
        steps = int(rate * 60 * minutes)
        name = f"ttq_{minutes:g}min"
        seconds = int(60 * minutes)
        max_time = f"00:00:{seconds // 60:02d}:{seconds % 60:02d}"  # hard stop at the budget
        cmd = ["pfn", "train", "experiment=gp_1d", f"trainer.max_steps={steps}", f"+trainer.max_time={max_time}",
               f"name={name}", "num_threads=1",
               "overwrite=true", "logger=csv", "trainer.enable_progress_bar=false", *args.overrides]  # fmt: skip
        print("$", " ".join(cmd), flush=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pfn.cli", *cmd[1:]], check=True, capture_output=True)
        wall = time.perf_counter() - start
        predictor = pfn.load(f"outputs/{name}/model.safetensors")
        fit_seconds = predictor.config["training"]["wall_seconds_last_fit"]
        report = evaluate(predictor, prior_of(predictor, "gp_1d"), CONTEXT_SIZES, args.datasets)
        trained = predictor.config["training"]["steps"]
        rows.append((minutes, steps, trained, fit_seconds, wall, report.mean_gap, report.mean_coverage[0.9]))
        print(report.to_markdown(), flush=True)
    print("\n| budget | planned steps | trained steps | training time (s) | wall incl. start-up (s) "
          "| mean NLL gap, contexts 1-100 | 90% coverage |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for minutes, steps, trained, fit, wall, gap, cov in rows:
        print(f"| {minutes:g} min | {steps} | {trained} | {fit:.0f} | {wall:.0f} | {gap:+.4f} | {cov:.3f} |")


if __name__ == "__main__":
    main()
