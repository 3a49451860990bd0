"""Save and load arrays plus a JSON description as ``.npz``, atomically and without pickle.

A checkpoint is an ordinary NumPy ``.npz`` archive holding

- the caller's arrays (numeric or boolean; the names must not start with ``__``),
- ``__format_version__``: an integer, :data:`FORMAT_VERSION`,
- ``__meta__``: a JSON document (stored as a unicode string array), e.g. the config that
  built the network,

so ``np.load(path, allow_pickle=False)`` reads it anywhere. Writing goes to a temporary file
in the same directory, is flushed to disk (fsync), then renamed over the destination with
``os.replace``, which POSIX and Windows make atomic: a crash mid-write leaves either the old
file or the new one, never half of one (and its temporary file, which the next save to
the same destination removes once it is :data:`STALE_SECONDS` old). Reading checks the
zip CRC-32 of every array (a flipped byte is caught), that each array's header matches
the bytes stored for it (before anything is allocated), the format version, and, in
:func:`load_params`, that the stored parameters fit the stored network config and are
finite; every failure is a :class:`CheckpointError` naming the file and the problem.
"""

from __future__ import annotations

import glob
import json
import math
import os
import time
import uuid
import zipfile

import numpy as np

from .mlp import MLPConfig, Params

__all__ = [
    "FORMAT_VERSION",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "save_params",
    "load_params",
    "params_from_arrays",
]

FORMAT_VERSION = 1  # bump when the layout of a checkpoint changes
_VERSION_KEY = "__format_version__"
_META_KEY = "__meta__"
_CONFIG_KEY = "mlp_config"  # where save_params stores the MLPConfig in meta
_ZIP_SIGNATURE = b"PK\x03\x04"  # every .npz (zip) archive starts with a local file header
STALE_SECONDS = 600  # a save's temporary file older than this was left by a killed save


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read: truncated, corrupted, wrong version or shape."""

    def __init__(self, path, problem):
        self.path, self.problem = os.fspath(path), problem
        super().__init__(f"checkpoint {self.path!r}: {problem}")


def save_checkpoint(path, arrays, meta):
    """Write arrays and a JSON-able meta dict to path (an .npz archive), atomically.

    path: str or os.PathLike (written exactly as given; no suffix is added)
    arrays: {name: ndarray} with numeric or boolean dtypes; meta: JSON-serialisable dict
    """
    path = os.fspath(path)
    for name, array in arrays.items():
        if not isinstance(name, str) or not name or name.startswith("__"):
            raise ValueError(f"save_checkpoint: array names must be non-empty and not start with '__', got {name!r}")
        kind = np.asarray(array).dtype.kind
        if kind not in "biufc":
            raise ValueError(
                f"save_checkpoint: array {name!r} has dtype {np.asarray(array).dtype}; only numeric "
                f"or boolean arrays can be read back without pickle"
            )
    if not isinstance(meta, dict):
        raise TypeError(f"save_checkpoint: meta must be a dict, got {type(meta).__name__}")
    try:
        meta_json = json.dumps(meta, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise ValueError(f"save_checkpoint: meta must be JSON-serialisable: {error}") from error

    directory = os.path.dirname(os.path.abspath(path))
    _remove_stale_temporaries(directory, os.path.basename(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode is filtered by umask
    try:
        with os.fdopen(fd, "wb") as file:
            np.savez(file, **{_VERSION_KEY: np.int64(FORMAT_VERSION), _META_KEY: np.str_(meta_json)}, **arrays)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _remove_stale_temporaries(directory, basename, older_than=STALE_SECONDS):
    """Delete the ``.NAME.<hex>.tmp`` siblings that a killed save of NAME left behind.

    Only files older than ``older_than`` seconds go, so a save running in parallel
    keeps its temporary; a file that cannot be removed is left alone.
    """
    pattern = os.path.join(glob.escape(directory), f".{glob.escape(basename)}.{'[0-9a-f]' * 12}.tmp")
    now = time.time()
    for stale in glob.glob(pattern):
        try:
            if now - os.stat(stale).st_mtime > older_than:
                os.unlink(stale)
        except OSError:
            pass


def _fsync_directory(directory):
    """Persist the rename itself (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint`.

    path: str or os.PathLike
    returns (arrays, meta): {name: ndarray} without the reserved entries, and the meta dict
    Raises FileNotFoundError if path does not exist, CheckpointError if it cannot be read.
    """
    path = os.fspath(path)
    with open(path, "rb") as file:  # FileNotFoundError passes through as is
        signature = file.read(6)
    if not signature:
        raise CheckpointError(path, "the file is empty")
    if signature.startswith(b"\x93NUMPY"):
        raise CheckpointError(path, "holds a single .npy array, not an .npz checkpoint archive")
    if not signature.startswith(_ZIP_SIGNATURE):
        raise CheckpointError(path, f"not an .npz archive (starts with {signature!r}, not {_ZIP_SIGNATURE!r})")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointError(path, f"truncated or damaged .npz archive ({error})") from error
    try:
        with archive:
            _check_headers(path, archive.zip)  # before any array is allocated
            arrays = {name: archive[name] for name in archive.files}  # reads all, checks CRC-32
    except (OSError, ValueError, EOFError, KeyError, MemoryError, zipfile.BadZipFile) as error:
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(path, f"corrupted archive ({type(error).__name__}: {error})") from error

    version = arrays.pop(_VERSION_KEY, None)
    if version is None:
        raise CheckpointError(path, f"no {_VERSION_KEY} entry: not a cmtoy checkpoint")
    if version.shape != () or version.dtype.kind not in "iu":
        raise CheckpointError(path, f"{_VERSION_KEY} must be an integer scalar, got {version!r}")
    if int(version) != FORMAT_VERSION:
        raise CheckpointError(
            path, f"format version {int(version)}, but this cmtoy reads version {FORMAT_VERSION}"
        )
    meta = arrays.pop(_META_KEY, None)
    if meta is None:
        raise CheckpointError(path, f"no {_META_KEY} entry")
    try:
        meta = json.loads(str(meta[()]))
    except (ValueError, IndexError, RecursionError) as error:  # RecursionError: absurdly deep nesting
        raise CheckpointError(path, f"{_META_KEY} is not valid JSON ({error})") from error
    if not isinstance(meta, dict):
        raise CheckpointError(path, f"{_META_KEY} must be a JSON object, got {type(meta).__name__}")
    return arrays, meta


_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _check_headers(path, archive):
    """Refuse any array whose .npy header does not match the bytes stored for it.

    A header can claim any shape ((10**12,) in a file of a few bytes): numpy would try to
    allocate it before noticing. Here each member's declared shape times its item size
    must equal the bytes that follow the header, and the dtype must be one that loads
    without pickle. archive: the zipfile.ZipFile of an open NpzFile.
    """
    for info in archive.infolist():
        name = info.filename.removesuffix(".npy")
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version not in _HEADER_READERS:
                raise CheckpointError(path, f"corrupted archive (array {name!r} has .npy version {version})")
            shape, _, dtype = _HEADER_READERS[version](member)
            stored = info.file_size - member.tell()
        if dtype.kind not in "biufcU" or dtype.hasobject:
            raise CheckpointError(path, f"corrupted archive (array {name!r} has dtype {dtype}, which needs pickle)")
        declared = math.prod(shape) * dtype.itemsize
        if declared != stored:
            raise CheckpointError(
                path, f"corrupted archive (array {name!r} declares shape {shape} of {dtype}, "
                f"{declared} bytes, but {stored} bytes are stored)"
            )


def save_params(path, params, meta=None):
    """Save one network: its flat parameters and the MLPConfig that built it (+ your meta).

    params: Params; meta: optional JSON-able dict of extra information (e.g. the schedule
    name); its key ``"mlp_config"`` is reserved.
    """
    if not isinstance(params, Params):
        raise TypeError(f"save_params: params must be Params, got {type(params).__name__}")
    if not np.all(np.isfinite(params.flat)):  # load_params would refuse the file
        raise ValueError("save_params: the parameters are not all finite (a diverged model?); nothing was written")
    meta = {} if meta is None else dict(meta)
    if _CONFIG_KEY in meta:
        raise ValueError(f"save_params: meta key {_CONFIG_KEY!r} is reserved for the network config")
    meta[_CONFIG_KEY] = params.config.describe()
    save_checkpoint(path, {"params": params.flat}, meta)


def load_params(path):
    """Load a network saved by :func:`save_params`. Other arrays in the file are ignored.

    returns (params, meta): Params rebuilt from the stored config, and the rest of meta
    """
    arrays, meta = load_checkpoint(path)
    if "params" not in arrays:
        raise CheckpointError(path, f"no 'params' array (found {sorted(arrays)})")
    if _CONFIG_KEY not in meta:
        raise CheckpointError(path, f"no {_CONFIG_KEY!r} in meta (found keys {sorted(meta)})")
    params = params_from_arrays(arrays["params"], meta.pop(_CONFIG_KEY), path)
    return params, meta


def params_from_arrays(flat, config_dict, path):
    """Params from a stored flat buffer and config dict, checking that they fit each other.

    flat: [P] array read from path; config_dict: dict of MLPConfig fields; path: named in errors
    """
    try:
        config = MLPConfig(**config_dict)
    except (TypeError, ValueError) as error:
        raise CheckpointError(path, f"invalid network config {config_dict!r} ({error})") from error
    if flat.dtype != config.dtype or flat.shape != (config.n_params,):
        raise CheckpointError(
            path,
            f"parameters of dtype {flat.dtype} and shape {flat.shape} do not fit {config}, "
            f"which needs {config.dtype} of shape ({config.n_params},)",
        )
    if not np.all(np.isfinite(flat)):
        bad = np.flatnonzero(~np.isfinite(flat))
        raise CheckpointError(
            path, f"{bad.size} of the {flat.size} parameters are not finite (the first, "
            f"number {bad[0]}, is {flat[bad[0]]!r}): a diverged or damaged model"
        )
    return Params(config, np.array(flat))  # an owned, writeable copy
