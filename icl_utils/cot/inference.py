"""Chain-of-thought and in-context inference of trained Eq. 11 models, and their test errors
(Theorems 5-6 of [LLCCW25]).

* :func:`cot_inference` -- greedy decoding step by step, each decoded step appended to the
  prompt as the next query column;
* :func:`icl_inference` -- one-step prediction of z_K from examples that carry only
  (input, final output) (:func:`icl_prompts`);
* :func:`eval_world` -- testing-relevant (TSR) patterns in the span of the training patterns;
* :func:`eval_tasks`, :func:`eval_errors`, :func:`evaluate_cot` -- test tasks with or without
  Condition 1 and the CoT/ICL errors on them (cached); :func:`needed_length` -- the shortest
  prompt that reaches a target error.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..core import cache as _cache
from ..core.checks import (
    check_bool,
    check_float,
    check_generator,
    check_instance,
    check_int,
    check_list,
    check_memory,
    check_run_configs,
    check_tensor,
    largest,
)
from ..core.rng import make_generator
from .config import CoTConfig
from .data import CoTPrompts, CoTWorld, sample_cot_prompts, sample_steps
from .model import CoTParams, forward_indexed

__all__ = [
    "KIND_EVAL_COT",
    "decode",
    "needed_length",
    "eval_world",
    "cot_inference",
    "icl_prompts",
    "icl_inference",
    "eval_tasks",
    "eval_errors",
    "evaluate_cot",
]

KIND_EVAL_COT = "evaluate_cot"


def _check_K(prompts, K) -> int:
    """``K`` must be the number of steps the prompts were drawn for."""
    check_instance("prompts", prompts, CoTPrompts)
    K = check_int("K", K, 1, allowed="integers >= 1")
    if prompts.z.shape[-1] != K + 1:
        _fail_K(K, prompts.z.shape[-1] - 1)
    return K


def _fail_K(K, actual):
    raise ValueError(f"parameter 'K' = {K} is invalid: allowed the prompts' number of steps, {actual}")


def decode(out: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """Greedy decoding: the index of the pattern nearest to each output (Euclidean).

    A non-finite output (NaN or +-inf, from a diverged model) decodes to -1, no
    pattern: it never equals a correct step, so it counts as an error (and, fed back
    as a CoT step, embeds as a zero half).
    """
    check_tensor("out", out)
    check_tensor("patterns", patterns, 2)
    if out.shape[-1] != patterns.shape[-1]:
        raise ValueError(
            f"parameter 'out' has shape {tuple(out.shape)}: allowed (..., d = {patterns.shape[-1]}), "
            f"the width of 'patterns' {tuple(patterns.shape)}"
        )
    idx = torch.cdist(out, patterns).argmin(-1)
    return torch.where(torch.isfinite(out).all(-1), idx, -1)


def needed_length(lengths, errors, target: float) -> float:
    """Theorem 5's prompt length, measured: the test length at which an error curve first
    falls to ``target``, read between the two grid lengths around the crossing (linear in
    the error, geometric in the length); the first grid length when it starts there; NaN
    when no grid length reaches the target (a length the grid does not resolve is not
    reported as the largest one)."""
    check_float("target", target, 0.0, lo_open=True)
    lengths = np.asarray(lengths, float)
    errors = np.asarray(errors, float)
    if lengths.shape != errors.shape or lengths.ndim != 1 or np.any(np.diff(lengths) <= 0):
        raise ValueError("parameters 'lengths' and 'errors' must be 1-D of the same size, lengths increasing")
    hit = np.flatnonzero(errors <= target)
    if not hit.size:
        return float("nan")
    i = hit[0]
    if i == 0:
        return float(lengths[0])
    e0, e1 = errors[i - 1], errors[i]
    frac = (e0 - target) / (e0 - e1)
    return float(np.exp(np.log(lengths[i - 1]) + frac * (np.log(lengths[i]) - np.log(lengths[i - 1]))))


def eval_world(world: CoTWorld, mix: float = 0.3, generator=None) -> CoTWorld:
    """Testing-relevant (TSR) patterns: mu'_j = (mu_j + mix * mu_{j+1 mod M}) / norm, each a
    linear combination of the training patterns with a dominant component; same codes."""
    check_instance("world", world, CoTWorld)
    mix = check_float("mix", mix, 0.0, 1.0, hi_open=True)
    check_generator("generator", generator)
    P = world.patterns
    tsr = P + mix * torch.roll(P, -1, dims=0)
    return CoTWorld(patterns=tsr / tsr.norm(dim=1, keepdim=True), codes=world.codes)


def _with_query(prompts: CoTPrompts, decoded: torch.Tensor, k: int, K: int) -> CoTPrompts:
    """The prompts asking for step k, with the history made of the decoded chain v_0..v_{k-1}."""
    n, L = prompts.inp.shape
    inp, out, valid = prompts.inp.clone(), prompts.out.clone(), prompts.valid.clone()
    base = L - K  # first history slot
    for j in range(1, K):
        used = j < k
        inp[:, base + j - 1] = decoded[:, j - 1] if used else prompts.inp[:, base + j - 1]
        out[:, base + j - 1] = decoded[:, j] if used else -1
        valid[:, base + j - 1] = used
    inp[:, -1] = decoded[:, k - 1]
    return CoTPrompts(inp=inp, out=out, valid=valid, k=torch.full((n,), k, dtype=torch.long), z=prompts.z)


_FIELDS = dataclasses.fields(CoTPrompts)


def _regroup(prompts: CoTPrompts, lead: tuple, n_lead: int) -> CoTPrompts:
    """The same prompts with their ``n_lead`` leading axes reshaped to ``lead`` (e.g. (E, n) <-> (E n,))."""
    return CoTPrompts(*(t.reshape(*lead, *t.shape[n_lead:]) for t in (getattr(prompts, f.name) for f in _FIELDS)))


def _repeat(prompts: CoTPrompts, E: int) -> CoTPrompts:
    return CoTPrompts(
        *(
            getattr(prompts, f.name).repeat(E, *([1] * (getattr(prompts, f.name).ndim - 1)))
            for f in dataclasses.fields(CoTPrompts)
        )
    )


@torch.no_grad()
def _check_inference_args(params, world, prompts, patterns, shared=False) -> None:
    check_instance("params", params, CoTParams)
    check_instance("world", world, CoTWorld)
    check_instance("prompts", prompts, CoTPrompts)
    if prompts.inp.ndim not in ((2,) if shared else (2, 3)):
        raise ValueError(f"parameter 'prompts' has shape {tuple(prompts.inp.shape)}: allowed (n, L)")
    if prompts.z.shape[-1] != world.K + 1 or prompts.inp.shape[-1] % world.K:
        raise ValueError(
            f"parameter 'prompts' were drawn for {prompts.z.shape[-1] - 1} steps: 'world' has K = {world.K}"
        )
    if params.W_V.shape[1] != world.d:
        raise ValueError(f"parameter 'params' has d = {params.W_V.shape[1]}: 'world' has d = {world.d}")
    if patterns is not None and (check_tensor("patterns", patterns).ndim != 2 or patterns.shape[1] != world.d):
        raise ValueError(f"parameter 'patterns' has shape {tuple(patterns.shape)}: allowed (M', d = {world.d})")


def cot_inference(params: CoTParams, world: CoTWorld, steps, prompts: CoTPrompts, patterns=None):
    """Chain-of-thought: decode z_1..z_K greedily, step by step, appending each decoded step.

    Batched over the prompts and over the ensemble ``params``: every model answers the
    same prompts (``prompts`` fields (n, ...)), or model e answers its own prompts
    (fields (E, n, ...)); each continues its own decoded chain.  ``world`` holds the (test)
    patterns used to embed; ``patterns`` the candidates for decoding (default
    ``world.patterns``).  For one model (E = 1) returns ``(decoded (n, K + 1), wrong (n,))``,
    else ``(decoded (E, n, K + 1), wrong (E, n))``; ``wrong`` is the CoT error of a prompt:
    the mean over steps of 1[z_k != v_k].
    """
    _check_inference_args(params, world, prompts, patterns)
    patterns = world.patterns if patterns is None else patterns
    K, E = world.K, params.E
    if prompts.inp.ndim == 3:  # one set of prompts per model
        if prompts.inp.shape[0] != E:
            raise ValueError(f"parameter 'prompts' holds {prompts.inp.shape[0]} prompt sets for {E} models")
        n = prompts.inp.shape[1]
        flat = _regroup(prompts, (E * n,), 2)
    else:
        n = prompts.inp.shape[0]
        flat = _repeat(prompts, E)  # member-major: rows e * n .. (e + 1) * n - 1 belong to model e
    decoded = torch.zeros(E * n, K + 1, dtype=torch.long)
    decoded[:, 0] = flat.z[:, 0]
    for k in range(1, K + 1):
        # A step decoded as "no pattern" (-1, a non-finite output) is wrong; the chain goes on from pattern 0.
        pr = _with_query(flat, decoded.clamp(min=0), k, K)
        out = forward_indexed(params, world, _regroup(pr, (E, n), 1))  # Eq. 11 from indices (tested = dense form)
        decoded[:, k] = decode(out.reshape(E * n, -1), patterns)
    wrong = (decoded[:, 1:] != flat.z[:, 1:]).to(torch.get_default_dtype()).mean(1)
    decoded, wrong = decoded.view(E, n, K + 1), wrong.view(E, n)
    return (decoded[0], wrong[0]) if E == 1 else (decoded, wrong)


def icl_prompts(prompts: CoTPrompts, K: int) -> CoTPrompts:
    """The same examples as ICL sees them: each example's first column becomes
    [x_i; y_iK] and its other K - 1 columns are masked out; the query asks for step 1
    (the model's one-step prediction is read as z_K)."""
    K = _check_K(prompts, K)
    if prompts.inp.ndim != 2:
        raise ValueError(f"parameter 'prompts' has shape {tuple(prompts.inp.shape)}: allowed (n, L)")
    n, L = prompts.inp.shape
    l = (L - K) // K
    inp, out, valid = prompts.inp.clone(), prompts.out.clone(), prompts.valid.clone()
    ex_out = prompts.out[:, : l * K].reshape(n, l, K)
    out[:, : l * K] = torch.cat([ex_out[:, :, -1:], torch.full((n, l, K - 1), -1)], -1).reshape(n, l * K)
    valid[:, : l * K] = (torch.arange(l * K) % K == 0).expand(n, l * K)
    valid[:, l * K : -1] = False
    inp[:, -1] = prompts.z[:, 0]
    return CoTPrompts(inp=inp, out=out, valid=valid, k=torch.ones(n, dtype=torch.long), z=prompts.z)


@torch.no_grad()
def icl_inference(params: CoTParams, world: CoTWorld, prompts: CoTPrompts, patterns=None):
    """ICL: predict z_K in one step from (input, final output) examples, batched over
    prompts and models.  Returns ``(prediction, wrong)`` with ``wrong`` = 1[z_K != v],
    each (n,) for one model and (E, n) for an ensemble."""
    _check_inference_args(params, world, prompts, patterns)
    patterns = world.patterns if patterns is None else patterns
    if prompts.inp.ndim == 3:  # one set of prompts per model
        E, n = prompts.inp.shape[:2]
        pr = _regroup(icl_prompts(_regroup(prompts, (E * n,), 2), world.K), (E, n), 1)
        z_K = prompts.z[..., -1]
    else:
        pr = icl_prompts(prompts, world.K)  # the same prompts for all models
        z_K = prompts.z[None, :, -1]
    out = forward_indexed(params, world, pr)  # (E, n, d)
    v = decode(out.reshape(-1, out.shape[-1]), patterns).view(out.shape[:2])
    wrong = (v != z_K).to(torch.get_default_dtype())
    return (v[0], wrong[0]) if params.E == 1 else (v, wrong)


def eval_tasks(n_tasks: int, K: int, M: int, tau: float, condition1: bool, seed: int):
    """``n_tasks`` random K-step tasks (steps (n_tasks, K, M)) with transition matrices reaching
    tau^f = ``tau`` and Condition 1 as requested (:func:`icl_utils.cot.transitions.build_transitions`)."""
    from .transitions import build_transitions

    check_int("n_tasks", n_tasks, 1, allowed="integers >= 1")
    check_int("K", K, 1, allowed="integers >= 1")
    check_int("M", M, 2, allowed="integers >= 2")
    check_memory([largest(8 * n_tasks * K * M * (4 + M), n_tasks=n_tasks, K=K, M=M)], "the tasks")
    check_float("tau", tau, 0.0, 1.0, lo_open=True)
    check_bool("condition1", condition1)
    g = make_generator(seed, "ood")
    steps = sample_steps(n_tasks, K, M, g)
    return steps, np.stack([build_transitions(s.numpy(), tau, condition1) for s in steps])


@torch.no_grad()
def eval_errors(
    params: CoTParams,
    world: CoTWorld,
    steps,
    transitions,
    alpha_test: float,
    l_ts: int,
    n_per_task: int,
    seed: int | list = 0,
) -> dict:
    """CoT and ICL error of every model of ``params`` on noisy test prompts.

    For every task (``steps`` (n_tasks, K, M) with its ``transitions``), ``n_per_task``
    prompts of ``l_ts`` examples with fraction ``alpha_test``.  ``seed`` an int: one
    draw of prompts shared by all models; a list of one seed per model: every model
    answers its own draw (the draw of model e depends on ``seed[e]`` only, so a model
    gets the same prompts alone or in an ensemble, and seeds are independent repeats
    of the whole experiment).  Returns ``{"cot": (E,), "icl": (E,)}`` mean errors, each
    one division of an integer count of wrong steps (answers) by their number, so that the
    same decodes give the same bits on every machine (no summation order to round).
    """
    check_instance("params", params, CoTParams)
    check_instance("world", world, CoTWorld)
    if not isinstance(steps, torch.Tensor) or steps.ndim != 3 or tuple(steps.shape[1:]) != (world.K, world.M):
        shape = tuple(steps.shape) if isinstance(steps, torch.Tensor) else type(steps).__name__
        raise ValueError(f"parameter 'steps' has shape {shape}: allowed (n_tasks, K = {world.K}, M = {world.M})")
    n_tasks, K, M = steps.shape
    if np.shape(transitions) != (n_tasks, K, M, M):
        raise ValueError(
            f"parameter 'transitions' has shape {np.shape(transitions)}: "
            f"allowed (n_tasks, K, M, M) = {(n_tasks, K, M, M)}"
        )
    check_float("alpha_test", alpha_test, 0.0, 1.0, lo_open=True)
    check_int("l_ts", l_ts, 1, allowed="integers >= 1")
    check_int("n_per_task", n_per_task, 1, allowed="integers >= 1")
    L = (l_ts + 1) * K
    nbytes = 8 * n_per_task * L * (6 + 2 * world.d * (params.E + 2))
    check_memory([largest(nbytes, n_per_task=n_per_task, l_ts=l_ts)], "the test prompts of one task")
    E = params.E
    own = not isinstance(seed, (int, np.integer))
    if own and len(seed) != E:
        raise ValueError(f"parameter 'seed' has {len(seed)} entries: allowed an int or one seed per model ({E})")
    gens = [make_generator(int(s), "probe") for s in seed] if own else [make_generator(int(seed), "probe")]
    cot_wrong = torch.zeros(E, dtype=torch.long)  # wrong decoded steps
    icl_wrong = torch.zeros(E, dtype=torch.long)  # wrong one-step answers
    for t in range(n_tasks):
        task = steps[t : t + 1].expand(n_per_task, K, M)
        draws = [sample_cot_prompts(task, alpha_test, l_ts, K, g, transitions[t]) for g in gens]
        pr = CoTPrompts.stack(draws) if own else draws[0]
        decoded = cot_inference(params, world, steps, pr)[0].view(E, n_per_task, K + 1)
        z = pr.z.view(-1, n_per_task, K + 1)  # (E or 1, n, K + 1)
        cot_wrong += (decoded[..., 1:] != z[..., 1:]).sum((1, 2))
        v = icl_inference(params, world, pr)[0].view(E, n_per_task)
        icl_wrong += (v != z[..., -1]).sum(1)
    n = n_tasks * n_per_task
    return {"cot": cot_wrong.numpy() / (n * K), "icl": icl_wrong.numpy() / n}


@_cache.computing
def evaluate_cot(
    results, world: CoTWorld, steps, transitions, alpha_test: float, l_ts: int, n_per_task: int, cache: bool = True
) -> dict:
    """:func:`eval_errors` of trained runs (results of :func:`train_cot`), every model on its
    own draw of test prompts (the probe seed is its training seed), cached per model.

    The cache key of a model is its training configuration, a digest of its weights, the test
    world, tasks and transition matrices (their bytes) and the test parameters, so a model's entry is found
    again whichever ensemble it is evaluated in.  Returns ``{"cot": (E,), "icl": (E,)}``.
    """
    results = check_list("results", results, what="a non-empty list of results of train_cot")
    for r in results:
        if not isinstance(r, dict) or "weights" not in r or "config" not in r:
            raise ValueError(f"parameter 'results' holds {type(r).__name__}: allowed results of train_cot")
    configs = check_run_configs(results, CoTConfig, "train_cot")
    check_instance("world", world, CoTWorld)
    cache = check_bool("cache", cache)
    test = {
        "world": _cache.array_digest(world.patterns, world.codes),
        "tasks": _cache.array_digest(steps, np.asarray(transitions)),
        "alpha_test": float(check_float("alpha_test", alpha_test, 0.0, 1.0, lo_open=True)),
        "l_ts": check_int("l_ts", l_ts, 1, allowed="integers >= 1"),
        "n_per_task": check_int("n_per_task", n_per_task, 1, allowed="integers >= 1"),
    }
    for i, c in enumerate(configs):  # a model reads the patterns and codes of its own world's size
        if (c.M, c.K, c.d) != (world.M, world.K, world.patterns.shape[1]):
            raise ValueError(
                f"parameter 'world' has M = {world.M}, K = {world.K}, d = {world.patterns.shape[1]}, but run {i} was "
                f"trained with M = {c.M}, K = {c.K}, d = {c.d}: allowed the runs' own sizes"
            )
    keys = [{"run": r["config"], "test": test, "weights": _cache.weights_digest(r)} for r in results]
    hits = [_cache.load(KIND_EVAL_COT, k) if cache else None for k in keys]
    todo = [i for i, h in enumerate(hits) if h is None]
    if todo:
        sub = [results[i] for i in todo]
        res = eval_errors(
            CoTParams.from_results(sub),
            world,
            steps,
            transitions,
            alpha_test,
            l_ts,
            n_per_task,
            [r["config"]["seed"] for r in sub],
        )
        for j, i in enumerate(todo):
            hits[i] = (float(res["cot"][j]), float(res["icl"][j]))
            if cache:
                _cache.store(KIND_EVAL_COT, keys[i], hits[i])
    return {"cot": np.array([h[0] for h in hits]), "icl": np.array([h[1] for h in hits])}
