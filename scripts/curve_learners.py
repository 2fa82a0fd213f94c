"""Datasets, learners and metrics of the real learning-curve corpus (scripts/make_curve_corpus.py), and its loader.

    from curve_learners import load_corpus
    curves = load_corpus("scripts/data/curve_corpus.json.gz", split="tuning", kind="epoch", metric="accuracy")
    for c in curves:
        c["budgets"], c["values"], c["direction"], c["bounds"]

Datasets: the tabular datasets bundled with scikit-learn (no download) and synthetic tasks of varied
difficulty and label noise; a synthetic task's name is its generator, parameters and seed, so it is
a dataset of its own. Each dataset belongs to one split, "tuning" or "heldout" (:func:`assign_splits`: about
60 / 40, by a hash of the name).

Learners, each run with hyperparameters drawn at random, produce one curve per metric:
  epoch-wise      mlp, resmlp, cnn (torch; SGD or Adam), sgd (scikit-learn's SGD linear models, partial_fit)
  iteration-wise  hgb (HistGradientBoosting, staged predictions), gb (GradientBoosting, staged predictions),
                  forest (random or extra-trees forest, the ensemble of its first t trees)
  sample-wise     knn, tree, forest-samples, logreg (classification) / ridge (regression), refit on the
                  first n examples of a fixed order for geometrically growing n
Metrics on the validation part: accuracy, error (1 - accuracy) and log-loss (when the learner gives
probabilities) for classification; R^2 clipped at 0 and the MSE of the standardised target for regression.
A run whose parameters become non-finite (or, for regression, whose validation MSE exceeds 1e4) has
diverged: from then on it scores as uniform class probabilities (the training mean for regression).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn import datasets as skd
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier, SGDRegressor
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

KINDS = ("epoch", "iteration", "sample")
SPLITS = ("tuning", "heldout")
TUNING_SHARE = 0.6
SPLIT_SALT = "curve-corpus/"
METRICS: dict[str, tuple[str, tuple[float, float | None]]] = {  # name -> (direction, bounds)
    "accuracy": ("maximize", (0.0, 1.0)),
    "error": ("minimize", (0.0, 1.0)),
    "log_loss": ("minimize", (0.0, None)),
    "r2": ("maximize", (0.0, 1.0)),
    "mse": ("minimize", (0.0, None)),
}
VAL_SHARE = 0.3
DIVERGED_MSE = 1e4  # a regression run predicting 100 standard deviations off counts as diverged
EPS = 1e-15  # probabilities are clipped to [EPS, 1 - EPS] for the log-loss, as scikit-learn does


# -- splits -------------------------------------------------------------------------------------------------------
def name_hash(name: str) -> str:
    return hashlib.sha256((SPLIT_SALT + name).encode()).hexdigest()


def assign_splits(specs: list[DatasetSpec]) -> dict[str, str]:
    """The split of each dataset. Within each group of the same source and task (bundled / synthetic,
    classification / regression), datasets are ordered by sha256("curve-corpus/" + name); the first
    round(0.6 n) of a group of n are "tuning", the others "heldout". A fixed rule of the names alone, so every
    chunk of a generation agrees, and both parts hold bundled and synthetic datasets of both tasks where a
    group has more than one."""
    out = {}
    for group in sorted({(d.source, d.task) for d in specs}):
        names = sorted((d.name for d in specs if (d.source, d.task) == group), key=name_hash)
        k = math.floor(TUNING_SHARE * len(names) + 0.5)
        out.update({name: "tuning" if i < k else "heldout" for i, name in enumerate(names)})
    return out


def stable_seed(*parts: object) -> int:
    """A 31-bit seed from the parts' text: the same on every machine and independent of run order."""
    return int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


# -- datasets -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetSpec:
    name: str
    source: str  # "sklearn" (bundled) or "synthetic"
    task: str  # "classification" or "regression"
    make: Callable[[], tuple[np.ndarray, np.ndarray]]
    image_shape: tuple[int, int] | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _bundled(
    name: str, loader: Callable[..., Any], task: str, image_shape: tuple[int, int] | None = None
) -> DatasetSpec:
    return DatasetSpec(name, "sklearn", task, lambda: loader(return_X_y=True), image_shape, {"loader": loader.__name__})


def _synthetic(generator: str, task: str, seed: int, **params: Any) -> DatasetSpec:
    """A synthetic task named ``generator:key=value,...,seed=S`` (the name reproduces it)."""
    name = f"{generator}:" + ",".join([f"{k}={v}" for k, v in params.items()] + [f"seed={seed}"])
    make_fn = getattr(skd, generator)
    kwargs = dict(params)
    if "weights" in kwargs:
        kwargs["weights"] = [kwargs["weights"]]

    def make() -> tuple[np.ndarray, np.ndarray]:
        x, y = make_fn(**kwargs, random_state=seed)
        return x, y

    return DatasetSpec(name, "synthetic", task, make, None, {"generator": generator, **params, "seed": seed})


def _classification(
    seed: int, n: int, f: int, inf: int, red: int, k: int, sep: float, flip: float, **kw: Any
) -> DatasetSpec:
    return _synthetic("make_classification", "classification", seed, n_samples=n, n_features=f, n_informative=inf,
                      n_redundant=red, n_classes=k, class_sep=sep, flip_y=flip, **kw)  # fmt: skip


def _regression(seed: int, n: int, f: int, inf: int, noise: float, **kw: Any) -> DatasetSpec:
    return _synthetic("make_regression", "regression", seed, n_samples=n, n_features=f, n_informative=inf,
                      noise=noise, **kw)  # fmt: skip


# linnerud (20 examples, 3 targets) is left out: a validation part of 6 examples gives no usable curve.
DATASETS: list[DatasetSpec] = [
    _bundled("iris", skd.load_iris, "classification"),
    _bundled("wine", skd.load_wine, "classification"),
    _bundled("breast_cancer", skd.load_breast_cancer, "classification"),
    _bundled("digits", skd.load_digits, "classification", (8, 8)),
    _bundled("diabetes", skd.load_diabetes, "regression"),
    _classification(1, 400, 5, 2, 1, 2, 0.5, 0.2),
    _classification(2, 600, 10, 3, 2, 2, 1.0, 0.0),
    _classification(3, 1000, 20, 5, 5, 3, 1.0, 0.05),
    _classification(4, 1500, 40, 10, 5, 5, 0.8, 0.1),
    _classification(5, 2000, 30, 15, 0, 4, 1.5, 0.01),
    _classification(6, 800, 50, 4, 0, 2, 2.0, 0.0),
    _classification(7, 1200, 15, 8, 2, 6, 0.7, 0.05),
    _classification(8, 600, 8, 6, 0, 3, 1.2, 0.3),
    _classification(9, 300, 20, 2, 2, 2, 1.0, 0.1),
    _classification(10, 1000, 10, 4, 2, 2, 1.0, 0.02, weights=0.85),
    _synthetic("make_moons", "classification", 11, n_samples=500, noise=0.1),
    _synthetic("make_moons", "classification", 12, n_samples=1000, noise=0.35),
    _synthetic("make_circles", "classification", 13, n_samples=600, noise=0.05, factor=0.5),
    _synthetic("make_circles", "classification", 14, n_samples=1000, noise=0.2, factor=0.7),
    _synthetic("make_gaussian_quantiles", "classification", 15, n_samples=1000, n_features=4, n_classes=3),
    _synthetic("make_hastie_10_2", "classification", 16, n_samples=1500),
    _synthetic("make_blobs", "classification", 17, n_samples=800, n_features=6, centers=5, cluster_std=2.5),
    _regression(21, 500, 10, 5, 5.0),
    _regression(22, 1000, 50, 10, 50.0),
    _regression(23, 300, 5, 5, 150.0),
    _regression(24, 800, 30, 10, 20.0, effective_rank=5),
    _synthetic("make_friedman1", "regression", 25, n_samples=500, noise=0.5),
    _synthetic("make_friedman1", "regression", 26, n_samples=1500, noise=3.0),
    _synthetic("make_friedman2", "regression", 27, n_samples=800, noise=100.0),
    _synthetic("make_friedman3", "regression", 28, n_samples=800, noise=0.1),
    _synthetic("make_sparse_uncorrelated", "regression", 29, n_samples=600, n_features=10),
]
DATASET_BY_NAME = {d.name: d for d in DATASETS}
SPLIT_OF = assign_splits(DATASETS)


@dataclass
class Data:
    """A dataset's fixed train / validation parts: standardised inputs (float32); class labels 0..K-1 (int64)
    or a target standardised by its training mean and standard deviation (float32)."""

    spec: DatasetSpec
    xt: np.ndarray
    yt: np.ndarray
    xv: np.ndarray
    yv: np.ndarray
    n_classes: int  # 0 for regression

    @property
    def classification(self) -> bool:
        return self.n_classes > 0


def prepare(spec: DatasetSpec, seed: int) -> Data:
    """Split 70 / 30 (stratified for classification) with a seed of its own per (seed, dataset)."""
    x, y = spec.make()
    x = np.asarray(x, dtype=np.float64)
    classification = spec.task == "classification"
    if classification:
        y = np.unique(y, return_inverse=True)[1].astype(np.int64)
    split_seed = stable_seed("split", seed, spec.name)
    xt, xv, yt, yv = train_test_split(x, y, test_size=VAL_SHARE, random_state=split_seed,
                                      stratify=y if classification else None)  # fmt: skip
    scaler = StandardScaler().fit(xt)
    xt, xv = scaler.transform(xt).astype(np.float32), scaler.transform(xv).astype(np.float32)
    if not classification:
        mean, sd = float(yt.mean()), float(yt.std()) or 1.0
        yt, yv = ((yt - mean) / sd).astype(np.float32), ((yv - mean) / sd).astype(np.float32)
    return Data(spec, xt, yt, xv, yv, int(y.max()) + 1 if classification else 0)


# -- metrics ------------------------------------------------------------------------------------------------------
def classification_scores(proba: np.ndarray | None, y: np.ndarray, pred: np.ndarray | None = None) -> dict[str, float]:
    """Accuracy, error and (with probabilities) log-loss; rows that are not finite count as uniform."""
    if proba is not None:
        proba = np.asarray(proba, dtype=np.float64)
        bad = ~np.isfinite(proba).all(1)
        proba[bad] = 1.0 / proba.shape[1]
        pred = proba.argmax(1)
    acc = float(np.mean(np.asarray(pred) == y))
    out = {"accuracy": acc, "error": 1.0 - acc}
    if proba is not None:
        p = np.clip(proba, EPS, 1 - EPS)
        p /= p.sum(1, keepdims=True)
        out["log_loss"] = float(-np.mean(np.log(p[np.arange(len(y)), y])))
    return out


def regression_scores(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """MSE of the standardised target and R^2 clipped at 0; a prediction that is not finite counts as the mean."""
    pred = np.asarray(pred, dtype=np.float64).reshape(-1)
    pred = np.where(np.isfinite(pred), pred, 0.0)
    mse = float(np.mean((pred - y) ** 2))
    r2 = 1.0 - mse / max(float(np.var(y)), 1e-12)
    return {"r2": float(min(max(r2, 0.0), 1.0)), "mse": min(mse, 1e300)}


def scores_of(data: Data, out: np.ndarray | None, pred: np.ndarray | None = None) -> dict[str, float]:
    """Scores of probabilities (or hard predictions) for classification, predictions for regression."""
    if data.classification:
        return classification_scores(out, data.yv, pred)
    return regression_scores(out if out is not None else pred, data.yv)


def constant_scores(data: Data) -> dict[str, float]:
    """What a diverged model scores: uniform probabilities, or the training mean."""
    if data.classification:
        return classification_scores(np.full((len(data.yv), data.n_classes), np.nan), data.yv)
    return regression_scores(np.full(len(data.yv), np.nan), data.yv)


@dataclass
class Curves:
    """One run's budgets and, per metric, the values. The run counts as diverged from the first budget at which
    it is reported without scores (its parameters are not finite) or, for regression, with an MSE above
    DIVERGED_MSE; from there on it scores as ``constant`` (:func:`constant_scores`)."""

    constant: dict[str, float]
    budgets: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    diverged_at: int | None = None

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    def add(self, budget: int, scores: dict[str, float] | None = None) -> None:
        if not self.diverged and (scores is None or scores.get("mse", 0.0) > DIVERGED_MSE):
            self.diverged_at = int(budget)
        scores = self.constant if self.diverged or scores is None else scores
        self.budgets.append(int(budget))
        for k, v in scores.items():
            self.values.setdefault(k, []).append(v)


# -- hyperparameter draws -----------------------------------------------------------------------------------------
def pick(rng: np.random.Generator, options: list[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(10 ** rng.uniform(math.log10(lo), math.log10(hi)))


def log_int(rng: np.random.Generator, lo: int, hi: int) -> int:
    """An integer in [lo, hi], log-uniformly."""
    return int(min(hi, max(lo, round(log_uniform(rng, lo, hi + 0.999)))))


def capped_length(
    rng: np.random.Generator, seconds_each: float, budget_s: float, quick: bool, longest: int = 1000
) -> int:
    """Number of budgets (epochs, iterations): log-uniform in [10, longest], at most what ``budget_s`` allows."""
    if quick:
        return 12
    drawn = log_int(rng, 10, longest)
    return int(max(10, min(drawn, budget_s // max(seconds_each, 1e-9))))


# -- torch learners (epoch-wise) ----------------------------------------------------------------------------------
# Cost model of one optimiser step on one CPU thread (rough; it only caps the number of epochs): a fixed cost,
# one per module, one per parameter (the update), and one per multiply-add of each example (forward and backward).
STEP_S, MODULE_S, UPDATE_S, MADD_S = 3e-4, 2e-4, 1e-8, 2.2e-10


class ResBlock(torch.nn.Module):
    def __init__(self, width: int, act: Callable[[], torch.nn.Module], dropout: float):
        super().__init__()
        self.f = torch.nn.Sequential(torch.nn.LayerNorm(width), torch.nn.Linear(width, width), act(),
                                     torch.nn.Dropout(dropout), torch.nn.Linear(width, width))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.f(x)


ACTIVATIONS: dict[str, Callable[[], torch.nn.Module]] = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh,
                                                         "gelu": torch.nn.GELU}  # fmt: skip


def build_net(arch: str, cfg: dict[str, Any], d_in: int, d_out: int, image_shape: tuple[int, int] | None):
    act, w, drop = ACTIVATIONS[cfg["activation"]], cfg["width"], cfg["dropout"]
    nn = torch.nn
    if arch == "mlp":
        layers: list[nn.Module] = []
        for i in range(cfg["depth"]):
            layers += [nn.Linear(d_in if i == 0 else w, w), act(), nn.Dropout(drop)]
        return nn.Sequential(*layers, nn.Linear(w, d_out))
    if arch == "resmlp":
        blocks = [ResBlock(w, act, drop) for _ in range(cfg["depth"])]
        return nn.Sequential(nn.Linear(d_in, w), *blocks, nn.LayerNorm(w), nn.Linear(w, d_out))
    assert image_shape is not None
    c, (h, wd) = cfg["channels"], image_shape
    return nn.Sequential(nn.Unflatten(1, (1, h, wd)), nn.Conv2d(1, c, 3, padding=1), act(),
                         nn.Conv2d(c, 2 * c, 3, padding=1), act(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Dropout(drop), nn.Linear(2 * c * (h // 2) * (wd // 2), w), act(),
                         nn.Linear(w, d_out))  # fmt: skip


def work_per_example(net: torch.nn.Module, image_shape: tuple[int, int] | None) -> int:
    """Multiply-adds per example, roughly: parameters, convolutions counted once per pixel."""
    total = 0
    for m in net.modules():
        n = sum(p.numel() for p in m.parameters(recurse=False))
        total += n * (image_shape[0] * image_shape[1] if isinstance(m, torch.nn.Conv2d) and image_shape else 1)
    return total


def epoch_seconds(net: torch.nn.Module, data: Data, batch_size: int) -> float:
    """Estimated seconds of one epoch and one evaluation (see STEP_S)."""
    modules = sum(1 for m in net.modules() if not list(m.children()))
    params = sum(p.numel() for p in net.parameters())
    per_step = STEP_S + MODULE_S * modules + UPDATE_S * params
    madds = work_per_example(net, data.spec.image_shape)
    return math.ceil(len(data.yt) / batch_size) * per_step + MADD_S * madds * (len(data.yt) + len(data.yv) / 3)


def torch_config(arch: str, rng: np.random.Generator, data: Data, quick: bool, budget_s: float) -> dict[str, Any]:
    optimizer = pick(rng, ["sgd", "adam"])
    cfg: dict[str, Any] = {"optimizer": optimizer}
    if optimizer == "sgd":  # from far too small to diverging
        cfg.update(lr=log_uniform(rng, 1e-4, 3.0), momentum=pick(rng, [0.0, 0.5, 0.9, 0.99]))
    else:
        cfg.update(lr=log_uniform(rng, 1e-5, 0.3))
    cfg["weight_decay"] = 0.0 if rng.random() < 0.3 else log_uniform(rng, 1e-6, 1e-1)
    cfg["batch_size"] = min(int(2 ** rng.integers(3, 9)), len(data.yt))
    cfg["width"] = int(2 ** rng.integers(3, 10))
    cfg["depth"] = int(rng.integers(1, 5)) if arch == "mlp" else int(rng.integers(1, 4))
    if arch == "cnn":
        cfg["channels"] = int(2 ** rng.integers(2, 6))
    cfg["activation"] = pick(rng, list(ACTIVATIONS))
    cfg["dropout"] = pick(rng, [0.0, 0.0, 0.1, 0.3])
    if quick:
        cfg.update(width=min(cfg["width"], 32), batch_size=min(max(cfg["batch_size"], 32), len(data.yt)))
        if arch == "cnn":
            cfg["channels"] = 4
    net = build_net(arch, cfg, data.xt.shape[1], max(data.n_classes, 1), data.spec.image_shape)
    epoch_s = epoch_seconds(net, data, cfg["batch_size"])
    cfg["epochs"] = capped_length(rng, epoch_s, budget_s, quick)
    return cfg


def all_finite(net: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in net.parameters())


def run_torch(arch: str, cfg: dict[str, Any], data: Data, seed: int) -> Curves:
    torch.manual_seed(seed)
    out_dim = max(data.n_classes, 1)
    net = build_net(arch, cfg, data.xt.shape[1], out_dim, data.spec.image_shape)
    if cfg["optimizer"] == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(net.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                                                     weight_decay=cfg["weight_decay"])  # fmt: skip
    else:
        opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    xt, xv = torch.from_numpy(data.xt), torch.from_numpy(data.xv)
    yt = torch.from_numpy(data.yt) if data.classification else torch.from_numpy(data.yt)[:, None]
    loss_fn = torch.nn.functional.cross_entropy if data.classification else torch.nn.functional.mse_loss
    order = torch.Generator().manual_seed(seed)
    curves = Curves(constant_scores(data))
    for epoch in range(1, cfg["epochs"] + 1):
        if curves.diverged:
            curves.add(epoch)
            continue
        net.train()
        perm = torch.randperm(len(yt), generator=order)
        for i in range(0, len(yt), cfg["batch_size"]):
            b = perm[i : i + cfg["batch_size"]]
            loss = loss_fn(net(xt[b]), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        curves.add(epoch, torch_scores(net, xv, data) if all_finite(net) else None)
    return curves


def torch_scores(net: torch.nn.Module, xv: torch.Tensor, data: Data) -> dict[str, float]:
    net.eval()
    with torch.no_grad():
        out = net(xv).double()
    if data.classification:
        return scores_of(data, torch.softmax(out, 1).numpy())
    return scores_of(data, out[:, 0].numpy())


# -- scikit-learn SGD linear models (epoch-wise, partial_fit) -----------------------------------------------------
SCHEDULES = ["constant", "optimal", "invscaling", "adaptive"]


def sgd_config(rng: np.random.Generator, data: Data, quick: bool, budget_s: float) -> dict[str, Any]:
    if data.classification:
        losses, schedules = ["log_loss", "modified_huber", "hinge", "squared_hinge", "perceptron"], SCHEDULES
    else:  # "optimal" is meant for classification: with a small alpha its first steps are enormous
        losses, schedules = ["squared_error", "huber", "epsilon_insensitive"], SCHEDULES[:1] + SCHEDULES[2:]
    cfg: dict[str, Any] = {"loss": pick(rng, losses), "penalty": pick(rng, ["l2", "l1", "elasticnet"]),
                           "alpha": log_uniform(rng, 1e-7, 1e-1), "learning_rate": pick(rng, schedules),
                           "eta0": log_uniform(rng, 1e-5, 1.0), "power_t": float(rng.uniform(0.1, 0.7))}  # fmt: skip
    if cfg["penalty"] == "elasticnet":
        cfg["l1_ratio"] = float(rng.uniform(0.05, 0.95))
    epoch_s = 2e-4 + 1.5e-6 * len(data.yt) * max(1, data.n_classes if data.n_classes > 2 else 1)
    cfg["epochs"] = capped_length(rng, epoch_s, budget_s, quick)
    return cfg


def run_sgd(cfg: dict[str, Any], data: Data, seed: int) -> Curves:
    params = {k: v for k, v in cfg.items() if k != "epochs"}
    model = (SGDClassifier if data.classification else SGDRegressor)(**params, random_state=seed)
    rng = np.random.default_rng(seed)
    classes = np.arange(data.n_classes)
    curves = Curves(constant_scores(data))
    for epoch in range(1, cfg["epochs"] + 1):
        if curves.diverged:
            curves.add(epoch)
            continue
        perm = rng.permutation(len(data.yt))
        try:
            with np.errstate(all="ignore"):
                if data.classification:
                    model.partial_fit(data.xt[perm], data.yt[perm], classes=classes)
                else:
                    model.partial_fit(data.xt[perm], data.yt[perm])
            ok = bool(np.isfinite(model.coef_).all() and np.isfinite(model.intercept_).all())
        except ValueError:  # scikit-learn's "Floating-point under-/overflow occurred"
            ok = False
        curves.add(epoch, sklearn_scores(model, data) if ok else None)
    return curves


def sklearn_scores(model: Any, data: Data) -> dict[str, float]:
    xv = data.xv
    with np.errstate(all="ignore"):
        if not data.classification:
            return scores_of(data, model.predict(xv))
        if hasattr(model, "predict_proba"):
            return scores_of(data, full_proba(model.predict_proba(xv), model.classes_, data.n_classes))
        return scores_of(data, None, model.predict(xv))


def full_proba(proba: np.ndarray, classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities over all classes when a model saw only some of them."""
    if proba.shape[1] == n_classes:
        return proba
    out = np.zeros((len(proba), n_classes))
    out[:, np.asarray(classes, dtype=np.int64)] = proba
    return out


# -- boosting and forests (iteration-wise) ------------------------------------------------------------------------
def trees_per_iteration(data: Data) -> int:
    return data.n_classes if data.n_classes > 2 else 1


def hgb_config(rng: np.random.Generator, data: Data, quick: bool, budget_s: float) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "learning_rate": log_uniform(rng, 1e-3, 2.0),
        "max_leaf_nodes": int(2 ** rng.integers(1, 7)),
        "max_depth": None if rng.random() < 0.5 else int(rng.integers(1, 9)),
        "min_samples_leaf": int(2 ** rng.integers(0, 7)),
        "l2_regularization": 0.0 if rng.random() < 0.4 else log_uniform(rng, 1e-4, 10.0),
        "max_features": float(rng.uniform(0.2, 1.0)),
    }
    if not data.classification:
        cfg["loss"] = pick(rng, ["squared_error", "absolute_error"])
    n, f = data.xt.shape
    iter_s = trees_per_iteration(data) * (1e-3 + 4e-8 * n * f * cfg["max_features"])
    cfg["max_iter"] = capped_length(rng, iter_s, budget_s, quick)
    return cfg


def run_hgb(cfg: dict[str, Any], data: Data, seed: int) -> Curves:
    cls = HistGradientBoostingClassifier if data.classification else HistGradientBoostingRegressor
    model = cls(**cfg, early_stopping=False, random_state=seed).fit(data.xt, data.yt)
    return staged_curves(model, data)


def gb_config(rng: np.random.Generator, data: Data, quick: bool, budget_s: float) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "learning_rate": log_uniform(rng, 1e-3, 2.0),
        "max_depth": int(rng.integers(1, 7)),
        "min_samples_leaf": int(2 ** rng.integers(0, 6)),
        "subsample": 1.0 if rng.random() < 0.4 else float(rng.uniform(0.3, 1.0)),
        "max_features": 1.0 if rng.random() < 0.4 else float(rng.uniform(0.2, 1.0)),
    }
    if not data.classification:
        cfg["loss"] = pick(rng, ["squared_error", "huber", "absolute_error"])
    n, f = data.xt.shape
    iter_s = trees_per_iteration(data) * (3e-4 + 5e-8 * n * f * cfg["max_depth"] * cfg["max_features"])
    cfg["n_estimators"] = capped_length(rng, iter_s, budget_s, quick)
    return cfg


def run_gb(cfg: dict[str, Any], data: Data, seed: int) -> Curves:
    cls = GradientBoostingClassifier if data.classification else GradientBoostingRegressor
    model = cls(**cfg, random_state=seed).fit(data.xt, data.yt)
    return staged_curves(model, data)


def staged_curves(model: Any, data: Data) -> Curves:
    curves = Curves(constant_scores(data))
    with np.errstate(all="ignore"):
        stages = model.staged_predict_proba(data.xv) if data.classification else model.staged_predict(data.xv)
        for i, out in enumerate(stages, start=1):
            curves.add(i, scores_of(data, out))
    return curves


def forest_params(rng: np.random.Generator, data: Data) -> dict[str, Any]:
    variant = pick(rng, ["random", "extra"])
    cfg: dict[str, Any] = {
        "variant": variant,
        "max_features": pick(rng, ["sqrt", "log2", float(round(rng.uniform(0.1, 1.0), 3))]),
        "max_depth": None if rng.random() < 0.5 else int(rng.integers(1, 16)),
        "min_samples_leaf": int(2 ** rng.integers(0, 5)),
        "bootstrap": bool(rng.random() < 0.7) if variant == "extra" else True,
    }
    if data.classification:
        cfg["criterion"] = pick(rng, ["gini", "entropy"])
    return cfg


def make_forest(cfg: dict[str, Any], data: Data, seed: int) -> Any:
    params = {k: v for k, v in cfg.items() if k not in ("variant", "sizes")}
    if cfg["variant"] == "random":
        cls = RandomForestClassifier if data.classification else RandomForestRegressor
    else:
        cls = ExtraTreesClassifier if data.classification else ExtraTreesRegressor
    return cls(**params, n_jobs=1, random_state=seed)


def tree_seconds(n: int, f: int) -> float:
    """Estimated seconds to grow one tree of a forest on n examples of f features (and to predict with it)."""
    return 1e-3 + 1e-7 * n * math.log2(max(n, 2)) * math.sqrt(f)


def forest_config(rng: np.random.Generator, data: Data, quick: bool, budget_s: float) -> dict[str, Any]:
    cfg = forest_params(rng, data)
    cfg["n_estimators"] = capped_length(rng, tree_seconds(*data.xt.shape), budget_s, quick, longest=500)
    return cfg


def run_forest(cfg: dict[str, Any], data: Data, seed: int) -> Curves:
    """The ensemble of the first t trees, for t = 1..n_estimators (the forest averages its trees' outputs)."""
    model = make_forest(cfg, data, seed).fit(data.xt, data.yt)
    curves = Curves(constant_scores(data))
    total = None
    for t, tree in enumerate(model.estimators_, start=1):
        out = tree.predict_proba(data.xv) if data.classification else tree.predict(data.xv)
        total = out if total is None else total + out
        curves.add(t, scores_of(data, total / t))
    return curves


# -- sample-wise learners -----------------------------------------------------------------------------------------
def sample_budgets(n_min: int, n_max: int, rng: np.random.Generator, quick: bool) -> list[int]:
    """Training-set sizes round(n_min r^k), k = 0..m-1, from n_min to n_max: geometric, and strictly increasing
    because r >= 1 + 1 / n_min (rounding half up keeps sizes at least 1 apart distinct)."""
    most = 1 + int(math.log(n_max / n_min) / math.log1p(1 / n_min))
    m = min(most, 10 if quick else int(rng.integers(10, 31)))
    while True:  # one pass but for floating-point rounding at the limit
        r = (n_max / n_min) ** (1 / (m - 1))
        sizes = [int(math.floor(n_min * r**k + 0.5)) for k in range(m)]
        if len(set(sizes)) == m:  # sizes never decrease, so distinct means strictly increasing
            return sizes
        m -= 1


def sample_order(data: Data, rng: np.random.Generator) -> np.ndarray:
    """A random order of the training examples whose first examples cover every class."""
    perm = rng.permutation(len(data.yt))
    if not data.classification:
        return perm
    first = np.unique(data.yt[perm], return_index=True)[1]
    return np.concatenate([perm[np.sort(first)], np.delete(perm, first)])


def smallest_sample(data: Data) -> int:
    return max(10, 2 * data.n_classes)


def with_sizes(cfg: dict[str, Any], rng: np.random.Generator, data: Data, quick: bool) -> dict[str, Any]:
    cfg["sizes"] = sample_budgets(smallest_sample(data), len(data.yt), rng, quick)
    return cfg


def knn_config(rng: np.random.Generator, data: Data, quick: bool, budget_s: float) -> dict[str, Any]:
    cfg = {"n_neighbors": log_int(rng, 1, 50), "weights": pick(rng, ["uniform", "distance"]), "p": pick(rng, [1, 2])}
    return with_sizes(cfg, rng, data, quick)


def tree_config(rng: np.random.Generator, data: Data, quick: bool, budget_s: float) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "max_depth": None if rng.random() < 0.4 else int(rng.integers(1, 16)),
        "min_samples_leaf": int(2 ** rng.integers(0, 6)),
        "max_features": None if rng.random() < 0.5 else float(round(rng.uniform(0.2, 1.0), 3)),
    }
    if data.classification:
        cfg["criterion"] = pick(rng, ["gini", "entropy"])
    return with_sizes(cfg, rng, data, quick)


def forest_samples_config(rng: np.random.Generator, data: Data, quick: bool, budget_s: float) -> dict[str, Any]:
    cfg = with_sizes(forest_params(rng, data), rng, data, quick)
    per_tree_s = sum(tree_seconds(n, data.xt.shape[1]) for n in cfg["sizes"])
    cfg["n_estimators"] = 10 if quick else int(max(10, min(log_int(rng, 10, 200), budget_s // per_tree_s)))
    return cfg


def linear_config(rng: np.random.Generator, data: Data, quick: bool, budget_s: float) -> dict[str, Any]:
    if data.classification:
        cfg: dict[str, Any] = {"C": log_uniform(rng, 1e-4, 1e4), "max_iter": pick(rng, [50, 100, 1000])}
    else:
        cfg = {"alpha": log_uniform(rng, 1e-4, 1e4)}
    return with_sizes(cfg, rng, data, quick)


def sample_model(name: str, cfg: dict[str, Any], data: Data, seed: int, n: int) -> Any:
    params = {k: v for k, v in cfg.items() if k != "sizes"}
    c = data.classification
    if name == "knn":
        params["n_neighbors"] = min(params["n_neighbors"], n)
        return (KNeighborsClassifier if c else KNeighborsRegressor)(**params)
    if name == "tree":
        return (DecisionTreeClassifier if c else DecisionTreeRegressor)(**params, random_state=seed)
    if name == "forest-samples":
        return make_forest(cfg, data, seed)
    return LogisticRegression(**params) if c else Ridge(**params)


def run_samples(name: str, cfg: dict[str, Any], data: Data, seed: int) -> Curves:
    order = sample_order(data, np.random.default_rng(seed))
    curves = Curves(constant_scores(data))
    for n in cfg["sizes"]:
        idx = order[:n]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = sample_model(name, cfg, data, seed, n).fit(data.xt[idx], data.yt[idx])
        curves.add(n, sklearn_scores(model, data))
    return curves


# -- the learners -------------------------------------------------------------------------------------------------
ConfigFn = Callable[[np.random.Generator, Data, bool, float], dict[str, Any]]
RunFn = Callable[[dict[str, Any], Data, int], Curves]


@dataclass(frozen=True)
class Learner:
    name: str
    kind: str  # "epoch", "iteration" or "sample"
    config: ConfigFn
    run: RunFn
    tasks: tuple[str, ...] = ("classification", "regression")
    needs_image: bool = False

    def applies_to(self, spec: DatasetSpec) -> bool:
        return spec.task in self.tasks and (spec.image_shape is not None or not self.needs_image)


def _torch_learner(arch: str, **kw: Any) -> Learner:
    def config(rng: np.random.Generator, data: Data, quick: bool, budget_s: float) -> dict[str, Any]:
        return torch_config(arch, rng, data, quick, budget_s)

    def run(cfg: dict[str, Any], data: Data, seed: int) -> Curves:
        return run_torch(arch, cfg, data, seed)

    return Learner(arch, "epoch", config, run, **kw)


def _sample_learner(name: str, config: ConfigFn, **kw: Any) -> Learner:
    def run(cfg: dict[str, Any], data: Data, seed: int) -> Curves:
        return run_samples(name, cfg, data, seed)

    return Learner(name, "sample", config, run, **kw)


LEARNERS: dict[str, Learner] = {
    learner.name: learner
    for learner in [
        _torch_learner("mlp"),
        _torch_learner("resmlp"),
        _torch_learner("cnn", tasks=("classification",), needs_image=True),
        Learner("sgd", "epoch", sgd_config, run_sgd),
        Learner("hgb", "iteration", hgb_config, run_hgb),
        Learner("gb", "iteration", gb_config, run_gb),
        Learner("forest", "iteration", forest_config, run_forest),
        _sample_learner("knn", knn_config),
        _sample_learner("tree", tree_config),
        _sample_learner("forest-samples", forest_samples_config),
        _sample_learner("logreg", linear_config, tasks=("classification",)),
        _sample_learner("ridge", linear_config, tasks=("regression",)),
    ]
}


# -- the corpus file ----------------------------------------------------------------------------------------------
def read_corpus(path: str | Path) -> dict[str, Any]:
    """The whole corpus file: generation settings, datasets and curves."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def load_corpus(
    path: str | Path, split: str | None = None, kind: str | None = None, metric: str | None = None
) -> list[dict[str, Any]]:
    """The corpus's curves, optionally only those of one split ("tuning" / "heldout"), budget kind
    ("epoch" / "iteration" / "sample") and metric ("accuracy", "error", "log_loss", "r2", "mse").

    Each curve is a dict with ``dataset``, ``learner``, ``hyperparameters``, ``kind``, ``budgets``,
    ``values``, ``metric``, ``direction``, ``bounds`` (``[lower, upper]``, ``None`` for an open side),
    ``split`` and more (see scripts/make_curve_corpus.py).
    """
    for name, value, allowed in (("split", split, SPLITS), ("kind", kind, KINDS), ("metric", metric, METRICS)):
        if value is not None and value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)} or None, got {value!r}")
    return [
        c
        for c in read_corpus(path)["curves"]
        if (split is None or c["split"] == split)
        and (kind is None or c["kind"] == kind)
        and (metric is None or c["metric"] == metric)
    ]
