"""The two-layer transformer of Part III ([BHH+24]; chapter 6): one softmax self-attention layer
read at the query, then a ReLU MLP with a fixed read-out, for an ensemble of models at once.

    f(Psi; P) = sum_r a_r ReLU( <w_r, sum_{i=1}^{L+1} attn_i p_i> )
    attn_i    = softmax_i( (W_K p_i)^T W_Q p_query )

Psi = {W_Q, W_K, W_O}; the rows of W_O are the neurons w_r, a is fixed at +-1/m (half each), as
a is in Eq. 7 of [LWLCC24].  There is no separate W_V: a value matrix would only multiply W_O
(the product W_O W_V is what Proposition 2 of [LWLCC24] is about), so it is folded into W_O.  The
sum runs over the demonstrations and the query.  :func:`forward` computes the scores as
p_i^T (W_K^T W_Q p_query) -- two matrix-vector products per prompt, not one per token -- and
:func:`forward_literal` is the same function written token by token, prompt by prompt, for the
tests.  The loss is the logistic (binary cross-entropy) loss log(1 + exp(-z f)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..core.checks import check_float, check_generators, check_int, check_tensor
from ..core.tensors import Weights

__all__ = ["ConceptParams", "init_params", "forward", "forward_literal", "logistic_loss", "error"]


@dataclass
class ConceptParams(Weights):
    """An ensemble's weights: ``W_Q``, ``W_K`` (E, D, D), ``W_O`` (E, m, D), ``a`` (E, m); D = 2d."""

    W_Q: torch.Tensor
    W_K: torch.Tensor
    W_O: torch.Tensor
    a: torch.Tensor

    TRAINED = ("W_Q", "W_K", "W_O")


def init_params(D: int, m: int, attn_init: float, w_std: float, generators) -> ConceptParams:
    """One model per generator: W_Q = W_K = ``attn_init`` I (the "good initialization" of the
    attention), W_O ~ N(0, ``w_std``^2), a = (+1/m, ..., -1/m, ...)."""
    D = check_int("D", D, 1, allowed="integers >= 1")
    m = check_int("m", m, 2, allowed="even integers >= 2")
    attn_init = check_float("attn_init", attn_init, 0.0)
    w_std = check_float("w_std", w_std, 0.0)
    gens = check_generators(generators)
    E = len(gens)
    eye = torch.eye(D).expand(E, D, D) * attn_init
    W_O = torch.stack([torch.randn(m, D, generator=g) for g in gens]) * w_std
    a = torch.cat([torch.full((m // 2,), 1.0 / m), torch.full((m - m // 2,), -1.0 / m)]).expand(E, m)
    return ConceptParams(eye.clone(), eye.clone(), W_O, a.clone())


def forward(params: ConceptParams, P: torch.Tensor, return_attention: bool = False):
    """f for every member and prompt: ``P`` (E, n, L + 1, D) with the query last -> (E, n)
    (and the attention (E, n, L + 1) with ``return_attention``)."""
    check_tensor("P", P, 4)
    q = P[:, :, -1, :]  # (E, n, D) the query tokens
    kq = (q @ params.W_Q.transpose(1, 2)) @ params.W_K  # rows: (W_K^T W_Q p_q)^T
    scores = torch.einsum("enld,end->enl", P, kq)  # (W_K p_i)^T W_Q p_q
    attn = torch.softmax(scores, -1)
    u = torch.einsum("enl,enld->end", attn, P)  # sum_i attn_i p_i
    h = F.relu(u @ params.W_O.transpose(1, 2))  # ReLU(<w_r, u>)
    out = h @ params.a[:, :, None]  # sum_r a_r ReLU(...)
    out = out[..., 0]
    return (out, attn) if return_attention else out


def forward_literal(params: ConceptParams, P: torch.Tensor, return_attention: bool = False):
    """:func:`forward` as written above, token by token and neuron by neuron (slow; for tests)."""
    check_tensor("P", P, 4)
    E, n, W, _ = P.shape
    out = torch.zeros(E, n, dtype=P.dtype)
    attn = torch.zeros(E, n, W, dtype=P.dtype)
    for e in range(E):
        W_Q, W_K, W_O, a = params.W_Q[e], params.W_K[e], params.W_O[e], params.a[e]
        for j in range(n):
            p_q = P[e, j, -1]
            scores = torch.stack([(W_K @ P[e, j, i]) @ (W_Q @ p_q) for i in range(W)])
            weights = torch.exp(scores - scores.max())
            weights = weights / weights.sum()
            u = sum(weights[i] * P[e, j, i] for i in range(W))
            out[e, j] = sum(a[r] * torch.clamp(W_O[r] @ u, min=0) for r in range(W_O.shape[0]))
            attn[e, j] = weights
    return (out, attn) if return_attention else out


def logistic_loss(out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """The logistic (binary cross-entropy) loss log(1 + exp(-z f)), averaged over the last axis."""
    return F.softplus(-z * out).mean(-1)


def error(out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """The 0-1 error: the fraction of prompts whose sign of f is not z (f = 0 counts as wrong)."""
    return (z * out <= 0).double().mean(-1)
