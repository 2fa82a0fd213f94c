"""Experiment loggers. wandb runs offline (no account, no network) unless the user opts in."""

from __future__ import annotations

import os
from typing import Any

from lightning.pytorch.loggers import WandbLogger


def wandb_logger(
    save_dir: str, project: str = "pfn", name: str | None = None, offline: bool | None = None, **kwargs: Any
) -> WandbLogger:
    """A :class:`WandbLogger`, offline unless ``offline=False``, ``WANDB_MODE=online``
    or a ``WANDB_API_KEY`` in the environment says the user wants online runs.

    Offline runs land in ``save_dir/wandb`` and can be uploaded later with ``wandb sync``.
    """
    if offline is None:
        mode = os.environ.get("WANDB_MODE")
        offline = mode in ("offline", "disabled") or (mode != "online" and not os.environ.get("WANDB_API_KEY"))
    os.makedirs(save_dir, exist_ok=True)
    return WandbLogger(save_dir=save_dir, project=project, name=name, offline=offline, **kwargs)
