"""The ``pfn`` command."""

from __future__ import annotations

import json
import sys

USAGE = """usage: pfn <command> [args]

commands:
  train [hydra overrides]   train a PFN, e.g. `pfn train experiment=gp_1d trainer.max_steps=500`
                            (`pfn train --help` lists the config groups)
  evaluate MODEL [options]  NLL per context size, calibration and the gap to a reference posterior
                            (`pfn evaluate --help` for options)
  info MODEL                print the description stored in a checkpoint (path or shipped name)
"""


def _is_hydra_argument(arg: str) -> bool:
    return "=" in arg or (arg.startswith("-") and arg not in ("-h", "--help"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if _is_hydra_argument(command):
        # Multi-process launchers (Lightning's DDP) re-run this program with the Hydra arguments
        # of `pfn train` alone.
        command, rest = "train", argv
    if command == "train":
        from pfn.training.train import main as train_main

        sys.argv = [sys.argv[0], *rest]  # Hydra reads its overrides from sys.argv[1:]
        train_main()
        return 0
    if command in ("evaluate", "info"):
        from pfn.checkpoint import CheckpointError

        try:
            return evaluate_main(rest) if command == "evaluate" else info_main(rest)
        except (FileNotFoundError, CheckpointError, ValueError) as err:
            print(f"pfn {command}: error: {err}", file=sys.stderr)
            return 2
    print(USAGE, file=sys.stderr)
    return 2


def info_main(argv: list[str]) -> int:
    from pfn.checkpoint import read_config
    from pfn.pretrained import resolve

    if len(argv) != 1:
        raise ValueError("usage: pfn info MODEL (a checkpoint path or a shipped model's name)")
    print(json.dumps(read_config(resolve(argv[0])), indent=2))
    return 0


def evaluate_main(argv: list[str]) -> int:
    import argparse

    from pfn.evaluation.evaluate import CONTEXT_SIZES, evaluate, prior_of
    from pfn.inference.predictor import load

    parser = argparse.ArgumentParser(prog="pfn evaluate", description="Evaluate a PFN on held-out prior datasets.")
    parser.add_argument("model", help="checkpoint path or shipped model name")
    parser.add_argument("--experiment", help="experiment whose prior to sample (default: the one the model names)")
    parser.add_argument("--datasets", type=int, default=256, help="held-out datasets per context size")
    parser.add_argument("--queries", type=int, default=50, help="held-out points per dataset")
    parser.add_argument("--context-sizes", type=int, nargs="+", default=list(CONTEXT_SIZES))
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--out", help="folder for report.md, summary.json and PNG plots")
    args = parser.parse_args(argv)
    predictor = load(args.model)
    report = evaluate(predictor, prior_of(predictor, args.experiment), args.context_sizes, args.datasets,
                      args.queries, args.seed)  # fmt: skip
    print(report.to_markdown())
    print(json.dumps(report.summary(), indent=2))
    if args.out:
        from pathlib import Path

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.md").write_text(report.to_markdown() + "\n")
        (out / "summary.json").write_text(json.dumps(report.summary(), indent=2) + "\n")
        for path in report.plot(out):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
