"""Produce real learning curves for evaluating extrapolation, saved to scripts/data/real_curves.json.

    python scripts/make_real_curves.py [--epoch-curves 40] [--sample-curves 20] [--seed 0]

Epoch-wise: validation accuracy after each of 100 epochs of an MLP on scikit-learn's digits, for
hyperparameters drawn at random (learning rate, momentum, width, weight decay, batch size).
Sample-wise: validation accuracy of the same kind of model trained to convergence (30 epochs) on
training sets of 16, 32, ..., 1024 examples (a geometrically growing budget).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from digits_mlp import DigitsMLP, digits
from sklearn.model_selection import train_test_split

OUT = Path(__file__).resolve().parent / "data" / "real_curves.json"
SIZES = [16, 32, 64, 128, 256, 512, 1024]


def config(rng: np.random.Generator) -> dict:
    return {
        "lr": float(10 ** rng.uniform(-3, -0.5)),
        "momentum": float(rng.uniform(0, 0.9)),
        "width": int(2 ** rng.integers(3, 9)),
        "weight_decay": float(10 ** rng.uniform(-6, -2)),
        "batch_size": int(rng.choice([16, 64, 256])),
    }


def train_curve(cfg: dict, xt, yt, xv, yv, epochs: int, seed: int) -> list[float]:
    model = DigitsMLP(**cfg, seed=seed)
    out = []
    for _ in range(epochs):
        model.train_epoch(xt, yt)
        out.append(round(model.accuracy(xv, yv), 5))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epoch-curves", type=int, default=40)
    parser.add_argument("--sample-curves", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    x, y = digits()
    train, val = train_test_split(np.arange(len(y)), test_size=0.3, random_state=args.seed, stratify=y)
    xt, yt, xv, yv = x[train], y[train], x[val], y[val]
    rng = np.random.default_rng(args.seed)
    epoch_wise = []
    for i in range(args.epoch_curves):
        cfg = config(rng)
        epoch_wise.append({"config": cfg, "epochs": list(range(1, 101)),
                           "values": train_curve(cfg, xt, yt, xv, yv, 100, i)})  # fmt: skip
        print(f"epoch-wise {i + 1}/{args.epoch_curves}: final {epoch_wise[-1]['values'][-1]:.3f}", flush=True)
    sample_wise = []
    for i in range(args.sample_curves):
        cfg = config(rng)
        order = torch.randperm(len(yt), generator=torch.Generator().manual_seed(1000 + i))
        values = [train_curve(cfg, xt[order[:n]], yt[order[:n]], xv, yv, 30, 1000 + i)[-1] for n in SIZES]
        sample_wise.append({"config": cfg, "epochs": SIZES, "values": values})
        print(f"sample-wise {i + 1}/{args.sample_curves}: {values}", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "description": "digits MLP validation accuracy; epoch-wise (100 epochs) and sample-wise "
                       "(training-set sizes 16..1024, 30 epochs each); made by scripts/make_real_curves.py",
        "epoch_wise": epoch_wise, "sample_wise": sample_wise}, indent=None) + "\n")  # fmt: skip
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
