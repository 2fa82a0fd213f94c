"""Shipped models: ``pfn.load("gp")`` finds ``gp.safetensors`` among the shipped models.

The folder is, in this order: ``$PFN_PRETRAINED_DIR`` when set; the ``pretrained/`` folder of a
source checkout (an editable install); the installed package ``pfn.shipped_models``, which a wheel or
sdist install carries. Each model's description, prior and measured fidelity are read from its
checkpoint header.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pfn.checkpoint import read_config


def pretrained_dir() -> Path:
    """Where shipped models live: ``$PFN_PRETRAINED_DIR``, a checkout's ``pretrained/``, or the installed package."""
    env = os.environ.get("PFN_PRETRAINED_DIR")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parent
    checkout = package.parent / "pretrained"
    return checkout if checkout.is_dir() else package / "shipped_models"


def available() -> list[str]:
    folder = pretrained_dir()
    return sorted(p.stem for p in folder.glob("*.safetensors")) if folder.is_dir() else []


def _is_file(path: Path) -> bool:
    """``path.is_file()``, but False for names the OS cannot hold (too long, a NUL byte)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _shown(name: str) -> str:
    return repr(name) if len(name) <= 100 else f"{name[:60]!r}... ({len(name)} characters)"


def resolve(path_or_name: str | os.PathLike) -> Path:
    """A checkpoint path as given, or the file of a shipped model's name.

    Raises:
        FileNotFoundError: neither a file nor a shipped model's name (the message lists the shipped models).
    """
    path = Path(path_or_name)
    if _is_file(path):
        return path
    name = str(path_or_name)
    longest = max(len(part.encode(errors="surrogatepass")) for part in name.replace(os.sep, "/").split("/"))
    too_long = f"; a file name has at most 255 bytes, this one {longest}" if longest > 255 else ""
    if "/" not in name and os.sep not in name and not name.endswith(".safetensors"):
        candidate = pretrained_dir() / f"{name}.safetensors"
        if _is_file(candidate):
            return candidate
        names = ", ".join(available()) or "none"
        raise FileNotFoundError(
            f"no checkpoint file or pretrained model named {_shown(name)} (pretrained models in {pretrained_dir()}: "
            f"{names}; set PFN_PRETRAINED_DIR to use another folder){too_long}"
        )
    raise FileNotFoundError(f"no checkpoint file at {_shown(name)}{too_long}")


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
