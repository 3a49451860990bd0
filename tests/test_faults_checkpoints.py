"""Malformed model files: every one is a CheckpointError naming the file and the problem.

And the temporaries of killed saves do not pile up. The cases of damaged archives (a
truncated file, a flipped byte, a wrong version) are in test_checkpoint.py; here are the
ones an adversarial or careless writer produces: missing or invalid metadata, NaN
weights, a header that lies about its array's shape, absurdly deep JSON.
"""

import io
import json
import os
import re
import time
import zipfile

import numpy as np
import pytest

import cmtoy
from cmtoy import checkpoint, mlp
from cmtoy.checkpoint import CheckpointError, load_checkpoint, save_params

CONFIG = mlp.MLPConfig(width=8, depth=1, n_fourier=2)
PARAMS = mlp.init_params(CONFIG, np.random.default_rng(0))
GOOD_META = {"format": "cmtoy.ConsistencyModel", "format_version": 1, "schedule": "linear",
             "sigma_d": 0.5, "extra": {}, "mlp_config": vars(CONFIG)}


def npy_bytes(array=None, header=None, data=b""):
    """The bytes of one .npy member: a real array's, or a hand-written header and data."""
    buffer = io.BytesIO()
    if header is None:
        np.save(buffer, array, allow_pickle=False)
    else:
        np.lib.format.write_array_header_1_0(buffer, header)
        buffer.write(data)
    return buffer.getvalue()


def write_model(path, meta=GOOD_META, flat=PARAMS.flat, members=None):
    """A model file written by hand, member by member (meta as JSON text, or raw text)."""
    meta_text = meta if isinstance(meta, str) else json.dumps(meta)
    entries = {
        "__format_version__.npy": npy_bytes(np.int64(1)),
        "__meta__.npy": npy_bytes(np.str_(meta_text)),
        "params.npy": npy_bytes(flat),
        **(members or {}),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def without(key):
    return {k: v for k, v in GOOD_META.items() if k != key}


def deep(n):
    return "[" * n + "]" * n


CASES = {
    "missing format": (dict(meta=without("format")), "not a cmtoy model"),
    "missing schedule": (dict(meta=without("schedule")), "lacks schedule"),
    "missing sigma_d": (dict(meta=without("sigma_d")), "lacks sigma_d"),
    "missing both": (dict(meta={k: v for k, v in without("schedule").items() if k != "sigma_d"}),
                     "lacks schedule, sigma_d"),
    "missing config": (dict(meta=without("mlp_config")), "no 'mlp_config'"),
    "config not a dict": (dict(meta={**GOOD_META, "mlp_config": [8, 1]}), "invalid network config"),
    "NaN sigma_d": (dict(meta=json.dumps({**GOOD_META, "sigma_d": float("nan")})), "sigma_d must be a finite"),
    "negative sigma_d": (dict(meta={**GOOD_META, "sigma_d": -1.0}), "sigma_d must be > 0"),
    "string sigma_d": (dict(meta={**GOOD_META, "sigma_d": "0.5"}), "sigma_d must be a real number"),
    "unknown schedule": (dict(meta={**GOOD_META, "schedule": "sqrt"}), "unknown schedule 'sqrt'"),
    "schedule a list": (dict(meta={**GOOD_META, "schedule": ["linear"]}), "schedule must be a Schedule or one of"),
    "NaN weights": (dict(flat=np.where(np.arange(PARAMS.flat.size) == 3, np.nan, PARAMS.flat)),
                    "1 of the .* parameters are not finite .*number 3"),
    "inf weights": (dict(flat=np.full(PARAMS.flat.size, np.inf)), "parameters are not finite"),
    "absurd shape": (dict(members={"params.npy": npy_bytes(
        header={"descr": "<f8", "fortran_order": False, "shape": (10**12,)}, data=b"\0" * 64)}),
        r"declares shape \(1000000000000,\).*but 64 bytes are stored"),
    "absurd 2-d shape": (dict(members={"params.npy": npy_bytes(
        header={"descr": "<f8", "fortran_order": False, "shape": (10**9, 10**9)}, data=b"")}),
        "declares shape"),
    "negative shape": (dict(members={"params.npy": npy_bytes(
        header={"descr": "<f8", "fortran_order": False, "shape": (-5,)}, data=b"")}), "corrupted archive"),
    "short data": (dict(members={"params.npy": npy_bytes(PARAMS.flat)[:-8]}), "declares shape"),
    "object dtype header": (dict(members={"params.npy": npy_bytes(
        header={"descr": "|O", "fortran_order": False, "shape": (1,)}, data=b"\0" * 8)}), "needs pickle"),
    "not an npy member": (dict(members={"notes.npy": b"hello, world"}), "corrupted archive"),
    "deep JSON meta": (dict(meta=deep(200_000)), "not valid JSON"),
    "deep JSON in config": (dict(meta=json.dumps({**GOOD_META, "mlp_config": json.loads(deep(500))})),
                            "invalid network config"),
    "meta a number": (dict(meta="3"), "JSON object"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_malformed_model_file_is_a_checkpoint_error_naming_file_and_problem(tmp_path, case):
    kwargs, problem = CASES[case]
    path = write_model(tmp_path / f"bad {case}.npz", **kwargs)
    with pytest.raises(CheckpointError, match=re.escape(str(path))) as info:
        cmtoy.load_model(path)
    assert re.search(problem, info.value.problem), info.value.problem
    assert isinstance(info.value, ValueError)  # catchable as ValueError too


def test_the_hand_written_good_file_loads(tmp_path):
    """The crafting above is faithful: without a fault, the file is a working model."""
    model = cmtoy.load_model(write_model(tmp_path / "good.npz"))
    reference = cmtoy.ConsistencyModel("linear", 0.5, PARAMS)
    x = np.linspace(-2, 2, 5)
    np.testing.assert_array_equal(model(0.7, x), reference(0.7, x))


def test_a_lying_header_is_refused_before_anything_is_allocated(tmp_path, monkeypatch):
    path = write_model(tmp_path / "huge.npz", members={"params.npy": npy_bytes(
        header={"descr": "<f8", "fortran_order": False, "shape": (2**40,)}, data=b"\0" * 8)})
    read = []
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: read.append(1))
    with pytest.raises(CheckpointError, match="declares shape"):
        load_checkpoint(path)
    assert read == []  # numpy never got to read (and allocate) the array


def stale_name(name, age_seconds, folder, suffix="0123456789ab"):
    stale = folder / f".{name}.{suffix}.tmp"
    stale.write_bytes(b"PK\x03\x04 a killed save")
    past = time.time() - age_seconds
    os.utime(stale, (past, past))
    return stale


def test_a_save_removes_the_old_temporaries_of_killed_saves_of_the_same_file(tmp_path):
    old = stale_name("m.npz", checkpoint.STALE_SECONDS + 60, tmp_path)
    recent = stale_name("m.npz", 5, tmp_path, suffix="ba9876543210")  # maybe a save running now
    other = stale_name("other.npz", checkpoint.STALE_SECONDS + 60, tmp_path)  # another file's
    lookalike = tmp_path / ".m.npz.notatmp.tmp"
    lookalike.write_text("the user's")
    save_params(tmp_path / "m.npz", PARAMS)
    assert not old.exists()
    assert recent.exists() and other.exists() and lookalike.exists()
    assert (tmp_path / "m.npz").exists()


def test_temporaries_never_pile_up_over_many_killed_saves(tmp_path, monkeypatch):
    def killed(file, **entries):
        raise KeyboardInterrupt

    for _ in range(5):
        with monkeypatch.context() as patch:
            patch.setattr(checkpoint.np, "savez", killed)
            with pytest.raises(KeyboardInterrupt):
                save_params(tmp_path / "m.npz", PARAMS)
    assert os.listdir(tmp_path) == []  # each killed save removed its own temporary


def test_a_model_that_could_not_be_loaded_is_not_saved(tmp_path):
    broken = PARAMS.copy()
    broken.flat[0] = np.nan
    with pytest.raises(ValueError, match="not all finite.*nothing was written"):
        cmtoy.ConsistencyModel("linear", 0.5, broken).save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []
