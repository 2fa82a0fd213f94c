"""Inference checkpoints: one safetensors file, weights plus a JSON header. Never unpickled.

Layout of ``model.safetensors``:
- tensors ``net.*`` (transformer weights) and, for regression, ``bar.borders`` (output bins);
- metadata ``format`` ("pfn-checkpoint"), ``format_version`` and ``config``, a JSON
  object with the architecture, the prior's description, input normalisation and
  training information, plus ``sha256`` of the tensor bytes so a modified file
  is refused.
Only architectures named in :data:`ARCHITECTURES` can be built from a file; the
file never names code to import.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from pfn.files import write_atomically
from pfn.model.bar_distribution import BarDistribution
from pfn.model.categorical import Categorical
from pfn.model.transformer import PFNTransformer

FORMAT = "pfn-checkpoint"
FORMAT_VERSION = 1
ARCHITECTURES = {"PFNTransformer": PFNTransformer}


class CheckpointError(ValueError):
    """The file is not a valid, intact PFN inference checkpoint."""


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_checkpoint(
    path: str | os.PathLike,
    net: PFNTransformer,
    output: BarDistribution | Categorical,
    prior: dict[str, Any],
    normalization: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    domain: dict[str, Any] | None = None,
    evaluation: dict[str, Any] | None = None,
) -> Path:
    """Write ``net`` and its ``output`` distribution with their description to ``path``, atomically.

    ``domain`` records the input range the model was trained on (``{"x": [lo, hi]}``) and
    ``evaluation`` measured fidelity (e.g. the NLL gap to a reference posterior).

    The file is written next to its destination and renamed into place, so a crash
    mid-write leaves any previous file at ``path`` intact.
    """
    path = Path(path)
    tensors = {f"net.{k}": v.detach().cpu().float().contiguous() for k, v in net.state_dict().items()}
    if isinstance(output, BarDistribution):
        tensors["bar.borders"] = output.borders.detach().cpu().float().contiguous()
        output_config = {"kind": "bar", "num_bins": output.num_bins, "tails": output.tails}
    else:
        output_config = {"kind": "categorical", "num_classes": output.num_classes}
    config = {
        "architecture": type(net).__name__,
        "output": output_config,
        "model": net.config(),
        "prior": prior,
        "normalization": normalization or {"x": "none", "y": "none", "units": "prior"},
        "training": training or {},
        "domain": domain or {},
        "evaluation": evaluation or {},
    }
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(config),
        "sha256": _digest(tensors),
    }
    return write_atomically(path, save(tensors, metadata=metadata))


def _read(path: Path, with_tensors: bool) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """Header metadata (and tensors) of a PFN checkpoint, after checking what the file is."""
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    with open(path, "rb") as f:
        head = f.read(9)
    looks_like_safetensors = len(head) == 9 and head[8:9] == b"{"  # u64 header length, then JSON
    if not looks_like_safetensors and (head[:1] == b"\x80" or head[:2] == b"PK"):
        raise CheckpointError(
            f"{path} is a pickle or torch.save file; PFN loads only safetensors checkpoints "
            "(never unpickles, since unpickling can run arbitrary code)"
        )
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            keys = list(f.keys()) if with_tensors else []
            tensors = {k: f.get_tensor(k) for k in keys}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a PFN checkpoint (no format={FORMAT!r})")
    version = int(metadata.get("format_version", "0"))
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version}; this version of pfn reads up to {FORMAT_VERSION}: upgrade pfn"
        )
    return metadata, tensors


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON description of a checkpoint, without loading its weights."""
    metadata, _ = _read(Path(path), with_tensors=False)
    try:
        return json.loads(metadata["config"])
    except (KeyError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} has an invalid PFN config: {err!r}") from err


def load_checkpoint(
    path: str | os.PathLike,
) -> tuple[PFNTransformer, BarDistribution | Categorical, dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`: (net, output distribution, config).

    Raises:
        CheckpointError: not a safetensors file, not a PFN checkpoint, a newer format,
            an unknown architecture, or tensors that do not match the recorded digest.
    """
    path = Path(path)
    metadata, tensors = _read(path, with_tensors=True)
    if metadata.get("sha256") != _digest(tensors):
        raise CheckpointError(f"{path} is corrupted or was modified: its tensors do not match the recorded sha256")
    try:
        config = json.loads(metadata["config"])
        arch = ARCHITECTURES[config["architecture"]]
        net = arch(**config["model"])
        net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        kind = config.get("output", {"kind": "bar"})
        output = (
            Categorical(kind["num_classes"])
            if kind["kind"] == "categorical"
            else BarDistribution(tensors["bar.borders"], kind.get("tails", "half_normal"))
        )
    except (KeyError, TypeError, ValueError, RuntimeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} has an invalid PFN config or weights: {err!r}") from err
    net.eval()
    return net, output, config
