"""Part II ([LLCCW25]): training Eq. 11 by SGD, chain-of-thought and ICL inference, probes.

* :class:`CoTConfig` -- one training run (validated);
* :func:`train_cot` -- SGD on the squared loss for an ensemble of independent
  models (one generator stream per seed; the step asked by each training
  prompt is uniform in 1..K, so training covers every step), recording the
  loss at every step and, every ``record_every`` steps, the attention by
  category (B-20) and the clean CoT error;
* :func:`cot_inference` -- greedy decoding step by step, each decoded step
  appended to the prompt as the next query column;
* :func:`icl_inference` -- one-step prediction of z_K from examples that
  carry only (input, final output);
* :func:`attention_by_category` -- attention on (same pattern, same step),
  (other pattern, same step), (same pattern, other step), (other, other);
* :func:`test_world` -- testing-relevant (TSR) patterns in the TRR span.

Chapter 4 (chain-of-thought versus in-context learning) uses them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from . import cache as _cache
from .config import (
    _Fields,
    check_bool,
    check_ensemble,
    check_float,
    check_generator,
    check_instance,
    check_int,
    check_list,
    check_memory,
    check_tensor,
    largest,
)
from .cot import (
    CoTParams,
    CoTPrompts,
    CoTWorld,
    embed_cot,
    forward,
    forward_indexed,
    init_cot_params,
    make_cot_world,
    sample_cot_prompts,
    sample_counted_prompts,
    sample_steps,
    squared_loss,
)
from .data import make_generator
from .training import progress_bar, sgd_loop

__all__ = [
    "CoTConfig",
    "train_cot",
    "test_world",
    "decode",
    "cot_inference",
    "icl_prompts",
    "icl_inference",
    "attention_by_category",
    "CATEGORIES",
]

CATEGORIES = ("same pattern, same step", "other pattern, same step", "same pattern, other step", "other, other")


@dataclass(frozen=True)
class CoTConfig(_Fields):
    """One run of Eq. 11 on K-step reasoning prompts (Eq. 11 of [LLCCW25]).

    ``M`` patterns and ``K`` steps in R^``d`` (standard basis vectors), prompts
    of ``l_tr`` clean examples of which a fraction ``alpha`` start from the
    query's pattern; SGD with learning rate ``lr``, batch ``B``, ``T``
    iterations, W_Q = W_K = ``qk_init`` I, W_V ~ N(0, ``v_std``^2).  Every
    ``record_every`` steps: attention by category and clean CoT error on
    ``n_eval`` fixed prompts of length ``l_tr``.
    """

    seed: int = 0
    M: int = 4
    K: int = 2
    d: int = 8
    alpha: float = 0.5
    l_tr: int = 20
    B: int = 128
    T: int = 1000
    lr: float = 1.0
    qk_init: float = 0.1
    v_std: float = 0.01
    record_every: int = 50
    n_eval: int = 500

    def __post_init__(self):
        c = self._check
        c("seed", check_int, 0, allowed="integers >= 0")
        c("M", check_int, 2, allowed="integers >= 2")
        c("K", check_int, 1, allowed="integers >= 1 (a task has at least one step)")
        c("d", check_int, self.M + self.K, allowed=f"integers >= M + K = {self.M + self.K}")
        c("alpha", check_float, 0.0, 1.0, lo_open=True)
        for name in ("l_tr", "B", "T", "record_every", "n_eval"):
            c(name, check_int, 1, allowed="integers >= 1")
        c("lr", check_float, 0.0, lo_open=True)
        c("qk_init", check_float, 0.0)
        c("v_std", check_float, 0.0)


SHAPE_FIELDS = ("M", "K", "d", "l_tr", "B", "T", "record_every", "n_eval")

#: Prompts are drawn for up to this many SGD steps at once per member ...
CHUNK_STEPS = 25
#: ... and for at most this many prompt columns per member.
CHUNK_COLUMNS = 400_000


def _stack_prompts(items) -> CoTPrompts:
    items = list(items)
    return CoTPrompts(*(torch.stack([getattr(p, f.name) for p in items]) for f in dataclasses.fields(CoTPrompts)))


def attention_by_category(attn: torch.Tensor, prompts: CoTPrompts, K: int) -> torch.Tensor:
    """Attention of the query on context columns by (pattern, step) category: (..., 4).

    ``attn`` (..., L - 1) over the non-query columns; "same pattern": the
    column's input pattern is the query's input pattern z_{k-1}; "same step":
    the column stands for step k (its positional code is c_{k-1}).
    """
    K = _check_K(prompts, K)
    L = prompts.inp.shape[-1]
    if attn.shape[-1] != L - 1:
        raise ValueError(f"parameter 'attn' has shape {tuple(attn.shape)}: allowed (..., L - 1 = {L - 1})")
    col_step = torch.arange(L - 1) % K  # code index of every non-query column
    same_step = col_step == (prompts.k[..., None] - 1)
    same_pat = prompts.inp[..., :-1] == prompts.inp[..., -1:]
    cats = [same_pat & same_step, ~same_pat & same_step, same_pat & ~same_step, ~same_pat & ~same_step]
    valid = prompts.valid[..., :-1]
    return torch.stack([(attn * (c & valid)).sum(-1) for c in cats], dim=-1)


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


def _check_run_size(c: CoTConfig, E: int) -> None:
    """Reject an ensemble whose arrays cannot fit in memory (as :func:`icl_utils.training.check_run_size`):
    ``T`` sizes the loss history and records, ``n_eval`` the dense evaluation prompts, ``B`` the
    prompt chunk, ``d`` the weights."""
    L, Lc, R = (c.l_tr + 1) * c.K, (c.M + 1) * c.K, c.T // c.record_every + 2
    check_memory(
        [
            ("T", c.T, 3 * 8 * E * (c.T + 5 * R) + 100 * R),
            largest(8 * E * c.n_eval * (L * (4 + 3 * 2 * c.d) + c.K + 2), n_eval=c.n_eval, l_tr=c.l_tr),
            ("B", c.B, 8 * E * c.B * (CHUNK_STEPS * (Lc * 5 + c.K + 2) + Lc * (2 * c.M + c.K) * 4)),
            ("d", c.d, 8 * E * 3 * (3 * 4 * c.d * c.d)),
        ],
        f"an ensemble of {E} run(s) (T = {c.T}, record_every = {c.record_every}, n_eval = {c.n_eval}, B = {c.B})",
    )


#: Cache namespaces of :func:`train_cot` and :func:`evaluate_cot` results.
KIND_TRAIN_COT, KIND_EVAL_COT = "train_cot", "evaluate_cot"


def train_cot(configs, progress=None, cache: bool = True) -> list[dict]:
    """Train one Eq. 11 model per configuration, all at once (configurations that share
    :data:`SHAPE_FIELDS`); returns per model: ``loss`` (T,), ``iters`` (R,), ``attn``
    (R, 4) attention by category averaged over steps, ``cot_err`` (R,) clean CoT
    error, and the final ``weights``.

    Configurations already in the result cache (:mod:`icl_utils.cache`) are loaded, not
    trained; the others are trained as one ensemble and stored when it finishes.
    """
    configs = check_ensemble(configs, CoTConfig, SHAPE_FIELDS)
    cache = check_bool("cache", cache)
    results = [_cache.load(KIND_TRAIN_COT, c.to_dict()) if cache else None for c in configs]
    todo = [i for i, r in enumerate(results) if r is None]
    if todo:
        for i, r in zip(todo, _train_cot_ensemble([configs[i] for i in todo], progress)):
            results[i] = r
            if cache:
                _cache.store(KIND_TRAIN_COT, configs[i].to_dict(), r)
    return results


def _train_cot_ensemble(configs, progress) -> list[dict]:
    """:func:`train_cot` without the cache: one ensemble of validated configurations."""
    ref = configs[0]
    E, M, K, d, B, T = len(configs), ref.M, ref.K, ref.d, ref.B, ref.T
    _check_run_size(ref, E)
    world = make_cot_world(M, K, d)
    params = CoTParams(
        *(
            torch.cat(t)
            for t in zip(
                *(init_cot_params(d, c.qk_init, c.v_std, [make_generator(c.seed, "init")]).trained() for c in configs)
            )
        )
    )
    for w in params.trained():
        w.requires_grad_(True)
    lr = torch.tensor([c.lr for c in configs]).view(E, 1, 1)
    gens = [make_generator(c.seed, "train") for c in configs]
    eval_sets = []
    for c in configs:
        g = make_generator(c.seed, "eval")
        steps = sample_steps(c.n_eval, K, M, g)
        eval_sets.append(
            (steps, sample_cot_prompts(steps, c.alpha, c.l_tr, torch.randint(1, K + 1, (c.n_eval,), generator=g), g))
        )
    ev = _stack_prompts(p for _, p in eval_sets)
    P_ev = torch.stack([embed_cot(world, p) for _, p in eval_sets])
    attn_rec, err_rec = [], []

    def record():
        with torch.no_grad():
            _, attn = forward(params, P_ev, ev.valid, return_attention=True)
            attn_rec.append(attention_by_category(attn, ev, K).mean(1))
            wrong = cot_inference(params, world, None, ev)[1]  # each model on its own prompts
            err_rec.append(wrong.view(E, -1).mean(1))

    # Training prompts are clean, so they are drawn as counted prompts (every distinct example
    # once, with its number of repeats): the cost of a step does not grow with l_tr.  Steps per
    # chunk are a function of one member's prompt size only, so a model's prompts do not
    # depend on the ensemble it is trained in.
    L = (M + 1) * K
    chunk_steps = max(1, min(CHUNK_STEPS, CHUNK_COLUMNS // (B * L)))
    n = chunk_steps * B
    chunk = CoTPrompts(
        inp=torch.empty(E, n, L, dtype=torch.long),
        out=torch.empty(E, n, L, dtype=torch.long),
        valid=torch.empty(E, n, L, dtype=torch.bool),
        k=torch.empty(E, n, dtype=torch.long),
        z=torch.empty(E, n, K + 1, dtype=torch.long),
    )
    mult = torch.empty(E, n, L)

    def draw():  # prompts for the next chunk_steps steps, from each member's own stream, in place
        for e, (c, g) in enumerate(zip(configs, gens)):
            steps = sample_steps(n, K, M, g)
            k = torch.randint(1, K + 1, (n,), generator=g)
            sample_counted_prompts(steps, c.alpha, c.l_tr, k, g, out=chunk[e], mult=mult[e])

    def loss_at(s):
        sl = slice(s * B, (s + 1) * B)
        pr = chunk[:, sl]
        out = forward_indexed(params, world, pr, mult[:, sl])  # pattern-space Eq. 11, repeats counted
        return squared_loss(out, world.patterns[pr.label])

    bar = progress_bar(T, f"Eq. 11 ({E} models)", progress)
    labels = [f"seed = {c.seed}, lr = {c.lr}" for c in configs]
    rec_iters, loss_hist = sgd_loop(
        params.trained(), lr, T, ref.record_every, chunk_steps, draw, loss_at, record, bar, labels
    )
    attn_np = torch.stack(attn_rec).numpy()
    err_np = torch.stack(err_rec).numpy()
    final = [w.detach() for w in params.trained()]
    return [
        {
            "config": c.to_dict(),
            "iters": np.asarray(rec_iters),
            "loss": loss_hist[:, e].numpy().copy(),
            "attn": attn_np[:, e].copy(),
            "cot_err": err_np[:, e].copy(),
            "weights": {k: w[e].numpy().copy() for k, w in zip(("W_Q", "W_K", "W_V"), final)},
        }
        for e, c in enumerate(configs)
    ]


def iterations_to_loss(loss, target: float, window: int = 10) -> float:
    """Theorem 4's iteration count, measured: the number of SGD steps after which the mean
    training loss of the last ``window`` steps is first at most ``target``; NaN when the run
    never gets there (never 0 or T: a run that did not reach the target has no count)."""
    check_float("target", target, 0.0, lo_open=True)
    check_int("window", window, 1, allowed="integers >= 1")
    loss = np.asarray(loss, float)
    if loss.size < window:
        return float("nan")
    avg = np.convolve(loss, np.ones(window) / window, mode="valid")  # avg[i]: steps i+1 .. i+window
    hit = np.flatnonzero(avg <= target)
    return float(hit[0] + window) if hit.size else float("nan")


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


def params_of(results) -> CoTParams:
    """The final weights of trained runs as one ensemble."""
    results = check_list("results", results, what="a non-empty list of results of train_cot")
    for r in results:
        if not isinstance(r, dict) or "weights" not in r:
            raise ValueError(f"parameter 'results' holds {type(r).__name__}: allowed results of train_cot")
    return CoTParams(*(torch.stack([torch.as_tensor(r["weights"][k]) for r in results]) for k in ("W_Q", "W_K", "W_V")))


__all__ += ["params_of", "iterations_to_loss", "needed_length"]


def test_world(world: CoTWorld, mix: float = 0.3, generator=None) -> CoTWorld:
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


def test_tasks(n_tasks: int, K: int, M: int, tau: float, condition1: bool, seed: int):
    """``n_tasks`` random K-step tasks (steps (n_tasks, K, M)) with transition matrices reaching
    tau^f = ``tau`` and Condition 1 as requested (:func:`icl_utils.transitions.build_transitions`)."""
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


__all__ += ["test_tasks", "test_errors", "evaluate_cot"]


@torch.no_grad()
def test_errors(
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
        pr = _stack_prompts(draws) if own else draws[0]
        decoded = cot_inference(params, world, steps, pr)[0].view(E, n_per_task, K + 1)
        z = pr.z.view(-1, n_per_task, K + 1)  # (E or 1, n, K + 1)
        cot_wrong += (decoded[..., 1:] != z[..., 1:]).sum((1, 2))
        v = icl_inference(params, world, pr)[0].view(E, n_per_task)
        icl_wrong += (v != z[..., -1]).sum(1)
    n = n_tasks * n_per_task
    return {"cot": cot_wrong.numpy() / (n * K), "icl": icl_wrong.numpy() / n}


def evaluate_cot(
    results, world: CoTWorld, steps, transitions, alpha_test: float, l_ts: int, n_per_task: int, cache: bool = True
) -> dict:
    """:func:`test_errors` of trained runs (results of :func:`train_cot`), every model on its
    own draw of test prompts (the probe seed is its training seed), cached per model.

    The cache key of a model is its training configuration, the test world, tasks and
    transition matrices (their bytes) and the test parameters, so a model's entry is found
    again whichever ensemble it is evaluated in.  Returns ``{"cot": (E,), "icl": (E,)}``.
    """
    results = check_list("results", results, what="a non-empty list of results of train_cot")
    for r in results:
        if not isinstance(r, dict) or "weights" not in r or "config" not in r:
            raise ValueError(f"parameter 'results' holds {type(r).__name__}: allowed results of train_cot")
    check_instance("world", world, CoTWorld)
    cache = check_bool("cache", cache)
    test = {
        "world": _cache.array_digest(world.patterns, world.codes),
        "tasks": _cache.array_digest(steps, np.asarray(transitions)),
        "alpha_test": float(check_float("alpha_test", alpha_test, 0.0, 1.0, lo_open=True)),
        "l_ts": check_int("l_ts", l_ts, 1, allowed="integers >= 1"),
        "n_per_task": check_int("n_per_task", n_per_task, 1, allowed="integers >= 1"),
    }
    keys = [{"run": r["config"], "test": test} for r in results]
    hits = [_cache.load(KIND_EVAL_COT, k) if cache else None for k in keys]
    todo = [i for i, h in enumerate(hits) if h is None]
    if todo:
        sub = [results[i] for i in todo]
        res = test_errors(
            params_of(sub), world, steps, transitions, alpha_test, l_ts, n_per_task, [r["config"]["seed"] for r in sub]
        )
        for j, i in enumerate(todo):
            hits[i] = (float(res["cot"][j]), float(res["icl"][j]))
            if cache:
                _cache.store(KIND_EVAL_COT, keys[i], hits[i])
    return {"cot": np.array([h[0] for h in hits]), "icl": np.array([h[1] for h in hits])}
