"""Measured curves and claims as files a reader can reuse (CSV and JSON beside the executed chapter).

``make book`` executes each chapter with ``ICL_DATA_DIR`` set to the folder
``book/_extra/results/CHAPTER`` (published at ``results/CHAPTER/`` in the built
book and linked from the chapter's header and the scoreboard).  A chapter calls
:func:`save_table` for every curve behind a figure; :meth:`icl_utils.claims.Claims.report`
writes ``claims.json``.  Without ``ICL_DATA_DIR`` (an interactive session, the
regression tests) nothing is written and the table is only returned.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

__all__ = ["DATA_ENV", "data_dir", "save_table", "save_json"]

#: Environment variable naming the folder the executed chapter writes its data into.
DATA_ENV = "ICL_DATA_DIR"


def data_dir() -> str | None:
    """The folder to write into (created when missing), or None when not set."""
    path = os.environ.get(DATA_ENV)
    if not path:
        return None
    os.makedirs(path, exist_ok=True)
    return path


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        raise ValueError(f"parameter 'name' = {name!r} is invalid: allowed lower-case letters, digits, '-' and '_'")
    return name


def save_table(name: str, table):
    """Write ``table`` (a pandas DataFrame, or a dict of equal-length columns) as ``NAME.csv``.

    Returns the DataFrame (so a chapter can show or reuse it)."""
    import pandas as pd

    _check_name(name)
    df = table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)
    folder = data_dir()
    if folder is not None:
        df.to_csv(os.path.join(folder, f"{name}.csv"), index=False)
    return df


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def save_json(name: str, obj) -> str | None:
    """Write ``obj`` (dicts, lists, numbers, NumPy arrays) as ``NAME.json``; returns the path or None."""
    _check_name(name)
    folder = data_dir()
    if folder is None:
        return None
    path = os.path.join(folder, f"{name}.json")
    with open(path, "w") as f:
        json.dump(_plain(obj), f, indent=1)
    return path
