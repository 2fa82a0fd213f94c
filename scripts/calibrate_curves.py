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

    python scripts/calibrate_curves.py --validate

validates the map's estimator instead, on the tuning runs alone, leaving one dataset out at a time: the
maps are fitted on the other datasets' PITs (per group and observed fraction, as `Calibration.fit` does)
and scored on the held-back dataset's PITs by the mean log density ratio log R'(PIT) (the gain in
log-likelihood over the uncalibrated model, nats per forecast) and by how often R(PIT) falls in the
central 90% and 50% (the coverage of the recalibrated intervals). Estimators: the empirical cdf at the
stored levels, the Gaussian kernel on the log-odds with the standard-deviation rule's bandwidth and
with the robust rule's (the default), and the latter with the log-odds drawn in towards their median so
that the smoothing does not widen their spread. Writes docs/results/calibrate_curves_validation.md.
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
from pfn.curves.calibration import (
    CONFIG_KEY,
    CUTOFFS,
    GROUPS,
    LEVELS,
    _kernel_map,
    _logit,
    nearest_cutoff,
    silverman_bandwidth,
    transforms,
)
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
    shown_rows = nearest_cutoff(np.asarray(SHOWN), cal.cutoffs)
    for group, maps in cal.maps.items():
        for j in shown_rows:
            inverse = np.interp(QUANTILES, maps[j], cal.levels)  # R^-1: where the q-th final value fell
            lines.append(f"| {group} | {cal.cutoffs[j]:.2f} | {cal.counts[group][j]} | "
                         + " | ".join(f"{v:.3f}" for v in inverse) + " |")  # fmt: skip
    return "\n".join(lines)


def sd_bandwidth(p: np.ndarray) -> float:
    """Silverman's rule with the standard deviation alone, 1.06 sd n^(-1/5), of the PITs' log-odds."""
    return max(0.05, 1.06 * float(np.std(_logit(p))) * len(p) ** -0.2)


def empirical_map(p: np.ndarray, levels: np.ndarray, smoothing: float = 0.02) -> np.ndarray:
    ecdf = np.searchsorted(np.sort(p), levels, side="right") / len(p)
    ecdf[0], ecdf[-1] = 0.0, 1.0
    return (1 - smoothing) * ecdf + smoothing * levels


def spread_corrected_map(p: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """The default kernel map of the PITs' log-odds drawn in towards their median by sqrt(1 - h^2 / s^2) (h the
    bandwidth, s the robust spread IQR / 1.349), so that smoothing does not widen the spread (Jones, 1991)."""
    z, h = _logit(p), silverman_bandwidth(p)
    median, spread = float(np.median(z)), float(np.subtract(*np.percentile(z, [75, 25]))) / 1.349
    shrunk = median + (z - median) * np.sqrt(max(0.0, 1 - h**2 / max(spread**2, 1e-12)))
    return _kernel_map(1 / (1 + np.exp(-shrunk)), levels, 0.02, h)


ESTIMATORS = {
    "empirical cdf": lambda p, lv: empirical_map(p, lv),
    "kernel, sd bandwidth": lambda p, lv: _kernel_map(p, lv, 0.02, sd_bandwidth(p)),
    "kernel, robust bandwidth (default)": lambda p, lv: _kernel_map(p, lv, 0.02, None),
    "kernel, robust bandwidth, spread-corrected": spread_corrected_map,
}


def validate(tuning: list[dict], model: str, seed: int) -> str:
    """Leave-one-dataset-out scores of each estimator on the tuning runs' PITs (see the module's description)."""
    levels, cuts = np.asarray(LEVELS), np.asarray(CUTOFFS)
    pits = transforms(runs_of(tuning), model, seed=seed)
    lines = [
        f"Leave-one-dataset-out on {len(tuning)} tuning curves ({len({c['dataset'] for c in tuning})} datasets), "
        f"{len(pits)} forecasts from observed fractions 0.05 to 0.95: mean log R'(PIT) of the held-back dataset's "
        "forecasts (the log-likelihood gained over the uncalibrated model, nats) and the share of R(PIT) in the "
        "central 90% and 50%.",
        "",
        "| group | estimator | log-likelihood gain | 90% coverage | 50% coverage |",
        "|---|---|---:|---:|---:|",
    ]
    for group in GROUPS:
        mine = [t for t in pits if t.group == group]
        p = np.array([t.pit for t in mine])
        near = nearest_cutoff(np.array([t.fraction for t in mine]), cuts)
        dataset = np.array([tuning[t.run]["dataset"] for t in mine])
        for name, estimate in ESTIMATORS.items():
            gain, in90, in50 = [], [], []
            for j in range(len(cuts)):
                for d in np.unique(dataset[near == j]):
                    train, test = (near == j) & (dataset != d), (near == j) & (dataset == d)
                    if train.sum() < 20:
                        continue
                    r = estimate(p[train], levels)
                    k = np.clip(np.searchsorted(levels, p[test], side="right") - 1, 0, len(levels) - 2)
                    gain.append(np.log((r[k + 1] - r[k]) / (levels[k + 1] - levels[k])))
                    centred = np.abs(np.interp(p[test], levels, r) - 0.5)
                    in90.append(centred <= 0.45)
                    in50.append(centred <= 0.25)
            g, c90, c50 = (float(np.concatenate(v).mean()) for v in (gain, in90, in50))
            lines.append(f"| {group} | {name} | {g:+.3f} | {c90:.3f} | {c50:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lc-real", help="curve model to calibrate (name or path)")
    parser.add_argument("--out", help="checkpoint to write (default: the model's own file)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validate", action="store_true", help="validate the estimator instead (writes nothing else)")
    parser.add_argument("--results-name", help="default: calibrate_curves, or calibrate_curves_validation")
    args = parser.parse_args()
    torch.set_num_threads(1)
    source = resolve(args.model)
    tuning = [c for m in METRICS for c in load_corpus(CORPUS, "tuning", metric=m)]
    if args.validate:
        text = validate(tuning, str(source), args.seed)
        print(text)
        write_results(args.results_name or "calibrate_curves_validation", text, threads=1)
        return
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
    write_results(args.results_name or "calibrate_curves", text, threads=1)
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
