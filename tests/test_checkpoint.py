"""Inference checkpoints: exact round trip; anything else is refused, and nothing is unpickled."""

import importlib.util
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save, save_file

import pfn
from pfn.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    header_digest,
    load_checkpoint,
    read_config,
    save_checkpoint,
    tensors_digest,
)


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


# -- hardening (issue 12): digests over header and tensors, bounded loading, malformed headers --------------
ROOT = Path(__file__).resolve().parent.parent


def _contents(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    with safe_open(str(path), framework="pt") as f:
        return f.metadata(), {k: f.get_tensor(k).clone() for k in list(f.keys())}  # copies: files get rewritten


def _edit(path: Path, **fields: str | None) -> Path:
    """Rewrite ``path`` with metadata fields changed (None: removed), keeping the recorded digests."""
    metadata, tensors = _contents(path)
    metadata = {k: v for k, v in {**metadata, **fields}.items() if v is not None}
    path.write_bytes(save(tensors, metadata=metadata))
    return path


def _forge(path: Path, tensors: dict[str, torch.Tensor], config: dict | str, **fields: str) -> Path:
    """A checkpoint with these tensors, config and metadata fields, with digests that match (as a
    hostile writer would compute them)."""
    metadata = {
        "format": "pfn-checkpoint",
        "format_version": str(FORMAT_VERSION),
        "config": config if isinstance(config, str) else json.dumps(config),
        "tensors_sha256": tensors_digest(tensors),
        **fields,
    }
    metadata["header_sha256"] = header_digest(metadata)
    path.write_bytes(save(tensors, metadata=metadata))
    return path


def _edit_config(path: Path, edit) -> Path:
    metadata, _ = _contents(path)
    config = json.loads(metadata["config"])
    edit(config)
    return _edit(path, config=json.dumps(config))


def _pfn_info(path, capsys) -> tuple[int, str]:
    from pfn.cli import main

    code = main(["info", str(path)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c["domain"].update(x=[-10.0, 10.0]),  # widened domain: the range error would become an answer
        lambda c: c["normalization"].update(x="standardize", y="standardize"),
        lambda c: c["output"].update(tails="pareto"),
    ],
    ids=["domain", "normalization", "tails"],
)
@pytest.mark.parametrize("original", ["shipped_gp", "saved_here"])
def test_edited_header_config_is_refused_by_load_and_info(tmp_path, checkpoint_file, original, edit, capsys):
    path = tmp_path / "gp.safetensors"
    shutil.copy(ROOT / "pretrained" / "gp.safetensors" if original == "shipped_gp" else checkpoint_file, path)
    _edit_config(path, lambda c: None)  # the same config, written again: still loads
    assert pfn.load(path).config == json.loads(_contents(path)[0]["config"])
    _edit_config(path, edit)
    with pytest.raises(CheckpointError, match="gp.safetensors is corrupted or was modified: its header"):
        pfn.load(path)
    with pytest.raises(CheckpointError, match="header does not match 'header_sha256'"):
        read_config(path)
    code, err = _pfn_info(path, capsys)
    assert code == 2 and "header does not match" in err


def test_header_digest_covers_every_metadata_field(checkpoint_file):
    metadata, _ = _contents(checkpoint_file)
    _edit(checkpoint_file, note="added later")
    with pytest.raises(CheckpointError, match="header does not match"):
        read_config(checkpoint_file)
    # a consistent-looking tensor digest (of other tensors) is caught from the header alone
    _edit(checkpoint_file, note=None, tensors_sha256="0" * 64)
    with pytest.raises(CheckpointError, match="header does not match"):
        read_config(checkpoint_file)
    _edit(checkpoint_file, tensors_sha256=metadata["tensors_sha256"])
    assert read_config(checkpoint_file) == json.loads(metadata["config"])


@pytest.mark.parametrize("field", ["header_sha256", "tensors_sha256"])
def test_a_file_without_its_digest_is_refused(checkpoint_file, field, capsys):
    _edit(checkpoint_file, **{field: None})
    with pytest.raises(CheckpointError, match=f"model.safetensors: header field '{field}' .* is missing"):
        pfn.load(checkpoint_file)
    code, err = _pfn_info(checkpoint_file, capsys)
    assert code == 2 and "is missing" in err


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_changed_byte_in_the_borders_is_refused(checkpoint_file, small_bar, where):
    raw = bytearray(checkpoint_file.read_bytes())
    (n,) = struct.unpack("<Q", raw[:8])
    start, end = json.loads(raw[8 : 8 + n])["bar.borders"]["data_offsets"]
    pos = 8 + n + {"first": start, "middle": (start + end) // 2, "last": end - 1}[where]
    raw[pos] ^= 0x01  # the lowest mantissa bit when it hits a float's first byte: still increasing borders
    checkpoint_file.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="its tensors do not match 'tensors_sha256'"):
        pfn.load(checkpoint_file)
    assert read_config(checkpoint_file)["prior"]["name"] == "GPPrior"  # the header alone is intact


def test_a_loaded_model_does_not_change_when_its_file_is_overwritten(checkpoint_file):
    """safetensors maps the file: tensors taken from it without a copy (the borders, before) would follow
    later writes to the file, bypassing the digest that was checked at load time."""
    predictor = pfn.load(checkpoint_file)
    borders, head = predictor.output.borders.clone(), predictor.net.head.weight.clone()
    size = checkpoint_file.stat().st_size
    with open(checkpoint_file, "r+b") as f:  # in place, same inode: what an mmap would see
        f.write(b"\0" * size)
    assert torch.equal(predictor.output.borders, borders) and torch.equal(predictor.net.head.weight, head)


def _write_format_1(path: Path, tensors: dict[str, torch.Tensor], config_json: str) -> Path:
    metadata = {"format": "pfn-checkpoint", "format_version": "1", "config": config_json}
    path.write_bytes(save(tensors, metadata={**metadata, "sha256": tensors_digest(tensors)}))
    return path


def _upgrade_script():
    spec = importlib.util.spec_from_file_location("upgrade_checkpoint", ROOT / "scripts" / "upgrade_checkpoint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_format_1_is_refused_naming_the_upgrade_script(checkpoint_file, tmp_path):
    metadata, tensors = _contents(checkpoint_file)
    old = _write_format_1(tmp_path / "v1.safetensors", tensors, metadata["config"])
    with pytest.raises(CheckpointError, match=r"v1.safetensors has checkpoint format 1.*scripts/upgrade_checkpoint.py"):
        pfn.load(old)
    with pytest.raises(CheckpointError, match="upgrade_checkpoint.py"):
        read_config(old)


def test_upgrade_script_keeps_tensors_and_config_exactly(checkpoint_file, small_net, tmp_path):
    metadata, tensors = _contents(checkpoint_file)
    config_json = metadata["config"].replace('"x"', ' "x"')  # any spelling of the JSON is kept byte for byte
    old = _write_format_1(tmp_path / "v1.safetensors", tensors, config_json)
    assert _upgrade_script().main([str(old), "--output", str(tmp_path / "v2.safetensors")]) == 0
    new_metadata, new_tensors = _contents(tmp_path / "v2.safetensors")
    assert new_metadata["config"] == config_json and new_metadata["format_version"] == "2"
    assert new_tensors.keys() == tensors.keys() and all(torch.equal(new_tensors[k], tensors[k]) for k in tensors)
    g = torch.Generator().manual_seed(0)
    x, y, q = torch.rand(1, 20, 2, generator=g), torch.randn(1, 20, generator=g), torch.rand(1, 9, 2, generator=g)
    assert torch.equal(pfn.load(tmp_path / "v2.safetensors").net(x, y, q), small_net(x, y, q))
    assert _upgrade_script().main([str(old)]) == 0  # in place
    assert _contents(old)[0] == new_metadata


def test_upgrade_script_refuses_a_modified_format_1_file(checkpoint_file, tmp_path, capsys):
    metadata, tensors = _contents(checkpoint_file)
    old = _write_format_1(tmp_path / "v1.safetensors", tensors, metadata["config"])
    raw = bytearray(old.read_bytes())
    raw[-3] ^= 0xFF
    old.write_bytes(bytes(raw))
    assert _upgrade_script().main([str(old)]) == 1
    assert "tensors do not match the recorded sha256" in capsys.readouterr().err
    assert old.read_bytes() == bytes(raw)  # left alone
    assert list(tmp_path.glob(".*.tmp")) == []


def test_shipped_models_are_format_2_with_both_digests():
    shipped = sorted((ROOT / "pretrained").glob("*.safetensors"))
    assert {p.stem for p in shipped} >= {"gp", "gp-hyper", "bnn", "lc", "lc-wide", "bo"}  # the check is not vacuous
    for path in shipped:
        metadata, tensors = _contents(path)
        assert metadata["format_version"] == "2", path.name
        assert metadata["header_sha256"] == header_digest(metadata), path.name
        assert metadata["tensors_sha256"] == tensors_digest(tensors), path.name


HOSTILE_LOAD = """
import json, resource, sys, time
from pfn.checkpoint import CheckpointError, load_checkpoint

vm = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 2**30, vm + 2**30))  # 1 GiB more than torch needs to start
for path in sys.argv[1:]:
    rss, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    try:
        load_checkpoint(path)
        outcome = "loaded"
    except CheckpointError as err:
        outcome = f"CheckpointError: {err}"
    except BaseException as err:
        outcome = f"{type(err).__name__}: {err}"
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss
    print(json.dumps([outcome[:300], grew, time.perf_counter() - start]))
"""


def test_a_hostile_architecture_is_refused_before_anything_is_allocated(checkpoint_file, tmp_path):
    """n_layers=10**6 used 3.7 GB before failing and d_model=2**17 tried to allocate 64 GB: now both are refused
    within a 1 GiB address-space limit, with their peak memory (max RSS) growing by under 100 MB, in under 5 s."""
    metadata, tensors = _contents(checkpoint_file)
    config = json.loads(metadata["config"])
    hostile = {"deep": {"n_layers": 10**6}, "wide": {"d_model": 2**17, "d_ff": 2**17}}
    paths = [
        _forge(tmp_path / f"{name}.safetensors", tensors, {**config, "model": {**config["model"], **changes}})
        for name, changes in hostile.items()
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", HOSTILE_LOAD, *map(str, paths)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout
    deep, wide = map(json.loads, lines)
    assert deep[0].startswith("CheckpointError") and "'config.model.n_layers' is 1000000" in deep[0]
    assert wide[0].startswith("CheckpointError") and "does not match the stored tensors" in wide[0]
    for outcome, grew_kb, seconds in (deep, wide):
        assert grew_kb < 100_000 and seconds < 5, (outcome, grew_kb, seconds)


@pytest.mark.parametrize(
    "change",
    [
        {"model": {"d_model": 64}},  # other shapes
        {"model": {"n_layers": 1}},  # fewer tensors than stored
        {"model": {"n_layers": 3}},  # more than stored
        {"tensors": "extra"},
        {"tensors": "float64"},
        {"output": {"kind": "categorical", "num_classes": 32}},  # a categorical model stores no borders
    ],
)
def test_the_architecture_must_match_the_stored_tensors(checkpoint_file, tmp_path, change):
    metadata, tensors = _contents(checkpoint_file)
    config = json.loads(metadata["config"])
    config["model"].update(change.get("model", {}))
    config["output"] = change.get("output", config["output"])
    if change.get("tensors") == "extra":
        tensors["net.extra"] = torch.zeros(3)
    if change.get("tensors") == "float64":
        tensors = {k: v.double() for k, v in tensors.items()}
    path = _forge(tmp_path / "forged.safetensors", tensors, config)
    with pytest.raises(CheckpointError, match="forged.safetensors: the architecture in header field 'config.model'"):
        load_checkpoint(path)


def test_size_bounds_are_checked_from_the_header(checkpoint_file, monkeypatch):
    import pfn.checkpoint as ckpt

    _, tensors = _contents(checkpoint_file)
    stored = sum(t.numel() for t in tensors.values())
    monkeypatch.setattr(ckpt, "MAX_PARAMETERS", stored - 1)
    with pytest.raises(CheckpointError, match=f"holds {stored} parameters; at most {stored - 1}"):
        load_checkpoint(checkpoint_file)
    monkeypatch.setattr(ckpt, "MAX_PARAMETERS", stored)
    monkeypatch.setattr(ckpt, "MAX_TENSORS", len(tensors) - 1)
    with pytest.raises(CheckpointError, match=f"holds {len(tensors)} tensors; at most {len(tensors) - 1}"):
        load_checkpoint(checkpoint_file)
    monkeypatch.setattr(ckpt, "MAX_TENSORS", len(tensors))
    load_checkpoint(checkpoint_file)


def _set(dotted: str, value):
    def edit(config):
        *parents, key = dotted.split(".")
        section = config
        for p in parents:
            section = section[p]
        section[key] = value

    return edit


MALFORMED = {
    "architecture": (_set("architecture", "os.system"), "'config.architecture' must be one of"),
    "list_config": (lambda c: c.clear() or None, "'config' must be a JSON object, got list"),
    "list_training": (_set("training", [50]), "'config.training' must be an object"),
    "list_model": (_set("model", [2, 32]), "'config.model' must be an object"),
    "list_normalization": (_set("normalization", ["none"]), "'config.normalization' must be an object"),
    "string_max_context": (_set("training.max_context", "50"), "'config.training.max_context' must be an integer"),
    "bool_min_features": (_set("training.min_features", True), "'config.training.min_features' must be an integer"),
    "reversed_domain": (_set("domain.x", [1.0, 0.0]), "'config.domain.x' must be null or \\[lo, hi\\]"),
    "string_domain": (_set("domain.x", "wide"), "'config.domain.x' must be null or"),
    "unknown_tails": (_set("output.tails", "cauchy"), "'config.output.tails' must be one of"),
    "dict_tails": (_set("output.tails", {}), "'config.output.tails' must be one of"),
    "unknown_kind": (_set("output.kind", "poisson"), "'config.output.kind' must be"),
    "list_tail_scales": (_set("output.tail_scales", [2, 3]), "'config.output.tail_scales' must be an object"),
    "narrowing_tail_scales": (
        _set("output.tail_scales", {"context_sizes": [2], "left": [0.5], "right": [1.0]}),
        "'config.output.tail_scales' is invalid: left tail factors must be finite numbers >= 1",
    ),
    "unsorted_tail_scales": (
        _set("output.tail_scales", {"context_sizes": [3, 2], "left": [2.0, 2.0], "right": [1.0, 1.0]}),
        "'config.output.tail_scales' is invalid: context_sizes must be strictly increasing",
    ),
    "missing_kind": (lambda c: c["output"].pop("kind"), "'config.output.kind' is missing"),
    "zero_heads": (_set("model.n_heads", 0), "'config.model.n_heads' must be an integer >= 1"),
    "float_width": (_set("model.d_model", 32.0), "'config.model.d_model' must be an integer >= 1"),
    "indivisible_heads": (_set("model.n_heads", 5), "'config.model' does not describe a valid model"),
    "unknown_argument": (_set("model.dropout", 1), "'config.model' does not describe a valid model"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_config_fields_are_named(checkpoint_file, tmp_path, case):
    edit, message = MALFORMED[case]
    metadata, tensors = _contents(checkpoint_file)
    config = json.loads(metadata["config"])
    if case == "list_config":
        config = []
    else:
        edit(config)
    path = _forge(tmp_path / "forged.safetensors", tensors, config)
    with pytest.raises(CheckpointError, match=f"forged.safetensors: header field {message}"):
        pfn.load(path)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"format_version": "abc"}, "'format_version' must be a positive integer, got 'abc'"),
        ({"format_version": "-1"}, "'format_version' must be a positive integer"),
        ({"format_version": "9" * 5000}, "'format_version' must be a positive integer"),
        ({"config": "[" * 100_000 + "]" * 100_000}, "'config' is not valid JSON"),
        ({"config": '{"architecture": ' + "9" * 5000 + "}"}, "'config' is not valid JSON"),
        ({"config": "{"}, "'config' is not valid JSON"),
    ],
    ids=["abc", "negative", "huge", "deep", "long_int", "truncated"],
)
def test_malformed_format_fields_are_named_also_in_pfn_info(checkpoint_file, tmp_path, fields, message, capsys):
    metadata, tensors = _contents(checkpoint_file)
    path = _forge(tmp_path / "forged.safetensors", tensors, fields.pop("config", metadata["config"]), **fields)
    with pytest.raises(CheckpointError, match=f"forged.safetensors: header field {message}"):
        load_checkpoint(path)
    code, err = _pfn_info(path, capsys)
    assert code == 2 and "forged.safetensors: header field" in err and len(err) < 1000


def test_a_very_long_model_name_is_a_clear_error(capsys):
    with pytest.raises(FileNotFoundError, match=r"named 'aaaa.*'\.\.\. \(5000 characters\).*at most 255 bytes"):
        pfn.load("a" * 5000)
    with pytest.raises(FileNotFoundError, match=r"no checkpoint file at .*\(5002 characters\)"):
        pfn.load("x/" + "a" * 5000)
    code, err = _pfn_info("a" * 5000, capsys)
    assert code == 2 and "at most 255 bytes" in err and len(err) < 500
