"""Installing outside the checkout: the wheel carries the shipped models; inference needs only the core dependencies."""

import importlib.metadata as md
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent
CORE = ("torch", "numpy", "safetensors")
TRAINING_ONLY = ("lightning", "hydra", "omegaconf", "wandb", "pytorch_lightning", "lightning_fabric")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_source_package_is_listed_for_the_wheel():
    listed = set(_project()["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("pfn", "priors")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk - listed == set(), "packages missing from [tool.setuptools] packages in pyproject.toml"


def test_core_dependencies_are_only_what_inference_needs():
    names = {Requirement(r).name for r in _project()["project"]["dependencies"]}
    assert names == set(CORE)


def test_importing_the_inference_front_ends_loads_no_training_stack():
    code = (
        "import sys, pfn, pfn.curves, pfn.pruners, pfn.sklearn\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(TRAINING_ONLY)!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def _closure(names) -> set[str]:
    """Installed distributions needed by ``names``, following their unconditional requirements."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        dist = md.distribution(name)
        key = dist.metadata["Name"].lower()
        if key in seen:
            continue
        seen.add(key)
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def _link_distributions(names: set[str], folder: Path) -> None:
    """A folder holding only these distributions' top-level modules (symlinks into this interpreter's site-packages)."""
    folder.mkdir()
    for name in names:
        dist = md.distribution(name)
        for f in dist.files or []:
            top = f.parts[0]
            src = Path(dist.locate_file(top))
            if ".." in f.parts or top.endswith(".pth") or not src.exists() or (folder / top).exists():
                continue
            (folder / top).symlink_to(src)


@pytest.mark.slow
def test_wheel_in_a_fresh_environment_loads_a_shipped_model(tmp_path):
    wheel_dir = tmp_path / "wheel"
    build = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*build, "-w", str(wheel_dir)], check=True, capture_output=True)
    (wheel,) = wheel_dir.glob("pfn-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)  # no system site-packages: only what is put there
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import site; print(site.getsitepackages()[0])"],
                               capture_output=True, text=True, check=True).stdout.strip())  # fmt: skip
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site),
                    str(wheel)], check=True, capture_output=True)  # fmt: skip
    _link_distributions(_closure(CORE), tmp_path / "core")
    (site / "core_dependencies.pth").write_text(str(tmp_path / "core") + "\n")
    code = """
import importlib.util, sys
import numpy as np
import pfn
from pfn import curves
assert "/site-packages/pfn/" in pfn.__file__, pfn.__file__
pred = pfn.load("gp").predict(np.linspace(0.1, 0.9, 5), np.zeros(5), np.array([0.5]))
assert np.isfinite(pred.mean).all() and abs(float(pred.mean[0])) < 0.5
assert curves.extrapolate([0.5, 0.6, 0.65], max_epochs=20).median.shape == (1,)
missing = [m for m in ("lightning", "hydra", "wandb") if importlib.util.find_spec(m) is not None]
assert not missing, missing
print("ok", len(pfn.list_pretrained()))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PFN_PRETRAINED_DIR")}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    shipped = len(list((ROOT / "pretrained").glob("*.safetensors")))
    assert out.stdout.split() == ["ok", str(shipped)]
