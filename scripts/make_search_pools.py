"""Record real hyperparameter searches that can be replayed exactly: a fixed pool of MLP configurations per
task, each trained for the full budget with its validation curve kept.

    python scripts/make_search_pools.py                      # -> scripts/data/search_pools.json.gz (resumable)
    python scripts/make_search_pools.py --quick --out /tmp/pools.json.gz      # a smoke run (seconds)

Every task (a dataset of scripts/curve_learners.py: its fixed 70 / 30 split, standardised inputs) gets a pool
of ``--configs`` configurations drawn uniformly from the unit cube of SPACE, six hyperparameters of a torch MLP
trained by Adam on the cross-entropy, each for ``--epochs`` epochs, with the validation accuracy and log-loss
after every epoch. Learning rates span too small to unstable, so some runs stall, overfit or diverge (a
diverged run scores as uniform class probabilities from then on, as in the curve corpus). A search policy
(random order, TPE, pruners, freeze-thaw: scripts/bench_search.py) replays a pool: training configuration i
for t epochs "costs" t epochs and "observes" the recorded values, so every policy sees the same runs.

Determinism: configurations and training seeds follow from (--seed, task, index); one torch thread. The
output is extended run by run (saved every --save-every seconds and at the end), so an interrupted
generation resumes where it stopped.

File (gzip JSON): {"format", "space": [{"name", "low", "high", "scale", "integer"}], "generation": {"seed",
"epochs", "configs"}, "tasks": {task: {"split", "n_classes", "n_train", "n_val", "runs": [{"index", "unit"
(the configuration in [0, 1]^6), "hyperparameters", "accuracy", "log_loss", "diverged_at", "seconds"}]}}}.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from curve_learners import DATASET_BY_NAME, SPLIT_OF, prepare, run_torch, stable_seed

OUT = Path(__file__).resolve().parent / "data" / "search_pools.json.gz"
FORMAT = "search-pools/1"
#: classification tasks of the curve corpus: bundled datasets and synthetic tasks of varied difficulty
TASKS = [
    "wine",
    "breast_cancer",
    "digits",
    "make_classification:n_samples=1000,n_features=20,n_informative=5,n_redundant=5,n_classes=3,class_sep=1.0,"
    "flip_y=0.05,seed=3",
    "make_classification:n_samples=1200,n_features=15,n_informative=8,n_redundant=2,n_classes=6,class_sep=0.7,"
    "flip_y=0.05,seed=7",
    "make_moons:n_samples=1000,noise=0.35,seed=12",
]
#: the search space: each unit coordinate u maps to low..high, linearly or log-uniformly (integers rounded down
#: on equal cells)
SPACE = [
    {"name": "lr", "low": 1e-5, "high": 0.1, "scale": "log", "integer": False},
    {"name": "width", "low": 8, "high": 512, "scale": "log", "integer": True},
    {"name": "depth", "low": 1, "high": 4, "scale": "linear", "integer": True},
    {"name": "weight_decay", "low": 1e-6, "high": 0.1, "scale": "log", "integer": False},
    {"name": "batch_size", "low": 8, "high": 256, "scale": "log", "integer": True},
    {"name": "dropout", "low": 0.0, "high": 0.5, "scale": "linear", "integer": False},
]


def hyperparameters(unit: np.ndarray) -> dict[str, Any]:
    """The configuration at a point of the unit cube (see SPACE)."""
    out: dict[str, Any] = {}
    for u, p in zip(unit, SPACE, strict=True):
        lo, hi = float(p["low"]), float(p["high"])
        if p["integer"]:  # equal cells of the integers (of their logarithms for a log scale)
            if p["scale"] == "log":
                value = math.exp(math.log(lo) + u * (math.log(hi + 1) - math.log(lo)))
            else:
                value = lo + u * (hi + 1 - lo)
            out[p["name"]] = int(min(max(math.floor(value), lo), hi))
        elif p["scale"] == "log":
            out[p["name"]] = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        else:
            out[p["name"]] = lo + u * (hi - lo)
    return out


def one_run(task: str, index: int, args: argparse.Namespace, data: Any) -> dict[str, Any]:
    rng = np.random.default_rng(stable_seed("search-pool", args.seed, task, index))
    unit = rng.random(len(SPACE))
    hp = hyperparameters(unit)
    cfg = {**hp, "optimizer": "adam", "activation": "relu", "epochs": args.epochs,
           "batch_size": min(hp["batch_size"], len(data.yt))}  # fmt: skip
    start = time.perf_counter()
    curves = run_torch("mlp", cfg, data, stable_seed("search-pool-train", args.seed, task, index))
    return {
        "index": index, "unit": [round(float(u), 6) for u in unit], "hyperparameters": hp,
        "accuracy": [round(v, 6) for v in curves.values["accuracy"]],
        "log_loss": [round(v, 6) for v in curves.values["log_loss"]],
        "diverged_at": curves.diverged_at, "seconds": round(time.perf_counter() - start, 3),
    }  # fmt: skip


def write_atomic(path: Path, obj: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(gzip.compress(json.dumps(obj, separators=(",", ":")).encode(), mtime=0))
    os.replace(tmp, path)


def read_pools(path: str | Path) -> dict[str, Any]:
    """The pools file as a dict (see the module's description)."""
    with gzip.open(path, "rt") as f:
        return json.load(f)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--configs", type=int, default=64, help="configurations per task")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", nargs="+", default=TASKS)
    parser.add_argument("--quick", action="store_true", help="4 configurations of 5 epochs on 2 tasks")
    parser.add_argument("--save-every", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.quick:
        args.configs, args.epochs, args.tasks = 4, 5, args.tasks[:2]
    torch.set_num_threads(1)
    generation = {"seed": args.seed, "epochs": args.epochs, "configs": args.configs}
    pools: dict[str, Any] = {"format": FORMAT, "space": SPACE, "generation": generation, "tasks": {}}
    if args.out.exists():
        pools = read_pools(args.out)
        if pools.get("format") != FORMAT or pools.get("generation") != generation:
            raise SystemExit(f"{args.out} was made with other settings: choose another --out")
    saved = time.monotonic()
    for task in args.tasks:
        data = prepare(DATASET_BY_NAME[task], args.seed)
        entry = pools["tasks"].setdefault(task, {
            "split": SPLIT_OF[task], "n_classes": data.n_classes, "n_train": len(data.yt), "n_val": len(data.yv),
            "runs": [],
        })  # fmt: skip
        done = {r["index"] for r in entry["runs"]}
        for index in range(args.configs):
            if index in done:
                continue
            run = one_run(task, index, args, data)
            entry["runs"].append(run)
            entry["runs"].sort(key=lambda r: r["index"])
            print(f"{task[:40]} #{index}: final accuracy {run['accuracy'][-1]:.3f}, best "
                  f"{max(run['accuracy']):.3f} ({run['seconds']:.1f} s)", flush=True)  # fmt: skip
            if time.monotonic() - saved > args.save_every:
                write_atomic(args.out, pools)
                saved = time.monotonic()
    write_atomic(args.out, pools)
    print(f"wrote {args.out}: {sum(len(t['runs']) for t in pools['tasks'].values())} runs")


if __name__ == "__main__":
    main()
