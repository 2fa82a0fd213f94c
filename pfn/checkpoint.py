"""Inference checkpoints: one safetensors file, weights plus a JSON header. Never unpickled.

Layout of ``model.safetensors`` (format version 2):
- tensors ``net.*`` (transformer weights) and, for regression, ``bar.borders`` (output bins), all float32;
- metadata ``format`` ("pfn-checkpoint"), ``format_version`` ("2"), ``config`` (a JSON object with the
  architecture, the output distribution (for bars: their tails, and the tails' widening per context size
  if fitted, ``pfn.model.tail_scales``), the prior's description, input normalisation, domain, training
  and evaluation),
  ``tensors_sha256`` (SHA-256 of every tensor's name, dtype, shape and bytes) and ``header_sha256``
  (SHA-256 of all other metadata fields, ``tensors_sha256`` included).

So the header can be verified on its own (:func:`read_config`, cheap) and :func:`load_checkpoint`
verifies every byte that matters: any edit or corruption is refused, and so is a file without its
digests. The digests detect corruption and accidental edits; they are not a signature (whoever
can write the file can recompute them). The header's architecture is checked against the stored
tensors' names and shapes on the ``meta`` device, within size bounds, before anything is allocated.
Only architectures named in :data:`ARCHITECTURES` can be built; the file never names code to import.
Version-1 files (no header digest) are refused; ``scripts/upgrade_checkpoint.py`` converts them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from pfn.files import write_atomically
from pfn.model.bar_distribution import BarDistribution
from pfn.model.categorical import Categorical
from pfn.model.normalization import MODES
from pfn.model.tail_scales import TailScales
from pfn.model.tails import TAILS
from pfn.model.transformer import PFNTransformer

FORMAT = "pfn-checkpoint"
FORMAT_VERSION = 2
ARCHITECTURES: dict[str, type[PFNTransformer]] = {"PFNTransformer": PFNTransformer}
MAX_TENSORS = 1024  # a PFNTransformer stores 14 per layer: about 70 layers
MAX_PARAMETERS = 2**28  # 1 GiB of float32
UPGRADE_HINT = "convert it with `python scripts/upgrade_checkpoint.py PATH` (checks its tensors, adds the digests)"

Layout = dict[str, tuple[str, tuple[int, ...]]]  # tensor name -> (safetensors dtype, shape)


class CheckpointError(ValueError):
    """The file is not a valid, intact PFN inference checkpoint."""


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of every tensor's name, dtype, shape and bytes, in name order (also format 1's ``sha256``)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def header_digest(metadata: dict[str, str]) -> str:
    """SHA-256 of every metadata field except ``header_sha256`` itself (names and values, in name order)."""
    fields = sorted((k, v) for k, v in metadata.items() if k != "header_sha256")
    return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()


def write_checkpoint(path: str | os.PathLike, tensors: dict[str, torch.Tensor], config_json: str) -> Path:
    """Write ``tensors`` and the config (a JSON string, stored as given) with both digests, atomically."""
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": config_json,
        "tensors_sha256": tensors_digest(tensors),
    }
    metadata["header_sha256"] = header_digest(metadata)
    return write_atomically(path, save(tensors, metadata=metadata))


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
    tensors = {f"net.{k}": v.detach().cpu().float().contiguous() for k, v in net.state_dict().items()}
    if isinstance(output, BarDistribution):
        tensors["bar.borders"] = output.borders.detach().cpu().float().contiguous()
        output_config = {"kind": "bar", "num_bins": output.num_bins, "tails": output.tails}
        if output.tail_scales is not None:
            output_config["tail_scales"] = output.tail_scales.to_dict()
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
    return write_checkpoint(path, tensors, json.dumps(config))


def _is_int(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_range(value: Any) -> bool:
    ok = isinstance(value, list) and len(value) == 2
    ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    return ok and value[0] < value[1]


# Fields the loader and the predictor read: (dotted name, required, check, what is expected).
_FIELDS: list[tuple[str, bool, Callable[[Any], bool], str]] = [
    ("architecture", True, lambda v: isinstance(v, str) and v in ARCHITECTURES, f"one of {sorted(ARCHITECTURES)}"),
    *[(s, True, lambda v: isinstance(v, dict), "an object") for s in ("output", "model", "normalization")],
    *[(s, False, lambda v: isinstance(v, dict), "an object") for s in ("prior", "training", "domain", "evaluation")],
    ("output.kind", True, lambda v: v in ("bar", "categorical"), '"bar" or "categorical"'),
    ("output.tails", False, lambda v: isinstance(v, str) and v in TAILS, f"one of {sorted(TAILS)}"),
    ("output.num_classes", False, lambda v: _is_int(v, 2), "an integer >= 2"),
    ("output.tail_scales", False, lambda v: isinstance(v, dict), "an object"),
    ("normalization.x", False, lambda v: v in MODES, f"one of {MODES}"),
    ("normalization.y", False, lambda v: v in MODES, f"one of {MODES}"),
    ("training.max_context", False, lambda v: v is None or _is_int(v, 0), "an integer >= 0 or null"),
    ("training.min_features", False, lambda v: _is_int(v, 1), "an integer >= 1"),
    ("training.num_points", False, lambda v: _is_int(v, 1), "an integer >= 1"),
    ("training.experiment", False, lambda v: v is None or isinstance(v, str), "a string or null"),
    ("domain.x", False, lambda v: v is None or _is_range(v), "null or [lo, hi] with finite lo < hi"),
]


def _check_config(path: Path, config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: header field 'config' must be a JSON object, got {type(config).__name__}")
    for dotted, required, ok, expected in _FIELDS:
        *parents, key = dotted.split(".")
        section = config.get(parents[0], {}) if parents else config
        if key not in section:
            if required:
                raise CheckpointError(f"{path}: header field 'config.{dotted}' is missing")
            continue
        if not ok(section[key]):
            value = repr(section[key])[:80]
            raise CheckpointError(f"{path}: header field 'config.{dotted}' must be {expected}, got {value}")
    for key, value in config["model"].items():
        if not _is_int(value, 1):
            raise CheckpointError(f"{path}: header field 'config.model.{key}' must be an integer >= 1, got {value!r}")
    return config


def _read_header(path: Path) -> tuple[dict[str, str], Layout]:
    """Verified metadata and the tensor layout of a PFN checkpoint; reads no tensor data."""
    try:
        is_file = path.is_file()
    except (OSError, ValueError):  # a name too long for the OS, a NUL byte
        is_file = False
    if not is_file:
        raise FileNotFoundError(f"no checkpoint file at {str(path)[:200]!r}")
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
            slices = {k: f.get_slice(k) for k in list(f.keys())}
            layout = {k: (s.get_dtype(), tuple(s.get_shape())) for k, s in slices.items()}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a PFN checkpoint (no format={FORMAT!r})")
    version = metadata.get("format_version", "")
    if not re.fullmatch(r"[1-9][0-9]{0,5}", version):
        raise CheckpointError(f"{path}: header field 'format_version' must be a positive integer, got {version[:20]!r}")
    if int(version) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version}; this version of pfn reads up to {FORMAT_VERSION}: upgrade pfn"
        )
    if int(version) < FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version}, whose digest does not cover its header; {UPGRADE_HINT}"
        )
    for field in ("header_sha256", "tensors_sha256"):
        if field not in metadata:
            raise CheckpointError(f"{path}: header field {field!r} (the SHA-256 digest) is missing; file refused")
    if metadata["header_sha256"] != header_digest(metadata):
        raise CheckpointError(f"{path} is corrupted or was modified: its header does not match 'header_sha256'")
    return metadata, layout


def _verified_header(path: Path) -> tuple[dict[str, Any], dict[str, str], Layout]:
    """(config, metadata, tensor layout) of a checkpoint whose header digest is verified; no tensor data read."""
    metadata, layout = _read_header(path)
    try:
        config = json.loads(metadata["config"])
    except KeyError:
        raise CheckpointError(f"{path}: header field 'config' is missing") from None
    except (ValueError, RecursionError) as err:  # JSONDecodeError, too-long integers, too-deep nesting
        raise CheckpointError(f"{path}: header field 'config' is not valid JSON: {str(err)[:200]}") from None
    return _check_config(path, config), metadata, layout


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON description of a checkpoint, after verifying the header's digest; loads no weights.

    Raises:
        CheckpointError: as :func:`load_checkpoint`, except that the tensors themselves are not read.
    """
    return _verified_header(Path(path))[0]


def _meta_model(path: Path, config: dict[str, Any], layout: Layout) -> PFNTransformer:
    """The architecture the config names, built on the ``meta`` device (no memory) after the size
    bounds, and checked against the stored tensors' names, dtypes and shapes."""
    model = config["model"]
    if len(layout) > MAX_TENSORS:
        raise CheckpointError(f"{path} holds {len(layout)} tensors; at most {MAX_TENSORS} are accepted")
    stored = sum(math.prod(shape) for _, shape in layout.values())
    if stored > MAX_PARAMETERS:
        raise CheckpointError(f"{path} holds {stored} parameters; at most {MAX_PARAMETERS} are accepted")
    if model.get("n_layers", 0) > len(layout):  # every layer stores tensors: bounds the meta build too
        raise CheckpointError(
            f"{path}: header field 'config.model.n_layers' is {model['n_layers']} but the file holds "
            f"only {len(layout)} tensors"
        )
    try:
        with torch.device("meta"):
            net = ARCHITECTURES[config["architecture"]](**model)
    except (TypeError, ValueError, RuntimeError, OverflowError) as err:
        raise CheckpointError(f"{path}: header field 'config.model' does not describe a valid model: {err}") from None
    expected = {f"net.{k}": ("F32", tuple(v.shape)) for k, v in net.state_dict().items()}
    if config["output"]["kind"] == "bar":
        expected["bar.borders"] = ("F32", (net.num_bins + 1,))
    elif config["output"].get("num_classes") != net.num_bins:
        raise CheckpointError(f"{path}: header field 'config.output.num_classes' must equal config.model.num_bins")
    if expected != layout:
        diff = sorted(set(expected.items()) ^ set(layout.items()))[:3]
        raise CheckpointError(
            f"{path}: the architecture in header field 'config.model' does not match the stored tensors "
            f"(expected vs stored differ in {diff})"
        )
    return net


def load_checkpoint(
    path: str | os.PathLike,
) -> tuple[PFNTransformer, BarDistribution | Categorical, dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`: (net, output distribution, config).

    Raises:
        CheckpointError: not a safetensors file, not a PFN checkpoint, another format version,
            a missing or mismatched digest (header or tensors), a malformed header field, an unknown
            architecture, or an architecture that does not match the stored tensors or is too large.
    """
    net, output, config, _ = load_verified_checkpoint(path)
    return net, output, config


def load_verified_checkpoint(
    path: str | os.PathLike,
) -> tuple[PFNTransformer, BarDistribution | Categorical, dict[str, Any], str]:
    """:func:`load_checkpoint` plus the ``header_sha256`` the loaded model was verified against (it
    covers every metadata field and, through ``tensors_sha256``, every tensor): the model's identity."""
    path = Path(path)
    config, metadata, layout = _verified_header(path)
    net = _meta_model(path, config, layout)
    try:
        with safe_open(str(path), framework="pt") as f:
            # copies: the tensors safetensors returns map the file, which may change after it is verified
            tensors = {k: f.get_tensor(k).clone() for k in list(f.keys())}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err
    if metadata["tensors_sha256"] != tensors_digest(tensors):
        raise CheckpointError(f"{path} is corrupted or was modified: its tensors do not match 'tensors_sha256'")
    net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")}, assign=True)  # no copy
    net.eval()
    digest = metadata["header_sha256"]
    if config["output"]["kind"] == "categorical":
        return net, Categorical(config["output"]["num_classes"]), config, digest
    try:
        scales = config["output"].get("tail_scales")
        scales = None if scales is None else TailScales.from_dict(scales)
    except ValueError as err:
        raise CheckpointError(f"{path}: header field 'config.output.tail_scales' is invalid: {err}") from None
    try:
        output = BarDistribution(tensors["bar.borders"], config["output"].get("tails", "half_normal"), scales)
    except ValueError as err:
        raise CheckpointError(f"{path}: tensor 'bar.borders' is invalid: {err}") from None
    return net, output, config, digest
