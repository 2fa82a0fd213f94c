"""Lightning data module serving fresh prior batches for training and a fixed set for validation."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from pfn.data.prior_stream import TRAIN_STREAM, VAL_STREAM, PriorStream, step_generator
from priors.base import Batch, SamplesBatches, as_prior, prior_name, samples_on_any_device


class PriorDataModule(L.LightningDataModule):
    """Streams batches from ``prior``; each rank and loader worker draws its own stream.

    Training never repeats a dataset: batch ``s`` of rank ``r`` is drawn from a generator
    seeded by (seed, s, r). On resume the stream restarts at the trainer's step count,
    so an interrupted run sees the same data as an uninterrupted one.

    With ``sample_on_device`` the loader yields only each step's recipe (stream, step, rank,
    context size, active features) and :meth:`on_after_batch_transfer` draws the datasets on
    the training device, with a generator on that device seeded from the same
    (seed, stream, step, rank). On a GPU this keeps the prior's arithmetic off the CPU;
    on the CPU it only moves sampling into the training process (same batches as without it).

    Args:
        prior: the prior to sample from.
        batch_size: datasets per step and rank.
        num_points: points per dataset (context + queries).
        num_features: input dimension of the model.
        max_context: largest context size trained on; per step the context size is
            uniform on [min_context, max_context].
        min_context: smallest context size (0 trains the prior predictive too).
        seed: global seed of all streams.
        num_val_batches: size of the fixed validation set, in batches.
        num_workers: DataLoader worker processes (0 samples in the training process).
        min_features: fewest active features per step; the rest are zero (default: all).
        sample_on_device: draw the datasets on the training device after the batch transfer
            (needs a prior that samples on any device, and ``num_workers=0``).
    """

    def __init__(
        self,
        prior: SamplesBatches,
        batch_size: int = 32,
        num_points: int = 110,
        num_features: int = 1,
        max_context: int = 100,
        min_context: int = 0,
        seed: int = 0,
        num_val_batches: int = 8,
        num_workers: int = 0,
        min_features: int | None = None,
        sample_on_device: bool = False,
    ):
        super().__init__()
        self.prior = as_prior(prior)
        self.min_features = num_features if min_features is None else min_features
        self.batch_size, self.num_points, self.num_features = batch_size, num_points, num_features
        self.min_context, self.max_context = min_context, max_context
        self.seed, self.num_val_batches, self.num_workers = seed, num_val_batches, num_workers
        self.sample_on_device = sample_on_device
        if sample_on_device:
            self._check_device_sampling()
        self._sampler = self._stream(TRAIN_STREAM, 0, 0, None)  # validates the shape arguments early

    def _check_device_sampling(self) -> None:
        if not samples_on_any_device(self.prior):
            raise ValueError(
                f"data.sample_on_device=true needs a prior that samples on its generator's device, and prior "
                f"{prior_name(self.prior)} does not say it can (samples_on_any_device is not True): set "
                "data.sample_on_device=false, or, if every draw of your prior comes from `generator` and every "
                "tensor it makes is on `generator.device`, declare samples_on_any_device=True"
            )
        if self.num_workers > 0:
            raise ValueError(
                f"data.sample_on_device=true draws the datasets in the training process, so loader workers "
                f"would only hand out step numbers: set data.num_workers=0 (got {self.num_workers})"
            )

    def _stream(self, stream: int, rank: int, start_step: int, num_steps: int | None) -> PriorStream:
        return PriorStream(
            self.prior, self.batch_size, self.num_points, self.num_features,
            self.min_context, self.max_context, self.seed, stream, rank, start_step, num_steps, self.min_features,
            recipes_only=self.sample_on_device,
        )  # fmt: skip

    def _loader(self, dataset: PriorStream) -> DataLoader:
        return DataLoader(
            dataset, batch_size=None, num_workers=self.num_workers,
            persistent_workers=False, pin_memory=False,
        )  # fmt: skip

    def training_stream(self, rank: int = 0, start_step: int = 0) -> PriorStream:
        """The endless training stream of ``rank`` from ``start_step`` (what training iterates)."""
        return self._stream(TRAIN_STREAM, rank, start_step, None)

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        rank = trainer.global_rank if trainer else 0
        # Batches already consumed: optimizer steps times accumulation (restored on resume).
        start = trainer.global_step * trainer.accumulate_grad_batches if trainer else 0
        return self._loader(self.training_stream(rank, start))

    def val_dataloader(self) -> DataLoader:
        rank = self.trainer.global_rank if self.trainer else 0
        return self._loader(self._stream(VAL_STREAM, rank, 0, self.num_val_batches))

    def on_after_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        """With ``sample_on_device``: the datasets of the step recipe ``batch``, drawn on the training device."""
        if not self.sample_on_device:
            return batch
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        return self._sampler.draw(batch, device)

    def sample_batch(self, num_datasets: int = 2048) -> Batch:
        """``num_datasets`` prior datasets from a stream of their own (for fitting the output bins)."""
        gen = step_generator(self.seed, stream=2, step=0, rank=0)
        return self.prior.sample(num_datasets, self.num_points, self.num_features, gen)
