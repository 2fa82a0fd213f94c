"""Warm start (`pfn train ... init_from=<checkpoint or shipped name>`): real tiny runs, a second or two each."""

import csv
import logging
import shutil
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from safetensors import safe_open

import pfn
from pfn.checkpoint import load_checkpoint
from pfn.model import Normalization
from pfn.model.bins import fit_output
from pfn.training import PFNModule
from pfn.training.run_dir import RunRefused
from pfn.training.train import train
from pfn.training.warm_start import InitFromError
from tests.test_train_runs import small_cfg

# The source: 5 steps at a high learning rate (far from the zero-head start), validated after its last step.
SOURCE = ["trainer.max_steps=5", "trainer.val_check_interval=5", "model.lr=3e-3", "model.warmup_steps=1"]


def logged_val_nll(run_dir: Path) -> list[tuple[int, float]]:
    """(step, val/nll) of every validation a run with logger=csv logged."""
    with open(next(run_dir.glob("logs/*/metrics.csv"))) as f:
        return [(int(r["step"]), float(r["val/nll"])) for r in csv.DictReader(f) if r.get("val/nll")]


def header_sha256(path: Path) -> str:
    with safe_open(str(path), framework="pt") as f:
        return f.metadata()["header_sha256"]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A tiny trained model, exported, whose run logged its validation loss after its last step."""
    run_dir = tmp_path_factory.mktemp("source")
    return train(small_cfg(run_dir, *SOURCE, "callbacks=none"))


def test_a_warm_start_reproduces_the_source_models_validation_loss_at_step_0(tmp_path, source):
    """Validated before its first update, a warm-started run logs at step 0 the source model's loss: on the same
    data, the loss the source's own run logged after its last step; on longer contexts (a new data config, whose
    fitted bins would differ), the source model's loss on the new run's validation batches, with its bins."""
    same = train(small_cfg(tmp_path / "same", "trainer.max_steps=1", "callbacks=none", f"init_from={source}"))
    first = logged_val_nll(tmp_path / "same")[0]
    assert first[0] == 0
    assert first[1] == pytest.approx(logged_val_nll(source.parent)[-1][1], rel=1e-6, abs=1e-7)
    assert pfn.load(same).config["training"]["steps"] == 1

    longer = ["data.num_points=24", "data.max_context=20", "data.num_val_batches=2"]
    cfg = small_cfg(tmp_path / "longer", "trainer.max_steps=1", "callbacks=none", f"init_from={source}", *longer)
    path = train(cfg)
    net, output, _ = load_checkpoint(source)
    module = PFNModule(net, output, Normalization()).eval()
    datamodule = instantiate(cfg.data)
    with torch.no_grad():
        losses = [module._nll(batch).item() for batch in datamodule.val_dataloader()]
    step, logged = logged_val_nll(tmp_path / "longer")[0]
    assert step == 0 and logged == pytest.approx(sum(losses) / len(losses), rel=1e-6, abs=1e-7)
    # The bins are the source's (its head was trained against them), not refitted to the new data config.
    exported = load_checkpoint(path)[1]
    assert torch.equal(exported.borders, output.borders)
    refitted = fit_output(datamodule, Normalization(), output.num_bins)
    assert not torch.equal(refitted.borders, output.borders)
    assert pfn.load(path).config["training"]["max_context"] == 20


@pytest.mark.parametrize(
    "overrides, named",
    [
        (["model.net.d_model=32", "model.net.n_layers=2"],
         [r"model\.net\.d_model is 32 but the checkpoint has 16",
          r"model\.net\.n_layers is 2 but the checkpoint has 1"]),
        (["data.num_features=2"], [r"model\.net\.num_features is 2 but the checkpoint has 1"]),
        (["model.net.num_bins=30"], [r"model\.net\.num_bins is 30 but the checkpoint has 20"]),
        (["model.normalization.y=standardize"],
         [r"model\.normalization\.y is 'standardize' but the checkpoint has 'none'"]),
        (["model.bins.tails=pareto"], [r"model\.bins\.tails is 'pareto' but the checkpoint has 'half_normal'"]),
        (["prior=bnn_classification", "model.net.num_bins=3"],
         [r"the prior is a classification prior \(3 classes\) but the checkpoint predicts a bar distribution",
          r"model\.net\.num_bins is 3 but the checkpoint has 20"]),
    ],
)  # fmt: skip
def test_a_config_that_differs_from_the_checkpoint_in_what_its_weights_fix_is_refused(
    tmp_path, source, overrides, named
):
    """Refused before training (`pfn train` exits with status 2), naming every field and the checkpoint's value."""
    with pytest.raises(InitFromError, match=f"init_from={source}: the configured model differs") as refused:
        train(small_cfg(tmp_path, "trainer.max_steps=1", f"init_from={source}", *overrides))
    assert isinstance(refused.value, RunRefused)
    for pattern in named:
        assert refused.match(pattern)
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "model.safetensors").exists()


def test_init_from_must_name_an_inference_checkpoint(tmp_path, source):
    with pytest.raises(InitFromError, match="init_from=no_such_model: no checkpoint file or pretrained model named"):
        train(small_cfg(tmp_path / "a", "trainer.max_steps=1", "init_from=no_such_model"))
    pickle = tmp_path / "weights.ckpt"
    torch.save({"state_dict": {}}, pickle)
    with pytest.raises(InitFromError, match="is a pickle or torch.save file; PFN loads only safetensors"):
        train(small_cfg(tmp_path / "a", "trainer.max_steps=1", f"init_from={pickle}"))
    edited = tmp_path / "edited.safetensors"
    data = bytearray(source.read_bytes())
    data[-1] ^= 1  # a tensor's last byte
    edited.write_bytes(bytes(data))
    with pytest.raises(InitFromError, match="its tensors do not match 'tensors_sha256'"):
        train(small_cfg(tmp_path / "a", "trainer.max_steps=1", f"init_from={edited}"))


def test_the_new_models_header_records_its_source_a_shipped_name_or_a_path(tmp_path, source, monkeypatch):
    """A shipped model's name resolves as `pfn.load` resolves it; the prior may differ (here a GP with
    hyperpriors); the exported model records the source as given and its header digest, and loads."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copy(source, shipped / "tiny.safetensors")
    monkeypatch.setenv("PFN_PRETRAINED_DIR", str(shipped))
    cfg = small_cfg(tmp_path / "run", "trainer.max_steps=2", "callbacks=none", "init_from=tiny", "prior=gp_hyper")
    path = train(cfg)
    predictor = pfn.load(path)
    assert predictor.config["training"]["init_from"] == {"source": "tiny", "header_sha256": header_sha256(source)}
    assert predictor.config["prior"] != load_checkpoint(source)[2]["prior"]
    x = torch.rand(3, 5, 1)
    assert torch.isfinite(predictor.predict(x, x.sum(-1), torch.rand(3, 4, 1)).mean).all()
    plain = train(small_cfg(tmp_path / "plain", "trainer.max_steps=1", "callbacks=none"))
    assert "init_from" not in pfn.load(plain).config["training"]


def test_resuming_a_warm_started_run_with_its_command_line_and_ckpt_path_last(tmp_path, source, caplog):
    """3 steps, stop, resume to 6 with the same overrides and ckpt_path=last: the checkpoint holds the weights,
    so init_from is not applied (not even read: here its file is gone) and the run equals an uninterrupted one;
    the exported model still records its source. A run may also start from its own directory's model."""
    copy = tmp_path / "source.safetensors"
    shutil.copy(source, copy)
    common = [f"init_from={copy}", "model.min_lr_ratio=1.0", "model.warmup_steps=1",
              "callbacks.model_checkpoint.every_n_train_steps=3"]  # fmt: skip
    straight = train(small_cfg(tmp_path / "a", "trainer.max_steps=6", *common))
    train(small_cfg(tmp_path / "b", "trainer.max_steps=3", *common))
    copy.unlink()
    with caplog.at_level(logging.INFO, logger="pfn.training.warm_start"):
        resumed = train(small_cfg(tmp_path / "b", "trainer.max_steps=6", "ckpt_path=last", *common))
    assert f"init_from={copy} not applied: resuming" in caplog.text
    wa, wb = pfn.load(straight).net.state_dict(), pfn.load(resumed).net.state_dict()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], atol=1e-6, rtol=0, msg=k)
    config = pfn.load(resumed).config["training"]
    assert config["steps"] == 6
    assert config["init_from"] == {"source": str(copy), "header_sha256": header_sha256(source)}

    again = train(small_cfg(tmp_path / "a", "trainer.max_steps=1", f"init_from={straight}", "overwrite=true"))
    assert pfn.load(again).config["training"]["init_from"]["source"] == str(straight)
