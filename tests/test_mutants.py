"""The named mutants of tests/mutants/ still point at code that exists (each ``old`` text occurs exactly once),
so ``make mutation`` keeps testing what it claims to test after the code moves."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("mutation_check", ROOT / "scripts" / "mutation_check.py")
mutation_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mutation_check)
MUTANTS = mutation_check.load_mutants(ROOT / "tests" / "mutants")


def test_there_are_mutants_for_every_area():
    areas = {"bar_distribution", "bo", "checkpoint", "curves", "inference", "priors", "search", "training"}
    assert {m["group"] for m in MUTANTS} >= areas
    names = [m["name"] for m in MUTANTS]
    assert len(names) == len(set(names)), "mutant names must be unique"


@pytest.mark.parametrize("mutant", MUTANTS, ids=[f"{m['group']}/{m['name']}" for m in MUTANTS])
def test_each_mutant_applies_to_exactly_one_place(mutant):
    source = (ROOT / mutant["file"]).read_text()
    assert source.count(mutant["old"]) == 1
    assert mutant["new"] != mutant["old"]
    paths = [t.split("::")[0] for t in mutant["tests"] if t.startswith("tests/")]  # besides options such as -k
    assert paths and all((ROOT / p).exists() for p in paths), mutant["tests"]
