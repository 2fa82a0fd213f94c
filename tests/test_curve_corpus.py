"""The real learning-curve corpus (scripts/make_curve_corpus.py, scripts/curve_learners.py): a quick generation on
iris (held out) and diabetes (tuning) is split by dataset, byte-for-byte deterministic whether made at once, in
chunks merged afterwards or by extending a file, and its curves are valid (increasing budgets; finite values
inside the declared bounds; geometric training-set sizes) and sensible (iris accuracies well above chance)."""

import importlib.util
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # make_curve_corpus imports curve_learners; dataclasses look modules up
    spec.loader.exec_module(module)
    return module


cl = _load("curve_learners")
mcc = _load("make_curve_corpus")
DATASETS = ["iris", "diabetes"]


def generate(out: Path, *extra: str):
    args = mcc.parse_args(["--quick", "--quiet", "--out", str(out), *extra])
    return mcc.generate(args)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """As the script runs: one torch thread, one OpenMP / BLAS thread (also much faster on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "corpus.json.gz"
    generate(out, "--datasets", *DATASETS)
    return out


@pytest.fixture(scope="module")
def curves(corpus_file):
    return cl.load_corpus(corpus_file)


def test_split_is_by_dataset(curves):
    split_of = {}
    for c in curves:
        assert split_of.setdefault(c["dataset"], c["split"]) == c["split"], c["dataset"]
        assert c["split"] == cl.SPLIT_OF[c["dataset"]]
    assert split_of == {"iris": "heldout", "diabetes": "tuning"}
    # the rule: about 60 / 40, bundled and synthetic datasets on both sides
    splits = {s: [d for d in cl.DATASETS if cl.SPLIT_OF[d.name] == s] for s in cl.SPLITS}
    assert 0.5 <= len(splits["tuning"]) / len(cl.DATASETS) <= 0.7
    for members in splits.values():
        assert {d.source for d in members} == {"sklearn", "synthetic"}
        assert {d.task for d in members} == {"classification", "regression"}


def test_every_learner_and_metric_present(curves):
    runs = {}
    for c in curves:
        runs.setdefault(c["run"], set()).add(c["metric"])
    expected = {(d, n) for d in DATASETS for n, lr in cl.LEARNERS.items() if lr.applies_to(cl.DATASET_BY_NAME[d])}
    assert {(c["dataset"], c["learner"]) for c in curves} == expected
    for run, metrics in runs.items():
        if run.startswith("iris/"):
            assert {"accuracy", "error"} <= metrics <= {"accuracy", "error", "log_loss"}, run
        else:
            assert metrics == {"r2", "mse"}, run
    assert any("log_loss" in m for m in runs.values())


def test_curves_are_valid(curves):
    for c in curves:
        b, v = np.asarray(c["budgets"]), np.asarray(c["values"], dtype=float)
        assert c["kind"] == cl.LEARNERS[c["learner"]].kind
        assert len(b) == len(v) >= 10, c["id"]
        assert b[0] >= 1 and np.all(np.diff(b) > 0), c["id"]
        direction, bounds = cl.METRICS[c["metric"]]
        assert c["direction"] == direction and tuple(c["bounds"]) == bounds
        lower, upper = bounds
        assert np.all(np.isfinite(v)) and np.all(v >= lower), c["id"]
        assert upper is None or np.all(v <= upper), c["id"]
        if c["kind"] == "sample":
            assert b[-1] == c["n_train"]
        else:
            assert list(b) == list(range(1, len(b) + 1))
    by_id = {c["id"]: c for c in curves}
    for c in curves:
        if c["metric"] == "accuracy":
            error = by_id[c["id"].removesuffix("accuracy") + "error"]["values"]
            np.testing.assert_allclose(error, 1 - np.asarray(c["values"]), atol=2e-6)


def test_iris_accuracies_well_above_chance(curves):
    final = {c["learner"]: c["values"][-1] for c in curves if c["dataset"] == "iris" and c["metric"] == "accuracy"}
    for learner in ("knn", "logreg", "forest", "forest-samples"):
        assert final[learner] >= 0.8, (learner, final)  # chance: 1/3 (three balanced classes)


def test_sample_budgets_are_geometric(curves):
    sample_curves = [c for c in curves if c["kind"] == "sample"]
    assert sample_curves
    for c in sample_curves:
        b = np.asarray(c["budgets"], dtype=float)
        r = (b[-1] / b[0]) ** (1 / (len(b) - 1))
        assert r > 1.05
        np.testing.assert_array_less(np.abs(b - b[0] * r ** np.arange(len(b))), 0.5 + 1e-9)
    rng = np.random.default_rng(0)
    for n_min, n_max in [(10, 105), (20, 1257), (10, 11_000), (6, 40), (10, 28)]:
        sizes = cl.sample_budgets(n_min, n_max, rng, quick=False)
        assert sizes[0] == n_min and sizes[-1] == n_max and all(a < b for a, b in zip(sizes, sizes[1:], strict=False))
        r = (n_max / n_min) ** (1 / (len(sizes) - 1))
        assert all(abs(s - n_min * r**k) <= 0.5 + 1e-9 for k, s in enumerate(sizes))
        assert len(sizes) >= min(10, 1 + int(math.log(n_max / n_min) / math.log1p(1 / n_min)))


def test_deterministic_in_chunks_merged_and_extended(corpus_file, tmp_path):
    whole = corpus_file.read_bytes()
    part = tmp_path / "iris.json.gz"
    generate(part, "--datasets", "iris")
    other = tmp_path / "diabetes.json.gz"
    generate(other, "--datasets", "diabetes")
    merged = tmp_path / "merged.json.gz"
    mcc.merge([part, other], merged)
    assert merged.read_bytes() == whole
    extended = tmp_path / "extended.json.gz"
    shutil.copy(part, extended)
    _, seconds = generate(extended, "--datasets", *DATASETS)  # only diabetes's runs are missing
    assert sum(len(s) for s in seconds.values()) == sum(
        lr.applies_to(cl.DATASET_BY_NAME["diabetes"]) for lr in cl.LEARNERS.values()
    )
    assert extended.read_bytes() == whole
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(  # written atomically: no temporary files left
        ["iris.json.gz", "diabetes.json.gz", "merged.json.gz", "extended.json.gz"]
    )


def test_seed_and_settings_matter(corpus_file, tmp_path):
    other = tmp_path / "seed1.json.gz"
    generate(other, "--datasets", "iris", "--learners", "knn", "tree", "--seed", "1")
    a = {c["id"]: c for c in cl.load_corpus(corpus_file, metric="accuracy")}
    b = cl.load_corpus(other, metric="accuracy")
    assert any(c["hyperparameters"] != a[c["id"]]["hyperparameters"] for c in b)
    assert any(c["values"] != a[c["id"]]["values"] for c in b)
    with pytest.raises(SystemExit, match="other settings"):  # extending a file made with another seed
        generate(other, "--datasets", "iris", "--learners", "knn")


def test_loader_filters(corpus_file, curves):
    for split in cl.SPLITS:
        for kind in cl.KINDS:
            for metric in cl.METRICS:
                got = cl.load_corpus(corpus_file, split=split, kind=kind, metric=metric)
                want = [c for c in curves if (c["split"], c["kind"], c["metric"]) == (split, kind, metric)]
                assert got == want
    assert {c["metric"] for c in cl.load_corpus(corpus_file, metric="r2")} == {"r2"}
    assert {c["dataset"] for c in cl.load_corpus(corpus_file, split="heldout")} == {"iris"}
    assert len(cl.load_corpus(corpus_file, kind="epoch")) + len(cl.load_corpus(corpus_file, kind="iteration")) + len(
        cl.load_corpus(corpus_file, kind="sample")
    ) == len(curves)
    with pytest.raises(ValueError, match="kind"):
        cl.load_corpus(corpus_file, kind="epochs")
