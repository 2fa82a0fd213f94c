"""How much a search model gains from the other runs of a search: final-value forecasts on recorded real searches.

    python scripts/eval_search.py [--pools scripts/data/search_pools.json.gz] [--others 20] [--repeats 3]
                                  [--model search] [--curve-model lc-wide]

For every run of every task of the pools file (scripts/make_search_pools.py: MLP runs with full validation
accuracy curves), ``--repeats`` times: ``--others`` other runs of the same task are drawn at random and observed
in full, and the run itself up to a cutoff (10%, 25%, 50% of its epochs). Its final accuracy is then forecast by

- ``search``: the search model (``--model``) conditioned on the other runs and the run's own prefix;
- ``search, own curve``: the same model conditioned on the run's prefix alone;
- ``single curve``: :func:`pfn.curves.extrapolate` with the single-curve model (``--curve-model``).

Scores per cutoff: mean log-likelihood of the true final accuracy (nats per curve, density of the forecast
censored at the bounds 0 and 1), its gain over the single-curve model with a standard error over curves, the
coverage of the 90% interval (``forecast.interval(0.9)``: the [5%, 95%] quantiles, or [10%, 100%] next to an
atom of at least 5% at accuracy 1; the true value inside, ends included), and the median
absolute error of the median. Writes docs/results/eval_search.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import statistics
from pathlib import Path

import numpy as np
import torch
from results import write_results

from pfn import curves

POOLS = Path(__file__).resolve().parent / "data" / "search_pools.json.gz"
CUTOFFS = (0.1, 0.25, 0.5)
METHODS = ("search", "search, own curve", "single curve")


def scores(forecast: curves.CurveForecast, truth: float) -> dict[str, float]:
    lo, hi = forecast.interval(0.9)
    return {
        "loglik": float(forecast.log_prob(truth)[-1]),
        "covered": float(lo[-1] <= truth <= hi[-1]),
        "abs_error": abs(float(forecast.median[-1]) - truth),
    }


def evaluate(pools: dict, args: argparse.Namespace) -> dict[float, dict[str, list[dict[str, float]]]]:
    out: dict[float, dict[str, list[dict[str, float]]]] = {c: {m: [] for m in METHODS} for c in CUTOFFS}
    for t, (name, task) in enumerate(pools["tasks"].items()):
        units = np.array([r["unit"] for r in task["runs"]])
        accuracy = np.array([r["accuracy"] for r in task["runs"]])
        n, epochs = accuracy.shape
        for i in range(n):
            for rep in range(args.repeats):
                rng = np.random.default_rng([args.seed, t, i, rep])
                others = rng.choice(np.delete(np.arange(n), i), size=min(args.others, n - 1), replace=False)
                truth = float(accuracy[i, -1])
                for cutoff in CUTOFFS:
                    k = max(1, round(cutoff * epochs))
                    prefix = accuracy[i, :k]
                    configs = np.vstack([units[others], units[i]])
                    search = curves.Search(configs, [*accuracy[others], prefix], max_epochs=epochs, model=args.model)
                    alone = curves.Search(units[i : i + 1], [prefix], max_epochs=epochs, model=args.model)
                    single = curves.extrapolate(prefix, max_epochs=epochs, model=args.curve_model)
                    assert isinstance(single, curves.CurveForecast)
                    for method, forecast in zip(METHODS, [search.forecast(units[i]), alone.forecast(units[i]), single],
                                                strict=True):  # fmt: skip
                        out[cutoff][method].append(scores(forecast, truth))
        print(f"{name}: done", flush=True)
    return out


def report(results: dict[float, dict[str, list[dict[str, float]]]], args: argparse.Namespace, tasks: int) -> str:
    n = len(results[CUTOFFS[0]][METHODS[0]])
    lines = [
        f"`python scripts/eval_search.py --others {args.others} --repeats {args.repeats} --model {args.model} "
        f"--curve-model {args.curve_model}`: {n} forecasts of a run's final validation accuracy per cutoff "
        f"({tasks} tasks of recorded MLP searches, every run {args.repeats} times with different other runs). "
        "Log-likelihood in nats per curve (higher is better); gain: over the single-curve model, +- one "
        "standard error over curves.",
        "",
        "| cutoff | method | log-likelihood | gain over single curve | 90% coverage | median abs. error |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for cutoff in CUTOFFS:
        base = np.array([s["loglik"] for s in results[cutoff]["single curve"]])
        for method in METHODS:
            rows = results[cutoff][method]
            ll = np.array([s["loglik"] for s in rows])
            diff = ll - base
            gain = "" if method == "single curve" else f"{diff.mean():+.3f} +- {diff.std(ddof=1) / math.sqrt(n):.3f}"
            lines.append(
                f"| {cutoff:.0%} | {method} | {ll.mean():.3f} | {gain} | "
                f"{statistics.mean(s['covered'] for s in rows):.3f} | "
                f"{statistics.median(s['abs_error'] for s in rows):.4f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pools", type=Path, default=POOLS)
    parser.add_argument("--others", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=curves.DEFAULT_SEARCH_MODEL)
    parser.add_argument("--curve-model", default=curves.DEFAULT_MODEL)
    parser.add_argument("--results-name", default="eval_search")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with gzip.open(args.pools, "rt") as f:
        pools = json.load(f)
    body = report(evaluate(pools, args), args, len(pools["tasks"]))
    print(body)
    write_results(args.results_name, body, threads=1)


if __name__ == "__main__":
    main()
