"""Experiment entry points: configuration in, results out.

Every chapter calls these rather than the trainer directly, so that a result
cache (or any other bookkeeping) can be added here without touching chapters.

* :func:`train_runs` -- train one model per :class:`~icl_utils.config.ICLConfig`
  (grouped into ensembles of compatible shapes, cached on disk) and return
  their records;
* :func:`grid` -- the configurations of a sweep (values x seeds);
* summaries used by chapter 1: :func:`stack`, :func:`iterations_to_target`,
  :func:`fit_power_law`.
"""

from __future__ import annotations

import itertools

import numpy as np

from . import cache as _cache
from .config import ICLConfig, check_int
from .training import SHAPE_FIELDS, train_ensemble

#: Cache namespace of :func:`train_runs` results.
KIND_TRAIN = "train_runs"

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


def train_runs(
    configs, device=None, progress=None, desc: str = "training", cache: bool = True, max_ensemble: int = 64
) -> list[dict]:
    """Train every configuration and return its results, in input order.

    Configurations already in the result cache (:mod:`icl_utils.cache`) are
    loaded, not trained.  The others are grouped by :data:`SHAPE_FIELDS` and
    trained as ensembles of at most ``max_ensemble`` models; each model's
    results are stored as soon as its ensemble finishes, so an interrupted
    sweep resumes with the configurations that are still missing.
    """
    configs = list(configs)
    for c in configs:
        if not isinstance(c, ICLConfig):
            raise ValueError(f"parameter 'configs' holds {type(c).__name__}: allowed ICLConfig objects")
    check_int("max_ensemble", max_ensemble, 1, allowed="integers >= 1")
    results: list = [None] * len(configs)
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        hit = _cache.load(KIND_TRAIN, c.to_dict()) if cache else None
        if hit is not None:
            results[i] = hit
        else:
            groups.setdefault(tuple(getattr(c, f) for f in SHAPE_FIELDS), []).append(i)
    batches = [g[k : k + max_ensemble] for g in groups.values() for k in range(0, len(g), max_ensemble)]
    for bi, members in enumerate(batches):
        label = f"{desc} [{bi + 1}/{len(batches)}]" if len(batches) > 1 else desc
        for i, r in zip(members, train_ensemble([configs[i] for i in members], device, progress, label)):
            results[i] = r
            if cache:
                _cache.store(KIND_TRAIN, configs[i].to_dict(), r)
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
