"""A PFN against the NUTS posterior predictive of the BNN prior it was trained on, per context size.

    python scripts/eval_nuts.py                      # both reference models, 16 datasets per context size
    python scripts/eval_nuts.py --tasks regression --datasets 4 --context-sizes 5 20   # a quick look

The models are trained on small fixed-architecture BNN priors that NUTS can sample
(`pfn train experiment=bnn_nuts`, `experiment=bnn_nuts_classification`). For each context size, fresh
datasets from the prior (seeds the training never used) are split into context and queries; the table gives
the mean NLL per query point of the PFN, of NUTS (``pfn.evaluation.nuts``) and, for regression, of a GP fitted
by marginal likelihood, the PFN's paired gap to NUTS with its standard error over datasets, and the wall time per
dataset of each on one CPU thread (NUTS: warm-up and sampling of all chains; PFN: conditioning and predicting).
Writes docs/results/eval_nuts.md (``--results-name``). The NUTS reference is kept in outputs/eval_nuts/, dataset by
dataset, keyed by the prior and the settings (not the PFN): a rerun resumes where a crash stopped it, and a
retrained PFN is scored in seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

# one CPU thread for every library, set before they load
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from results import write_results

import pfn
from pfn.evaluation import prior_of
from pfn.evaluation.gp_baseline import FittedGP
from pfn.evaluation.nuts import SmallBNN, nuts_predictive
from pfn.evaluation.scoring import Split, held_out_split

MODELS = {
    "regression": "outputs/bnn_nuts/model.safetensors",
    "classification": "outputs/bnn_nuts_classification/model.safetensors",
}
#: held-out datasets are drawn from this seed on, far from the training streams' seeds
EVAL_SEED = 10_000
#: finished context sizes are kept here, so that a rerun with the same arguments resumes after a crash
CACHE = Path("outputs/eval_nuts")


def nuts_reference(
    task: str, n: int, bnn: SmallBNN, split: Split, settings: dict[str, Any], args: argparse.Namespace
) -> list[dict[str, float]]:
    """Per dataset: NUTS's (and for regression the ML-II GP's) NLL, NUTS's seconds and R-hat. They depend on
    the data and the sampler settings, not on the PFN, so they are kept in outputs/eval_nuts/ one dataset at
    a time: a retrained PFN is scored against them at once, and a crash loses at most one dataset."""
    x_ctx, y_ctx, x_qry, y_qry = split
    cached = CACHE / f"{task}_{n}_reference.json"
    kept = json.loads(cached.read_text()) if cached.exists() else None
    rows: list[dict[str, float]] = kept["datasets"] if kept is not None and kept["settings"] == settings else []
    for i in range(len(rows), args.datasets):
        ref = nuts_predictive(bnn, x_ctx[i].double().numpy(), y_ctx[i].numpy(), x_qry[i].double().numpy(),
                              args.warmup, args.samples, args.chains, seed=i)  # fmt: skip
        row = {"nuts": -float(ref.log_prob(y_qry[i].numpy()).mean()), "nuts_s": ref.seconds, "rhat": ref.max_rhat}
        if task == "regression" and n >= 2:
            gp = FittedGP(x_ctx[i : i + 1], y_ctx[i : i + 1]).predict(x_qry[i : i + 1])
            row["gp"] = -float(gp.log_prob(y_qry[i : i + 1].double()).mean())
        rows.append(row)
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_text(json.dumps({"settings": settings, "datasets": rows}))
        tmp.replace(cached)  # atomic: a kill mid-write leaves the previous file
    return rows


def evaluate_task(task: str, model: str, args: argparse.Namespace) -> list[dict[str, float]]:
    predictor = pfn.load(model)
    prior = prior_of(predictor)
    description = prior.describe()
    bnn = SmallBNN.from_description(description)
    settings = {k: getattr(args, k) for k in ("datasets", "queries", "features", "warmup", "samples", "chains")}
    settings["prior"] = json.loads(json.dumps(description, default=str))  # the data the reference is of
    rows = []
    for n in args.context_sizes:
        gen = torch.Generator().manual_seed(EVAL_SEED + n)
        split = held_out_split(prior, n, args.datasets, args.queries, args.features, 0, gen)
        reference = nuts_reference(task, n, bnn, split, settings, args)
        x_ctx, y_ctx, x_qry, y_qry = split
        pfn_nll, pfn_s = [], []
        for i in range(args.datasets):
            start = time.perf_counter()
            pred = predictor.condition(x_ctx[i], y_ctx[i]).predict(x_qry[i])
            log_prob = torch.as_tensor(pred.log_prob(y_qry[i])).double()
            pfn_s.append(time.perf_counter() - start)
            pfn_nll.append(-float(log_prob.mean()))
        nuts_nll = np.array([r["nuts"] for r in reference])
        gaps = np.array(pfn_nll) - nuts_nll
        row = {
            "n": n,
            "pfn": float(np.mean(pfn_nll)),
            "nuts": float(nuts_nll.mean()),
            "gp": float(np.mean([r["gp"] for r in reference])) if "gp" in reference[0] else math.nan,
            "gap": float(gaps.mean()),
            "gap_se": float(gaps.std(ddof=1) / math.sqrt(len(gaps))),
            "pfn_s": statistics.median(pfn_s),
            "nuts_s": statistics.median(r["nuts_s"] for r in reference),
            "rhat": max(r["rhat"] for r in reference),
        }
        rows.append(row)
        print(task, {k: round(v, 4) for k, v in row.items()}, flush=True)
    return rows


def table(task: str, rows: list[dict[str, float]], args: argparse.Namespace) -> str:
    gp = task == "regression"
    head = "| context | PFN NLL | NUTS NLL | PFN - NUTS (± s.e.) |" + (" GP ML-II NLL |" if gp else "")
    head += " NUTS s / dataset | PFN ms / dataset | speed-up | max R-hat |"
    lines = [head, "|" + "---:|" * (head.count("|") - 1)]
    for r in rows:
        gp_cell = f" {r['gp']:.3f} |" if gp else ""
        lines.append(
            f"| {r['n']} | {r['pfn']:.3f} | {r['nuts']:.3f} | {r['gap']:+.3f} ± {r['gap_se']:.3f} |{gp_cell}"
            f" {r['nuts_s']:.1f} | {1e3 * r['pfn_s']:.1f} | {r['nuts_s'] / r['pfn_s']:,.0f}x | {r['rhat']:.3f} |"
        )
    what = "regression (NLL per query point, nats)" if gp else "classification (log loss per query point, nats)"
    return (
        f"**{task.capitalize()}**: {what}; {args.datasets} datasets per context size, {args.queries} queries each; "
        f"NUTS {args.chains} chains of {args.warmup} warm-up and {args.samples} draws.\n\n" + "\n".join(lines)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", choices=sorted(MODELS), default=sorted(MODELS, reverse=True))
    parser.add_argument("--datasets", type=int, default=16)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--features", type=int, default=2)
    parser.add_argument("--context-sizes", type=int, nargs="+", default=[5, 10, 20, 50])
    parser.add_argument("--warmup", type=int, default=400)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--results-name", default="eval_nuts")
    args = parser.parse_args()
    torch.set_num_threads(1)
    parts = []
    for task in args.tasks:
        model = MODELS[task]
        if not Path(model).exists():
            raise SystemExit(f"{model} is missing: train it with `pfn train experiment={Path(model).parent.name}`")
        parts.append(table(task, evaluate_task(task, model, args), args))
    write_results(args.results_name, "\n\n".join(parts), threads=1)


if __name__ == "__main__":
    main()
