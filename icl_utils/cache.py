"""On-disk result cache for the experiment entry points (:mod:`icl_utils.experiments`).

Every trained model's results are stored under a key made of the experiment
kind, its full validated configuration, the package version and a digest of
the source of the modules that compute results (so an edited trainer never
serves stale numbers).  A sweep therefore resumes where it stopped: rerunning
it trains only the configurations that have no entry yet.

* Location: ``$ICL_CACHE_DIR``; unset, the ``.icl_cache`` folder of the
  repository (``~/.cache/icl_utils`` for an installed package).  ``off`` (or
  an empty value) disables the cache; the test suite disables it so that nbval
  really trains.  ``make clean`` empties it.
* Atomic writes: an entry is written to a temporary file in the same folder,
  flushed to disk and renamed into place, so a process killed at any moment
  leaves either no entry or a complete one.
* Integrity: an entry starts with a magic line and the SHA-256 of its payload;
  a truncated or corrupt entry is reported with a warning, removed and
  recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import warnings
from pathlib import Path

__all__ = ["cache_dir", "entry_key", "load", "store", "clear", "CacheWarning", "ENV"]

ENV = "ICL_CACHE_DIR"
MAGIC = b"icl-cache-v1\n"
_OFF = {"", "off", "0", "none", "false", "no"}
_RESULT_MODULES = ("config.py", "data.py", "model.py", "training.py", "probes.py")


class CacheWarning(UserWarning):
    """A cache entry was unreadable and is being recomputed."""


def cache_dir() -> Path | None:
    """The cache folder, or None when caching is off."""
    value = os.environ.get(ENV)
    if value is not None:
        return None if value.strip().lower() in _OFF else Path(value).expanduser()
    pkg = Path(__file__).resolve().parent
    if (pkg.parent / "pyproject.toml").exists() and (pkg.parent / "notebooks").is_dir():
        return pkg.parent / ".icl_cache"
    return Path.home() / ".cache" / "icl_utils"


_CODE_DIGEST: str | None = None


def code_digest() -> str:
    """SHA-256 of the modules whose code determines a result."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        h = hashlib.sha256()
        pkg = Path(__file__).resolve().parent
        for name in _RESULT_MODULES:
            h.update(name.encode())
            h.update((pkg / name).read_bytes())
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


def entry_key(kind: str, config: dict) -> str:
    """Key of one result: experiment kind, configuration, package version, code digest."""
    from . import __version__

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
    except FileNotFoundError:
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


def store(kind: str, config: dict, result, root: Path | None = None) -> Path | None:
    """Write one result atomically; returns its path (None when the cache is off)."""
    root = cache_dir() if root is None else root
    if root is None:
        return None
    path = _path(root, kind, entry_key(kind, config))
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = pickle.dumps({"kind": kind, "config": config, "result": result}, protocol=pickle.HIGHEST_PROTOCOL)
    blob = MAGIC + hashlib.sha256(payload).hexdigest().encode() + payload
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
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
        sys.exit("usage: python -m icl_utils.cache clear")
    print(f"removed {clear()} cache entries from {cache_dir()}")
