"""Real tiny training runs: the CLI learns and exports; a resumed run equals an uninterrupted one."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

import pfn
from pfn.checkpoint import load_checkpoint, save_checkpoint
from pfn.configs import compose_train_config, shipped_experiments
from pfn.model import BarDistribution, Normalization, PFNTransformer
from pfn.model.categorical import Categorical
from pfn.training.export import model_metadata, stored_metadata
from pfn.training.train import build_module, train
from priors import BNNPrior, GPPrior

TINY = [
    "model.net.d_model=64", "model.net.n_layers=2", "model.net.n_heads=4", "model.net.d_ff=128",
    "model.net.num_bins=100", "data.batch_size=32", "data.num_points=60", "data.max_context=50",
    "data.num_val_batches=2", "trainer.val_check_interval=100", "trainer.enable_progress_bar=false",
]  # fmt: skip


def compose_cfg(output_dir: Path, *overrides: str, experiment: str = "gp_1d"):
    """The tiny `pfn train experiment=...` config of the tests, writing into ``output_dir``."""
    return compose_train_config(experiment, ["logger=csv", *TINY, f"paths.output_dir={output_dir}", *overrides])


@pytest.mark.slow
def test_cli_run_learns_the_gp_posterior_and_exports(tmp_path):
    """`pfn train` with Hydra overrides trains, logs to wandb offline, exports, and beats the prior predictive."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB")}
    env["WANDB_SILENT"] = "true"
    run = subprocess.run(
        [sys.executable, "-m", "pfn.cli", "train", "experiment=gp_1d", "trainer.max_steps=400", "model.lr=2e-3",
         f"hydra.run.dir={tmp_path / 'run'}", *TINY],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    match = re.search(r"Exported inference checkpoint: (\S+)", run.stdout)
    assert match, run.stdout[-2000:]
    path = Path(match.group(1))
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*")), "wandb should have logged offline"

    predictor = pfn.load(path)
    assert predictor.config["training"]["steps"] == 400
    prior = GPPrior()
    gen = torch.Generator().manual_seed(99)
    batch = prior.sample(256, 40, 1, gen)
    x, y, xq, yq = batch.x[:, :30], batch.y[:, :30], batch.x[:, 30:], batch.y[:, 30:]
    pfn_nll = -predictor.predict(x, y, xq).log_prob(yq).mean().item()
    prior_nll = -prior.posterior_predictive(x[:, :0], y[:, :0], xq).log_prob(yq).mean().item()
    exact_nll = -prior.posterior_predictive(x, y, xq).log_prob(yq).mean().item()
    # The untrained model predicts the prior marginal (about prior_nll). With 30 context points the
    # exact posterior is ~0.25 nats better; training must recover at least half of that.
    assert pfn_nll < prior_nll - 0.5 * (prior_nll - exact_nll), (pfn_nll, prior_nll, exact_nll)


@pytest.mark.slow
def test_training_loss_decreases(tmp_path):
    cfg = compose_cfg(tmp_path, "trainer.max_steps=200", "trainer.log_every_n_steps=10", "callbacks=none")
    train(cfg)
    with open(next(tmp_path.glob("logs/*/metrics.csv"))) as f:
        rows = list(csv.DictReader(f))
    losses = [float(r["train/nll"]) for r in rows if r.get("train/nll")]
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < first - 0.05, (first, last)


@pytest.mark.slow
def test_resumed_run_matches_uninterrupted_run(tmp_path):
    """20 steps straight vs 10 steps, stop, resume with ckpt_path=last to 20: same weights, same data."""
    common = ["model.min_lr_ratio=1.0", "model.warmup_steps=1", "callbacks.model_checkpoint.every_n_train_steps=5"]
    a = train(compose_cfg(tmp_path / "a", "trainer.max_steps=20", *common))
    train(compose_cfg(tmp_path / "b", "trainer.max_steps=10", *common))
    b = train(compose_cfg(tmp_path / "b", "trainer.max_steps=20", "ckpt_path=last", *common))
    wa, wb = pfn.load(a).net.state_dict(), pfn.load(b).net.state_dict()
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=1e-6), k
    assert pfn.load(b).config["training"]["steps"] == 20


def test_fresh_run_refuses_to_mix_with_an_earlier_runs_checkpoints(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    with pytest.raises(FileExistsError, match="ckpt_path=last"):
        train(compose_cfg(tmp_path, "trainer.max_steps=1"))
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume"):
        train(compose_cfg(tmp_path / "new", "ckpt_path=last"))


def test_every_experiment_config_composes_and_builds(tmp_path):
    assert shipped_experiments() == sorted(
        p.stem for p in Path(pfn.__file__).parent.joinpath("configs", "experiment").glob("*.yaml")
    )
    for exp in shipped_experiments():
        cfg = compose_train_config(exp, [f"paths.output_dir={tmp_path}", "data.num_points=40", "data.max_context=30"])
        dm = instantiate(cfg.data)
        batch = next(iter(dm.train_dataloader()))
        assert batch["x"].shape == (cfg.data.batch_size, cfg.data.num_points, cfg.data.num_features)
        module = build_module(cfg.model, dm)
        assert module.net.num_features == cfg.data.num_features
        assert "bins" not in module.hparams and "output" not in module.hparams  # settings, not module arguments
        if isinstance(module.output, BarDistribution):
            assert module.output.tails == cfg.model.bins.tails and module.output.num_bins == cfg.model.net.num_bins
        else:
            assert isinstance(module.output, Categorical) and module.output.num_classes == cfg.prior.num_classes


def test_model_bins_uniform_share_reaches_the_fitted_borders(tmp_path):
    """`model.bins.uniform_share` spreads bins over the prior targets' range: the outer bins reach farther."""
    outer = {}
    for share in (0.0, 0.3):
        cfg = compose_cfg(tmp_path, "data.num_points=40", "data.max_context=30", f"model.bins.uniform_share={share}")
        borders = build_module(cfg.model, instantiate(cfg.data)).output.borders
        outer[share] = float(borders[-2] - borders[1])  # the inner borders' span; the outermost are tail medians
    assert outer[0.3] > 1.5 * outer[0.0]


def test_a_config_written_before_model_bins_still_sets_the_tails(tmp_path):
    """`model.output.tails` (the key's name before it became `model.bins.tails`) is read as `model.bins`."""
    cfg = compose_cfg(tmp_path, "data.num_points=40", "data.max_context=30", "+model.output.tails=pareto")
    assert build_module(cfg.model, instantiate(cfg.data)).output.tails == "pareto"


def test_checkpoint_metadata_is_built_in_one_place_and_written_again_unchanged(tmp_path):
    """The export's description of a model (prior, normalisation, domain, run) is read back by
    `stored_metadata` to write the model again (as scripts/ship_model.py does), changing only what it is told."""
    net = PFNTransformer(1, 20, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    bar = BarDistribution.from_samples(torch.randn(1000, generator=torch.Generator().manual_seed(0)), 20)
    metadata = model_metadata(GPPrior(), Normalization(x="standardize", y="standardize"), {"steps": 3})
    assert metadata["domain"] == {"x": (0.0, 1.0)}
    assert model_metadata(BNNPrior(), Normalization(), {})["domain"] == {"x": None}  # normal inputs: unbounded
    config = load_checkpoint(save_checkpoint(tmp_path / "a.safetensors", net, bar, **metadata))[2]
    again = stored_metadata(config, experiment="gp_1d")
    assert again["training"] == {"steps": 3, "experiment": "gp_1d"} and again["domain"] == {"x": [0.0, 1.0]}
    shipped = load_checkpoint(save_checkpoint(tmp_path / "b.safetensors", net, bar, **again))[2]
    assert {k: shipped[k] for k in again} == again


@pytest.mark.slow
def test_classification_run_beats_the_majority_class(tmp_path):
    """A tiny classifier trained on the BNN classification prior returns class probabilities and
    beats always guessing the context's most frequent class on held-out prior data."""
    from priors import BNNClassificationPrior

    overrides = ["trainer.max_steps=300", "model.lr=2e-3", "data.num_features=2", "data.min_features=2",
                 "model.net.num_bins=3"]  # fmt: skip
    path = train(compose_cfg(tmp_path, *overrides, experiment="bnn_classification"))
    predictor = pfn.load(path)
    assert predictor.is_classifier and predictor.config["output"] == {"kind": "categorical", "num_classes": 3}
    prior = BNNClassificationPrior(num_classes=3, max_features=2, x_distribution="normal")
    batch = prior.sample(200, 60, 2, torch.Generator().manual_seed(5))
    pred = predictor.predict(batch.x[:, :40], batch.y[:, :40], batch.x[:, 40:])
    assert pred.probs.shape == (200, 20, 3)
    torch.testing.assert_close(pred.probs.sum(-1), torch.ones(200, 20))
    accuracy = (pred.mode == batch.y[:, 40:]).float().mean().item()
    majority = batch.y[:, :40].mode(dim=1).values[:, None]
    baseline = (majority == batch.y[:, 40:]).float().mean().item()
    assert accuracy > baseline + 0.1, (accuracy, baseline)
    with pytest.raises(ValueError, match="class labels 0 .. 2"):
        predictor.predict(batch.x[0, :5], batch.y[0, :5] + 0.5, batch.x[0, 5:])
