"""SGD on Eq. 11 of [LLCCW25] (squared loss) for an ensemble of independent models (Theorem 4).

:func:`train_cot` trains one model per configuration, all at once (one generator stream per
seed, so a member trained in a group equals it trained alone).  The step asked by each training
prompt is uniform in 1..K, so training covers every step.  It records the loss at every step
and, every ``record_every`` steps, the attention by category (B-20) and the clean CoT error;
results are cached.  :func:`iterations_to_loss` reads Theorem 4's iteration count off a loss curve.
"""

from __future__ import annotations

import numpy as np
import torch

from ..core import cache as _cache
from ..core.checks import check_bool, check_ensemble, check_float, check_int, check_memory, largest
from ..core.progress import progress_bar
from ..core.results import Runs
from ..core.rng import make_generator
from ..core.sgd import CHUNK_STEPS, sgd_loop
from ..core.sweep import run_groups
from .config import CHUNK_COLUMNS, CoTConfig
from .data import CoTPrompts, embed_cot, make_cot_world, sample_cot_prompts, sample_counted_prompts, sample_steps
from .inference import cot_inference
from .model import CoTParams, forward, forward_indexed, init_cot_params, squared_loss
from .probes import attention_by_category

__all__ = ["KIND_TRAIN_COT", "train_cot", "iterations_to_loss"]

KIND_TRAIN_COT = "train_cot"


def _check_run_size(c: CoTConfig, E: int) -> None:
    """Reject an ensemble whose arrays cannot fit in memory (as :func:`icl_utils.incontext.training.check_run_size`):
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


@_cache.computing
def train_cot(configs, progress=None, cache: bool = True) -> list[dict]:
    """Train one Eq. 11 model per configuration, all at once (configurations that share
    :attr:`CoTConfig.ENSEMBLE_FIELDS`); returns per model: ``loss`` (T,), ``iters`` (R,), ``attn``
    (R, 4) attention by category averaged over steps, ``cot_err`` (R,) clean CoT
    error, and the final ``weights``.

    Configurations already in the result cache (:mod:`icl_utils.core.cache`) are loaded, not
    trained; the others are trained as one ensemble (a Ray task with ``ICL_RAY`` set, see
    :mod:`icl_utils.core.sweep`) and stored when it finishes.
    """
    configs = check_ensemble(configs, CoTConfig)
    cache = check_bool("cache", cache)
    results = [_cache.load(KIND_TRAIN_COT, c.to_dict()) if cache else None for c in configs]
    todo = [i for i, r in enumerate(results) if r is None]

    def store(_, trained):
        for i, r in zip(todo, trained):
            results[i] = r
            if cache:
                _cache.store(KIND_TRAIN_COT, configs[i].to_dict(), r)

    if todo:
        run_groups([[configs[i] for i in todo]], _train_cot_group, store, "Eq. 11", progress, "cpu")
    return Runs(results, CoTConfig)


def _train_cot_group(configs, device, progress, desc) -> list[dict]:
    """One ensemble, as :func:`icl_utils.core.sweep.run_groups` calls it (Eq. 11 trains on the CPU)."""
    return _train_cot_ensemble(configs, progress)


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
    ev = CoTPrompts.stack(p for _, p in eval_sets)
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
