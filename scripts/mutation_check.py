"""Mutation check: apply named mutations to the source and see whether the suite notices.

Each module in ``tests/mutants/`` lists mutants as ``MUTANTS = [dict(name=, file=, old=, new=, tests=)]``:
``old`` must occur exactly once in ``file``; it is replaced by ``new`` in a private copy of the
working tree, and the ``tests`` (pytest node ids or files) are run there. A mutant is *killed*
when those tests fail, *survives* when they pass. The working tree itself is never modified.

    python scripts/mutation_check.py                 # every mutant
    python scripts/mutation_check.py -k pareto       # mutants whose name contains "pareto"
    python scripts/mutation_check.py --baseline      # also run each mutant's tests unmutated (must pass)

Prints one line per mutant and the score (killed / total); exits 1 when any mutant survives.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_mutants(folder: Path) -> list[dict]:
    mutants = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"mutants_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for m in module.MUTANTS:
            mutants.append({**m, "group": path.stem})
    return mutants


def copy_tree(dst: Path) -> None:
    """The files git tracks or would track (untracked, not ignored), copied to dst."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.split(b"\0")  # fmt: skip
    for raw in filter(None, listed):
        rel = Path(os.fsdecode(raw))
        if (ROOT / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dst / rel)


def run_tests(tree: Path, tests: list[str], timeout: float) -> tuple[bool, float]:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, timeout=timeout)
        passed = done.returncode == 0
    except subprocess.TimeoutExpired:
        passed = False  # a mutant that hangs the tests counts as detected
    return passed, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="run only mutants whose name contains this")
    parser.add_argument("--baseline", action="store_true", help="check each mutant's tests pass unmutated")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutant's test run")
    args = parser.parse_args()
    mutants = [m for m in load_mutants(ROOT / "tests" / "mutants") if args.k in m["name"]]
    if not mutants:
        print("no mutants selected")
        return 2
    survived = []
    with tempfile.TemporaryDirectory(prefix="pfn-mutants-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        for m in mutants:
            target = tree / m["file"]
            source = target.read_text()
            count = source.count(m["old"])
            if count != 1:
                print(f"ERROR    {m['name']}: the text to mutate occurs {count} times in {m['file']}")
                survived.append(m["name"])
                continue
            if args.baseline:
                ok, secs = run_tests(tree, m["tests"], args.timeout)
                if not ok:
                    print(f"BASELINE {m['name']}: its tests fail without the mutation ({secs:.0f} s)")
                    survived.append(m["name"])
                    continue
            target.write_text(source.replace(m["old"], m["new"]))
            try:
                passed, secs = run_tests(tree, m["tests"], args.timeout)
            finally:
                target.write_text(source)
            print(f"{'SURVIVED' if passed else 'killed  '} {m['group']}/{m['name']} ({secs:.0f} s)", flush=True)
            if passed:
                survived.append(m["name"])
    killed = len(mutants) - len(survived)
    print(f"\nmutation score: {killed}/{len(mutants)} killed")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
