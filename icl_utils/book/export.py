"""Measured curves and claims as files a reader can reuse (CSV and JSON beside the executed chapter).

``make book`` executes each chapter with ``ICL_DATA_DIR`` set to the folder
``book/_extra/results/CHAPTER`` (published at ``results/CHAPTER/`` in the built
book and linked from the chapter's header and the scoreboard).  A chapter calls
:func:`save_table` for every curve behind a figure; :meth:`icl_utils.book.claims.Claims.report`
writes ``claims.json``.  Without ``ICL_DATA_DIR`` (an interactive session, the
regression tests) nothing is written and the table is only returned.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

__all__ = ["DATA_ENV", "data_dir", "long_table", "save_table", "save_json"]

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


def long_table(columns: dict, **axes):
    """N-d arrays of one shape as a long table (a pandas DataFrame): one row per element, one
    column per axis and one per array.

    ``columns`` maps column names to the arrays; ``axes`` names the arrays' axes in order, each with
    its coordinate values: ``long_table({"err": err}, seed=seeds, l_ts=lengths)`` for an
    (n_seeds, n_lengths) array.  An axis whose length does not match raises a ValueError naming
    it.  (A labelled ``xarray.DataArray`` -- what ``Runs.array`` returns -- needs none of this:
    ``.to_dataframe(name).reset_index()``.)"""
    import pandas as pd

    if not isinstance(columns, dict) or not columns:
        raise ValueError(f"parameter 'columns' = {columns!r} is invalid: allowed a dict of column name -> array")
    arrays = {k: np.asarray(v) for k, v in columns.items()}
    shape = next(iter(arrays.values())).shape
    for k, v in arrays.items():
        if v.shape != shape:
            raise ValueError(f"parameter {k!r} has shape {v.shape}: allowed the shape of the first column, {shape}")
    if len(shape) != len(axes):
        raise ValueError(
            f"parameter 'axes' names {len(axes)} axes ({', '.join(axes)}): allowed one per axis of the "
            f"arrays of shape {shape}"
        )
    for (name, coords), n in zip(axes.items(), shape):
        if len(coords) != n:
            raise ValueError(f"parameter {name!r} has {len(coords)} values: allowed {n} (the arrays' axis)")
    index = pd.MultiIndex.from_product([list(c) for c in axes.values()], names=list(axes))
    return pd.DataFrame({k: v.reshape(-1) for k, v in arrays.items()}, index=index).reset_index()


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
