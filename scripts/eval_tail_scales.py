"""Tails fitted per context size against the default tails, on held-out datasets of each model's own prior.

    python scripts/eval_tail_scales.py [--models bo gp-hyper bnn tabular-regressor] [--datasets 2048]

For each model that carries fitted tails (pfn.model.tail_scales) and each context size they cover: the
mean log-likelihood gain of the fitted tails per held-out target (paired by dataset, +- one standard
error over datasets) and the 90% and 95% coverage with each. The same network outputs are scored both
ways: only the tails differ. Writes docs/results/eval_tail_scales.md.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys

import torch
from results import write_results

import pfn
from pfn.evaluation.evaluate import prior_of
from pfn.evaluation.scoring import held_out_split, interval_hits

QUERIES = 50


def compare(name: str, num_datasets: int, seed: int) -> list[str]:
    """Table rows for one model: each context size its tails cover."""
    model = pfn.load(name)
    scales = model.output.tail_scales
    if scales is None:
        return [f"| {name} | — | no fitted tails | | | |"]
    prior = prior_of(model)
    length = int(model.config["training"]["num_points"])
    rows = []
    for n in scales.context_sizes:
        gen = torch.Generator().manual_seed(seed + n)
        x, y, xq, yq = held_out_split(prior, n, num_datasets, QUERIES, model.num_features, length, gen)
        model.output.tail_scales = scales
        fitted = model.predict(x, y, xq)
        model.output.tail_scales = None
        default = model.predict(x, y, xq)
        gain = torch.as_tensor(fitted.log_prob(yq) - default.log_prob(yq)).double().mean(1)
        se = float(gain.std()) / math.sqrt(gain.numel())
        hits = [interval_hits(p, yq) for p in (default, fitted)]  # every level's interval, once per predictive
        cover = {k: [float(h[k].double().mean()) for h in hits] for k in (0.9, 0.95)}
        left, right = scales.factors(n)
        rows.append(
            f"| {name} | {n} | x{left:g} / x{right:g} | {float(gain.mean()):+.4f} +- {se:.4f} | "
            f"{cover[0.9][0]:.3f} -> {cover[0.9][1]:.3f} | {cover[0.95][0]:.3f} -> {cover[0.95][1]:.3f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["bo", "gp-hyper", "bnn", "tabular-regressor"])
    parser.add_argument("--datasets", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    command = "python scripts/eval_tail_scales.py " + shlex.join(sys.argv[1:])
    lines = [
        f"`{command.strip()}`: {args.datasets} held-out datasets of each model's prior per context size, "
        f"{QUERIES} held-out points each (functions of the model's full input width). Gain: the mean log-likelihood "
        "per held-out target of the fitted tails over the default ones, +- one standard error over datasets.",
        "",
        "| model | context | tail factors (left / right) | log-likelihood gain | 90% coverage (default -> fitted) | "
        "95% coverage |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for name in args.models:
        lines += compare(name, args.datasets, args.seed)
    text = "\n".join(lines) + "\n"
    print(text)
    write_results("eval_tail_scales", text, threads=1)


if __name__ == "__main__":
    main()
