"""Result files: each benchmark or evaluation script writes its tables here, and the docs include them.

    from results import write_results
    write_results("bench_inference", table_markdown, threads=1)

writes ``docs/results/bench_inference.md``: the table under a provenance line with the exact
command, the date, the commit, the hardware (stated neutrally) and the thread count, so no figure
in the docs is typed by hand. Scripts import this module as ``results`` (``python scripts/X.py``
puts ``scripts/`` on the import path).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "docs" / "results"


def command_line() -> str:
    """The command that is running, as a user would type it from the repository root."""
    script = Path(sys.argv[0])
    with contextlib.suppress(ValueError):  # a script outside the repository keeps its path
        script = script.resolve().relative_to(ROOT)
    return shlex.join(["python", str(script), *sys.argv[1:]])


def commit() -> str:
    """The current commit (short), with "+changes" when the working tree differs from it.

    A copy of the tree without its git history (a remote GPU machine, say) names its commit in the
    environment variable ``RESULTS_COMMIT``.
    """
    if os.environ.get("RESULTS_COMMIT"):
        return os.environ["RESULTS_COMMIT"]
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        # the result files themselves do not change what is measured
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs/results"],
                               cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    except OSError:
        return "unknown"
    if sha.returncode:
        return "unknown"
    return sha.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def hardware(device: str = "cpu") -> str:
    """A neutral description such as "2-core x86_64 CPU" or "NVIDIA H100 80GB HBM3 GPU"."""
    if device.startswith("cuda"):
        import torch

        return f"{torch.cuda.get_device_name(torch.device(device))} GPU"
    return f"{os.cpu_count()}-core {platform.machine()} CPU"


def provenance(threads: int | None, device: str = "cpu") -> str:
    threads_text = "" if threads is None else f", {threads} thread{'s' if threads != 1 else ''}"
    return (
        f"Measured with `{command_line()}` on {dt.date.today().isoformat()}, commit `{commit()}`, "
        f"{hardware(device)}{threads_text}."
    )


def write_results(name: str, body: str, threads: int | None = None, device: str = "cpu") -> Path:
    """Write ``body`` (Markdown) under a provenance line to ``docs/results/<name>.md``; return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.md"
    path.write_text(f"{provenance(threads, device)}\n\n{body.strip()}\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return path
