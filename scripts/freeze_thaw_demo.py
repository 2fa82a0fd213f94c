"""Freeze-thaw search on a user's own training function: scikit-learn MLPs on the digits dataset.

    python scripts/freeze_thaw_demo.py [--candidates 48] [--max-epochs 30] [--total-epochs 300] [--seed 0]

A pool of candidate configurations (learning rate, L2 penalty and width of an ``MLPClassifier``, each scaled
to [0, 1]) is searched by :func:`pfn.curves.freeze_thaw` within a budget of epochs. The training function
continues a run with ``partial_fit`` (one pass over the training part per epoch) from the paused estimator
the scheduler hands back, and returns the validation accuracy after each epoch. For comparison, the script
also trains every candidate for the full budget (what the scheduler avoided) and prints where the search's
pick ranks among them.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from pfn import curves


def hyperparameters(unit: np.ndarray) -> dict[str, float | int]:
    """learning rate 1e-4 .. 1e-1, L2 penalty 1e-6 .. 1e-1 (both log-scaled), width 8 .. 256 (log-scaled)."""
    return {
        "learning_rate_init": round(float(10 ** (-4 + 3 * unit[0])), 6),
        "alpha": float(f"{10 ** (-6 + 5 * unit[1]):.3g}"),
        "hidden_layer_sizes": (int(round(2 ** (3 + 5 * unit[2]))),),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=48)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--total-epochs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=curves.DEFAULT_SEARCH_MODEL)
    args = parser.parse_args()
    x, y = load_digits(return_X_y=True)
    xt, xv, yt, yv = train_test_split(x, y, test_size=0.3, random_state=args.seed, stratify=y)
    scaler = StandardScaler().fit(xt)
    xt, xv = scaler.transform(xt), scaler.transform(xv)
    classes = np.unique(y)
    candidates = np.random.default_rng(args.seed).random((args.candidates, 3))

    def train(index: int, epochs: int, state: MLPClassifier | None) -> tuple[list[float], MLPClassifier]:
        net = state or MLPClassifier(**hyperparameters(candidates[index]), random_state=index)
        scores = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for _ in range(epochs):
                net.partial_fit(xt, yt, classes=classes)
                scores.append(float(net.score(xv, yv)))
        return scores, net

    start = time.perf_counter()
    result = curves.freeze_thaw(train, candidates, args.max_epochs, args.total_epochs, step=2,
                                initial_runs=2, model=args.model, seed=args.seed)  # fmt: skip
    seconds = time.perf_counter() - start
    runs = sorted(result.curves.items(), key=lambda kv: -max(kv[1]))
    print(f"freeze-thaw: {result.epochs_used} epochs over {len(result.curves)} runs in {seconds:.1f} s; "
          f"best validation accuracy {result.best_value:.4f} (candidate {result.best_index}, "
          f"{len(result.curves[result.best_index])} epochs)")  # fmt: skip
    for index, values in runs[:5]:
        print(f"  candidate {index:3d}: {len(values):3d} epochs, best {max(values):.4f}, "
              f"{hyperparameters(candidates[index])}")  # fmt: skip
    full = [max(train(i, args.max_epochs, None)[0]) for i in range(len(candidates))]
    rank = 1 + sum(v > result.best_value for v in full)
    print(f"every candidate trained fully: {len(candidates) * args.max_epochs} epochs; best {max(full):.4f}; "
          f"the freeze-thaw pick ranks {rank} of {len(candidates)} "
          f"({math.fsum(full) / len(full):.4f} on average)")  # fmt: skip


if __name__ == "__main__":
    main()
