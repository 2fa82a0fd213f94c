"""Fit a trained model's tails per context size (pfn.model.tail_scales) and store them in its checkpoint.

    python scripts/fit_tail_scales.py pretrained/bo.safetensors --experiment bo [--output NEW.safetensors]

Models trained since tails are fitted at start-up have them already; this gives an earlier model the same:
the prior targets of its experiment's data module, as ``pfn train`` fits them (``pfn.model.bins.tail_targets``),
against the checkpoint's own bins. The weights, the bins and every
other header field are written again unchanged, in place unless ``--output`` is given; the evaluation
stored in the header describes the old tails until the model is shipped again (scripts/ship_model.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hydra.utils import instantiate
from safetensors import safe_open

from pfn.checkpoint import load_checkpoint, write_checkpoint
from pfn.configs import compose_train_config
from pfn.model.bar_distribution import BarDistribution
from pfn.model.bins import tail_targets
from pfn.model.tail_scales import fit_tail_scales


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--experiment", required=True, help="the experiment the model was trained with")
    parser.add_argument("--output", type=Path, help="default: the checkpoint itself")
    args = parser.parse_args()

    _, output, config = load_checkpoint(args.checkpoint)  # verified before anything is rewritten
    if not isinstance(output, BarDistribution):
        raise SystemExit(f"{args.checkpoint} is a classifier: it has no tails")
    cfg = compose_train_config(args.experiment)
    data = instantiate(cfg.data)
    normalization = instantiate(cfg.model.normalization)
    if normalization.to_dict() != {k: config["normalization"][k] for k in ("x", "y", "units")}:
        raise SystemExit(f"experiment {args.experiment} normalises differently from {args.checkpoint}")
    scales = fit_tail_scales(tail_targets(data, normalization), output.borders, output.tails)
    config["output"].pop("tail_scales", None)
    if scales is not None:
        config["output"]["tail_scales"] = scales.to_dict()
    with safe_open(str(args.checkpoint), framework="pt") as f:
        tensors = {k: f.get_tensor(k).clone() for k in f.keys()}  # noqa: SIM118 (a safe_open handle)
    out = args.output or args.checkpoint
    write_checkpoint(out, tensors, json.dumps(config))
    load_checkpoint(out)
    print(f"{out}: tail scales {json.dumps(config['output'].get('tail_scales'))}")


if __name__ == "__main__":
    main()
