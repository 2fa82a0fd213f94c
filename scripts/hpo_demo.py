"""A real hyperparameter search with and without learning-curve pruning.

    python scripts/hpo_demo.py [--sampler random|tpe] [--trials 40] [--seeds 3 4 5 6 7] [--max-epochs 30]

Task: an MLP on scikit-learn's digits (1797 8x8 images, bundled with scikit-learn), trained
epoch by epoch with SGD; validation accuracy is reported after every epoch. Random search (or,
with ``--sampler tpe``, Optuna's TPE) searches learning rate, momentum, width, weight decay
and batch size. For every seed, the same search runs with no pruning, with Optuna's MedianPruner,
with pfn's LearningCurvePruner (``--model``, a shipped learning-curve model), and with pfn's
SearchPruner (``--search-model``; its default threshold and min_epochs), which forecasts each trial from
every trial's curve of the study. Random search
proposes the same configurations in the same order whatever is pruned, so there the pruned and
unpruned searches differ only in which runs were stopped (LC-PFN's model-selection setting);
TPE adapts to what it has seen, so its searches diverge. Two comparisons:

- fixed budget: after ``--trials`` trials, total epochs, wall time, and the best final validation
  accuracy with its trial's test accuracy;
- equal score: the epochs each search spent until its best completed trial first reached the
  unpruned search's best validation accuracy (a pruned search may run up to ``--max-trials`` trials
  to get there); the ratio to the unpruned search's epochs is the saving at the same best score.

The default min_epochs (3) was chosen on seeds 0-2 with random search and the shipped ``lc-wide``, the
threshold (0.02, as LearningCurvePruner's default) on seeds 0-2 with both samplers and ``lc-real``; the
default seeds 3-7 are held out.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import optuna
import torch
from digits_mlp import DigitsMLP, digits
from results import write_results
from sklearn.model_selection import train_test_split

from pfn import curves
from pfn.pruners import LearningCurvePruner, SearchPruner

#: the searches run for every seed, in this order ("none" first: its best is the others' target)
PRUNERS = ("none", "median", "pfn-lc", "pfn-search")


def data(seed: int = 0):
    x, y = digits()
    idx = np.arange(len(y))
    train, rest = train_test_split(idx, test_size=0.4, random_state=seed, stratify=y)
    val, test = train_test_split(rest, test_size=0.5, random_state=seed, stratify=y[rest])
    return (x[train], y[train]), (x[val], y[val]), (x[test], y[test])


def make_objective(splits, max_epochs: int, counter: dict):
    (xt, yt), (xv, yv), (xs, ys) = splits

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
        momentum = trial.suggest_float("momentum", 0.0, 0.95)
        width = trial.suggest_int("width", 8, 256, log=True)
        weight_decay = trial.suggest_float("weight_decay", 1e-6, 1e-1, log=True)
        batch = trial.suggest_categorical("batch_size", [16, 64, 256])
        model = DigitsMLP(lr, momentum, width, weight_decay, batch, seed=trial.number)
        val = 0.0
        for epoch in range(1, max_epochs + 1):
            model.train_epoch(xt, yt)
            counter["epochs"] += 1
            val = model.accuracy(xv, yv)
            trial.report(val, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        trial.set_user_attr("test_accuracy", model.accuracy(xs, ys))
        return val

    return objective


def run(pruner_name: str, seed: int, args, model, search_model, target: float | None = None) -> dict:
    """One search: the first ``args.trials`` trials give the fixed-budget figures; with ``target``, the
    search goes on (up to ``args.max_trials``) until its best completed trial reaches it."""
    pruners = {
        "none": lambda: optuna.pruners.NopPruner(),
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=args.min_epochs),
        "pfn-lc": lambda: LearningCurvePruner(
            args.max_epochs, threshold=args.threshold, min_epochs=args.min_epochs, model=model
        ),  # fmt: skip
        "pfn-search": lambda: SearchPruner(args.max_epochs, model=search_model),
    }
    counter = {"epochs": 0}
    trajectory: list[tuple[int, float, int]] = []  # (epochs spent, best completed value, trials) after each trial

    def record(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        completed = [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        trajectory.append((counter["epochs"], max(completed, default=float("-inf")), len(study.trials)))

    def reached(goal: float) -> tuple[int | None, int]:
        """(epochs, trials) when the best completed value first reached ``goal``; (None, trials run) if never."""
        return next(((e, n) for e, best, n in trajectory if best >= goal), (None, len(trajectory)))

    samplers = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}
    study = optuna.create_study(direction="maximize", sampler=samplers[args.sampler](seed=seed),
                                pruner=pruners[pruner_name]())  # fmt: skip
    objective = make_objective(data(seed), args.max_epochs, counter)
    start = time.perf_counter()
    study.optimize(objective, n_trials=args.trials, callbacks=[record])
    best = study.best_trial
    result = {
        "epochs": counter["epochs"],
        "seconds": time.perf_counter() - start,
        "best_val": best.value,
        "best_test": best.user_attrs["test_accuracy"],
        "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
    }
    goal = best.value if target is None else target
    while reached(goal)[0] is None and len(study.trials) < args.max_trials:
        study.optimize(objective, n_trials=1, callbacks=[record])
    result["epochs_to_target"], result["trials_to_target"] = reached(goal)
    result["target"] = goal
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--max-trials", type=int, default=120, help="most trials a search may run to reach the target")
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5, 6, 7])
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--min-epochs", type=int, default=3)
    parser.add_argument("--threshold", type=float, default=0.02)
    parser.add_argument("--sampler", choices=["tpe", "random"], default="random")
    parser.add_argument("--model", default=curves.DEFAULT_MODEL, help="learning-curve model: shipped name or path")
    parser.add_argument("--search-model", default=curves.DEFAULT_SEARCH_MODEL, help="SearchPruner's model")
    parser.add_argument("--pruners", nargs="+", default=list(PRUNERS), choices=PRUNERS)
    parser.add_argument("--results-name", help="result file (default: hpo_demo, or hpo_demo_<sampler> for TPE); "
                        "another name keeps tuning runs out of the docs' tables")  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    model = curves.load(args.model) if "pfn-lc" in args.pruners else None
    search_model = curves.load_search_model(args.search_model) if "pfn-search" in args.pruners else None
    print(f"digits MLP, {args.trials} {args.sampler} trials of up to {args.max_epochs} epochs, seeds {args.seeds}; "
          f"LearningCurvePruner threshold {args.threshold}, min_epochs {args.min_epochs}")  # fmt: skip
    print("| pruner | seed | epochs | wall (s) | pruned trials | best val acc | its test acc |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    results: dict[str, list[dict]] = {p: [] for p in args.pruners}
    for seed in args.seeds:
        target = None
        for name in args.pruners:
            r = run(name, seed, args, model, search_model, target)
            target = r["target"] if name == "none" else target
            results[name].append(r)
            print(f"| {name} | {seed} | {r['epochs']} | {r['seconds']:.1f} | {r['pruned']} | {r['best_val']:.4f} "
                  f"| {r['best_test']:.4f} |", flush=True)  # fmt: skip
    summary = summarize(results, args)
    print("\n" + summary)
    default_name = "hpo_demo" if args.sampler == "random" else f"hpo_demo_{args.sampler}"
    write_results(args.results_name or default_name, summary, threads=1)


def summarize(results: dict[str, list[dict]], args) -> str:
    """The fixed-budget table and, with an unpruned search to compare with, the equal-score tables."""
    base = statistics.median(r["epochs"] for r in results.get("none", results[args.pruners[0]]))
    lines = [
        f"Digits MLP, {args.sampler} search, {args.trials} trials of up to {args.max_epochs} epochs, seeds "
        f"{' '.join(map(str, args.seeds))}; LearningCurvePruner threshold {args.threshold}, min_epochs "
        f"{args.min_epochs}, model `{args.model}`"
        + (f"; SearchPruner with its defaults, model `{args.search_model}`" if "pfn-search" in results else "")
        + f". Fixed budget ({args.trials} trials), medians over seeds:",
        "",
        "| pruner | median epochs | epochs saved vs none | median wall (s) | median best val acc | median test acc "
        "| seeds with a best at least the unpruned one |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rs in results.items():
        ep = statistics.median(r["epochs"] for r in rs)
        wall = statistics.median(r["seconds"] for r in rs)
        val = statistics.median(r["best_val"] for r in rs)
        test = statistics.median(r["best_test"] for r in rs)
        unpruned = results.get("none", rs)
        kept = sum(r["best_val"] >= u["best_val"] for r, u in zip(rs, unpruned, strict=True))
        lines.append(
            f"| {name} | {ep:.0f} | {base / ep:.2f}x | {wall:.1f} | {val:.4f} | {test:.4f} | {kept}/{len(rs)} |"
        )
    if "none" not in results:
        return "\n".join(lines)
    lines += [
        "",
        f"Equal score: epochs until the best trial reaches the unpruned best (at most {args.max_trials} trials):",
        "",
        "| seed | target val acc | " + " | ".join(f"{n} epochs (trials)" for n in args.pruners) + " |",
        "|---:|---:|" + "---:|" * len(args.pruners),
    ]
    for i, seed in enumerate(args.seeds):
        cells = [
            f"{results[n][i]['epochs_to_target']} ({results[n][i]['trials_to_target']})"
            if results[n][i]["epochs_to_target"] is not None
            else f"not reached ({results[n][i]['trials_to_target']})"
            for n in args.pruners
        ]
        lines.append(f"| {seed} | {results['none'][i]['target']:.4f} | " + " | ".join(cells) + " |")
    lines += ["", "| pruner | median saving at equal score | seeds where the target was reached |", "|---|---:|---:|"]
    for name in args.pruners:
        pairs = zip(results["none"], results[name], strict=True)
        ratios = [a["epochs_to_target"] / (b["epochs_to_target"] or float("inf")) for a, b in pairs]
        hit = sum(r["epochs_to_target"] is not None for r in results[name])
        lines.append(f"| {name} | {statistics.median(ratios):.2f}x | {hit}/{len(ratios)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
