"""Generate a corpus of real learning curves, for developing and evaluating learning-curve forecasts.

    python scripts/make_curve_corpus.py                       # the full corpus -> scripts/data/curve_corpus.json.gz
    python scripts/make_curve_corpus.py --quick --out /tmp/curve_corpus_quick.json.gz    # a smoke run (~1 min)
    python scripts/make_curve_corpus.py --datasets iris 'make_moons:*' --out /tmp/part1.json.gz   # one chunk
    python scripts/make_curve_corpus.py --merge /tmp/part1.json.gz /tmp/part2.json.gz   # chunks -> --out
    python scripts/make_curve_corpus.py --list                # the datasets, their split and their learners

Every run trains one learner (scripts/curve_learners.py) on one dataset with hyperparameters drawn at
random, and records validation metrics after every budget: epochs (torch MLPs / residual MLPs / a CNN on
digits, scikit-learn SGD linear models), iterations (histogram and classic gradient boosting, forests by
their number of trees) or training-set sizes (k-NN, decision tree, forest, logistic / ridge regression,
refit on geometrically growing subsets). Learning rates and other settings span too small to too large,
so some runs stall, overfit or diverge. Each run gives one curve per metric: accuracy, error and
log-loss for classification, R^2 (clipped at 0) and MSE (of the standardised target) for regression.

Datasets: iris, wine, breast_cancer, digits and diabetes (bundled with scikit-learn; linnerud's 20
examples are too few) and 26 synthetic tasks named by generator, parameters and seed. Each dataset has a
fixed 70 / 30 train / validation split. The corpus is split BY DATASET into "tuning" and "heldout"
(~60 / 40 within each group of source and task, ordered by a hash of the name; see
``curve_learners.assign_splits`` and ``--list``): tune on one, report on the other.

Cost: lengths are drawn log-uniformly in [10, 1000] (epochs, iterations; trees up to 500) and cut so
that a run's estimated cost stays under --seconds-per-run on one CPU thread (a fixed cost model, so the
corpus does not depend on the machine's speed). The default generation (31 datasets, 3 runs per pair: 933
runs, ~2,400 curves) takes about 30-45 minutes on one free CPU thread. ``--quick``: 12 epochs / iterations,
10 sizes, small nets; all datasets in about a minute.

Determinism and chunks: a run's hyperparameters and seeds follow from (--seed, dataset, learner, run
index) alone, training uses one torch thread and one OpenMP / BLAS thread, and curves are stored sorted, so
the same runs give the same bytes (on the same software stack) whichever chunk or order produced them. An
existing --out is extended: runs already in it are kept and skipped (append mode, keyed by run id; --fresh
starts over), and progress is saved every --save-every seconds, so an interrupted generation resumes where
it stopped. Chunks made with the same --seed, --quick and --seconds-per-run merge into one corpus with --merge.

File (gzip-compressed JSON): {"format", "description", "generation": {"seed", "quick", "seconds_per_run"},
"split_rule", "metrics": {name: {"direction", "bounds"}}, "datasets": {name: {"source", "task", "split",
"n_samples", "n_features", "n_classes", "params"}}, "curves": [...]}. Each curve: "id" (run/metric), "run"
(dataset/learner/index), "dataset", "source", "task", "split", "learner", "index", "kind"
(epoch / iteration / sample), "hyperparameters", "seed", "budgets" (the x values, strictly increasing),
"values", "metric", "direction", "bounds" ([lower, upper], null for open), "diverged_at" (the first budget at
which the run had diverged: non-finite parameters, or a regression MSE above 1e4; from there on its values
are those of uniform probabilities / the training mean; else null), "n_train", "n_val". Read it with
``curve_learners.load_corpus(path, split=, kind=, metric=)``.
"""

from __future__ import annotations

import argparse
import fnmatch
import gzip
import json
import os
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from curve_learners import (
    DATASETS,
    LEARNERS,
    METRICS,
    SPLIT_OF,
    TUNING_SHARE,
    Data,
    DatasetSpec,
    Learner,
    prepare,
    read_corpus,
    stable_seed,
)
from threadpoolctl import threadpool_limits

OUT = Path(__file__).resolve().parent / "data" / "curve_corpus.json.gz"
FORMAT = "curve-corpus/1"
SPLIT_RULE = (
    f"by dataset: within each (source, task) group, datasets ordered by sha256('curve-corpus/' + name); "
    f"the first round({TUNING_SHARE} n) are tuning, the rest heldout"
)
METRIC_ORDER = {m: i for i, m in enumerate(METRICS)}
Run = tuple[DatasetSpec, Learner, int]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT, help="output file (.json.gz); extended if it exists")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=None, help="runs per (learner, dataset); default 3, quick 1")
    parser.add_argument("--quick", action="store_true", help="short curves and small models, for smoke tests")
    parser.add_argument("--datasets", nargs="+", default=["*"], help="dataset names or shell patterns")
    parser.add_argument("--learners", nargs="+", default=list(LEARNERS), choices=list(LEARNERS), metavar="LEARNER")
    parser.add_argument("--seconds-per-run", type=float, default=20.0, help="estimated cost cap of one run")
    parser.add_argument("--save-every", type=float, default=300.0, help="seconds between progress saves")
    parser.add_argument("--fresh", action="store_true", help="overwrite --out instead of extending it")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="FILE", help="merge these corpus files into --out")
    parser.add_argument("--list", action="store_true", help="list the datasets and learners, then exit")
    parser.add_argument("--quiet", action="store_true", help="no line per run")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    return args


def select_datasets(patterns: list[str]) -> list[DatasetSpec]:
    chosen = []
    for pattern in patterns:
        matches = [d for d in DATASETS if fnmatch.fnmatchcase(d.name, pattern)]
        if not matches:
            raise SystemExit(f"no dataset matches {pattern!r}; see --list")
        chosen += [d for d in matches if d not in chosen]
    return chosen


def plan(datasets: list[DatasetSpec], learners: list[str], runs: int) -> list[Run]:
    return [(d, LEARNERS[name], i) for d in datasets for name in learners if LEARNERS[name].applies_to(d)
            for i in range(runs)]  # fmt: skip


def run_id(spec: DatasetSpec, learner: Learner, index: int) -> str:
    return f"{spec.name}/{learner.name}/{index}"


def generation(args: argparse.Namespace) -> dict[str, Any]:
    """The settings a corpus's curves depend on; files agreeing on them can be merged."""
    return {"seed": args.seed, "quick": bool(args.quick), "seconds_per_run": float(args.seconds_per_run)}


def tidy(value: Any) -> Any:
    """Plain JSON types; floats to 6 significant digits."""
    if isinstance(value, dict):
        return {k: tidy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [tidy(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    return float(f"{float(value):.6g}")


def do_run(spec: DatasetSpec, learner: Learner, index: int, data: Data, args: argparse.Namespace) -> list[dict]:
    """One run: draw hyperparameters, train, and return its curves (one per metric)."""
    rid = run_id(spec, learner, index)
    seed = stable_seed(args.seed, rid)
    cfg = learner.config(np.random.default_rng(seed), data, args.quick, args.seconds_per_run)
    curves = learner.run(cfg, data, seed)
    hyper = {k: v for k, v in cfg.items() if k != "sizes"}  # sizes are the budgets
    out = []
    for metric, values in curves.values.items():
        direction, bounds = METRICS[metric]
        out.append({
            "id": f"{rid}/{metric}", "run": rid, "dataset": spec.name, "source": spec.source, "task": spec.task,
            "split": SPLIT_OF[spec.name], "learner": learner.name, "index": index, "kind": learner.kind,
            "hyperparameters": tidy(hyper), "seed": seed, "budgets": curves.budgets, "values": tidy(values),
            "metric": metric, "direction": direction, "bounds": list(bounds), "diverged_at": curves.diverged_at,
            "n_train": len(data.yt), "n_val": len(data.yv),
        })  # fmt: skip
    return out


def dataset_info(spec: DatasetSpec, data: Data) -> dict[str, Any]:
    return {"source": spec.source, "task": spec.task, "split": SPLIT_OF[spec.name],
            "n_samples": len(data.yt) + len(data.yv), "n_features": int(data.xt.shape[1]),
            "n_classes": data.n_classes, "params": tidy(spec.params)}  # fmt: skip


def sort_key(curve: dict) -> tuple:
    return curve["dataset"], curve["learner"], curve["index"], METRIC_ORDER[curve["metric"]]


def corpus(gen: dict[str, Any], datasets: dict[str, dict], curves: list[dict]) -> dict[str, Any]:
    used = sorted({c["dataset"] for c in curves})
    return {
        "format": FORMAT,
        "description": "validation-metric learning curves of real training runs (epoch-, iteration- and "
        "sample-wise) on scikit-learn's bundled and synthetic datasets; made by scripts/make_curve_corpus.py",
        "generation": gen,
        "split_rule": SPLIT_RULE,
        "metrics": {m: {"direction": d, "bounds": list(b)} for m, (d, b) in METRICS.items()},
        "datasets": {name: datasets[name] for name in used},
        "curves": sorted(curves, key=sort_key),
    }


def write_atomic(path: Path, obj: dict[str, Any]) -> None:
    """Gzip-compressed JSON (no timestamp in the header, so equal content gives equal bytes), via temp + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(gzip.compress(json.dumps(obj, separators=(",", ":")).encode(), mtime=0))
    os.replace(tmp, path)


def read_existing(path: Path, gen: dict[str, Any]) -> tuple[dict[str, dict], list[dict]]:
    old = read_corpus(path)
    if old.get("format") != FORMAT or old.get("generation") != gen:
        raise SystemExit(f"{path} was made with other settings ({old.get('generation')}, not {gen}): "
                         "pass --fresh to overwrite it or choose another --out")  # fmt: skip
    return old["datasets"], old["curves"]


def merge(paths: list[Path], out: Path) -> dict[str, Any]:
    """One corpus from several made with the same settings; a run in several files must agree."""
    parts = [read_corpus(p) for p in paths]
    gens = {json.dumps(p["generation"], sort_keys=True) for p in parts}
    if len(gens) != 1 or any(p.get("format") != FORMAT for p in parts):
        raise SystemExit(f"cannot merge files made with different settings: {sorted(gens)}")
    datasets: dict[str, dict] = {}
    curves: dict[str, dict] = {}
    for part in parts:
        datasets.update(part["datasets"])
        for c in part["curves"]:
            if c["id"] in curves and curves[c["id"]] != c:
                raise SystemExit(f"curve {c['id']} differs between the files")
            curves[c["id"]] = c
    merged = corpus(parts[0]["generation"], datasets, list(curves.values()))
    write_atomic(out, merged)
    return merged


def generate(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Run every planned run not already in --out; returns the corpus and this call's seconds per learner."""
    gen = generation(args)
    datasets: dict[str, dict] = {}
    curves: list[dict] = []
    if args.out.exists() and not args.fresh:
        datasets, curves = read_existing(args.out, gen)
    done = {c["run"] for c in curves}
    todo = [r for r in plan(select_datasets(args.datasets), args.learners, args.runs) if run_id(*r) not in done]
    seconds: dict[str, list[float]] = defaultdict(list)
    last_save, cache = time.perf_counter(), {}
    try:
        for k, (spec, learner, index) in enumerate(todo, start=1):
            if spec.name not in cache:
                cache = {spec.name: prepare(spec, args.seed)}  # the plan is ordered by dataset
                datasets[spec.name] = dataset_info(spec, cache[spec.name])
            t0 = time.perf_counter()
            new = do_run(spec, learner, index, cache[spec.name], args)
            seconds[learner.name].append(time.perf_counter() - t0)
            curves += new
            if not args.quiet:
                print(f"[{k}/{len(todo)}] {run_id(spec, learner, index)}: {len(new[0]['budgets'])} {learner.kind}s, "
                      f"final {new[0]['metric']} {new[0]['values'][-1]:.3f} ({seconds[learner.name][-1]:.1f} s)",
                      flush=True)  # fmt: skip
            if time.perf_counter() - last_save > args.save_every:
                write_atomic(args.out, corpus(gen, datasets, curves))
                last_save = time.perf_counter()
    except KeyboardInterrupt:
        write_atomic(args.out, corpus(gen, datasets, curves))
        raise SystemExit(f"interrupted; {len({c['run'] for c in curves})} runs saved to {args.out}") from None
    result = corpus(gen, datasets, curves)
    write_atomic(args.out, result)
    return result, seconds


def counts(curves: list[dict], key: str) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(Counter(str(c[key]) for c in curves).items()))


def summary(result: dict[str, Any], seconds: dict[str, list[float]] | None = None) -> str:
    curves = result["curves"]
    runs = {c["run"]: c for c in curves}
    lengths = np.array([len(c["budgets"]) for c in runs.values()])
    splits = defaultdict(set)
    for name, info in result["datasets"].items():
        splits[info["split"]].add(name)
    lines = [f"{len(curves)} curves from {len(runs)} runs on {len(result['datasets'])} datasets "
             f"({', '.join(f'{s}: {len(n)}' for s, n in sorted(splits.items()))})"]  # fmt: skip
    if not curves:
        return lines[0]
    for key in ("split", "source", "task", "kind", "learner", "metric"):
        lines.append(f"  per {key}: {counts(curves, key)}")
    bins = [(10, 19), (20, 49), (50, 99), (100, 199), (200, 499), (500, 1000)]
    hist = ", ".join(f"{lo}-{hi}: {int(((lengths >= lo) & (lengths <= hi)).sum())}" for lo, hi in bins)
    q = np.quantile(lengths, [0, 0.25, 0.5, 0.75, 1]).astype(int)
    lines.append(f"  budgets per run: min {q[0]}, q25 {q[1]}, median {q[2]}, q75 {q[3]}, max {q[4]}; {hist}")
    diverged = [c for c in runs.values() if c["diverged_at"] is not None]
    lines.append(f"  diverged runs: {len(diverged)} ({counts(diverged, 'learner') or 'none'})")
    if seconds:
        total = sum(sum(s) for s in seconds.values())
        per = ", ".join(f"{k} {sum(s):.0f} s / {len(s)} runs" for k, s in sorted(seconds.items()))
        lines.append(f"  this call: {sum(len(s) for s in seconds.values())} runs in {total:.0f} s ({per})")
    return "\n".join(lines)


def list_datasets() -> None:
    for spec in DATASETS:
        learners = [n for n, lr in LEARNERS.items() if lr.applies_to(spec)]
        print(f"{SPLIT_OF[spec.name]:8s} {spec.source:9s} {spec.task:14s} {spec.name}  [{' '.join(learners)}]")


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    args = parse_args(argv)
    if args.list:
        list_datasets()
        return None
    if args.merge:
        result, seconds = merge(args.merge, args.out), None
    else:
        torch.set_num_threads(1)
        with threadpool_limits(1):  # scikit-learn's OpenMP / BLAS threads
            result, seconds = generate(args)
    print(summary(result, seconds))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
