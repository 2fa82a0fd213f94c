"""The GPU path, exercised on the CPU: prior sampling on the training device, torch.compile, bf16 mixed precision."""

import hashlib

import pytest
import torch
from hydra.utils import instantiate
from safetensors import safe_open
from torch._dynamo.utils import counters

import pfn
from pfn.data import PriorDataModule
from pfn.training.train import train
from priors import Batch, FunctionPrior, GPPrior, MixturePrior
from tests.test_training import compose_cfg


def datamodule(**kw) -> PriorDataModule:
    args = dict(prior=GPPrior(), batch_size=4, num_points=20, max_context=15, seed=3, num_val_batches=2)
    return PriorDataModule(**{**args, "sample_on_device": True, **kw})


def linear_prior(batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
    x = torch.rand(batch_size, num_points, num_features, generator=generator, device=generator.device)
    w = torch.randn(batch_size, num_features, 1, generator=generator, device=generator.device)
    return Batch(x=x, y=(x @ w).squeeze(-1))


def test_device_sampling_draws_exactly_the_streams_batches_from_recipes():
    """The loader yields small recipes; the transfer hook turns each into the batch the ordinary stream
    yields at that step (a function of seed, step and rank), on the CPU bit for bit."""
    dm, plain = datamodule(), datamodule(sample_on_device=False)
    recipes = [r for _, r in zip(range(4), dm.train_dataloader(), strict=False)]
    assert recipes[2] == {"stream": 0, "step": 2, "rank": 0, "num_context": recipes[2]["num_context"],
                          "num_features": 1}  # fmt: skip
    expected = [b for _, b in zip(range(4), plain.train_dataloader(), strict=False)]
    for recipe, want in zip(recipes, expected, strict=True):
        got = dm.on_after_batch_transfer(recipe, 0)
        assert got["num_context"] == want["num_context"]
        assert torch.equal(got["x"], want["x"]) and torch.equal(got["y"], want["y"])
        assert torch.equal(dm.on_after_batch_transfer(recipe, 0)["y"], got["y"])  # drawn again: the same
    resumed = next(iter(dm.training_stream(rank=0, start_step=2)))
    assert torch.equal(dm.on_after_batch_transfer(resumed, 0)["y"], expected[2]["y"])
    val, plain_val = list(dm.val_dataloader()), list(plain.val_dataloader())
    assert len(val) == 2 and val[1]["stream"] == 1
    assert torch.equal(dm.on_after_batch_transfer(val[1], 0)["y"], plain_val[1]["y"])


def test_device_sampling_ranks_share_the_split_but_not_the_data():
    dm = datamodule()
    r0 = [r for _, r in zip(range(5), dm.training_stream(rank=0), strict=False)]
    r1 = [r for _, r in zip(range(5), dm.training_stream(rank=1), strict=False)]
    for a, b in zip(r0, r1, strict=True):
        assert (a["step"], a["num_context"], a["num_features"]) == (b["step"], b["num_context"], b["num_features"])
        assert not torch.allclose(dm.on_after_batch_transfer(a, 0)["y"], dm.on_after_batch_transfer(b, 0)["y"])


def test_device_sampling_refuses_priors_that_cannot_and_loader_workers():
    with pytest.raises(ValueError, match=r"prior tests\.test_gpu_path\.linear_prior does not say it can"):
        datamodule(prior=linear_prior)
    with pytest.raises(ValueError, match="prior MixturePrior does not say it can"):
        datamodule(prior=MixturePrior([GPPrior(), linear_prior]))
    with pytest.raises(ValueError, match="set data.num_workers=0"):
        datamodule(num_workers=2)
    declared = FunctionPrior(linear_prior, max_features=1, samples_on_any_device=True)
    batch = datamodule(prior=MixturePrior([GPPrior(), declared])).on_after_batch_transfer(
        {"stream": 0, "step": 0, "rank": 0, "num_context": 5, "num_features": 1}, 0
    )
    assert batch["x"].shape == (4, 20, 1) and torch.isfinite(batch["y"]).all()


@pytest.mark.slow
def test_device_sampling_run_trains_on_the_streams_batches_and_exports(tmp_path):
    record = tmp_path / "batches"
    recorder = ["+callbacks.record._target_=tests.helpers.RecordBatches", f"+callbacks.record.path={record}"]
    cfg = compose_cfg(tmp_path, "trainer.max_steps=12", "data.sample_on_device=true", *recorder)
    path = train(cfg)
    stream = instantiate(cfg.data, sample_on_device=False).training_stream()
    lines = (record / "rank0.txt").read_text().split("\n")[:-1]
    assert len(lines) == 12
    for line in lines:
        step, num_context, digest = line.split()
        batch = stream.batch_at(int(step))
        assert int(num_context) == batch["num_context"]
        assert digest == hashlib.sha1(batch["y"].numpy().tobytes()).hexdigest()
    predictor = pfn.load(path)
    assert predictor.config["training"]["sample_on_device"] is True
    assert torch.isfinite(predictor.predict(torch.rand(10, 1), torch.randn(10), torch.rand(5, 1)).mean).all()


@pytest.mark.slow
def test_compiled_run_saves_resumes_and_exports_plain_parameter_names(tmp_path):
    """model.compile=true (aot_eager backend: traced by dynamo and AOTAutograd, no code generation, so it
    compiles in seconds on a CPU): 10 steps, stop, resume to 20; the Lightning checkpoint and the export
    hold plain names, and the weights match an uncompiled 20-step run."""
    common = ["model.min_lr_ratio=1.0", "model.warmup_steps=1", "callbacks.model_checkpoint.every_n_train_steps=5"]
    compiled = ["model.compile=true", "model.compile_backend=aot_eager", *common]
    torch._dynamo.reset()
    counters.clear()
    train(compose_cfg(tmp_path / "b", "trainer.max_steps=10", *compiled))
    assert counters["stats"]["unique_graphs"] >= 1, "the transformer was not compiled"
    ckpt = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=True)
    assert "net.empty_token" in ckpt["state_dict"]
    assert not [k for k in ckpt["state_dict"] if "_orig_mod" in k]
    b = train(compose_cfg(tmp_path / "b", "trainer.max_steps=20", "ckpt_path=last", *compiled))
    torch._dynamo.reset()
    a = train(compose_cfg(tmp_path / "a", "trainer.max_steps=20", *common))

    with safe_open(str(b), "pt") as f:
        names = set(f.keys())
    assert "net.empty_token" in names and not [k for k in names if "_orig_mod" in k]
    pa, pb = pfn.load(a), pfn.load(b)
    assert pb.config["training"]["compile"] is True and pb.config["training"]["steps"] == 20
    wa, wb = pa.net.state_dict(), pb.net.state_dict()
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-4, atol=1e-5, msg=k)


@pytest.mark.slow
def test_bf16_mixed_run_computes_in_bfloat16_and_exports_a_working_model(tmp_path):
    dtypes = tmp_path / "dtypes.txt"
    path = train(compose_cfg(tmp_path, "trainer.max_steps=30", "trainer.precision=bf16-mixed",
                             "+callbacks.dtype._target_=tests.helpers.RecordLogitsDtype",
                             f"+callbacks.dtype.path={dtypes}"))  # fmt: skip
    assert dtypes.read_text() == "torch.bfloat16"  # the transformer ran under bf16 autocast
    predictor = pfn.load(path)
    assert predictor.config["training"]["precision"] == "bf16-mixed"
    gen = torch.Generator().manual_seed(1)
    batch = GPPrior().sample(8, 40, 1, gen)
    pred = predictor.predict(batch.x[:, :30], batch.y[:, :30], batch.x[:, 30:])
    assert torch.isfinite(pred.mean).all() and torch.isfinite(pred.log_prob(batch.y[:, 30:])).all()


@pytest.mark.slow
def test_the_gpu_recipe_runs_on_the_cpu(tmp_path):
    """trainer=gpu with everything on (bf16 autocast, compiled transformer, sampling after the transfer),
    only the accelerator switched to the CPU: it trains, exports and predicts."""
    gpu_recipe = ["trainer=gpu", "model.compile=true", "model.compile_backend=aot_eager", "data.sample_on_device=true"]
    path = train(compose_cfg(tmp_path, *gpu_recipe, "trainer.accelerator=cpu", "trainer.max_steps=10"))
    predictor = pfn.load(path)
    training = predictor.config["training"]
    assert (training["precision"], training["compile"], training["sample_on_device"]) == ("bf16-mixed", True, True)
    assert torch.isfinite(predictor.predict(torch.rand(10, 1), torch.randn(10), torch.rand(5, 1)).mean).all()
