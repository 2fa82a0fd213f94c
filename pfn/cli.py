"""The ``pfn`` command."""

from __future__ import annotations

import json
import sys

USAGE = """usage: pfn <command> [args]

commands:
  train [hydra overrides]   train a PFN, e.g. `pfn train experiment=gp_1d trainer.max_steps=500`
                            (`pfn train --help` lists the config groups)
  info PATH                 print the description stored in an inference checkpoint
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
    if command == "info" and len(rest) == 1:
        from pfn.checkpoint import load_checkpoint

        _, _, config = load_checkpoint(rest[0])
        print(json.dumps(config, indent=2))
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
