"""An endless, reproducible stream of prior batches.

Batch number ``s`` of the stream is a pure function of (seed, stream, s, rank):
- its shape (how many points are context) depends on (seed, stream, s) only, so
  every rank trains on the same split at the same step and ranks stay in step;
- its data depends on the rank too, so no two ranks see the same datasets.
Loader workers take every W-th step, which the DataLoader interleaves back into
step order. Restarting at ``start_step`` therefore continues the exact stream.

A stream can also yield only each step's recipe (:meth:`PriorStream.recipe_at`), a few
integers, and leave the drawing (:meth:`PriorStream.draw`) to the training process on its
accelerator: the same recipe drawn on the CPU gives exactly the batch the stream would yield.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from priors.base import SamplesBatches, as_prior

TRAIN_STREAM, VAL_STREAM = 0, 1


def step_generator(seed: int, stream: int, step: int, rank: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded from (seed, stream, step, rank) via numpy's SeedSequence.

    The seed is the same on every device; the numbers drawn from it depend on the device type
    (a CUDA generator is a different algorithm from the CPU's).
    """
    state = np.random.SeedSequence([seed, stream, step, rank]).generate_state(2, dtype=np.uint32)
    return torch.Generator(device=device).manual_seed(int(state[0]) << 32 | int(state[1]))


def step_shape(
    seed: int, stream: int, step: int, context: tuple[int, int], features: tuple[int, int]
) -> tuple[int, int]:
    """(context size, active features) of step ``step``, each uniform on its range; the same on every rank."""
    rng = np.random.default_rng([seed, stream, step])
    return int(rng.integers(context[0], context[1] + 1)), int(rng.integers(features[0], features[1] + 1))


StepRecipe = dict[str, int]  # stream, step, rank, num_context, num_features: all a step's batch depends on


class PriorStream(IterableDataset):
    """Yields dicts ``{"x": (B, N, d), "y": (B, N), "num_context": int}`` from a prior
    (or, with ``recipes_only``, each step's :data:`StepRecipe` to be drawn elsewhere by :meth:`draw`).

    Each step uses between ``min_features`` and ``num_features`` input features; the
    unused trailing features are zero, so one model serves several dimensionalities.

    Args:
        prior: anything with ``sample(batch_size, num_points, num_features, generator)``.
        batch_size: datasets per batch (per rank).
        num_points: points per dataset, context plus queries.
        num_features: input dimension d of the model.
        min_context: smallest per-step context size.
        max_context: largest per-step context size (below num_points).
        seed: the global seed.
        stream: separates independent streams (training, validation) under one seed.
        rank: this process's rank; its data differs from every other rank's.
        start_step: first step to yield (for resuming).
        num_steps: stop after this many steps; None for an endless stream.
        min_features: fewest active features per step (default: all of them).
        recipes_only: yield each step's recipe instead of its batch.
    """

    def __init__(
        self,
        prior: SamplesBatches,
        batch_size: int,
        num_points: int,
        num_features: int,
        min_context: int,
        max_context: int,
        seed: int,
        stream: int = TRAIN_STREAM,
        rank: int = 0,
        start_step: int = 0,
        num_steps: int | None = None,
        min_features: int | None = None,
        recipes_only: bool = False,
    ):
        super().__init__()
        min_features = num_features if min_features is None else min_features
        if not 1 <= min_features <= num_features:
            raise ValueError(f"need 1 <= min_features <= num_features, got {min_features} and {num_features}")
        if not 0 <= min_context <= max_context < num_points:
            raise ValueError(
                f"need 0 <= min_context <= max_context < num_points, got min_context={min_context}, "
                f"max_context={max_context}, num_points={num_points}"
            )
        self.prior = as_prior(prior)
        self.batch_size, self.num_points = batch_size, num_points
        self.num_features, self.min_features = num_features, min_features
        self.min_context, self.max_context = min_context, max_context
        self.seed, self.stream, self.rank = seed, stream, rank
        self.start_step, self.num_steps = start_step, num_steps
        self.recipes_only = recipes_only

    def recipe_at(self, step: int) -> StepRecipe:
        """What this rank's batch at ``step`` is a function of: the step's identity and shape."""
        n, d = step_shape(
            self.seed, self.stream, step, (self.min_context, self.max_context), (self.min_features, self.num_features)
        )
        return {"stream": self.stream, "step": step, "rank": self.rank, "num_context": n, "num_features": d}

    def draw(self, recipe: StepRecipe, device: torch.device | str = "cpu") -> dict[str, torch.Tensor | int]:
        """The batch of ``recipe`` (from any stream and rank of this configuration), drawn on ``device``."""
        gen = step_generator(self.seed, recipe["stream"], recipe["step"], recipe["rank"], device)
        d = recipe["num_features"]
        batch = self.prior.sample(self.batch_size, self.num_points, d, gen)
        x = torch.nn.functional.pad(batch.x, (0, self.num_features - d))  # zero the unused features
        return {"x": x, "y": batch.y, "num_context": recipe["num_context"]}

    def batch_at(self, step: int) -> dict[str, torch.Tensor | int]:
        """The batch this rank trains on at ``step``."""
        return self.draw(self.recipe_at(step))

    def __iter__(self) -> Iterator[dict[str, torch.Tensor | int]] | Iterator[StepRecipe]:
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info else (0, 1)
        step = self.start_step + worker
        end = None if self.num_steps is None else self.start_step + self.num_steps
        while end is None or step < end:
            yield self.recipe_at(step) if self.recipes_only else self.batch_at(step)
            step += num_workers
