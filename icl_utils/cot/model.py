"""The attention-only model of Eq. 11 of [LLCCW25], fast and literal forms, and its squared loss.

f(Psi; P) = sum_{i < query} W_V p~_i softmax_i((W_K p~_i)^T W_Q p~_query), with W_Q, W_K
(2d x 2d) and W_V (d x 2d), squared loss 1/2 ||z - f||^2.  :func:`forward` is the fast form
(scores from W_K^T W_Q p~_query, values from W_V applied to the attention-weighted column);
:func:`forward_indexed` computes it from prompts given as indices; :func:`forward_literal` is
Eq. 11 as written; the tests prove them equal, values and gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.checks import (
    _fail,
    check_float,
    check_generators,
    check_instance,
    check_int,
    check_memory,
    check_tensor,
)
from ..core.tensors import Weights
from .data import CoTPrompts, CoTWorld

__all__ = ["CoTParams", "init_cot_params", "forward", "forward_literal", "squared_loss", "forward_indexed"]


@dataclass
class CoTParams(Weights):
    """Weights of an ensemble of Eq. 11 models: W_Q, W_K (E, 2d, 2d), W_V (E, d, 2d)."""

    W_Q: torch.Tensor
    W_K: torch.Tensor
    W_V: torch.Tensor

    TRAINED = ("W_Q", "W_K", "W_V")


def init_cot_params(d: int, qk_init: float, v_std: float, generators) -> CoTParams:
    """Our measured starting point (the paper publishes none): W_Q = W_K = qk_init * I,
    W_V ~ N(0, v_std^2) (one generator per member)."""
    check_int("d", d, 1, allowed="integers >= 1")
    check_float("qk_init", qk_init, 0.0)
    check_float("v_std", v_std, 0.0)
    generators = check_generators(generators)
    check_memory([("d", d, 8 * len(generators) * 3 * 3 * 4 * d * d)], "the weights")
    E = len(generators)
    eye = torch.eye(2 * d).expand(E, 2 * d, 2 * d)
    W_V = torch.stack([torch.randn(d, 2 * d, generator=g) for g in generators]) * v_std
    return CoTParams(W_Q=(qk_init * eye).clone(), W_K=(qk_init * eye).clone(), W_V=W_V)


def _masked_softmax(scores, valid):
    return torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=-1)


def _check_prompts(params, P, valid) -> torch.Tensor:
    """``P`` (E or 1, n, L, 2d) for the ensemble ``params``; ``valid`` broadcast to ``P.shape[:-1]``."""
    check_instance("params", params, CoTParams)
    E, d2 = params.E, params.W_Q.shape[-1]
    if not isinstance(P, torch.Tensor) or P.ndim != 4 or P.shape[0] not in (1, E) or P.shape[-1] != d2:
        shape = tuple(P.shape) if isinstance(P, torch.Tensor) else type(P).__name__
        allowed_E = f"E = {E} or 1" if E > 1 else "E = 1"
        raise ValueError(f"parameter 'P' has shape {shape}: allowed ({allowed_E}, n, L, 2d = {d2})")
    try:
        return valid.expand(P.shape[:-1])
    except (AttributeError, RuntimeError):
        shape = tuple(valid.shape) if isinstance(valid, torch.Tensor) else type(valid).__name__
        _fail("valid", shape, f"a boolean mask of shape {tuple(P.shape[:-1])} (or (n, L))")


def forward(params: CoTParams, P: torch.Tensor, valid: torch.Tensor, return_attention: bool = False):
    """Eq. 11, fast form.  ``P`` (E, n, L, 2d), ``valid`` (E, n, L) or (n, L) -> outputs (E, n, d).

    The last column is the query; it is not among the attended columns.
    """
    valid = _check_prompts(params, P, valid)
    pq = P[..., -1, :]
    u = torch.einsum("eij,enj->eni", params.W_Q, pq)
    v = torch.einsum("eij,eni->enj", params.W_K, u)  # W_K^T W_Q p~_query
    ctx = P[..., :-1, :]
    attn = _masked_softmax(torch.einsum("enld,end->enl", ctx, v), valid[..., :-1])
    pbar = torch.einsum("enl,enld->end", attn, ctx)
    out = torch.einsum("eij,enj->eni", params.W_V, pbar)
    return (out, attn) if return_attention else out


def forward_literal(params: CoTParams, P: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Eq. 11 as written: every attended column projected by W_K and W_V."""
    valid = _check_prompts(params, P, valid)
    cols = P.transpose(-1, -2)  # (E, n, 2d, L)
    K = params.W_K[:, None] @ cols[..., :-1]
    V = params.W_V[:, None] @ cols[..., :-1]
    Qq = params.W_Q[:, None] @ cols[..., -1:]
    attn = _masked_softmax((K * Qq).sum(-2), valid[..., :-1])
    return (V * attn[..., None, :]).sum(-1)


def squared_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1/2 ||z - f||^2 averaged over prompts: (E,).  ``target`` (E, n, d) or (n, d)."""
    check_tensor("out", out)
    check_tensor("target", target)
    return 0.5 * ((out - target) ** 2).sum(-1).mean(-1)


def forward_indexed(params: CoTParams, world: CoTWorld, prompts: CoTPrompts, mult=None, return_attention: bool = False):
    """Eq. 11 on prompts given as indices, never building the (E, n, L, 2d) prompt tensor.

    The same function as ``forward(params, embed_cot(world, prompts), prompts.valid)``.
    Every column is F^T c_i with F the r = 2M + K rows [mu_j; 0], [c_k; 0], [0; mu_j]
    and c_i one-hot on its input pattern, its code and (when present) its output
    pattern; scores are gathers from the r x r table F W_K^T W_Q F^T and the output
    is W_V F^T applied to the attention added up per row (a scatter-add).  Prompt
    index tensors may carry a leading ensemble axis E or be shared by all models.
    ``mult`` (same shape as ``prompts.inp``): how many times each column occurs
    (:func:`sample_counted_prompts`); attention is then over the repeated columns.
    """
    check_instance("params", params, CoTParams)
    check_instance("world", world, CoTWorld)
    check_instance("prompts", prompts, CoTPrompts)
    M, K, d = world.M, world.K, world.d
    E = params.E
    r = 2 * M + K
    F = torch.zeros(r, 2 * d, dtype=world.patterns.dtype, device=world.patterns.device)
    F[:M, :d] = world.patterns
    F[M : M + K, :d] = world.codes
    F[M + K :, d:] = world.patterns
    inp, out, valid = prompts.inp, prompts.out, prompts.valid
    if inp.ndim == 2:  # shared by every model
        inp, out, valid, k = (t.expand(E, *t.shape) for t in (inp, out, valid, prompts.k))
    else:
        k = prompts.k
    n, L = inp.shape[1:]
    G = F @ params.W_K.transpose(1, 2) @ params.W_Q @ F.T  # (E, r, r); column b scores a query made of row b
    Gt = G.transpose(1, 2)
    q_in = inp[..., -1:].expand(E, n, r)
    q_code = (M + k - 1)[..., None].expand(E, n, r)
    row = Gt.gather(1, q_in) + Gt.gather(1, q_code)  # (E, n, r): F W_K^T W_Q p~_query
    ctx_in = inp[..., :-1]
    has_out = out[..., :-1] >= 0
    ctx_out = torch.where(has_out, M + K + out[..., :-1], 0)
    # Context column i carries the code c_{i mod K}: its code score and its share of the
    # attention per code are a tiling and a strided sum (no gather or scatter needed).
    Lc, reps = L - 1, -(-(L - 1) // K)
    code_scores = row[..., M : M + K].repeat(1, 1, reps)[..., :Lc]
    scores = row.gather(-1, ctx_in) + code_scores + row.gather(-1, ctx_out) * has_out
    scores = scores.masked_fill(~valid[..., :-1], float("-inf"))
    if mult is not None:  # column i repeated mult_i times: exp(score_i) mult_i = exp(score_i + log mult_i)
        scores = scores + mult[..., :-1].log()
    attn = torch.softmax(scores, dim=-1)
    per_code = torch.nn.functional.pad(attn, (0, reps * K - Lc)).view(E, n, reps, K).sum(2)
    c_bar = (
        attn.new_zeros(E, n, r).scatter_add(-1, ctx_in, attn).scatter_add(-1, ctx_out, attn * has_out)
    ) + torch.nn.functional.pad(per_code, (M, r - M - K))
    H = params.W_V @ F.T  # (E, d, r)
    result = torch.bmm(c_bar, H.transpose(1, 2))
    return (result, attn) if return_attention else result
