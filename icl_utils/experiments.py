"""Experiment entry points: configuration in, results out.

Every chapter calls these rather than the trainer directly, so that a result
cache (or any other bookkeeping) can be added here without touching chapters.

* :func:`train_runs` -- train one model per :class:`~icl_utils.config.ICLConfig`
  (grouped into ensembles of compatible shapes) and return their records;
* :func:`grid` -- the configurations of a sweep (values x seeds);
* summaries used by chapter 1: :func:`stack`, :func:`iterations_to_target`,
  :func:`fit_power_law`.
"""

from __future__ import annotations

import itertools

import numpy as np

from .config import ICLConfig
from .training import SHAPE_FIELDS, train_ensemble

__all__ = ["train_runs", "grid", "stack", "iterations_to_target", "fit_power_law"]


def grid(base: ICLConfig, seeds, **sweeps) -> list[ICLConfig]:
    """All configurations ``base.replace(**point, seed=s)`` of a sweep.

    ``sweeps`` maps field names to lists of values; the result runs over the
    Cartesian product of the values (in the given order), seeds innermost.
    """
    names = list(sweeps)
    out = []
    for values in itertools.product(*(list(sweeps[n]) for n in names)):
        for s in seeds:
            out.append(base.replace(seed=int(s), **dict(zip(names, values))))
    return out


def train_runs(configs, device=None, progress=None, desc: str = "training") -> list[dict]:
    """Train every configuration; configurations that share :data:`SHAPE_FIELDS`
    are trained together as one ensemble.  Results come back in input order."""
    configs = list(configs)
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        if not isinstance(c, ICLConfig):
            raise ValueError(f"parameter 'configs' holds {type(c).__name__}: allowed ICLConfig objects")
        groups.setdefault(tuple(getattr(c, f) for f in SHAPE_FIELDS), []).append(i)
    results: list = [None] * len(configs)
    for gi, members in enumerate(groups.values()):
        label = f"{desc} [{gi + 1}/{len(groups)}]" if len(groups) > 1 else desc
        for i, r in zip(members, train_ensemble([configs[i] for i in members], device, progress, label)):
            results[i] = r
    return results


def stack(results, key: str) -> np.ndarray:
    """One record of several runs stacked on a leading axis."""
    return np.stack([np.asarray(r[key]) for r in results])


def iterations_to_target(result: dict, target: float, key: str = "err_unseen") -> float:
    """First recorded iteration at which ``result[key] <= target`` (NaN if never)."""
    hit = np.nonzero(np.asarray(result[key]) <= target)[0]
    return float(result["iters"][hit[0]]) if hit.size else float("nan")


def fit_power_law(x, y) -> tuple[float, float]:
    """Least-squares fit of log y = slope log x + c over finite points; returns (slope, c)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        return float("nan"), float("nan")
    slope, c = np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)
    return float(slope), float(c)
