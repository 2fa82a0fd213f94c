"""Replayed hyperparameter searches: pruners and the freeze-thaw scheduler on recorded pools of real runs.

    python scripts/bench_search.py [--pools scripts/data/search_pools.json.gz] [--seeds 10] [--trials 40]
                                   [--samplers random tpe] [--model search] [--curve-model lc-wide]

Each task of the pools file (scripts/make_search_pools.py) is a fixed pool of MLP configurations with full
validation-accuracy curves. A search replays it: "training configuration i for t epochs" costs t epochs and
reveals the recorded values, so every method sees exactly the same runs and a seed's searches differ only in
what their method decides. Methods:

- Optuna studies, each configuration reporting its accuracy after every epoch and
  asking the pruner at epochs CHECKS: no pruning (``none``), Optuna's MedianPruner (``median``, 5 startup
  trials, 3 warm-up epochs), SuccessiveHalvingPruner (``asha``) and HyperbandPruner (``hyperband``, min
  resource 1), pfn's LearningCurvePruner (``curve``, each curve alone, ``--curve-model``) and SearchPruner
  (``search``, every trial's curve, ``--model``); both pfn pruners at their default threshold (0.02 and 0.1) and
  min_epochs (5 and 4) unless ``--threshold`` or ``--min-epochs`` is given, the single-curve one on its
  model's own forecasts unless ``--curve-calibration auto`` (the calibration stored in the model). The sampler proposes
  in the unit cube of the pool's space: ``random`` takes the pool in a seeded random order; ``tpe`` (Optuna's
  TPESampler, seeded) proposes a point and replays the nearest configuration of the pool not yet tried.
  The unpruned study runs ``--trials`` trials; its epochs are the budget of every other method, so a pruned
  study goes on with more trials until it has spent as many epochs (or tried the whole pool).
- ``freeze-thaw``: :func:`pfn.curves.freeze_thaw` over the whole pool (2 epochs per decision, one initial
  run, seeded), with the epochs of the unpruned random search as its total budget.

Per task, method and sampler, over ``--seeds`` seeds: the epochs each search spent until a run trained to
the full budget first reached the best final accuracy of the unpruned search with the same seed and sampler
(the ratio to the unpruned search's epochs is the saving; "kept best" counts the seeds where it got there at
all), and the regret (best final accuracy in the pool minus the best final accuracy among runs trained to the
full budget) after 25%, 50% and 100% of the unpruned search's epochs. Writes docs/results/bench_search.md.

``--forecast-speed`` times :meth:`pfn.curves.Search.forecast` instead: a history of 2,000 observed points (50
runs of 40 epochs, 6 hyperparameters) forecast for 100 configurations at their final epoch, building the
``Search`` (checks, thinning to the model's context, encoding it) included; median of ``--repeats`` on one
thread. Writes docs/results/bench_search_speed.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import shlex
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from results import write_results

from pfn import curves
from pfn.pruners import LearningCurvePruner, SearchPruner

POOLS = Path(__file__).resolve().parent / "data" / "search_pools.json.gz"
#: the epochs after which a trial asks its pruner (the same for every pruner)
CHECKS = (1, 2, 3, 4, 6, 8, 12, 16, 20, 25, 30, 35)
SHARES = (0.25, 0.5, 1.0)
PRUNERS = ("none", "median", "asha", "hyperband", "curve", "search")


class Replay:
    """One task's pool: configurations in [0, 1]^h, curves (configs, epochs); spends and logs epochs."""

    def __init__(self, task: dict[str, Any]):
        runs = task["runs"]
        self.units = np.array([r["unit"] for r in runs])
        self.curves = np.array([r["accuracy"] for r in runs])
        self.max_epochs = self.curves.shape[1]
        self.spent = 0
        self.completed: list[tuple[int, float]] = []  # (epochs spent when it finished, final value)
        self.after_trials: tuple[int, float] | None = None  # (epochs spent, best final) after --trials trials

    @property
    def best_possible(self) -> float:
        return float(self.curves[:, -1].max())

    def observe(self, index: int, epoch: int) -> float:
        """Train run ``index`` through ``epoch`` (one more epoch); a run reaching the full budget completes."""
        self.spent += 1
        value = float(self.curves[index, epoch - 1])
        if epoch == self.max_epochs:
            self.completed.append((self.spent, value))
        return value

    def epochs_to_reach(self, target: float) -> float:
        return next((spent for spent, v in self.completed if v >= target - 1e-12), float("inf"))

    def best_within(self, epochs: float) -> float:
        return max((v for spent, v in self.completed if spent <= epochs), default=0.0)


def make_pruner(name: str, max_epochs: int, args: argparse.Namespace) -> optuna.pruners.BasePruner:
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=3)
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs)
    if name == "curve":
        calibration = None if args.curve_calibration == "none" else "auto"
        return LearningCurvePruner(max_epochs=max_epochs, model=args.curve_model, calibration=calibration,
                                   **pfn_pruner_settings(args))  # fmt: skip
    return SearchPruner(max_epochs=max_epochs, model=args.model, **pfn_pruner_settings(args))


def pfn_pruner_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The pfn pruners' threshold and min_epochs where given on the command line (else each pruner's default)."""
    return {k: v for k, v in (("threshold", args.threshold), ("min_epochs", args.min_epochs)) if v is not None}


def study_search(replay: Replay, sampler: str, pruner: str, seed: int, budget: int, args: argparse.Namespace) -> None:
    """An Optuna study over the pool, pruned by ``pruner``, until it has spent ``budget`` epochs (or tried
    every configuration); the trial running when the budget runs out stops there."""
    h = replay.units.shape[1]
    space = {f"u{j}": optuna.distributions.FloatDistribution(0.0, 1.0) for j in range(h)}
    order = np.random.default_rng(seed).permutation(len(replay.units))
    tried: set[int] = set()
    study = optuna.create_study(
        study_name=f"{sampler}-{pruner}-seed{seed}",  # HyperbandPruner assigns brackets by hashing the name
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed) if sampler == "tpe" else optuna.samplers.RandomSampler(seed),
        pruner=make_pruner(pruner, replay.max_epochs, args),
    )
    for n in range(len(replay.units)):
        if replay.spent >= budget:
            break
        if sampler == "random":
            study.enqueue_trial({f"u{j}": float(replay.units[order[n], j]) for j in range(h)})
        trial = study.ask(space)
        point = np.array([trial.params[f"u{j}"] for j in range(h)])
        free = [i for i in range(len(replay.units)) if i not in tried]
        index = free[int(np.argmin(((replay.units[free] - point) ** 2).sum(axis=1)))]
        tried.add(index)
        pruned = False
        for epoch in range(1, replay.max_epochs + 1):
            trial.report(replay.observe(index, epoch), epoch)
            if (epoch in CHECKS and trial.should_prune()) or replay.spent >= budget and epoch < replay.max_epochs:
                pruned = True
                break
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, float(replay.curves[index, -1]))
        if n + 1 == min(args.trials, len(replay.units)):
            replay.after_trials = (replay.spent, replay.best_within(float("inf")))


def freeze_thaw_search(replay: Replay, seed: int, budget: int, args: argparse.Namespace) -> None:
    def train(index: int, epochs: int, state: Any) -> tuple[list[float], int]:
        start = state or 0
        return [replay.observe(index, e) for e in range(start + 1, start + epochs + 1)], start + epochs

    curves.freeze_thaw(train, replay.units, replay.max_epochs, budget, step=2, model=args.model, seed=seed)


def run_task(task: dict[str, Any], args: argparse.Namespace) -> dict[tuple[str, str], list[dict[str, float]]]:
    rows: dict[tuple[str, str], list[dict[str, float]]] = {}
    for sampler in args.samplers:
        for seed in range(args.seeds):
            base = Replay(task)
            total = min(args.trials, len(base.units)) * base.max_epochs
            study_search(base, sampler, "none", seed, total, args)
            target = base.best_within(float("inf"))
            methods = [p for p in args.pruners] + (["freeze-thaw"] if sampler == "random" else [])
            for method in methods:
                start = time.perf_counter()
                replay = base if method == "none" else Replay(task)
                if method == "freeze-thaw":
                    freeze_thaw_search(replay, seed, total, args)
                elif method != "none":
                    study_search(replay, sampler, method, seed, total, args)
                key = ("random", "freeze-thaw") if method == "freeze-thaw" else (sampler, method)
                spent, best = replay.after_trials or (math.nan, math.nan)
                rows.setdefault(key, []).append({
                    "trials_epochs": spent / total,
                    "trials_kept": float(best >= target - 1e-12) if not math.isnan(best) else math.nan,
                    "epochs_to_best": replay.epochs_to_reach(target) / total,
                    "epochs": replay.spent / total,
                    **{f"regret_{s}": replay.best_possible - replay.best_within(s * total) for s in SHARES},
                    "seconds": time.perf_counter() - start,
                })  # fmt: skip
    return rows


def report(results: dict[str, dict[tuple[str, str], list[dict[str, float]]]], args: argparse.Namespace) -> str:
    lines = [
        f"`python scripts/bench_search.py {shlex.join(sys.argv[1:])}`: replayed searches over recorded pools of MLP "
        f"runs; medians over {args.seeds} seeds. *Epochs for {args.trials} trials*: what a study spent on its first "
        f"{args.trials} trials (the unpruned study's trials, in the same order under random search), as a share of "
        "the unpruned study's epochs; *same best*: seeds where those trials still include the unpruned study's best "
        "final accuracy. *Epochs to best*: epochs until a fully trained run reached the unpruned study's best final "
        "accuracy, a study going on past its trials with the unpruned study's epochs as budget (inf: never); "
        "*reached*: seeds where it got there. *Regret at x%*: best final accuracy of the pool minus the best final "
        "accuracy of runs completed within x% of the unpruned study's epochs.",
        "",
        f"| task | sampler | method | epochs for {args.trials} trials | same best | epochs to best | reached | "
        "regret at 25% | regret at 50% | regret at 100% | seconds per search |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for task, rows in results.items():
        for (sampler, method), runs in rows.items():
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            reached = sum(np.isfinite(r["epochs_to_best"]) for r in runs)
            same = sum(r["trials_kept"] == 1 for r in runs)
            at_trials = "—" if math.isnan(med["trials_epochs"]) else f"{med['trials_epochs']:.2f}"
            lines.append(
                f"| {task[:28]} | {sampler} | {method} | {at_trials} | "
                f"{'—' if at_trials == '—' else f'{same}/{len(runs)}'} | {med['epochs_to_best']:.2f} | "
                f"{reached}/{len(runs)} | {med['regret_0.25']:.3f} | {med['regret_0.5']:.3f} | "
                f"{med['regret_1.0']:.3f} | {med['seconds']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def forecast_speed(args: argparse.Namespace) -> str:
    rng = np.random.default_rng(0)
    configs, queries = rng.random((50, 6)), rng.random((100, 6))
    values = np.sort(rng.uniform(0.2, 0.9, (50, 40)), axis=1)
    curves.Search(configs, values, max_epochs=40, model=args.model).forecast(queries)  # load and warm up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        forecast = curves.Search(configs, values, max_epochs=40, model=args.model).forecast(queries)
        forecast.median  # noqa: B018 - the statistics a user reads
        times.append(time.perf_counter() - start)
    search = curves.Search(configs, values, max_epochs=40, model=args.model)
    return (
        f"`python scripts/bench_search.py --forecast-speed --model {args.model} --repeats {args.repeats}`: "
        f"a history of {search.num_points} observed points (50 runs x 40 epochs, 6 hyperparameters), thinned to "
        f"the model's context of {len(search.context()[0])} points, forecast for 100 configurations.\n\n"
        "| history | configurations | median ms per forecast (Search built, conditioned, predicted) |\n"
        "|---:|---:|---:|\n"
        f"| {search.num_points} | 100 | {1000 * statistics.median(times):.1f} |\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pools", type=Path, default=POOLS)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--samplers", nargs="+", default=["random", "tpe"], choices=["random", "tpe"])
    parser.add_argument("--pruners", nargs="+", default=list(PRUNERS), choices=PRUNERS)
    parser.add_argument("--tasks", nargs="+", help="default: every task of the pools file")
    parser.add_argument("--model", default=curves.DEFAULT_SEARCH_MODEL, help="the search model")
    parser.add_argument("--curve-model", default=curves.DEFAULT_MODEL, help="the single-curve model")
    parser.add_argument("--curve-calibration", choices=["auto", "none"], default="none",
                        help="the single-curve pruner's calibration: none (its default) or the model's")  # fmt: skip
    parser.add_argument("--threshold", type=float, help="both pfn pruners' threshold (default: theirs, 0.02 and 0.1)")
    parser.add_argument("--min-epochs", type=int, help="both pfn pruners' min_epochs (default: theirs, 5 and 4)")
    parser.add_argument("--results-name", default="bench_search")
    parser.add_argument("--forecast-speed", action="store_true", help="time Search.forecast instead")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.forecast_speed:
        body = forecast_speed(args)
        print(body)
        write_results(f"{args.results_name}_speed", body, threads=1)
        return
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    with gzip.open(args.pools, "rt") as f:
        pools = json.load(f)
    results = {}
    for name in args.tasks or list(pools["tasks"]):
        start = time.perf_counter()
        results[name] = run_task(pools["tasks"][name], args)
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    body = report(results, args)
    print(body)
    write_results(args.results_name, body, threads=1)


if __name__ == "__main__":
    main()
