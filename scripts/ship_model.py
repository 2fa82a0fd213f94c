"""Ship a trained model: evaluate it, store the evaluation in its header, write its model card.

    python scripts/ship_model.py outputs/gp/model.safetensors gp --experiment gp_1d [--datasets 512]
    python scripts/ship_model.py outputs/bo/model.safetensors bo --experiment bo --dimensions 1 2 4 8

Writes pretrained/<name>.safetensors (the same weights, with the evaluation summary and the
per-context-size rows in the header) and pretrained/<name>.md (the model card).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pfn
from pfn.checkpoint import load_checkpoint, save_checkpoint
from pfn.evaluation.evaluate import evaluate, prior_of
from pfn.evaluation.reference import FITTED_GP
from pfn.training.export import stored_metadata
from priors.base import is_sequential

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("name")
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--datasets", type=int, default=512)
    parser.add_argument("--context-sizes", type=int, nargs="+", help="default: the standard sizes the model covers")
    parser.add_argument("--notes", default="", help="extra text for the card")
    parser.add_argument("--dimensions", type=int, nargs="+", default=[],
                        help="also score functions of these input dimensions (zero-padded), a table each")  # fmt: skip
    args = parser.parse_args()

    net, output, config = load_checkpoint(args.checkpoint)
    predictor = pfn.load(args.checkpoint)
    prior = prior_of(predictor, args.experiment)
    report = evaluate(predictor, prior, args.context_sizes, args.datasets)
    sizes = [r.num_context for r in report.rows]
    evaluation = {**report.summary(), "rows": report.row_records(), "experiment": args.experiment,
                  "command": f"pfn evaluate {args.name} --datasets {args.datasets} --context-sizes "
                             + " ".join(map(str, sizes))}  # fmt: skip
    metadata = stored_metadata(config, experiment=args.experiment)
    out = ROOT / "pretrained" / f"{args.name}.safetensors"
    save_checkpoint(out, net, output, **metadata, evaluation=evaluation)
    params = sum(p.numel() for p in net.parameters())
    t = metadata["training"]
    norm = config["normalization"]
    held_out = (
        "every point of a curve after its context is held out" if is_sequential(prior) else "50 held-out points each"
    )
    output_desc = (
        f"categorical over {output.num_classes} classes"
        if hasattr(output, "num_classes")
        else f"bar distribution, {output.num_bins} bins with {output.tails.replace('_', '-')} tails"
    )
    scales = getattr(output, "tail_scales", None)
    if scales is not None:
        widened = "; ".join(
            f"{n} points: left x{left:g}, right x{right:g}"
            for n, left, right in zip(scales.context_sizes, scales.left, scales.right, strict=True)
        )
        output_desc += f", widened where the prior's targets reach further (pfn.model.tail_scales) at {widened}"
    per_dimension = "".join(
        f"\n### Functions of {d} input{'s' if d > 1 else ''}\n\n"
        f"{evaluate(predictor, prior, args.context_sizes, args.datasets, num_features=d).to_markdown()}\n"
        for d in args.dimensions
    )
    if per_dimension:
        ship = " ".join(["python scripts/ship_model.py", args.checkpoint, args.name, "--experiment", args.experiment,
                         "--datasets", str(args.datasets), "--dimensions", *map(str, args.dimensions)])  # fmt: skip
        per_dimension = (
            f"\n## By input dimension\n\n`{ship}`: the same scores on held-out functions of d inputs "
            f"(the model's other inputs zero, as in training).\n{per_dimension}"
        )
    reference_note = (
        "; GP ML-II is a Matern-5/2 ARD GP fitted to each context by maximum marginal likelihood, from 2 points"
        " on, and a negative gap means the PFN is better"
        if report.reference == FITTED_GP
        else ""
    )
    units = f"{norm.get('units', 'prior')} (normalisation x: {norm['x']}, y: {norm['y']})"
    model = f"{config['architecture']}, {json.dumps(config['model'])}, {params / 1e6:.2f} M parameters"
    size = f"{out.stat().st_size / 2**20:.1f} MB"
    shape = f"batch {t.get('batch_size')} x {t.get('num_points')} points, context up to {t.get('max_context')}"
    card = f"""# `{args.name}`

Loads with `pfn.load("{args.name}")`. {args.notes}

| | |
|---|---|
| prior | `{json.dumps(config["prior"])}` |
| units | {units} |
| model | {model}, {size} |
| output | {output_desc} |
| training command | `{t.get("command")}` |
| steps | {t.get("steps")} ({shape}) |
| wall time | {t.get("wall_seconds_last_fit")} s for the last fit (a resumed run counts only its last part) |
| hardware | {t.get("hardware")} |

## Evaluation

`{evaluation["command"]}` ({args.datasets} held-out prior datasets per context size; {held_out};
the mean row averages context sizes 1 and up{reference_note}):

{report.to_markdown()}
{per_dimension}"""
    (ROOT / "pretrained" / f"{args.name}.md").write_text(card)
    print(card)


if __name__ == "__main__":
    main()
