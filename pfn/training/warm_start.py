"""Warm start (``pfn train ... init_from=<checkpoint or shipped name>``): a run that starts from an inference
checkpoint's weights instead of a random initialisation, to fine-tune it on another prior, longer contexts or a
mixture of priors.

- The source is read with :func:`pfn.checkpoint.load_checkpoint` (safetensors and a verified JSON header:
  nothing is unpickled); a name without a path is a shipped model, resolved as :func:`pfn.load` does.
- What the weights fix must match (:func:`mismatches`): the architecture (``model.net.*``, including
  ``num_features``, which follows ``data.num_features``, and ``num_bins``), the kind of output (bar distribution
  or classes), the output tails (``model.bins.tails``) and the normalisation (``model.normalization.x/y``).
  Anything else may differ: the prior, the data sizes (``data.num_points``, ``data.max_context``, ...), the
  optimiser, the schedule, the run length, the seed.
- The output bins are the source's: its head was trained against those borders, so they are not refitted to
  the new prior (targets beyond them fall in the tails).
- The new model's header records the source (:attr:`Source.record`) under ``training.init_from``; the record
  travels in the run's Lightning checkpoints (:class:`~pfn.training.module.PFNModule`), so a resumed run keeps it.
- Resuming (``ckpt_path``) restores the run's own weights: ``init_from`` is then not applied, with a log line
  (:func:`note_resume`), so the command that started a warm-started run resumes it with ``ckpt_path=last``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from pfn.checkpoint import CheckpointError, load_verified_checkpoint
from pfn.model.bar_distribution import BarDistribution
from pfn.model.categorical import Categorical
from pfn.model.normalization import Normalization
from pfn.model.transformer import PFNTransformer
from pfn.training.module import INIT_FROM_KEY, PFNModule, instantiate_module
from pfn.training.run_dir import RunRefused

log = logging.getLogger(__name__)


class InitFromError(RunRefused, ValueError):
    """``init_from`` names no readable checkpoint, or one the configured model cannot start from."""


@dataclass(frozen=True)
class Source:
    """The checkpoint a warm-started run starts from.

    Attributes:
        given: ``init_from`` as given: a path, or a shipped model's name.
        path: the file it names.
        net: its transformer.
        output: its output distribution (bins and tails, or classes).
        config: its header's description.
        header_sha256: its header digest (which covers the tensors' digest).
    """

    given: str
    path: Path
    net: PFNTransformer
    output: BarDistribution | Categorical
    config: dict[str, Any]
    header_sha256: str

    @property
    def record(self) -> dict[str, str]:
        """What the new model's header says of its source (``training.init_from``)."""
        return {"source": self.given, "header_sha256": self.header_sha256}


def load_source(init_from: str | os.PathLike[str]) -> Source:
    """The checkpoint ``init_from`` names (a path, or a shipped model's name), verified; never unpickled.

    Raises:
        InitFromError: no such file or shipped model, or not an intact PFN inference checkpoint.
    """
    from pfn.pretrained import resolve

    given = str(init_from)
    try:
        path = resolve(init_from)
        net, output, config, digest = load_verified_checkpoint(path)  # the digest the loaded model was verified by
    except (FileNotFoundError, CheckpointError, OSError) as err:
        raise InitFromError(f"init_from={given}: {err}") from None
    return Source(given, path, net, output, config, digest)


def _output_kind(output: BarDistribution | Categorical) -> str:
    return "a bar distribution (regression)" if isinstance(output, BarDistribution) else "classes"


def mismatches(
    source: Source, net: PFNTransformer, normalization: Normalization, tails: str, prior: object
) -> list[str]:
    """What the configured model (``net``, ``normalization``, output ``tails``, trained on ``prior``) sets
    differently from ``source``, one "<config key> is <value> but the checkpoint has <value>" each."""
    found = []
    if type(net).__name__ != source.config["architecture"]:
        found.append(f"model.net is a {type(net).__name__} but the checkpoint has a {source.config['architecture']}")
    stored = source.config["model"]
    for key, value in net.config().items():
        if stored.get(key) != value:
            follows = " (model.net.num_features follows data.num_features)" if key == "num_features" else ""
            found.append(f"model.net.{key} is {value} but the checkpoint has {stored.get(key)}{follows}")
    for key in ("x", "y"):
        value, theirs = getattr(normalization, key), source.config["normalization"].get(key, "none")
        if value != theirs:
            found.append(f"model.normalization.{key} is {value!r} but the checkpoint has {theirs!r}")
    num_classes = getattr(prior, "num_classes", None)
    if num_classes is None and isinstance(source.output, Categorical):
        found.append(f"the prior is a regression prior but the checkpoint predicts {_output_kind(source.output)}")
    elif num_classes is not None and isinstance(source.output, BarDistribution):
        found.append(
            f"the prior is a classification prior ({num_classes} classes) but the checkpoint predicts "
            f"{_output_kind(source.output)}"
        )
    elif isinstance(source.output, Categorical) and num_classes != source.output.num_classes:
        found.append(f"prior.num_classes is {num_classes} but the checkpoint has {source.output.num_classes}")
    if isinstance(source.output, BarDistribution) and tails != source.output.tails:
        found.append(f"model.bins.tails is {tails!r} but the checkpoint has {source.output.tails!r}")
    return found


def warm_start_module(model: DictConfig, prior: object, source: Source, bins: Mapping[str, Any]) -> PFNModule:
    """The :class:`PFNModule` of the model config ``model`` with ``source``'s weights and output bins.

    Args:
        model: the model config (``cfg.model``).
        prior: the prior the run trains on (a classification prior needs a checkpoint with its classes).
        source: the checkpoint to start from.
        bins: the output bins' settings (``model.bins``); their tails must be the source's.

    Raises:
        InitFromError: the configured model differs from the source in what its weights fix, naming each field.
    """
    normalization: Normalization = instantiate(model.normalization)
    net: PFNTransformer = instantiate(model.net)  # its random weights are replaced by the source's
    found = mismatches(source, net, normalization, bins.get("tails", "half_normal"), prior)
    if found:
        raise InitFromError(
            f"init_from={source.given}: the configured model differs from the checkpoint's: {'; '.join(found)}. "
            "A warm start may change the prior, the data sizes, the optimiser and the run length, not what the "
            f"weights fix (`pfn info {source.given}` shows the checkpoint's settings)"
        )
    net.load_state_dict(source.net.state_dict())
    module = instantiate_module(model, net=net, output=source.output, normalization=normalization)
    module.init_from = source.record
    if isinstance(source.output, BarDistribution):
        how = f"its weights and its {source.output.num_bins} output bins (not refitted to this run's prior)"
        log.info("init_from=%s: starting from %s", source.given, how)
    else:
        log.info("init_from=%s: starting from its weights", source.given)
    return module


def recorded_source(ckpt_path: str | os.PathLike[str]) -> dict[str, str] | None:
    """The source a run's Lightning checkpoint records (:attr:`Source.record`); None for a run started at random."""
    state = torch.load(ckpt_path, map_location="cpu", weights_only=True, mmap=True)
    record = state.get(INIT_FROM_KEY) if isinstance(state, dict) else None
    return dict(record) if isinstance(record, dict) else None


def note_resume(init_from: str, ckpt_path: str) -> None:
    """Logs that ``init_from`` is not applied to a run resuming ``ckpt_path`` (whose weights it restores): as
    information when the checkpoint's run started from the same source, as a warning otherwise."""
    recorded = recorded_source(ckpt_path)
    if recorded is not None and recorded.get("source") == init_from:
        log.info("init_from=%s not applied: resuming %s, a run started from it", init_from, ckpt_path)
        return
    started = f"from {recorded.get('source')!r}" if recorded is not None else "from a random initialisation"
    log.warning(
        "init_from=%s ignored: resuming %s restores its weights (its run started %s)", init_from, ckpt_path, started
    )
