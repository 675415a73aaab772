"""On-disk result cache for the experiment entry points (:mod:`icl_utils.incontext.experiments`).

Every trained model's results are stored under a key made of the experiment
kind, its full validated configuration, the package version and a digest of
the source of every module of the package that computes results -- every
``.py`` file of the package but the book tooling (``book.py``, ``launch.py``,
``plotting.py``, ``claims.py``: they format, draw and publish, and compute no
cached number) -- so an edited trainer, sampler or learner never serves stale
numbers.  A sweep therefore resumes where it stopped: rerunning
it trains only the configurations that have no entry yet.

* Location: ``$ICL_CACHE_DIR``; unset, the ``.icl_cache`` folder of the
  repository (``~/.cache/icl_utils`` for an installed package).  ``off`` (or
  an empty value) disables the cache; the test suite disables it so that nbval
  really trains.  ``make clean`` empties it.  A value naming an existing *file*
  disables the cache with one :class:`CacheWarning` (nothing is written over it).
* A cache that cannot be written (read-only, full disk, ...) never loses work:
  the results are returned, without being stored, after one
  :class:`CacheWarning` per folder naming the folder and the error.  An entry
  that cannot be read is recomputed, with a warning.
* Atomic writes: an entry is written to a temporary file in the same folder,
  flushed to disk and renamed into place, so a process killed at any moment
  leaves either no entry or a complete one.
* Integrity: an entry starts with a magic line and the SHA-256 of its payload;
  a truncated or corrupt entry is reported with a warning, removed and
  recomputed.
* One computation at a time: an entry point looks up and computes its entries while it holds
  the cache folder's lock (:func:`computing`), so chapters executed side by side
  (``make -j2 book``) never train at once -- no two trainers share the cores, and an entry one
  chapter computes is read, not recomputed, by the other.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import pickle
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .._version import __version__

__all__ = [
    "cache_dir",
    "entry_key",
    "load",
    "store",
    "clear",
    "result_modules",
    "code_digest",
    "array_digest",
    "CacheWarning",
    "ENV",
    "NOT_RESULT_MODULES",
    "computing",
    "LOCK_NAME",
]

ENV = "ICL_CACHE_DIR"
MAGIC = b"icl-cache-v1\n"
_OFF = {"", "off", "0", "none", "false", "no"}

#: The package's folder, whose sources make the code digest.
PACKAGE_DIR = Path(__file__).resolve().parent.parent

#: Sub-packages of the package that compute no cached result (the book tooling); every other
#: ``.py`` file of the package is part of every cache key.
NOT_RESULT_MODULES = frozenset({"book"})

_WARNED: set = set()  # folders (or settings) already warned about in this process


class CacheWarning(UserWarning):
    """The cache could not be used as asked: an entry was unreadable and is being recomputed,
    a folder was not writable, or ``ICL_CACHE_DIR`` names a file."""


def _warn_once(key, message: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, CacheWarning, stacklevel=3)


def cache_dir() -> Path | None:
    """The cache folder, or None when caching is off (or ``ICL_CACHE_DIR`` names a file)."""
    value = os.environ.get(ENV)
    if value is not None:
        if value.strip().lower() in _OFF:
            return None
        path = Path(value).expanduser()
        if path.exists() and not path.is_dir():
            _warn_once(
                ("file", str(path)),
                f"{ENV} = {value!r} is not a folder (it names an existing file); going on without the result cache",
            )
            return None
        return path
    pkg = PACKAGE_DIR
    if (pkg.parent / "pyproject.toml").exists() and (pkg.parent / "notebooks").is_dir():
        return pkg.parent / ".icl_cache"
    return Path.home() / ".cache" / "icl_utils"


#: The lock file in the cache folder that :func:`computing` holds.
LOCK_NAME = ".compute.lock"
_LOCK_DEPTH = 0  # entry points of this process inside the lock (they nest)


@contextlib.contextmanager
def _locked():
    global _LOCK_DEPTH
    folder = cache_dir()
    handle = None
    if _LOCK_DEPTH == 0 and folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle = open(folder / LOCK_NAME, "a")
        except OSError:  # an unwritable cache folder: nothing is stored, nothing to coordinate
            handle = None
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)  # waits while another process computes
    _LOCK_DEPTH += 1
    try:
        yield
    finally:
        _LOCK_DEPTH -= 1
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def computing(fn):
    """Decorate an entry point that looks up its entries in the cache and computes the missing
    ones: the call holds the cache folder's lock (:data:`LOCK_NAME`, an exclusive ``flock``), so
    processes sharing the folder compute one at a time and each finds what the others stored.
    Calls nest within one process; with the cache off there is no lock."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _locked():
            return fn(*args, **kwargs)

    return wrapper


_CODE_DIGEST: str | None = None


def result_modules() -> list[str]:
    """The package's modules that compute results: every ``.py`` file under :data:`PACKAGE_DIR`
    outside :data:`NOT_RESULT_MODULES`, as sorted paths relative to it (``core/sgd.py``, ...)."""
    return sorted(
        p.relative_to(PACKAGE_DIR).as_posix()
        for p in PACKAGE_DIR.rglob("*.py")
        if p.relative_to(PACKAGE_DIR).parts[0] not in NOT_RESULT_MODULES
    )


def code_digest() -> str:
    """SHA-256 of the source of :func:`result_modules` (computed once per process)."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        h = hashlib.sha256()
        for name in result_modules():
            h.update(name.encode())
            h.update((PACKAGE_DIR / name).read_bytes())
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


def array_digest(*arrays) -> str:
    """SHA-256 of arrays (tensors or anything NumPy takes): dtype, shape and bytes of each,
    for a cache key that must name data rather than a configuration."""
    h = hashlib.sha256()
    for a in arrays:
        a = a.detach().cpu().numpy() if hasattr(a, "detach") else a
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def weights_digest(result: dict, at: int | None = None, snapshots: bool = False) -> str:
    """Digest of the weights an evaluation of one trained run reads: its final ``weights``, and
    with ``at`` its snapshot ``at`` (every snapshot with ``snapshots``).  Evaluation caches key on
    it, so a model with the same configuration but other weights is evaluated anew."""
    if not isinstance(result, dict) or not isinstance(result.get("weights"), dict):
        raise ValueError(
            f"parameter 'results' holds {type(result).__name__}: allowed results of a trainer, with 'weights'"
        )
    w = result["weights"]
    arrays = [np.asarray(w[k]) for k in sorted(w)]
    if at is not None or snapshots:
        snaps = result.get("snapshots")
        if not isinstance(snaps, dict):
            raise ValueError("parameter 'results': a run without snapshots (train with snapshots=True)")
        arrays += [np.asarray(snaps[k] if snapshots else snaps[k][at]) for k in sorted(snaps)]
    return array_digest(*arrays)


def entry_key(kind: str, config: dict) -> str:
    """Key of one result: experiment kind, configuration, package version, code digest."""
    if not isinstance(kind, str) or not kind or any(c in kind for c in "/\\") or kind.startswith("."):
        raise ValueError(f"parameter 'kind' = {kind!r} is invalid: allowed a non-empty name without '/', '\\'")
    blob = json.dumps(
        {"kind": kind, "config": config, "version": __version__, "code": code_digest()},
        sort_keys=True,
        default=repr,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _path(root: Path, kind: str, key: str) -> Path:
    return root / kind / key[:2] / f"{key}.pkl"


def load(kind: str, config: dict, root: Path | None = None):
    """The cached result for ``(kind, config)``, or None (missing, corrupt or cache off)."""
    root = cache_dir() if root is None else root
    if root is None:
        return None
    path = _path(root, kind, entry_key(kind, config))
    try:
        blob = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:  # unreadable (permissions, I/O error): recompute, keep the file
        warnings.warn(f"cache entry {path} is unreadable ({err}); recomputing it", CacheWarning, stacklevel=2)
        return None
    try:
        if not blob.startswith(MAGIC):
            raise ValueError("bad header")
        digest, payload = blob[len(MAGIC) : len(MAGIC) + 64], blob[len(MAGIC) + 64 :]
        if hashlib.sha256(payload).hexdigest().encode() != digest:
            raise ValueError("checksum mismatch (truncated or corrupt)")
        entry = pickle.loads(payload)
        if entry.get("config") != config or entry.get("kind") != kind:
            raise ValueError("entry holds another configuration")
        return entry["result"]
    except Exception as err:  # noqa: BLE001 - any unreadable entry is recomputed
        warnings.warn(f"cache entry {path} is unreadable ({err}); recomputing it", CacheWarning, stacklevel=2)
        try:
            path.unlink()
        except OSError:
            pass
        return None


def _write_blob(f, blob: bytes) -> None:
    f.write(blob)
    f.flush()
    os.fsync(f.fileno())


def store(kind: str, config: dict, result, root: Path | None = None) -> Path | None:
    """Write one result atomically; returns its path (None when the cache is off).

    A folder that cannot be written (read-only, full, not a folder) loses nothing: the
    entry is not written, a :class:`CacheWarning` naming the folder and the error is
    issued (once per folder and process), and None is returned.
    """
    root = cache_dir() if root is None else root
    if root is None:
        return None
    path = _path(root, kind, entry_key(kind, config))
    payload = pickle.dumps({"kind": kind, "config": config, "result": result}, protocol=pickle.HIGHEST_PROTOCOL)
    blob = MAGIC + hashlib.sha256(payload).hexdigest().encode() + payload
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        with os.fdopen(fd, "wb") as f:
            _write_blob(f, blob)
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if not isinstance(err, OSError):
            raise
        _warn_once(
            ("write", str(root)),
            f"result cache {root} is not writable ({err}); going on without caching "
            "(results are returned, not stored; warned once per folder)",
        )
        return None
    return path


def clear(root: Path | None = None) -> int:
    """Delete every cache entry (and leftover temporary file) under the cache folder; returns how many.

    Only files this module writes (``*.pkl`` entries, ``.tmp-*.part``) are removed, then the
    folders left empty, so pointing ``ICL_CACHE_DIR`` at a shared folder is safe.
    """
    root = cache_dir() if root is None else root
    if root is None or not root.is_dir():
        return 0
    n = 0
    for pattern in ("*/??/*.pkl", "*/??/.tmp-*.part"):
        for f in root.glob(pattern):
            f.unlink()
            n += 1
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    if not any(root.iterdir()):
        root.rmdir()
    return n


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["clear"]:
        sys.exit("usage: python -m icl_utils.core.cache clear")
    print(f"removed {clear()} cache entries from {cache_dir()}")
