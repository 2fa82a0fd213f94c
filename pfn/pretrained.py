"""Shipped models: ``pfn.load("gp")`` finds ``pretrained/gp.safetensors``.

The folder is the repository's ``pretrained/`` (or ``$PFN_PRETRAINED_DIR``). Each model's
description, prior and measured fidelity are read from its checkpoint header.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pfn.checkpoint import read_config


def pretrained_dir() -> Path:
    """Where shipped models live: ``$PFN_PRETRAINED_DIR`` or the repository's ``pretrained/``."""
    env = os.environ.get("PFN_PRETRAINED_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "pretrained"


def available() -> list[str]:
    folder = pretrained_dir()
    return sorted(p.stem for p in folder.glob("*.safetensors")) if folder.is_dir() else []


def resolve(path_or_name: str | os.PathLike) -> Path:
    """A checkpoint path as given, or the file of a shipped model's name."""
    path = Path(path_or_name)
    if path.is_file():
        return path
    name = str(path_or_name)
    if "/" not in name and os.sep not in name and not name.endswith(".safetensors"):
        candidate = pretrained_dir() / f"{name}.safetensors"
        if candidate.is_file():
            return candidate
        names = ", ".join(available()) or "none are installed"
        raise FileNotFoundError(f"no checkpoint file or pretrained model named {name!r} (pretrained models: {names})")
    raise FileNotFoundError(f"no checkpoint file at {path}")


def list_pretrained() -> list[dict[str, Any]]:
    """Shipped models with their prior, size and measured fidelity, from their checkpoint headers."""
    out = []
    for name in available():
        path = pretrained_dir() / f"{name}.safetensors"
        config = read_config(path)
        out.append(
            {
                "name": name,
                "path": str(path),
                "prior": config.get("prior", {}),
                "units": config.get("normalization", {}).get("units", "prior"),
                "evaluation": config.get("evaluation", {}),
                "size_mb": round(path.stat().st_size / 2**20, 2),
            }
        )
    return out
