"""Crash safety and multi-process training, with real processes and real signals."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import pfn
from pfn.training.train import train
from tests.test_training import TINY, compose_cfg

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "offline", "WANDB_SILENT": "true"}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pfn.cli", "train", "experiment=gp_1d", "logger=csv", *TINY, *args]


def wait_for(predicate, timeout: float, proc: subprocess.Popen) -> None:
    start = time.time()
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"training exited early:\n{proc.stderr.read()[-3000:]}")
        if time.time() - start > timeout:
            proc.kill()
            raise AssertionError("timed out waiting for training progress")
        time.sleep(0.05)


def checkpoint_steps(folder: Path) -> list[int]:
    return [int(p.stem[4:]) for p in folder.glob("step*.ckpt")]


WRITER = """
import sys, torch
from pathlib import Path
from pfn.training.checkpoint_io import atomic_write
path = Path(sys.argv[1])
step = 0
while True:
    step += 1
    atomic_write(path, {"step": step, "weights": torch.full((2_000_000,), float(step))})
"""


def test_a_kill_mid_write_never_corrupts_the_checkpoint(tmp_path):
    """A process rewrites an 8 MB checkpoint in a loop and is SIGKILLed at varied moments;
    every time, the file on disk loads and is internally consistent."""
    path = tmp_path / "last.ckpt"
    steps = []
    for delay in (0.0, 0.013, 0.029, 0.047, 0.071, 0.11, 0.17):
        path.unlink(missing_ok=True)
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], env=ENV, stderr=subprocess.PIPE, text=True)
        wait_for(path.exists, 120, proc)  # the first checkpoint is complete
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ckpt = torch.load(path, weights_only=True)
        assert torch.all(ckpt["weights"] == ckpt["step"])
        steps.append(ckpt["step"])
    assert max(steps) > 1  # some kills landed while later checkpoints were being written


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    steps = ["trainer.max_steps=60", "callbacks.model_checkpoint.every_n_train_steps=5"]
    proc = subprocess.Popen(cli(*steps, f"hydra.run.dir={tmp_path / 'b'}"), env=ENV, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for(lambda: any(s >= 20 for s in checkpoint_steps(tmp_path / "b" / "checkpoints")), 300, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = max(checkpoint_steps(tmp_path / "b" / "checkpoints"))
    assert killed_at < 60, "the run finished before it could be killed"

    resumed = train(compose_cfg(tmp_path / "b", *steps, "ckpt_path=last"))
    straight = train(compose_cfg(tmp_path / "a", *steps))
    wa, wb = pfn.load(straight).net.state_dict(), pfn.load(resumed).net.state_dict()
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-5, atol=1e-6, msg=f"{k} (killed at step {killed_at})")


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_exits_non_zero_and_a_concurrent_run_is_refused(tmp_path):
    """While a run trains, a second `pfn train` on its directory fails at once (status 2), naming the
    directory and the holder. SIGTERM then stops the first: status 143 (so a scheduler requeues it),
    last.ckpt saved, no model exported, and the message gives the command that resumes it."""
    run = tmp_path / "run"
    args = ["trainer.max_steps=100000", "callbacks.model_checkpoint.every_n_train_steps=10",
            "callbacks.model_checkpoint.save_last=false", f"hydra.run.dir={run}"]  # fmt: skip
    proc = subprocess.Popen(cli(*args), env=ENV, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: any(s >= 10 for s in checkpoint_steps(run / "checkpoints")), 300, proc)

    second = subprocess.run(cli(*args), env=ENV, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert second.returncode == 2, second.stderr[-3000:]
    assert f"{run} is in use by another training run (pid {proc.pid} " in second.stderr
    assert proc.poll() is None, "the refused run must leave the running one alone"

    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr[-3000:]
    last = run / "checkpoints" / "last.ckpt"
    assert last.exists(), "SIGTERM should have written last.ckpt (periodic last.ckpt is off)"
    assert not (run / "model.safetensors").exists()
    step = torch.load(last, weights_only=True)["global_step"]
    assert step > 10
    assert f"training stopped by SIGTERM at step {step}, no model exported; {last} holds step {step}" in stderr
    assert f"resume with: pfn train hydra.run.dir={run} experiment=gp_1d" in stderr and "ckpt_path=last" in stderr
    resumed = train(compose_cfg(run, "trainer.max_steps=" + str(step + 5), "ckpt_path=last"))
    assert pfn.load(resumed).config["training"]["steps"] == step + 5


@pytest.mark.slow
def test_two_process_ddp_run_on_cpu(tmp_path):
    """Two ranks over gloo: same split per step, different datasets, and the exported
    checkpoint loads and predicts in a single process."""
    record = tmp_path / "batches"
    run = subprocess.run(
        cli("trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.max_steps=20",
            f"hydra.run.dir={tmp_path / 'run'}", "+callbacks.record._target_=tests.helpers.RecordBatches",
            f"+callbacks.record.path={record}"),
        env=ENV, cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    rank0 = (record / "rank0.txt").read_text().split("\n")[:-1]
    rank1 = (record / "rank1.txt").read_text().split("\n")[:-1]
    assert len(rank0) == len(rank1) == 20
    for a, b in zip(rank0, rank1, strict=True):
        step_a, ctx_a, hash_a = a.split()
        step_b, ctx_b, hash_b = b.split()
        assert step_a == step_b and ctx_a == ctx_b  # ranks in step, same context size
    assert not {line.split()[2] for line in rank0} & {line.split()[2] for line in rank1}  # disjoint data
    predictor = pfn.load(tmp_path / "run" / "model.safetensors")
    assert predictor.config["training"]["world_size"] == 2
    x = torch.rand(10, 1)
    assert torch.isfinite(predictor.predict(x, torch.randn(10), torch.rand(5, 1)).mean).all()
