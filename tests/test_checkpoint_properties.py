"""Property-based tests of the checkpoint loader: every mutated file is refused or loads identically.

Mutations of a small checkpoint and of the shipped ``gp`` model: bytes flipped, inserted or deleted
anywhere (biased towards the JSON header, where most structure is); the header rewritten with a
metadata field, a config field or a tensor entry changed, without recomputing the digests. Each must
give a ``CheckpointError`` or a model with the same tensors and the same config; a file whose digests a
hostile writer recomputed must give a ``CheckpointError`` or load with exactly the config it holds.
Seeded (``derandomize=True``) and bounded to a few hundred examples.
"""

import functools
import json
import shutil
import struct
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pfn
from pfn.checkpoint import CheckpointError, header_digest, save_checkpoint
from pfn.model import BarDistribution, PFNTransformer
from priors import GPPrior

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = dict(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
byte_edits = st.lists(
    st.tuples(
        st.sampled_from(["flip", "flip", "flip", "insert", "delete"]),  # flips keep the layout: they reach the digests
        st.sampled_from(["header", "anywhere"]),
        st.floats(0, 1, exclude_max=True),  # where, as a fraction of the region
        st.integers(1, 255),  # xor mask, inserted byte, or number of bytes deleted (at most 8)
    ),
    min_size=1,
    max_size=2,
    unique=True,
)


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """A function of "small" or "gp": the checkpoint's path and what it loads as (made on first use)."""
    folder = tmp_path_factory.mktemp("originals")

    @functools.cache
    def original(name: str) -> tuple[Path, tuple]:
        if name == "gp":
            path = Path(shutil.copy(ROOT / "pretrained" / "gp.safetensors", folder / "gp.safetensors"))
            return path, _loaded(path)
        torch.manual_seed(0)
        net = PFNTransformer(num_features=2, num_bins=16, d_model=16, n_layers=1, n_heads=2, d_ff=32)
        y = torch.randn(4000, generator=torch.Generator().manual_seed(0))
        path = save_checkpoint(folder / "small.safetensors", net, BarDistribution.from_samples(y, 16, "pareto"),
                               prior=GPPrior(max_features=2).describe(), training={"max_context": 50},
                               domain={"x": [0.0, 1.0]})  # fmt: skip
        return path, _loaded(path)

    return original


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("mutated") / "mutated.safetensors"


def _loaded(path) -> tuple[dict[str, torch.Tensor], torch.Tensor, str, dict]:
    predictor = pfn.load(path)
    return predictor.net.state_dict(), predictor.output.borders, predictor.output.tails, predictor.config


def _refused_or_identical(path: Path, original) -> str:
    try:
        got = _loaded(path)
    except CheckpointError:
        return "refused"
    state, borders, tails, config = original
    assert got[0].keys() == state.keys() and all(torch.equal(got[0][k], state[k]) for k in state)
    assert torch.equal(got[1], borders) and got[2] == tails and got[3] == config
    return "identical"


def _split(raw: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _join(header: dict, data: bytes) -> bytes:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # safetensors pads its header to 8 bytes
    return struct.pack("<Q", len(text)) + text + data


def _paths(value, prefix=()):
    """Every (nested) key path inside a JSON value."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    return [p for k, v in items for p in [(*prefix, k), *_paths(v, (*prefix, k))]]


def _replace(value, path, new):
    """A copy of a JSON value with the element at an existing ``path`` replaced by ``new`` (deleted if new is ...)."""
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    if len(path) > 1:
        copy[path[0]] = _replace(copy[path[0]], path[1:], new)
    elif new is ...:
        del copy[path[0]]
    else:
        copy[path[0]] = new
    return copy


@pytest.mark.parametrize("name, examples", [("small", 250), ("gp", 200)])
def test_byte_level_mutations_are_refused_or_load_identically(originals, work, name, examples):
    path, original = originals(name)
    raw = path.read_bytes()
    header_end = 8 + struct.unpack("<Q", raw[:8])[0]
    outcomes = []

    @settings(max_examples=examples, **SETTINGS)
    @given(edits=byte_edits)
    def check(edits):
        data = bytearray(raw)
        for op, region, where, value in edits:
            pos = int(where * (min(header_end, len(data)) if region == "header" else len(data)))
            if op == "flip" and pos < len(data):
                data[pos] ^= value
            elif op == "insert":
                data[pos:pos] = bytes([value])
            else:
                del data[pos : pos + 1 + value % 8]
        work.write_bytes(bytes(data))
        outcomes.append(_refused_or_identical(work, original))

    check()
    assert outcomes.count("refused") > 0.5 * len(outcomes)  # the mutations do reach the loader's checks


@pytest.mark.parametrize("name", ["small", "gp"])
def test_header_edits_without_new_digests_are_refused_or_load_identically(originals, work, name):
    path, original = originals(name)
    header, payload = _split(path.read_bytes())
    metadata = header["__metadata__"]
    config = json.loads(metadata["config"])
    config_paths = _paths(config)
    tensor_paths = [p for p in _paths({k: v for k, v in header.items() if k != "__metadata__"}) if len(p) >= 2]
    outcomes = []

    @settings(max_examples=200, **SETTINGS)
    @given(data=st.data())
    def check(data):
        target = data.draw(st.sampled_from(["metadata", "config", "tensor"]))
        new = data.draw(json_values | st.just(...))  # ... deletes the field
        edited = dict(header)
        if target == "metadata":
            key = data.draw(st.sampled_from([*sorted(metadata), "extra"]))
            text = data.draw(st.text(max_size=70) | st.sampled_from(["1", "2", "3", "0" * 64, metadata.get(key, "")]))
            edited["__metadata__"] = {k: v for k, v in {**metadata, key: text}.items() if new is not ... or k != key}
        elif target == "config":
            changed = _replace(config, data.draw(st.sampled_from(config_paths)), new)
            edited["__metadata__"] = {**metadata, "config": json.dumps(changed)}
        else:
            edited = _replace(header, data.draw(st.sampled_from(tensor_paths)), new)
        work.write_bytes(_join(edited, payload))
        outcomes.append(_refused_or_identical(work, original))

    check()
    assert outcomes.count("refused") > 0.5 * len(outcomes)


@pytest.mark.parametrize("name, examples", [("small", 250), ("gp", 100)])
def test_resigned_config_edits_are_refused_or_load_as_written(originals, work, name, examples):
    """A writer who recomputes the digests can store any config: it is refused with a CheckpointError
    (naming the field) or loads with exactly that config and the same tensors, never another exception."""
    path, (state, *_) = originals(name)
    header, payload = _split(path.read_bytes())
    metadata = header["__metadata__"]
    config = json.loads(metadata["config"])
    config_paths = _paths(config)
    outcomes = []

    @settings(max_examples=examples, **SETTINGS)
    @given(data=st.data())
    def check(data):
        changed = _replace(config, data.draw(st.sampled_from([(), *config_paths])), data.draw(json_values))
        fields = {**metadata, "config": json.dumps(changed)}
        if data.draw(st.booleans()):
            fields["format_version"] = data.draw(st.text(max_size=6) | st.sampled_from(["1", "2", "3", "02"]))
        fields["header_sha256"] = header_digest(fields)
        work.write_bytes(_join({**header, "__metadata__": fields}, payload))
        try:
            got = _loaded(work)
        except CheckpointError as err:
            assert "header field" in str(err) or "checkpoint format" in str(err), err
            outcomes.append("refused")
            return
        assert got[3] == changed and all(torch.equal(got[0][k], state[k]) for k in state)
        outcomes.append("loaded")

    check()
    assert {"refused", "loaded"} <= set(outcomes)
