"""Convert format-1 PFN checkpoints to format 2, whose digests cover the header as well as the tensors.

    python scripts/upgrade_checkpoint.py pretrained/*.safetensors                # each in place
    python scripts/upgrade_checkpoint.py OLD.safetensors --output NEW.safetensors

A format-1 file records ``sha256`` of its tensors only. The tensors are checked against it (a file
that fails is left alone and reported), then written again unchanged, with the config JSON stored
byte for byte as it was, plus ``tensors_sha256`` and ``header_sha256``. Only run it on files whose
header you trust: format 1 gives no way to tell whether the header was edited.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from safetensors import SafetensorError, safe_open

from pfn.checkpoint import FORMAT, CheckpointError, load_checkpoint, tensors_digest, write_checkpoint


def upgrade(src: Path, dst: Path) -> None:
    """Verify the format-1 checkpoint ``src`` and write it to ``dst`` in the current format."""
    try:
        with safe_open(str(src), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k).clone() for k in list(f.keys())}  # not views of a file being replaced
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{src} is not a readable safetensors file: {err}") from err
    if metadata.get("format") != FORMAT or metadata.get("format_version") != "1":
        version = metadata.get("format_version")
        raise CheckpointError(f"{src} is not a format-1 PFN checkpoint (format_version {version!r})")
    if "config" not in metadata or metadata.get("sha256") != tensors_digest(tensors):
        raise CheckpointError(f"{src} is corrupted or was modified: its tensors do not match the recorded sha256")
    tmp = dst.with_name(f".{dst.name}.upgrade.tmp")
    try:
        write_checkpoint(tmp, tensors, metadata["config"])
        load_checkpoint(tmp)  # the new file passes every check before it replaces anything
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="format-1 checkpoints, each upgraded in place")
    parser.add_argument("--output", type=Path, help="write the upgraded file here instead (one path only)")
    args = parser.parse_args(argv)
    if args.output is not None and len(args.paths) != 1:
        parser.error("--output takes exactly one input path")
    pairs = [(args.paths[0], args.output)] if args.output is not None else [(p, p) for p in args.paths]
    failed = 0
    for src, dst in pairs:
        try:
            upgrade(src, dst)
            print(f"{src} -> {dst}: format 2")
        except (CheckpointError, FileNotFoundError) as err:
            print(f"{src}: not upgraded: {err}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
