"""A run's directory (``outputs/<name>``) belongs to one run at a time.

- :class:`RunLock`: an exclusive ``flock`` on ``<dir>/.lock`` held for the whole run by the process that
  owns it (global rank 0; other ranks of a multi-process run belong to the same run and take no lock),
  so a second run with the same name fails at once, naming the directory and the holder.
- :func:`resolve_ckpt_path`: what ``ckpt_path`` means, and a fresh run never mixes with (or silently
  replaces) an earlier run's checkpoints or exported model unless ``overwrite=true``.
- :func:`interrupted`: a run stopped by SIGTERM says where it stopped and how to resume it.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import torch

#: environment variables through which launchers (Lightning's DDP, torchrun, SLURM, LSF) give a process its rank
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")
LOCK_NAME = ".lock"
MODEL_NAME = "model.safetensors"


class RunRefused(Exception):
    """A run that may not start as asked (`pfn train` prints the message and exits with status 2)."""


class RunInUseError(RunRefused, RuntimeError):
    """Another process holds the run directory's lock."""


class EarlierRunError(RunRefused, FileExistsError):
    """A fresh run would mix with, or replace, an earlier run's checkpoints or exported model."""


class MissingCheckpointError(RunRefused, FileNotFoundError):
    """``ckpt_path`` names no file (``last``: the run has no ``last.ckpt`` yet)."""


class NotACheckpointError(RunRefused, ValueError):
    """``ckpt_path`` names a file that is not a Lightning training checkpoint."""


class TrainingInterrupted(Exception):
    """Training was stopped by SIGTERM before ``trainer.max_steps``; no model was exported.

    Attributes:
        step: the optimizer steps done.
        checkpoint: the ``last.ckpt`` to resume from (None when the run saves no checkpoints).
    """

    def __init__(self, message: str, step: int, checkpoint: Path | None):
        super().__init__(message)
        self.step, self.checkpoint = step, checkpoint


def owns_run(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this process is the first (global rank 0) process of its run.

    Lightning's DDP launcher re-runs ``pfn train`` for ranks 1.. with ``LOCAL_RANK`` set; torchrun, SLURM
    and LSF set the others. A process with any of :data:`RANK_VARIABLES` non-zero joins a run that its
    rank-0 process owns (and has locked).
    """
    for key in RANK_VARIABLES:
        with contextlib.suppress(ValueError):
            if int(environ.get(key, "0") or "0") != 0:
                return False
    return True


def _holder_description() -> str:
    command = " ".join(["pfn", "train", *sys.argv[1:]]) if sys.argv else "?"
    return f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}: {command}"


class RunLock:
    """An exclusive, non-blocking lock on a run directory (``flock`` on ``<directory>/.lock``).

    The operating system releases it when the process ends however it ends (even by SIGKILL), so a
    crashed run never leaves the directory locked. The file records the holder (pid, host, start, command)
    for the error message of a second run. Use as a context manager.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> RunLock:
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+")  # noqa: SIM115 (held open until release)
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            file.seek(0)
            holder = file.read().strip() or "a process that has not written its name yet"
            file.close()
            raise RunInUseError(
                f"{self.directory} is in use by another training run ({holder}); wait for it to end, or start "
                "this one elsewhere with name=<new name>"
            ) from err
        file.seek(0)
        file.truncate()
        file.write(_holder_description() + "\n")
        file.flush()
        self._file = file
        return self

    def release(self) -> None:
        if self._file is not None:
            import fcntl

            self._file.truncate(0)
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def check_lightning_checkpoint(path: Path, name: str = "ckpt_path") -> None:
    """Refuses (``NotACheckpointError``, naming ``name``) a file that is not a Lightning training checkpoint.

    The file is memory-mapped, not read (``weights_only``: no code runs), and must hold a dict with the
    model's ``state_dict`` and the ``global_step`` to resume at.
    """
    if not path.is_file():
        raise MissingCheckpointError(f"{name}={path}: there is no such file")
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) == 9 and head[8:9] == b"{":
        raise NotACheckpointError(
            f"{name}={path} is an exported inference model (safetensors), not a training checkpoint: resume "
            "from a run's checkpoints/*.ckpt (ckpt_path=last for this run's last one)"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:
        raise NotACheckpointError(
            f"{name}={path} is not a Lightning training checkpoint (a checkpoints/*.ckpt file): "
            f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from None
    missing = [k for k in ("state_dict", "global_step") if not isinstance(state, dict) or k not in state]
    if missing:
        raise NotACheckpointError(
            f"{name}={path} is not a Lightning training checkpoint (a checkpoints/*.ckpt file): it has no "
            f"{' and no '.join(missing)}"
        )


def resolve_ckpt_path(ckpt_path: str | None, output_dir: Path, overwrite: bool, owner: bool = True) -> str | None:
    """The checkpoint to resume from (None: a fresh run), after checking the run directory.

    ``"last"`` means this run's ``checkpoints/last.ckpt``; any other path must be a Lightning checkpoint.
    A run that does not resume one of this directory's own checkpoints is a fresh run into it: the
    owner refuses one that would mix with, or silently replace, an earlier run's checkpoints or exported
    model, unless ``overwrite`` (then it removes them first).
    """
    ckpt_dir = output_dir / "checkpoints"
    if ckpt_path == "last":
        last = ckpt_dir / "last.ckpt"
        if not last.is_file():
            raise MissingCheckpointError(f"ckpt_path=last but there is no checkpoint to resume at {last}")
        ckpt_path = str(last)
    if ckpt_path is not None:
        check_lightning_checkpoint(Path(ckpt_path))
    resuming = ckpt_path is not None and Path(ckpt_path).resolve().parent == ckpt_dir.resolve()
    if resuming or not owner:
        return ckpt_path
    checkpoints = sorted(ckpt_dir.glob("*.ckpt")) if ckpt_dir.is_dir() else []
    model = output_dir / MODEL_NAME
    earlier = [str(p) for p in ([checkpoints[0]] if checkpoints else []) + ([model] if model.exists() else [])]
    if earlier and not overwrite:
        raise EarlierRunError(
            f"{output_dir} holds an earlier run ({', '.join(earlier)}{', ...' if len(checkpoints) > 1 else ''}): "
            "resume it with ckpt_path=last, start elsewhere with name=<new name>, or pass overwrite=true to "
            "replace it"
        )
    if checkpoints:
        shutil.rmtree(ckpt_dir)
    model.unlink(missing_ok=True)
    return ckpt_path


def resume_command() -> str:
    """The command that resumes this run: its overrides with ``ckpt_path=last`` (and no ``overwrite``)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return "pfn train <the same overrides> ckpt_path=last"
    overrides = HydraConfig.get().overrides
    given = [o for o in overrides.hydra if not o.startswith("hydra.mode=")] + list(overrides.task)
    kept = [shlex.quote(o) for o in given if not o.lstrip("+~").startswith(("ckpt_path=", "overwrite="))]
    return " ".join(["pfn", "train", *kept, "ckpt_path=last"])


def interrupted(step: int, output_dir: Path) -> TrainingInterrupted:
    """The :class:`TrainingInterrupted` of a run in ``output_dir`` stopped by SIGTERM at ``step``: it names
    the ``last.ckpt`` saved and the command that resumes from it, or says that nothing can be resumed."""
    last = output_dir / "checkpoints" / "last.ckpt"
    if last.is_file():
        state: dict[str, Any] = torch.load(last, map_location="cpu", weights_only=True, mmap=True)
        how = f"{last} holds step {state.get('global_step')}; resume with: {resume_command()}"
        return TrainingInterrupted(f"training stopped by SIGTERM at step {step}, no model exported; {how}", step, last)
    how = "no checkpoint was saved (the checkpoint callbacks are off), so the run cannot be resumed"
    return TrainingInterrupted(f"training stopped by SIGTERM at step {step}, no model exported; {how}", step, None)
