"""What a training run may do with its directory, and what resuming continues: real tiny runs (a second each)."""

import math
import os
from pathlib import Path

import pytest
import torch
from hydra.errors import InstantiationException

import pfn
from pfn.training.run_dir import (
    EarlierRunError,
    MissingCheckpointError,
    NotACheckpointError,
    RunInUseError,
    RunLock,
    owns_run,
)
from pfn.training.train import TrainingInterrupted, train
from tests.test_training import compose_cfg

# A model and data small enough that a run of a few steps takes about a second on one thread.
SMALL = [
    "model.net.d_model=16", "model.net.n_layers=1", "model.net.n_heads=2", "model.net.d_ff=32",
    "model.net.num_bins=20", "data.batch_size=4", "data.num_points=12", "data.max_context=10",
    "data.num_val_batches=1", "trainer.val_check_interval=1000",
]  # fmt: skip


def small_cfg(output_dir: Path, *overrides: str):
    return compose_cfg(output_dir, *SMALL, *overrides)


def returns_none(batch_size, num_points, num_features, generator):
    """A user prior with a bug: it forgets to return its batch."""
    torch.rand(batch_size, num_points, num_features, generator=generator)


def returns_wrong_shape(batch_size, num_points, num_features, generator):
    return torch.zeros(batch_size, num_points + 1, num_features), torch.zeros(batch_size, num_points + 1)


# -- the learning-rate schedule ------------------------------------------------------------------------


def closed_form_lr(step: int, peak: float, warmup: int, total: int) -> float:
    """Linear warm-up over ``warmup`` steps to ``peak``, then cosine decay to 0 at ``total`` (min_lr_ratio 0)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))


def test_learning_rate_schedule_continues_where_a_resumed_run_stopped(tmp_path):
    """3 steps, stop, resume to 8: the learning rate applied at every step is the schedule's closed form,
    warm-up (6 steps) carried on across the resume rather than restarted; then cosine to step 8."""
    record = tmp_path / "lr.txt"
    common = ["model.lr=1e-3", "model.warmup_steps=6", "model.min_lr_ratio=0.0",
              "callbacks.model_checkpoint.every_n_train_steps=3",
              "+callbacks.lr._target_=tests.helpers.RecordLearningRate", f"+callbacks.lr.path={record}"]  # fmt: skip
    train(small_cfg(tmp_path, "trainer.max_steps=3", *common))
    train(small_cfg(tmp_path, "trainer.max_steps=8", "ckpt_path=last", *common))
    rows = [line.split() for line in record.read_text().splitlines()]
    steps, lrs = [int(s) for s, _ in rows], [float(v) for _, v in rows]
    assert steps == list(range(8))
    # The resumed run's schedule has total = 8 steps; its first 3 steps lie in the warm-up, which does not
    # depend on the total, so both runs follow one closed form. float32-free arithmetic: 1e-12 relative.
    expected = [closed_form_lr(s, 1e-3, 6, 8) for s in steps]
    for step, got, want in zip(steps, lrs, expected, strict=True):
        assert got == pytest.approx(want, rel=1e-12), (step, got, want)


def test_sigterm_stops_training_with_last_ckpt_saved_and_no_model_exported(tmp_path):
    """In process: SIGTERM once 4 steps are done stops the run at that step boundary with TrainingInterrupted
    (`pfn train` turns it into exit status 143), last.ckpt holding step 4 to resume from."""
    with pytest.raises(TrainingInterrupted, match="ckpt_path=last") as stopped:
        train(small_cfg(tmp_path, "trainer.max_steps=50", "+callbacks.term._target_=tests.helpers.SendSigterm",
                        "+callbacks.term.at_step=4"))  # fmt: skip
    assert stopped.value.step == 4 and stopped.value.checkpoint == tmp_path / "checkpoints" / "last.ckpt"
    assert torch.load(stopped.value.checkpoint, weights_only=True)["global_step"] == 4
    assert not (tmp_path / "model.safetensors").exists()
    resumed = train(small_cfg(tmp_path, "trainer.max_steps=7", "ckpt_path=last"))
    assert pfn.load(resumed).config["training"]["steps"] == 7


# -- one run per directory ----------------------------------------------------------------------------


def test_a_run_directory_in_use_is_refused_at_once_naming_the_directory_and_holder(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunInUseError, match=rf"{tmp_path} is in use by another training run \(pid {os.getpid()} "):
            train(small_cfg(tmp_path, "trainer.max_steps=1"))
        assert not (tmp_path / "checkpoints").exists()  # refused before anything was written
        with pytest.raises(RunInUseError, match="name=<new name>"):
            RunLock(tmp_path).acquire()
    with RunLock(tmp_path):  # released: free again
        pass


def test_only_the_first_process_of_a_run_owns_it():
    """Lightning's DDP launcher re-runs `pfn train` for ranks 1.. with LOCAL_RANK set; those join the
    run that rank 0 holds the lock of (taking it themselves would deadlock the run on its own lock)."""
    assert owns_run({}) and owns_run({"LOCAL_RANK": "0", "NODE_RANK": "0", "SLURM_PROCID": "0"})
    for key in ("LOCAL_RANK", "RANK", "NODE_RANK", "SLURM_PROCID"):
        assert not owns_run({key: "1"}), key


# -- earlier runs, checkpoints and priors -------------------------------------------------------------


def test_a_fresh_run_never_silently_replaces_an_earlier_exported_model(tmp_path):
    """callbacks=none keeps no checkpoints, so only model.safetensors shows an earlier run was here."""
    first = train(small_cfg(tmp_path, "trainer.max_steps=2", "callbacks=none"))
    digest = first.read_bytes()
    with pytest.raises(EarlierRunError, match=r"model\.safetensors.*ckpt_path=last.*overwrite=true"):
        train(small_cfg(tmp_path, "trainer.max_steps=3", "callbacks=none"))
    assert first.read_bytes() == digest
    second = train(small_cfg(tmp_path, "trainer.max_steps=3", "callbacks=none", "overwrite=true"))
    assert pfn.load(second).config["training"]["steps"] == 3


def test_ckpt_path_must_name_a_lightning_checkpoint(tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(NotACheckpointError, match=rf"ckpt_path={junk} is not a Lightning training checkpoint"):
        train(small_cfg(tmp_path / "a", "trainer.max_steps=1", f"ckpt_path={junk}"))
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(3)}, plain)
    with pytest.raises(NotACheckpointError, match="it has no state_dict and no global_step"):
        train(small_cfg(tmp_path / "a", "trainer.max_steps=1", f"ckpt_path={plain}"))
    model = train(small_cfg(tmp_path / "b", "trainer.max_steps=1", "callbacks=none"))
    with pytest.raises(NotACheckpointError, match="is an exported inference model"):
        train(small_cfg(tmp_path / "a", "trainer.max_steps=1", f"ckpt_path={model}"))
    with pytest.raises(MissingCheckpointError, match="no such file"):
        train(small_cfg(tmp_path / "a", "trainer.max_steps=1", f"ckpt_path={tmp_path / 'nothing.ckpt'}"))


@pytest.mark.parametrize(
    "fn, error, match",
    [
        ("returns_none", TypeError, r"tests\.test_train_runs\.returns_none \(fn, prior\.fn in a config\) must return "
         r"a priors\.Batch or a tuple \(x, y\) of tensors.*it returned NoneType"),
        ("returns_wrong_shape", ValueError, r"was asked for x of shape \(\d+, 12, 1\).*returned x \(\d+, 13, 1\)"),
        ("no_such_function", InstantiationException,
         r"fn='tests\.test_train_runs\.no_such_function': module .* has no attribute"),
    ],
)  # fmt: skip
def test_a_user_prior_that_returns_the_wrong_thing_is_named(tmp_path, fn, error, match):
    cfg = small_cfg(tmp_path, "prior=function", f"prior.fn=tests.test_train_runs.{fn}", "trainer.max_steps=1")
    with pytest.raises(error, match=match):
        train(cfg)
