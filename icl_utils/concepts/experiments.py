"""The entry points of Part III ([BHH+24]; chapter 6), cached like the other parts' entry points.

* :func:`train_concepts` trains every :class:`~icl_utils.concepts.config.ConceptConfig`: those in the
  result cache are loaded, the others are grouped by ``ENSEMBLE_FIELDS`` into ensembles of at most
  ``max_ensemble`` models (a Ray task each with ``ICL_RAY`` set, :mod:`icl_utils.core.sweep`) and
  stored as each ensemble finishes, so an interrupted sweep resumes with what is missing.
* :func:`evaluate_concepts` tests trained models under :class:`~icl_utils.concepts.config.ConceptTest`
  distributions, at the final weights or at every recorded iteration (``snapshots``).  Its cache
  key holds a digest of the weights it evaluates, not only the configuration: other weights are
  never served another model's errors.
"""

from __future__ import annotations

import numpy as np
import torch

from ..core import cache as _cache
from ..core.checks import check_bool, check_configs, check_int, check_list
from ..core.device import get_device
from ..core.results import Evaluation, Runs
from ..core.rng import make_generator
from ..core.sweep import run_groups
from .config import ConceptConfig, ConceptTest
from .data import Prompts, sample_prompts
from .model import ConceptParams, error, forward, logistic_loss
from .training import check_run_size, correct_attention, train_ensemble

__all__ = ["KIND_TRAIN", "KIND_EVAL", "train_concepts", "evaluate_concepts", "test_prompts", "params_of"]

KIND_TRAIN = "train_concepts"
KIND_EVAL = "eval_concepts"


@_cache.computing
def train_concepts(configs, device=None, progress=None, cache: bool = True, max_ensemble: int = 64, snapshots=False):
    """Train one model per configuration (see :func:`icl_utils.concepts.training.train_ensemble`)
    and return their results in input order, as :class:`~icl_utils.core.results.Runs`.

    A result holds ``iters`` (R,) the recorded iterations; ``loss`` (T,) the minibatch losses;
    ``test_err``, ``test_loss``, ``test_attn`` (R,) on the run's ``n_eval`` fixed test prompts and
    ``train_loss``, ``train_attn`` (R,) on the step's training batch (``*_attn``: the attention
    mass on the correct demonstrations); ``attn_prod`` (R, 4) and ``mlp_prod`` (R, 4) (columns
    :data:`~icl_utils.concepts.training.ATTN_PRODUCTS`, :data:`~icl_utils.concepts.training.MLP_PRODUCTS`);
    ``mlp_norm`` (R,) the mean neuron norm; the final ``weights``; with ``snapshots`` the trained
    weights at every recorded iteration too.
    """
    if hasattr(configs, "__iter__") and not isinstance(configs, (str, bytes, dict)):
        configs = list(configs)
    configs = check_configs(configs, ConceptConfig)
    check_int("max_ensemble", max_ensemble, 1, allowed="integers >= 1")
    cache, snapshots = check_bool("cache", cache), check_bool("snapshots", snapshots)
    device = get_device(device)
    kind = KIND_TRAIN + ("+snapshots" if snapshots else "")
    results: list = [None] * len(configs)
    groups: dict = {}
    for i, c in enumerate(configs):
        hit = _cache.load(kind, c.to_dict()) if cache else None
        if hit is not None:
            results[i] = hit
        else:
            groups.setdefault(tuple(getattr(c, f) for f in ConceptConfig.ENSEMBLE_FIELDS), []).append(i)
    batches = [g[k : k + max_ensemble] for g in groups.values() for k in range(0, len(g), max_ensemble)]
    for members in batches:  # every ensemble must fit before the first one trains
        check_run_size([configs[i] for i in members], snapshots)

    def store(k, trained):
        for i, r in zip(batches[k], trained):
            results[i] = r
            if cache:
                _cache.store(kind, configs[i].to_dict(), r)

    groups = [[configs[i] for i in members] for members in batches]
    run_groups(groups, _train_group, store, "multi-concept", progress, device, snapshots=snapshots)
    return Runs(results, ConceptConfig)


def _train_group(configs, device, progress, desc, snapshots=False):
    """One ensemble, as :func:`icl_utils.core.sweep.run_groups` calls it."""
    return train_ensemble(configs, device, progress, desc, snapshots)


def _check_results(results) -> list:
    results = check_list("results", results, what="a non-empty list of results of train_concepts")
    for i, r in enumerate(results):
        if not isinstance(r, dict) or not isinstance(r.get("weights"), dict) or "config" not in r:
            raise ValueError(f"parameter 'results' holds {type(r).__name__} at {i}: allowed results of train_concepts")
        try:
            ConceptConfig(**r["config"])
        except TypeError:
            raise ValueError(
                f"parameter 'results': item {i} is not a result of train_concepts (its config is not a ConceptConfig)"
            ) from None
    return results


def params_of(results, at: int | None = None) -> ConceptParams:
    """The weights of trained runs as one ensemble: final, or at recorded iteration ``at``."""
    return ConceptParams.from_results(_check_results(results), at)


def test_prompts(results, test: ConceptTest) -> Prompts:
    """The test prompts every run is evaluated on under ``test``: ``test.n_eval`` prompts of the
    run's data model, drawn from the run's seed (stream ``"ood"``): the same for every snapshot."""
    return Prompts.stack(
        [
            sample_prompts(ConceptConfig(**r["config"]), test, test.n_eval, make_generator(r["config"]["seed"], "ood"))
            for r in results
        ]
    )


@_cache.computing
def evaluate_concepts(results, tests, snapshots: bool = False, device=None, cache: bool = True) -> Evaluation:
    """Test every trained run under every :class:`ConceptTest`: an
    :class:`~icl_utils.core.results.Evaluation` of arrays (runs, tests) -- or (runs, tests, R), one
    value per recorded iteration, with ``snapshots`` (runs trained with ``snapshots=True``) --
    ``err`` (0-1 error), ``loss`` (logistic) and ``attn`` (attention mass on the correct
    demonstrations), laid out by field with ``.array("err", "seed", "L")``.

    Each (run, test) is cached under the run's configuration, the test and a digest of the
    weights evaluated."""
    results = _check_results(results)
    tests = check_configs(tests, ConceptTest, "tests")
    snapshots, cache = check_bool("snapshots", snapshots), check_bool("cache", cache)
    for r in results:  # every test must be possible for every run before anything is computed
        for t in tests:
            t.check_for(ConceptConfig(**r["config"]))
    if snapshots:
        missing = [i for i, r in enumerate(results) if "snapshots" not in r]
        if missing:
            raise ValueError(
                f"parameter 'snapshots' = True is invalid: run {missing[0]} has no snapshots "
                "(train with snapshots=True)"
            )
    dev = get_device(device)
    ats = list(range(len(results[0]["iters"]))) if snapshots else [None]
    R = len(ats)
    if snapshots and any(len(r["iters"]) != R for r in results):
        raise ValueError("parameter 'results': runs with different recorded iterations cannot be evaluated together")
    digests = [_cache.weights_digest(r, snapshots=snapshots) for r in results]
    keys = ("err", "loss", "attn")
    out = {k: np.full((len(results), len(tests), R), np.nan) for k in keys}
    for j, test in enumerate(tests):
        todo = []
        for i, r in enumerate(results):
            key = {"run": r["config"], "test": test.to_dict(), "snapshots": snapshots, "weights": digests[i]}
            hit = _cache.load(KIND_EVAL, key) if cache else None
            if hit is None:
                todo.append((i, key))
            else:
                for k in keys:
                    out[k][i, j] = hit[k]
        if not todo:
            continue
        sub = [results[i] for i, _ in todo]
        pr = test_prompts(sub, test).to(dev)
        for a, at in enumerate(ats):
            params = ConceptParams.from_results(sub, at).to(dev)
            with torch.no_grad():
                f, att = forward(params, pr.P, return_attention=True)
                vals = {
                    "err": error(f, pr.z),
                    "loss": logistic_loss(f, pr.z),
                    "attn": correct_attention(att, pr).mean(-1),
                }
            for k in keys:
                for n, (i, _) in enumerate(todo):
                    out[k][i, j, a] = float(vals[k][n])
        if cache:
            for i, key in todo:
                _cache.store(KIND_EVAL, key, {k: out[k][i, j].copy() for k in keys})
    if not snapshots:
        out = {k: v[..., 0] for k, v in out.items()}
    return Evaluation(out, [r["config"] for r in results], tests)
