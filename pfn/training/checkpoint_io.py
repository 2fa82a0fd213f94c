"""Lightning checkpoint writing that survives crashes: a kill mid-write never corrupts a checkpoint."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from pfn.files import write_atomically


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file beside its destination, flushes it to disk
    (fsync), then renames it into place. A rename within a directory is atomic, so a reader
    (or a resumed run) sees the old checkpoint or the new one, never a partial file.
    Loading uses ``weights_only=True``: no code runs from a checkpoint."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        atomic_write(Path(path), checkpoint)

    def load_checkpoint(
        self, path: str | Path, map_location: Any = lambda storage, loc: storage, weights_only: bool | None = True
    ) -> dict[str, Any]:
        return super().load_checkpoint(path, map_location=map_location, weights_only=True)


def atomic_write(path: Path, obj: Any) -> None:
    """``torch.save(obj)`` to ``path`` through a temporary file, fsync and an atomic rename."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_atomically(path, buffer.getbuffer())
