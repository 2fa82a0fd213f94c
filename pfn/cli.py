"""The ``pfn`` command."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

USAGE = """usage: pfn <command> [args]

commands:
  train [hydra overrides]   train a PFN, e.g. `pfn train experiment=gp_1d trainer.max_steps=500`
                            (`pfn train --help` lists the config groups). One run per outputs/<name> at a
                            time. init_from=MODEL starts from a checkpoint's weights (fine-tuning).
                            Exit status 2: refused before training (directory in use or holding an earlier
                            run, bad ckpt_path, an init_from the model config does not match); 143: stopped
                            by SIGTERM after saving last.ckpt (resume with the same overrides and
                            ckpt_path=last)
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
    print(json.dumps(_shown(read_config(resolve(argv[0]))), indent=2))
    return 0


def _shown(config: dict) -> dict:
    """The config as ``pfn info`` prints it: a curve calibration's tables are summarised by their shape."""
    from pfn.curves.calibration import CONFIG_KEY

    calibration = config.get(CONFIG_KEY)
    if not isinstance(calibration, dict) or not isinstance(calibration.get("maps"), dict):
        return config
    maps = {
        group: f"{len(table)} observed fractions x {len(table[0]) if table else 0} levels"
        for group, table in calibration["maps"].items()
    }
    levels = calibration.get("levels")
    summary = {**calibration, "maps": maps, "levels": f"{len(levels)} levels" if isinstance(levels, list) else levels}
    return {**config, CONFIG_KEY: summary}


def _count(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low``."""

    def parse(text: str) -> int:
        import argparse

        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def evaluate_parser() -> argparse.ArgumentParser:
    """The argument parser of `pfn evaluate` (exits with status 2 on a malformed argument)."""
    import argparse

    parser = argparse.ArgumentParser(prog="pfn evaluate", description="Evaluate a PFN on held-out prior datasets.")
    parser.add_argument("model", help="checkpoint path or shipped model name")
    parser.add_argument(
        "--experiment", help="experiment whose prior to sample (default: the one the model names; it must be one "
        "the package ships, or one in --config-dir)",
    )  # fmt: skip
    parser.add_argument("--config-dir", help="a folder of your own configs holding experiment/<name>.yaml")
    parser.add_argument("--datasets", type=_count(2), default=256, help="held-out datasets per context size (>= 2)")
    parser.add_argument("--queries", type=_count(1), default=50, help="held-out points per dataset (>= 1)")
    parser.add_argument(
        "--context-sizes", type=_count(0), nargs="+", default=None,
        help="context sizes to score (default: 0 1 2 5 10 20 30 50 75 100, clipped to what the model was trained on)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--out", help="folder for report.md, summary.json and PNG plots")
    return parser


def evaluate_main(argv: list[str]) -> int:
    from pfn.evaluation.evaluate import evaluate, prior_of
    from pfn.evaluation.report import write_report
    from pfn.evaluation.scoring import context_sizes_for
    from pfn.inference.predictor import load

    args = evaluate_parser().parse_args(argv)
    predictor = load(args.model)
    prior = prior_of(predictor, args.experiment, args.config_dir)
    sizes = context_sizes_for(predictor, prior, args.context_sizes, name="--context-sizes")
    report = evaluate(predictor, prior, sizes, args.datasets, args.queries, args.seed)
    print(report.to_markdown())
    print(json.dumps(report.summary(), indent=2))
    if args.out:
        for path in write_report(report, args.out):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
