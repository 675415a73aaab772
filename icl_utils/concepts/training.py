"""SGD on the logistic loss for an ensemble of Part III models ([BHH+24]; chapter 6).

:func:`train_ensemble` trains one model per configuration, all at once: each member draws its
own fresh prompts (one generator stream per seed, so a member trained in a group equals it
trained alone), and the loop is :func:`icl_utils.core.sgd.sgd_loop` (a non-finite loss stops the
run, naming the member's seed and learning rate).  Every ``record_every`` steps it records, on
``n_eval`` fixed test prompts and on the step's training batch, what the paper's simulation
figures show: the losses, the test 0-1 error, the attention mass on the *correct*
demonstrations (those whose semantic on the task concept is the query's), and the products of
the learned weights with the task concepts', the irrelevant ("complement") concepts' and the
noise directions (:func:`weight_products`).
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.checks import check_memory, largest
from ..core.progress import progress_bar
from ..core.rng import make_generator
from ..core.sgd import CHUNK_STEPS, sgd_loop
from .config import ConceptConfig
from .data import Prompts, make_dictionary, sample_prompts
from .model import ConceptParams, error, forward, init_params, logistic_loss

__all__ = [
    "CHUNK_TOKENS",
    "ATTN_PRODUCTS",
    "MLP_PRODUCTS",
    "correct_attention",
    "weight_products",
    "train_ensemble",
    "check_run_size",
]

#: Training prompts are drawn for at most this many tokens per member at once.
CHUNK_TOKENS = 20_000
#: The columns of a result's ``attn_prod``, entries of W = W_K^T W_Q (score = p_i^T W p_query): the
#: largest |b_k^T W b_k| over the task concepts (a demonstration's word semantic against the
#: query's), the largest |[0; e_k]^T W [b_k; 0]| (a demonstration's label semantic against the
#: query's word semantic), the largest |b_j^T W b_j| over the irrelevant concepts, and the largest
#: |n^T W n'| over pairs of noise directions.  At the start every one but the second is attn_init^2.
ATTN_PRODUCTS = ("task: word with word", "task: label with word", "complement concept", "noise")
#: The columns of ``mlp_prod``: the largest sign(a_r) <w_r, e_k> over neurons and task concepts
#: (label semantic), sign(a_r) <w_r, b_k> (word semantic), and |<w_r, v>| for the irrelevant
#: concepts' semantic directions and the noise directions.
MLP_PRODUCTS = ("task label feature", "task word feature", "complement concept", "noise")


def correct_attention(attn: torch.Tensor, prompts: Prompts) -> torch.Tensor:
    """The attention mass on the demonstrations whose semantic on the task concept is the
    query's (the *correct* ones): (..., n, L + 1) attention -> (..., n)."""
    same = prompts.sem[..., :-1] == prompts.sem[..., -1:]
    return (attn[..., :-1] * same).sum(-1)


def weight_products(params: ConceptParams, cfg: ConceptConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per member: ``attn_prod`` (E, 4) (:data:`ATTN_PRODUCTS`), ``mlp_prod`` (E, 4)
    (:data:`MLP_PRODUCTS`), and the mean norm of the neurons w_r (E,).  A kind of direction the
    data model does not have (no irrelevant concept, no noise direction) is NaN."""
    D = make_dictionary(cfg)
    d = cfg.d
    tasks = list(cfg.training_concepts)
    b_task = D.semantic[tasks]
    b_irr = D.semantic[cfg.K :]
    e_task = torch.cat([torch.zeros(len(tasks), d), D.label_semantic[tasks]], 1)
    pad = torch.zeros(0, d)

    def word(v):  # word-block directions as tokens
        return torch.cat([v, torch.zeros(v.shape[0], d)], 1) if v.shape[0] else torch.cat([pad, pad], 1)

    W = params.W_K.transpose(1, 2) @ params.W_Q  # (E, D, D)
    E = W.shape[0]
    nan = torch.full((E,), float("nan"))

    def block(u, v):  # the largest |u_k^T W v_k| over k (paired rows), or over all pairs
        if u.shape[0] == 0 or v.shape[0] == 0:
            return nan
        return torch.einsum("kd,edf,kf->ek", u, W, v).abs().amax(-1)

    def pairs(v):
        if v.shape[0] == 0:
            return nan
        return torch.einsum("kd,edf,jf->ekj", v, W, v).abs().flatten(1).amax(-1)

    attn = torch.stack(
        [
            block(word(b_task), word(b_task)),
            block(e_task, word(b_task)),
            block(word(b_irr), word(b_irr)),
            pairs(word(D.noise_dirs)),
        ],
        1,
    )
    sign = torch.sign(params.a)[:, :, None]  # (E, m, 1)

    def lin(v, absolute):
        if v.shape[0] == 0:
            return nan
        vals = params.W_O @ v.T  # (E, m, k)
        return (vals.abs() if absolute else sign * vals).flatten(1).amax(-1)

    mlp = torch.stack(
        [lin(e_task, False), lin(word(b_task), False), lin(word(b_irr), True), lin(word(D.noise_dirs), True)], 1
    )
    return attn, mlp, params.W_O.norm(dim=-1).mean(-1)


def check_run_size(configs, snapshots: bool) -> None:
    """Reject an ensemble whose arrays cannot fit in memory, before anything is built (the
    test prompts, the training chunk, the records and the snapshots, in float64)."""
    c, E = configs[0], len(configs)
    Dm = 2 * c.d
    R = c.T // c.record_every + 2
    chunk = max(1, min(CHUNK_STEPS, CHUNK_TOKENS // (c.B * (c.L + 1)))) * c.B
    snap = R * (2 * Dm * Dm + c.m * Dm) if snapshots else 0
    check_memory(
        [
            ("T", c.T, 8 * E * (c.T + 20 * R + snap)),
            largest(8 * E * c.n_eval * (c.L + 1) * (Dm + 4) * 3, n_eval=c.n_eval, L=c.L),
            ("B", c.B, 8 * E * chunk * (c.L + 1) * (Dm + 4) * 3),
            ("d", c.d, 8 * E * 6 * 2 * Dm * Dm),
            ("m", c.m, 8 * E * 6 * c.m * Dm),
        ],
        f"an ensemble of {E} run(s) (T = {c.T}, n_eval = {c.n_eval}, B = {c.B}, L = {c.L}, d = {c.d})",
    )


def train_ensemble(configs, device="cpu", progress=None, desc: str = "multi-concept", snapshots: bool = False):
    """Train one model per (validated) configuration, all at once; returns one result dict per
    configuration (see :func:`icl_utils.concepts.experiments.train_concepts`)."""
    ref = configs[0]
    E, B, T = len(configs), ref.B, ref.T
    check_run_size(configs, snapshots)
    dev = torch.device(device)
    Dm = 2 * ref.d
    params = ConceptParams.cat(
        [init_params(Dm, c.m, c.attn_init, c.w_std, [make_generator(c.seed, "init")]) for c in configs]
    ).to(dev)
    for w in params.trained():
        w.requires_grad_(True)
    lr = torch.tensor([c.lr for c in configs], device=dev).view(E, 1, 1)
    gens = [make_generator(c.seed, "train") for c in configs]
    ev = Prompts.stack([sample_prompts(c, None, c.n_eval, make_generator(c.seed, "eval")) for c in configs]).to(dev)
    # steps per chunk from one member's prompt size only: a model's prompts do not depend on its ensemble
    chunk_steps = max(1, min(CHUNK_STEPS, CHUNK_TOKENS // (B * (ref.L + 1))))
    n = chunk_steps * B
    chunk: dict = {}
    done = [0]  # steps taken
    rec: dict = {
        k: [] for k in ("test_err", "test_loss", "test_attn", "train_loss", "train_attn", "attn", "mlp", "norm")
    }
    snaps: dict = {k: [] for k in ConceptParams.TRAINED}

    # the prompt chunk's tokens, filled in place by every member's sampler (no stacked copies)
    tokens = torch.empty(E, n, ref.L + 1, Dm)

    def draw():  # prompts for the next chunk_steps steps, from each member's own stream
        parts = [sample_prompts(c, None, n, g, out=tokens[e]) for e, (c, g) in enumerate(zip(configs, gens))]
        z, sem, task = (torch.stack([getattr(p, k) for p in parts]) for k in ("z", "sem", "task"))
        chunk["p"] = Prompts(tokens, z, sem, task).to(dev)

    def batch(s):
        return chunk["p"][:, s * B : (s + 1) * B]

    def loss_at(s):
        done[0] += 1
        pr = batch(s)
        return logistic_loss(forward(params, pr.P), pr.z)

    def record():
        with torch.no_grad():
            out, attn = forward(params, ev.P, return_attention=True)
            rec["test_err"].append(error(out, ev.z))
            rec["test_loss"].append(logistic_loss(out, ev.z))
            rec["test_attn"].append(correct_attention(attn, ev).mean(-1))
            # the training batch of this step (after the last step: the last one trained on)
            pr = batch(min(done[0], T - 1) % chunk_steps)
            out, attn = forward(params, pr.P, return_attention=True)
            rec["train_loss"].append(logistic_loss(out, pr.z))
            rec["train_attn"].append(correct_attention(attn, pr).mean(-1))
            a, m, norm = weight_products(params.detach().to("cpu"), ref)
            rec["attn"].append(a)
            rec["mlp"].append(m)
            rec["norm"].append(norm)
            if snapshots:
                for k in snaps:
                    snaps[k].append(getattr(params, k).detach().cpu().clone())

    bar = progress_bar(T, f"{desc} ({E} models)", progress)
    labels = [f"seed = {c.seed}, lr = {c.lr}" for c in configs]
    iters, hist = sgd_loop(params.trained(), lr, T, ref.record_every, chunk_steps, draw, loss_at, record, bar, labels)
    out = {k: torch.stack([v.detach().cpu() for v in vals]).numpy() for k, vals in rec.items()}
    final = params.detach().to("cpu")
    results = []
    for e, c in enumerate(configs):
        r = {
            "config": c.to_dict(),
            "iters": np.asarray(iters),
            "loss": hist[:, e].cpu().numpy().copy(),
            **{k: out[k][:, e].copy() for k in ("test_err", "test_loss", "test_attn", "train_loss", "train_attn")},
            "attn_prod": out["attn"][:, e].copy(),
            "mlp_prod": out["mlp"][:, e].copy(),
            "mlp_norm": out["norm"][:, e].copy(),
            "weights": {k: getattr(final, k)[e].numpy().copy() for k in ("W_Q", "W_K", "W_O", "a")},
        }
        if snapshots:
            r["snapshots"] = {k: torch.stack(v)[:, e].numpy().copy() for k, v in snaps.items()}
        results.append(r)
    return results
