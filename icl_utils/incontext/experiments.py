"""Experiment entry points: configuration in, results out.

Every chapter calls these rather than the trainer directly, so that a result
cache (or any other bookkeeping) can be added here without touching chapters.

* :func:`train_runs` -- train one model per :class:`~icl_utils.incontext.config.ICLConfig`
  (grouped into ensembles of compatible shapes, cached on disk) and return
  their records;
* :func:`grid` -- the configurations of a sweep (values x seeds);
* :func:`evaluate_runs` -- test trained models on other distributions (in
  domain with other alpha' and l_ts, or out of domain with coefficient sum S1);
* :func:`baseline_errors` -- classical learners fitted on the same test prompts;
* summaries: :func:`stack`, :func:`iterations_to_target`, :func:`fit_power_law`.
"""

from __future__ import annotations

import dataclasses
import itertools

import joblib
import numpy as np
import torch

from ..core import cache as _cache
from ..core.checks import (
    check_bool,
    check_choice,
    check_configs,
    check_distinct,
    check_float,
    check_instance,
    check_int,
    check_list,
    check_run_configs,
)
from ..core.device import get_device
from ..core.results import Evaluation, Runs
from ..core.sgd import DivergenceError
from ..core.sweep import run_groups
from . import gpt2
from .baselines import LEARNERS, make_learner, predict_prompts
from .config import EvalConfig, ICLConfig
from .data import PromptIndices, World
from .gpt2 import GPT2RunConfig
from .model import Params, forward_indexed, hinge_loss
from .probes import attention_concentration, classification_error
from .training import check_run_size, eval_prompts, train_ensemble

#: Cache namespaces of :func:`train_runs` results (Eq. 7 models, GPT-2 models).
KIND_TRAIN = "train_runs"
KIND_TRAIN_GPT2 = "train_runs_gpt2"

__all__ = [
    "train_runs",
    "evaluate_runs",
    "evaluate_params",
    "eval_batch",
    "baseline_errors",
    "pruning_curve",
    "eval_prompts",
    "grid",
    "stack",
    "iterations_to_target",
    "fit_power_law",
]


def grid(base: ICLConfig, seeds, **sweeps) -> list[ICLConfig]:
    """All configurations ``base.replace(**point, seed=s)`` of a sweep.

    ``sweeps`` maps field names to lists of values; the result runs over the
    Cartesian product of the values (in the given order), seeds innermost.
    ``seeds`` and every sweep are non-empty lists (NumPy arrays too).
    """
    check_instance("base", base, (ICLConfig, GPT2RunConfig))
    seeds = check_list(
        "seeds", seeds, lambda _, s: check_int("seed", s, 0, allowed="integers >= 0"), "a non-empty list of seeds"
    )
    if "seed" in sweeps:
        raise ValueError("parameter 'seed' cannot be swept by name: pass the seeds as 'seeds'")
    known = {f.name for f in dataclasses.fields(base)}
    for name in sweeps:
        if name not in known:
            raise ValueError(f"unknown {type(base).__name__} parameter(s) [{name!r}]: allowed {sorted(known)}")
    names = list(sweeps)
    values = [check_list(n, sweeps[n], what="a non-empty list of values") for n in names]
    for name, vals in [("seeds", seeds), *zip(names, values)]:  # a repeated value is one run twice
        check_distinct(name, vals)
    out = []
    for point in itertools.product(*values):
        for s in seeds:
            out.append(base.replace(seed=s, **dict(zip(names, point))))
    return out


@_cache.computing
def train_runs(
    configs,
    device=None,
    progress=None,
    desc: str = "training",
    cache: bool = True,
    max_ensemble: int = 64,
    snapshots: bool = False,
    probes: bool = True,
) -> Runs:
    """Train every configuration -- :class:`~icl_utils.incontext.config.ICLConfig` (the Eq. 7 model) or
    :class:`~icl_utils.incontext.gpt2.GPT2RunConfig` (GPT-2, chapter 5) -- and return its results, in input order, as
    :class:`~icl_utils.core.results.Runs` (``runs.array("err_unseen", "alpha", "seed")`` lays them out by field).

    Configurations already in the result cache (:mod:`icl_utils.core.cache`) are
    loaded, not trained.  The others are grouped by the configuration class's ``ENSEMBLE_FIELDS``
    (the fields one ensemble shares) and
    trained as ensembles of at most ``max_ensemble`` models; each model's
    results are stored as soon as its ensemble finishes, so an interrupted
    sweep resumes with the configurations that are still missing.  With ``ICL_RAY`` set, the
    groups train as Ray tasks (:mod:`icl_utils.core.sweep`), with the same results.  With
    ``snapshots``, every result also holds the weights at each recorded
    iteration; with ``probes=False`` only the errors and losses are recorded
    (see :func:`icl_utils.incontext.training.train_ensemble`).
    """
    if hasattr(configs, "__iter__") and not isinstance(configs, (str, bytes, dict)):
        configs = list(configs)
    gpt = isinstance(configs, list) and bool(configs) and isinstance(configs[0], GPT2RunConfig)
    configs = check_configs(configs, GPT2RunConfig if gpt else ICLConfig)
    check_int("max_ensemble", max_ensemble, 1, allowed="integers >= 1")
    cache, snapshots = check_bool("cache", cache), check_bool("snapshots", snapshots)
    probes = check_bool("probes", probes)
    device = get_device(device)
    if gpt:
        if snapshots or not probes:
            raise ValueError("parameters 'snapshots' and 'probes': GPT-2 runs always record their probes, no snapshots")
        kind = KIND_TRAIN_GPT2
    else:
        kind = KIND_TRAIN + ("+snapshots" if snapshots else "") + ("" if probes else "+errors")
    results: list = [None] * len(configs)
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        hit = _cache.load(kind, c.to_dict()) if cache else None
        if hit is not None:
            results[i] = hit
        else:
            groups.setdefault(tuple(getattr(c, f) for f in type(c).ENSEMBLE_FIELDS), []).append(i)
    batches = [g[k : k + max_ensemble] for g in groups.values() for k in range(0, len(g), max_ensemble)]
    for members in batches:  # every ensemble must fit before the first one trains
        if gpt:
            gpt2.check_run_size([configs[i] for i in members])
        else:
            check_run_size([configs[i] for i in members], snapshots)

    def store(k, trained):
        for i, r in zip(batches[k], trained):
            _check_finite_result(r)
            results[i] = r
            if cache:
                _cache.store(kind, configs[i].to_dict(), r)

    groups = [[configs[i] for i in members] for members in batches]
    if gpt:
        run_groups(groups, gpt2.train_ensemble, store, desc, progress, device)
    else:
        run_groups(groups, train_ensemble, store, desc, progress, device, snapshots=snapshots, probes=probes)
    return Runs(results, type(configs[0]))


def _check_finite_result(r: dict) -> None:
    """A trained result with a non-finite loss or weight is never returned or cached
    (the trainer already stops such a run; this guards the cache)."""
    bad = ~np.isfinite(r["loss"])
    if bad.any() or not all(np.isfinite(w).all() for w in r["weights"].values()):
        c = r["config"]
        it = int(np.argmax(bad)) if bad.any() else len(r["loss"])
        raise DivergenceError(
            f"training diverged by iteration {it}: non-finite loss or weights for seed = {c['seed']}, lr = {c['lr']}",
            [0],
            it,
        )


def _check_results(results, name="results") -> list:
    """A non-empty list of trained results (the dicts :func:`train_runs` returns)."""
    if isinstance(results, dict):
        results = [results]
    results = check_list(name, results, what="a non-empty list of results of train_runs")
    for r in results:
        if not isinstance(r, dict) or "weights" not in r or "config" not in r:
            raise ValueError(f"parameter {name!r} holds {type(r).__name__}: allowed results of train_runs")
    return list(results)


def stack(results, key: str) -> np.ndarray:
    """One record of several runs stacked on a leading axis."""
    results = check_list("results", results, what="a non-empty list of results")
    check_instance("key", key, str)
    for r in results:
        if not isinstance(r, dict) or key not in r:
            have = sorted(r) if isinstance(r, dict) else type(r).__name__
            raise ValueError(f"parameter 'key' = {key!r} is invalid: allowed a record of every result, {have}")
    return np.stack([np.asarray(r[key]) for r in results])


def iterations_to_target(result: dict, target: float, key: str = "err_unseen") -> float:
    """First recorded iteration at which ``result[key] <= target`` (NaN if never)."""
    target = check_float("target", target, allowed="finite numbers")
    if not isinstance(result, dict) or "iters" not in result:
        raise ValueError(f"parameter 'result' = {result!r:.60} is invalid: allowed one result of train_runs")
    if not isinstance(key, str) or key not in result:
        raise ValueError(f"parameter 'key' = {key!r} is invalid: allowed a record of the result, {sorted(result)}")
    hit = np.nonzero(np.asarray(result[key]) <= target)[0]
    return float(result["iters"][hit[0]]) if hit.size else float("nan")


def fit_power_law(x, y) -> tuple[float, float]:
    """Least-squares fit of log y = slope log x + c over finite points; returns (slope, c)."""
    try:
        x, y = np.asarray(x, float), np.asarray(y, float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"parameters 'x' and 'y' are not lists of numbers ({err})") from None
    if x.ndim != 1 or y.shape != x.shape:
        raise ValueError(f"parameters 'x' and 'y' have shapes {x.shape} and {y.shape}: allowed two lists of one length")
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        return float("nan"), float("nan")
    slope, c = np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)
    return float(slope), float(c)


# ---------------------------------------------------------------------------------------------
# Testing trained models on other distributions (chapter 2) and classical baselines.

KIND_EVAL = "evaluate_runs"
KIND_BASELINE = "baseline_errors"


def _check_config_list(configs, E: int) -> list:
    """The configurations (ICLConfig or their dicts) of an ensemble of E models."""
    if isinstance(configs, (ICLConfig, dict)):
        raise ValueError(f"parameter 'configs' = {configs!r:.60} is invalid: allowed a list of {E} configurations")
    configs = list(check_list("configs", configs, what=f"a list of {E} configurations"))
    if len(configs) != E:
        raise ValueError(f"parameter 'configs' has {len(configs)} entries for an ensemble of {E} models")
    return configs


def eval_batch(configs, test: EvalConfig, device=None) -> tuple:
    """The test worlds and prompts of several trained models under ``test``: ``(world, idx)``,
    a stacked :class:`~icl_utils.incontext.data.World` and its prompts on ``device``, ready
    for :func:`evaluate_params`."""
    dev = get_device(device)
    if isinstance(configs, (ICLConfig, dict)):
        raise ValueError(f"parameter 'configs' = {configs!r} is invalid: allowed a non-empty list of configurations")
    configs = check_list("configs", configs, what="a non-empty list of configurations")
    check_instance("test", test, EvalConfig)
    worlds, idxs = zip(*(eval_prompts(c, test) for c in configs))
    return World.stack(worlds).to(dev), PromptIndices.stack(idxs).to(dev)


def evaluate_params(params: Params, configs, test: EvalConfig | None = None, device=None, batch=None) -> dict:
    """Error, hinge loss, mean margin z F and attention concentration of an ensemble
    ``params`` (for instance a pruned one) whose members were trained with
    ``configs``, under ``test`` (or on a prepared :func:`eval_batch`): arrays of shape (E,)."""
    check_instance("params", params, Params)
    configs = _check_config_list(configs, params.E)
    if batch is None and test is None:
        raise ValueError("parameter 'test' = None is invalid: allowed an EvalConfig (or a prepared 'batch')")
    if batch is not None and (not isinstance(batch, tuple) or len(batch) != 2):
        raise ValueError("parameter 'batch' is invalid: allowed the (world, idx) of eval_batch, or None")
    dev = get_device(device)
    world, idx = batch if batch is not None else eval_batch(configs, test, dev)
    with torch.no_grad():
        out, a = forward_indexed(params.to(dev), world, idx, True)
        z = idx.label[..., -1]
        err = classification_error(out, z).cpu().numpy().astype(float)
        loss = hinge_loss(out, z).cpu().numpy().astype(float)
        margin = (z * out).mean(-1).cpu().numpy().astype(float)
        conc = attention_concentration(a, idx)
        attn, attn_q = (conc[k].cpu().numpy().astype(float) for k in ("attn_same", "attn_query"))
    return {"err": err, "loss": loss, "margin": margin, "attn_same": attn, "attn_query": attn_q}


@_cache.computing
def evaluate_runs(results, tests, at: int | None = None, device=None, cache: bool = True) -> dict:
    """Test every trained model under every :class:`~icl_utils.incontext.config.EvalConfig`.

    ``at`` selects the weights: None for the final ones, or the index of a
    recorded iteration (needs results trained with ``snapshots=True``).
    Returns an :class:`~icl_utils.core.results.Evaluation`: by key, arrays of shape (len(results),
    len(tests)) (``.array("err", "seed", "S1", "l_ts")`` lays one out by field): ``err`` (the
    classification error), ``attn_same`` (the attention the query puts on
    context examples with its own relevant pattern) and ``attn_query`` (on its
    own column, which shares that pattern: Proposition 1's attention on the
    query's pattern is their sum).
    """
    results = _check_results(results)
    tests = check_configs(tests, EvalConfig, "tests")
    Params.check_at(results, at)  # before any test; no weights are built for it
    cache = check_bool("cache", cache)
    dev = get_device(device)
    err = np.full((len(results), len(tests)), np.nan)
    attn = np.full_like(err, np.nan)
    attn_q = np.full_like(err, np.nan)
    digests = [_cache.weights_digest(r, at) for r in results]  # other weights: evaluated anew
    for j, test in enumerate(tests):
        todo = []
        for i, r in enumerate(results):
            key = {"run": r["config"], "test": test.to_dict(), "at": at, "weights": digests[i]}
            hit = _cache.load(KIND_EVAL, key) if cache else None
            if hit is None:
                todo.append((i, key))
            else:
                err[i, j], attn[i, j], attn_q[i, j] = hit
        if not todo:
            continue
        sub = [results[i] for i, _ in todo]
        res = evaluate_params(Params.from_results(sub, at), [r["config"] for r in sub], test, dev)
        e, s, sq = res["err"], res["attn_same"], res["attn_query"]
        for k, (i, key) in enumerate(todo):
            err[i, j], attn[i, j], attn_q[i, j] = float(e[k]), float(s[k]), float(sq[k])
            if cache:
                _cache.store(KIND_EVAL, key, (err[i, j], attn[i, j], attn_q[i, j]))
    return Evaluation({"err": err, "attn_same": attn, "attn_query": attn_q}, [r["config"] for r in results], tests)


@_cache.computing
def baseline_errors(results, test: EvalConfig, learners=None, cache: bool = True, n_jobs: int | None = None) -> dict:
    """Error of each classical learner (:mod:`icl_utils.incontext.baselines`) on the same prompts
    :func:`evaluate_runs` gives each model under ``test``; one fit per prompt on its
    context inputs x_i and labels.  Returns learner name -> array (len(results),).
    The models are shared out over ``n_jobs`` worker processes (joblib; default: one per
    CPU this process may use); the numbers do not depend on ``n_jobs``."""
    results = _check_results(results)
    check_instance("test", test, EvalConfig)
    cache = check_bool("cache", cache)
    # before any job starts: the baselines read Part I prompts
    check_run_configs(results, ICLConfig, "train_runs for the one-layer model")
    learners = (
        list(LEARNERS) if learners is None else check_distinct("learners", list(check_list("learners", learners)))
    )
    for name in learners:
        make_learner(name)  # validates
    # joblib's count honours CPU affinity and container limits
    n_jobs = check_int("n_jobs", n_jobs, 1, allowed="integers >= 1") if n_jobs is not None else joblib.cpu_count()
    out = {name: np.full(len(results), np.nan) for name in learners}
    todo: dict[int, list[str]] = {}
    keys = {}
    for i, r in enumerate(results):
        for name in learners:
            keys[i, name] = {"run": r["config"], "test": test.to_dict(), "learner": name}
            hit = _cache.load(KIND_BASELINE, keys[i, name]) if cache else None
            if hit is None:
                todo.setdefault(i, []).append(name)
            else:
                out[name][i] = hit
    # One job per model: its test prompts are drawn once and every missing learner is fitted on
    # them (one scikit-learn fit per prompt: the slow part of chapter 2, spread over the cores).
    jobs = [joblib.delayed(_baseline_job)(results[i]["config"], test, names) for i, names in todo.items()]
    found = joblib.Parallel(n_jobs=min(n_jobs, max(1, len(jobs))))(jobs)
    for (i, names), errs in zip(todo.items(), found):
        for name, hit in zip(names, errs):
            out[name][i] = hit
            if cache:
                _cache.store(KIND_BASELINE, keys[i, name], hit)
    return out


def _baseline_job(config: dict, test: EvalConfig, names: list) -> list[float]:
    """The errors of learners ``names`` on the test prompts of the run with ``config``."""
    world, idx = eval_prompts(config, test)
    x = (world.mu[idx.pattern] + world.kappa * world.nu[idx.irrelevant]).numpy()
    y = idx.label.numpy().astype(np.int64)
    return [float((predict_prompts(n, x[:, :-1], y[:, :-1], x[:, -1]) != y[:, -1]).mean()) for n in names]


def pruning_curve(
    params: Params, configs, test: EvalConfig, rates, method: str = "magnitude", n_random: int = 1, device=None
) -> dict:
    """Error, hinge loss and margin of ``params`` pruned at every rate (Theorem 3, A-14, A-15).

    ``method`` is ``"magnitude"`` (smallest rows first), ``"largest"`` or
    ``"random"`` (averaged over ``n_random`` draws with seeds 0, 1, ...).
    Returns arrays of shape (len(rates), E) under ``err``, ``loss``, ``margin``.
    """
    from . import pruning

    fns = {"magnitude": pruning.prune_by_magnitude, "largest": pruning.prune_largest}
    check_choice("method", method, (*fns, "random"))
    check_int("n_random", n_random, 1, allowed="integers >= 1")
    check_instance("params", params, Params)
    rates = check_list("rates", rates, lambda n, r: check_float(n, r, 0.0, 1.0, hi_open=True))
    for r in rates:
        pruning.n_pruned(params.m, r)  # leaves a neuron
    configs = _check_config_list(configs, params.E)
    out = {k: np.zeros((len(rates), params.E)) for k in ("err", "loss", "margin")}
    batch = eval_batch(configs, test, device)
    for i, rate in enumerate(rates):
        if method == "random":
            draws = [
                evaluate_params(pruning.prune_random(params, rate, s), configs, device=device, batch=batch)
                for s in range(n_random)
            ]
        else:
            draws = [evaluate_params(fns[method](params, rate), configs, device=device, batch=batch)]
        for k in out:
            out[k][i] = np.mean([d[k] for d in draws], axis=0)
    return out
