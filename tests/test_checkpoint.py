"""Checkpoints: bit-exact round trips, atomic writes, and a clear error for every bad file."""

import json
import os
import re

import numpy as np
import pytest

from cmtoy import checkpoint
from cmtoy.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_params,
    save_checkpoint,
    save_params,
)
from cmtoy.mlp import MLPConfig, forward, init_params

CONFIG = MLPConfig(width=8, depth=2, activation="tanh", n_fourier=2)


@pytest.fixture
def params():
    return init_params(CONFIG, np.random.default_rng(0))


@pytest.fixture
def saved(tmp_path, params):
    path = tmp_path / "model.npz"
    save_params(path, params, {"schedule": "linear", "sigma_d": 0.5})
    return path


def raw_npz(path, **entries):
    """Write an .npz by hand (not through save_checkpoint), for crafting bad files."""
    with open(path, "wb") as file:
        np.savez(file, **entries)
    return path


def good_entries(good, **overrides):
    entries = {
        "__format_version__": np.int64(checkpoint.FORMAT_VERSION),
        "__meta__": np.str_(json.dumps({"mlp_config": vars(CONFIG)})),
        "params": good.flat,
    }
    entries.update(overrides)
    return {k: v for k, v in entries.items() if v is not None}


def test_params_round_trip_is_bit_exact(saved, params):
    loaded, meta = load_params(saved)
    assert loaded.config == CONFIG
    assert meta == {"schedule": "linear", "sigma_d": 0.5}
    np.testing.assert_array_equal(loaded.flat, params.flat)
    t, x = np.linspace(0, 1, 5), np.linspace(-2, 2, 5)
    np.testing.assert_array_equal(forward(loaded, t, x)[0], forward(params, t, x)[0])
    loaded.flat[0] += 1.0  # the loaded buffer is owned and writeable
    with np.load(saved, allow_pickle=False) as archive:  # plain NumPy reads it, no pickle
        assert sorted(archive.files) == ["__format_version__", "__meta__", "params"]


def test_float32_params_round_trip_bit_exactly(tmp_path):
    config = MLPConfig(width=8, depth=2, n_fourier=2, dtype="float32")
    params = init_params(config, np.random.default_rng(4))
    save_params(tmp_path / "f32.npz", params)
    loaded, _ = load_params(tmp_path / "f32.npz")
    assert loaded.config == config and loaded.flat.dtype == np.float32
    np.testing.assert_array_equal(loaded.flat, params.flat)


def test_generic_checkpoint_keeps_dtypes_and_values(tmp_path):
    arrays = {
        "a": np.arange(6, dtype=np.int32).reshape(2, 3),
        "b": np.array([True, False]),
        "c": np.array([np.pi, -0.0, 1e-300], dtype=np.float64),
        "d": np.float32(2.5),
    }
    path = tmp_path / "c.npz"
    save_checkpoint(path, arrays, {"nested": {"list": [1, 2.5, None]}})
    loaded, meta = load_checkpoint(str(path))
    assert meta == {"nested": {"list": [1, 2.5, None]}}
    assert loaded.keys() == arrays.keys()
    for name, array in arrays.items():
        assert loaded[name].dtype == np.asarray(array).dtype
        assert loaded[name].tobytes() == np.asarray(array).tobytes()


def test_save_leaves_no_temporary_files_and_overwrites(tmp_path, params):
    path = tmp_path / "m.npz"
    save_params(path, params)
    other = init_params(CONFIG, np.random.default_rng(1))
    save_params(path, other)
    assert os.listdir(tmp_path) == ["m.npz"]
    np.testing.assert_array_equal(load_params(path)[0].flat, other.flat)


def test_a_failed_write_keeps_the_old_file(saved, params, monkeypatch):
    good_bytes = saved.read_bytes()

    def crash_mid_write(file, **entries):
        file.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(checkpoint.np, "savez", crash_mid_write)
    with pytest.raises(KeyboardInterrupt):
        save_params(saved, params)
    assert saved.read_bytes() == good_bytes
    assert os.listdir(saved.parent) == [saved.name]


def test_save_rejects_what_cannot_be_read_back(tmp_path, params):
    path = tmp_path / "x.npz"
    with pytest.raises(ValueError, match="'__x'"):
        save_checkpoint(path, {"__x": np.zeros(2)}, {})
    with pytest.raises(ValueError, match="object"):
        save_checkpoint(path, {"x": np.array([None, 1])}, {})
    with pytest.raises(ValueError, match="JSON"):
        save_checkpoint(path, {"x": np.zeros(2)}, {"bad": object()})
    with pytest.raises(ValueError, match="JSON"):
        save_checkpoint(path, {"x": np.zeros(2)}, {"bad": float("nan")})
    with pytest.raises(ValueError, match="reserved"):
        save_params(path, params, {"mlp_config": 1})
    assert not path.exists()


def corrupt_truncated(path, params):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def corrupt_empty(path, params):
    path.write_bytes(b"")


def corrupt_garbage(path, params):
    path.write_bytes(np.random.default_rng(0).bytes(2000))


def corrupt_flipped_byte(path, params):
    data = bytearray(path.read_bytes())
    start = bytes(data).find(params.flat.tobytes())
    assert start > 0
    data[start + 100] ^= 0xFF  # one bit pattern in the parameter values
    path.write_bytes(bytes(data))


def corrupt_npy(path, params):
    with open(path, "wb") as file:
        np.save(file, params.flat)


def crafted(**overrides):
    def corrupt(path, good):
        raw_npz(path, **good_entries(good, **overrides))

    return corrupt


def wrong_config(**changes):
    return crafted(__meta__=np.str_(json.dumps({"mlp_config": {**vars(CONFIG), **changes}})))


CORRUPTIONS = {
    "truncated": (corrupt_truncated, "truncated or damaged"),
    "empty": (corrupt_empty, "empty"),
    "garbage": (corrupt_garbage, "not an .npz archive"),
    "flipped byte": (corrupt_flipped_byte, "corrupted archive.*CRC"),
    "single .npy": (corrupt_npy, "single .npy"),
    "wrong version": (crafted(__format_version__=np.int64(99)), "format version 99.*reads version 1"),
    "version not an int": (crafted(__format_version__=np.array([1.0])), "integer scalar"),
    "no version": (crafted(__format_version__=None), "not a cmtoy checkpoint"),
    "no meta": (crafted(__meta__=None), "no __meta__"),
    "meta not JSON": (crafted(__meta__=np.str_("{not json")), "not valid JSON"),
    "meta not a dict": (crafted(__meta__=np.str_("[1, 2]")), "JSON object"),
    "pickled array": (crafted(extra=np.array([{"a": 1}], dtype=object)), "corrupted archive.*dtype object.*pickle"),
    "missing params": (crafted(params=None), "no 'params' array"),
    "missing config": (crafted(__meta__=np.str_("{}")), "no 'mlp_config'"),
    "wrong shape": (crafted(params=np.zeros(CONFIG.n_params - 1)), r"shape \(\d+,\) do not fit"),
    "wrong dtype": (crafted(params=np.zeros(CONFIG.n_params, np.float32)), "dtype float32"),
    "config mismatch": (wrong_config(width=9), "do not fit"),
    "dtype mismatch": (wrong_config(dtype="float32"), "dtype float64.*needs float32"),
    "invalid config": (wrong_config(activation="relu"), "invalid network config.*relu"),
    "unknown config field": (wrong_config(dropout=0.1), "invalid network config.*dropout"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_every_bad_file_raises_a_checkpoint_error_naming_the_file(tmp_path, params, case):
    corrupt, problem = CORRUPTIONS[case]
    path = tmp_path / f"bad {case}.npz"
    save_params(path, params)
    corrupt(path, params)
    with pytest.raises(CheckpointError, match=re.escape(str(path))) as info:
        load_params(path)
    assert re.search(problem, info.value.problem), info.value.problem
    assert isinstance(info.value, ValueError)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.npz")
