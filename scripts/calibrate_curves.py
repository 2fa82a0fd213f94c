"""Fit a curve model's calibration on the tuning part of the real-curve corpus and store it in the model.

    python scripts/calibrate_curves.py [--model lc-real] [--out pretrained/lc-real.safetensors]

Every tuning curve of `scripts/data/curve_corpus.json.gz` with a metric of its own (accuracy and R^2,
bounded; log loss and MSE, open: a run's error curve is 1 - its accuracy curve and would count it
twice) is cut after each observed fraction 0.05, 0.10, ..., 0.95 and forecast at its last budget
(sample-wise curves on the log budget axis); the model's PITs of the final values give one map per
group and fraction (`pfn.curves.Calibration.fit`). The maps are written into the checkpoint's config
(`curve_calibration`), with the same weights, so `pfn.curves` applies them by default. Nothing of the
held-out part is used: `scripts/eval_curve_corpus.py` scores the result there.

The table (docs/results/calibrate_curves.md) shows, per group and a few fractions, the tuning runs'
PIT quantiles: where the 5%, 25%, 50%, 75% and 95% points of the final values fell in the model's
predictive (a calibrated model gives 0.05 / 0.25 / 0.5 / 0.75 / 0.95).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from curve_learners import load_corpus
from results import write_results
from safetensors.torch import load_file

from pfn import curves
from pfn.checkpoint import read_config, write_checkpoint
from pfn.curves.calibration import CONFIG_KEY
from pfn.pretrained import resolve

CORPUS = Path(__file__).parent / "data" / "curve_corpus.json.gz"
METRICS = ("accuracy", "r2", "log_loss", "mse")
SHOWN = (0.1, 0.25, 0.5, 0.8)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def runs_of(corpus: list[dict]) -> list[dict]:
    return [
        {"values": c["values"], "epochs": c["budgets"], "direction": c["direction"], "bounds": tuple(c["bounds"]),
         "budget_scale": "log" if c["kind"] == "sample" else "linear"}
        for c in corpus
    ]  # fmt: skip


def table(cal: curves.Calibration) -> str:
    lines = [
        f"**{cal.description}** PIT quantiles of the tuning runs' final values under the uncalibrated model "
        "(a calibrated model gives 0.05 / 0.25 / 0.50 / 0.75 / 0.95), and the runs behind each map:",
        "",
        "| group | observed fraction | runs | " + " | ".join(f"PIT {q:.0%}" for q in QUANTILES) + " |",
        "|---|---:|---:|" + "---:|" * len(QUANTILES),
    ]
    for group, maps in cal.maps.items():
        for r in SHOWN:
            j = int(np.abs(cal.cutoffs - r).argmin())
            inverse = np.interp(QUANTILES, maps[j], cal.levels)  # R^-1: where the q-th final value fell
            lines.append(f"| {group} | {cal.cutoffs[j]:.2f} | {cal.counts[group][j]} | "
                         + " | ".join(f"{v:.3f}" for v in inverse) + " |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lc-real", help="curve model to calibrate (name or path)")
    parser.add_argument("--out", help="checkpoint to write (default: the model's own file)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results-name", default="calibrate_curves")
    args = parser.parse_args()
    torch.set_num_threads(1)
    source = resolve(args.model)
    tuning = [c for m in METRICS for c in load_corpus(CORPUS, "tuning", metric=m)]
    datasets = len({c["dataset"] for c in tuning})
    description = (f"Fitted on {len(tuning)} tuning curves of the real-curve corpus ({datasets} datasets; accuracy, "
                   "R^2, log loss, MSE), cut at observed fractions 0.05 to 0.95.")  # fmt: skip
    cal = curves.Calibration.fit(runs_of(tuning), str(source), seed=args.seed, description=description)
    config = read_config(source)
    config[CONFIG_KEY] = cal.to_dict()
    out = write_checkpoint(args.out or source, load_file(str(source)), json.dumps(config))
    print(f"wrote {out}")
    text = table(cal)
    print(text)
    write_results(args.results_name, text, threads=1)
    card = Path(out).with_suffix(".md")
    if card.exists():  # a shipped model's card: its calibration section, replaced or appended
        update_card(card, text)


def update_card(card: Path, text: str) -> None:
    heading = "## Calibration on real runs"
    section = "\n\n".join([
        heading,
        "`pfn.curves` recalibrates this model's forecasts by default (`calibration=\"auto\"`; "
        "`calibration=None` for the model alone) with maps stored in the checkpoint "
        "(`python scripts/calibrate_curves.py`); scores on the held-out curves, with and without them, are in "
        "the curves guide (`scripts/eval_curve_corpus.py`).",
        text,
    ]) + "\n"  # fmt: skip
    old = card.read_text()
    start = old.find(heading)
    if start < 0:
        card.write_text(old.rstrip("\n") + "\n\n" + section)
        return
    end = old.find("\n## ", start + len(heading))
    card.write_text(old[:start] + section + ("" if end < 0 else old[end:]))


if __name__ == "__main__":
    main()
