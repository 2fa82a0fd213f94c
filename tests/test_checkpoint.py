"""Inference checkpoints: exact round trip; anything else is refused, and nothing is unpickled."""

import json
import pickle
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import pfn
from pfn.checkpoint import FORMAT_VERSION, CheckpointError, load_checkpoint, save_checkpoint


def test_round_trip_gives_identical_predictions(checkpoint_file, small_net, small_bar):
    predictor = pfn.load(checkpoint_file)
    g = torch.Generator().manual_seed(0)
    x, y, q = torch.rand(1, 20, 2, generator=g), torch.randn(1, 20, generator=g), torch.rand(1, 9, 2, generator=g)
    expected = small_net(x, y, q)
    got = predictor.net(x, y, q)
    assert torch.equal(expected, got)
    assert torch.equal(predictor.output.borders, small_bar.borders)
    assert predictor.config["prior"]["name"] == "GPPrior"
    assert predictor.config["model"]["d_model"] == 32


def test_config_is_plain_json_in_the_header(checkpoint_file):
    raw = checkpoint_file.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    assert header["__metadata__"]["format_version"] == str(FORMAT_VERSION)
    assert json.loads(header["__metadata__"]["config"])["architecture"] == "PFNTransformer"


def test_modified_weights_are_refused(checkpoint_file):
    raw = bytearray(checkpoint_file.read_bytes())
    raw[-5] ^= 0xFF  # flip bits inside the last tensor's data
    checkpoint_file.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupted or was modified"):
        pfn.load(checkpoint_file)


def test_truncated_file_is_refused(checkpoint_file):
    checkpoint_file.write_bytes(checkpoint_file.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        pfn.load(checkpoint_file)


class _Payload:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.target),))


def test_pickles_are_refused_without_running_them(tmp_path, small_net):
    marker = tmp_path / "pwned"
    payload = _Payload()
    payload.target = str(marker)
    for name, writer in {
        "torch.pt": lambda p: torch.save({"state_dict": small_net.state_dict(), "x": payload}, p),
        "plain.pkl": lambda p: p.write_bytes(pickle.dumps(payload)),
    }.items():
        path = tmp_path / name
        writer(path)
        with pytest.raises(CheckpointError, match="pickle"):
            pfn.load(path)
    assert not marker.exists()


def test_other_files_are_refused(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError):
        pfn.load(junk)
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, str(other))
    with pytest.raises(CheckpointError, match="not a PFN checkpoint"):
        pfn.load(other)
    with pytest.raises(FileNotFoundError):
        pfn.load(tmp_path / "missing.safetensors")


def test_newer_format_is_refused_with_upgrade_hint(tmp_path, small_net, small_bar, monkeypatch):
    import pfn.checkpoint as ckpt

    monkeypatch.setattr(ckpt, "FORMAT_VERSION", FORMAT_VERSION + 1)
    path = save_checkpoint(tmp_path / "new.safetensors", small_net, small_bar, prior={})
    monkeypatch.setattr(ckpt, "FORMAT_VERSION", FORMAT_VERSION)
    with pytest.raises(CheckpointError, match="upgrade"):
        load_checkpoint(path)


def test_interrupted_write_leaves_previous_checkpoint_intact(checkpoint_file, small_net, small_bar, monkeypatch):
    """A crash after the new bytes are written but before the rename leaves the old file loadable."""
    import os

    before = checkpoint_file.read_bytes()
    torch.manual_seed(1)
    other = type(small_net)(**small_net.config())

    def crash(src, dst):
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(checkpoint_file, other, small_bar, prior={})
    monkeypatch.undo()
    assert checkpoint_file.read_bytes() == before
    assert list(checkpoint_file.parent.glob(".*.tmp")) == []
    pfn.load(checkpoint_file)
