"""The one-layer transformer of Eq. 7 ([LWLCC24]), for an ensemble of E models at once.

    F(Psi; P) = a^T ReLU( W_O sum_{i=1}^{l+1} W_V p_i attn_i ),
    attn_i    = softmax_i( (W_K p_i)^T W_Q p_query ).

Every weight carries a leading ensemble axis E: ``W_Q``, ``W_K``, ``W_V``
(E, d, d), ``W_O`` (E, m, d), ``a`` (E, m).  Prompts are tensors of shape
(E, n, l + 1, d) whose rows are the columns p_i of Eq. 6, query last.

:func:`forward` is the fast form: the scores only need the vector
W_K^T W_Q p_query, and the value path only needs W_V applied to the
attention-weighted column sum_i attn_i p_i, so no prompt column is ever
projected by W_K or W_V.  :func:`forward_literal` computes Eq. 7 as written
(every column projected by W_K and W_V); the tests prove both are the same
function with the same gradients.  Chapter 1 explains the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.checks import (
    check_float,
    check_generators,
    check_instance,
    check_int,
    check_memory,
    check_same_shape,
    check_tensor,
)
from ..core.device import get_device
from ..core.tensors import Weights
from .data import PromptIndices, World

__all__ = ["Params", "init_params", "forward", "forward_indexed", "forward_literal", "attention", "hinge_loss"]


@dataclass
class Params(Weights):
    """Weights of an ensemble of Eq. 7 models: W_Q, W_K, W_V (E, d, d), W_O (E, m, d) and the
    fixed read-out a (E, m) of +-1/m (not trained)."""

    W_Q: torch.Tensor
    W_K: torch.Tensor
    W_V: torch.Tensor
    W_O: torch.Tensor
    a: torch.Tensor

    TRAINED = ("W_Q", "W_K", "W_V", "W_O")

    @property
    def m(self) -> int:
        return self.W_O.shape[1]


def init_params(d: int, m: int, qkv_init: float, o_init_std: float, generators, device=None) -> Params:
    """Our initialization (the paper publishes none): W_Q = W_K = W_V = qkv_init * I,
    W_O ~ N(0, o_init_std^2) (one generator per member), a = (+1/m, ..., -1/m)
    (first half +1/m, second half -1/m).  ``generators``: a non-empty list of
    ``torch.Generator``, one per ensemble member; ``device``: see
    :func:`icl_utils.core.device.get_device` (None: the CPU)."""
    check_int("d", d, 1, allowed="integers >= 1")
    check_int("m", m, 2, allowed="integers >= 2 (at least one neuron with a_i = +1/m and one with -1/m)")
    check_float("qkv_init", qkv_init, 0.0)
    check_float("o_init_std", o_init_std, 0.0)
    generators = check_generators(generators)
    check_memory(
        [("d", d, 8 * len(generators) * 3 * 3 * d * d), ("m", m, 8 * len(generators) * 3 * m * d)], "the weights"
    )
    if device is not None:
        device = get_device(device)
    E = len(generators)
    eye = torch.eye(d).expand(E, d, d)
    W_O = torch.stack([torch.randn(m, d, generator=g) for g in generators]) * o_init_std
    a = torch.cat([torch.full((m // 2,), 1.0 / m), torch.full((m - m // 2,), -1.0 / m)])
    p = Params(
        W_Q=(qkv_init * eye).clone(),
        W_K=(qkv_init * eye).clone(),
        W_V=(qkv_init * eye).clone(),
        W_O=W_O,
        a=a.expand(E, m).clone(),
    )
    return p.to(device) if device is not None else p


def attention(params: Params, P: torch.Tensor) -> torch.Tensor:
    """attn_i of Eq. 7, shape (E, n, l + 1), via v = W_K^T W_Q p_query."""
    _check_prompts(params, P)
    pq = P[..., -1, :]  # (E, n, d)
    u = torch.einsum("eij,enj->eni", params.W_Q, pq)  # W_Q p_query
    v = torch.einsum("eij,eni->enj", params.W_K, u)  # W_K^T W_Q p_query
    scores = torch.einsum("enld,end->enl", P, v)
    return torch.softmax(scores, dim=-1)


def _check_prompts(params, P) -> None:
    """``P`` must be a (E, n, l + 1, d) prompt tensor for the ensemble ``params``."""
    check_instance("params", params, Params)
    E, d = params.W_Q.shape[0], params.W_Q.shape[-1]
    if not isinstance(P, torch.Tensor) or P.ndim != 4 or P.shape[0] != E or P.shape[-1] != d:
        shape = tuple(P.shape) if isinstance(P, torch.Tensor) else type(P).__name__
        raise ValueError(f"parameter 'P' has shape {shape}: allowed (E = {E}, n, l + 1, d = {d})")


def forward(params: Params, P: torch.Tensor, return_attention: bool = False):
    """Eq. 7, fast form.  ``P`` (E, n, l + 1, d) -> outputs (E, n)."""
    attn = attention(params, P)
    pbar = torch.einsum("enl,enld->end", attn, P)  # sum_i attn_i p_i
    out = _mlp(params, pbar)
    return (out, attn) if return_attention else out


def _mlp(params: Params, pbar: torch.Tensor) -> torch.Tensor:
    """a^T ReLU(W_O W_V pbar) for pbar (E, n, d)."""
    WOV = torch.bmm(params.W_O, params.W_V)  # (E, m, d)
    h = torch.einsum("end,emd->enm", pbar, WOV)
    return torch.einsum("enm,em->en", torch.relu(h), params.a)


class _Readout(torch.autograd.Function):
    """sum_i a_i relu(h)_i (the output layer of Eq. 7) with a cheap backward.

    The forward is the batched product einsum("enm,em->en") itself; its gradient
    with respect to relu(h) is the outer product g a^T, which autograd computes as a
    batched matrix product with an inner dimension of 1 -- one of the slowest kernels
    of a training step.  Each entry is the single product g_n a_m either way, so the
    elementwise form here gives bit-identical gradients (tests/test_model.py).  The
    output weights a are fixed (not trained) and get no gradient.
    """

    @staticmethod
    def forward(ctx, r, a):
        ctx.save_for_backward(a)
        return torch.einsum("enm,em->en", r, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g[..., None] * a[:, None, :], None


def readout(r: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Eq. 7's output sum_i a_i r_i for r = relu(h) (E, n, m) and fixed a (E, m)."""
    return _Readout.apply(r, a)


def forward_indexed(params: Params, world: World, idx: PromptIndices, return_attention: bool = False):
    """Eq. 7 on prompts given as indices (:class:`icl_utils.incontext.data.PromptIndices`), never building P.

    The same function as ``forward(params, embed(world, idx))``
    for noise-free prompts, computed in the basis of the patterns.  Every
    column is p_i = F^T c_i with F the rows [mu_j; 0], [nu_k; 0], [0; q]
    (r = M1 + M2 + 1 of them) and c_i = e_j + kappa e_{M1+k} + y_i e_r.  So

    * the scores are (W_K p_i)^T W_Q p_query = c_i^T (F W_K^T W_Q F^T) c_query:
      gathers from one r x r table per model;
    * the attention-weighted column is F^T c_bar with c_bar = sum_i attn_i c_i
      (a scatter-add of the attention per pattern);
    * the perceptron's input is W_O W_V F^T c_bar: one r-to-m map per model.

    Every per-prompt tensor has shape (E, n, l + 1), (E, n, r) or (E, n, m),
    never (E, n, l + 1, d): this is what makes the ensemble trainer fast.
    ``world`` is a stacked World (:class:`icl_utils.incontext.data.World`), one per member.
    """
    check_instance("params", params, Params)
    check_instance("world", world, World)
    check_instance("idx", idx, PromptIndices)
    mu, nu, q, kappa = world.mu, world.nu, world.q, world.kappa
    check_tensor("world.mu", mu)
    if mu.ndim != 3:
        raise ValueError(f"parameter 'world' holds patterns of shape {tuple(mu.shape)}: allowed a stacked World")
    for name, t in (("world.nu", nu), ("world.q", q), ("world.kappa", kappa)):
        check_tensor(name, t)
    E, n, L = idx.pattern.shape
    M1, M2, d_X = mu.shape[1], nu.shape[1], mu.shape[2]
    r = M1 + M2 + 1
    F = torch.zeros(E, r, d_X + q.shape[-1], dtype=mu.dtype, device=mu.device)
    F[:, :M1, :d_X] = mu
    F[:, M1 : M1 + M2, :d_X] = nu
    F[:, -1, d_X:] = q
    k = kappa.view(E, 1, 1)
    # G[e, a, b] = F_a^T W_K^T W_Q F_b; column b of G scores a query made of row b.
    G = F @ params.W_K.transpose(1, 2) @ params.W_Q @ F.transpose(1, 2)  # (E, r, r)
    Gt = G.transpose(1, 2)
    jq = idx.pattern[..., -1:].expand(E, n, r)
    kq = idx.irrelevant[..., -1:].expand(E, n, r) + M1
    row = Gt.gather(1, jq) + k * Gt.gather(1, kq)  # (E, n, r): F W_K^T W_Q p_query
    pat, irr = idx.pattern, idx.irrelevant + M1
    lab = torch.cat([idx.label[..., :-1], torch.zeros_like(idx.label[..., -1:])], dim=-1)  # query's y = 0
    scores = row.gather(-1, pat) + k * row.gather(-1, irr) + lab * row[..., -1:]
    attn = torch.softmax(scores, dim=-1)
    c_bar = torch.zeros_like(row).scatter_add(-1, pat, attn).scatter_add(-1, irr, k * attn)
    c_bar = torch.cat([c_bar[..., :-1], (attn * lab).sum(-1, keepdim=True)], dim=-1)
    H = params.W_O @ params.W_V @ F.transpose(1, 2)  # (E, m, r)
    h = torch.bmm(c_bar, H.transpose(1, 2))  # (E, n, m)
    out = readout(torch.relu(h), params.a)
    return (out, attn) if return_attention else out


def forward_literal(params: Params, P: torch.Tensor) -> torch.Tensor:
    """Eq. 7 exactly as written: every column p_i is projected by W_K and W_V.

    The reference the fast form is tested against, and the "plain research
    script" the benchmark compares with.
    """
    _check_prompts(params, P)
    cols = P.transpose(-1, -2)  # (E, n, d, l+1): the prompt matrix of Eq. 6
    K = params.W_K[:, None] @ cols  # W_K p_i for every column
    V = params.W_V[:, None] @ cols  # W_V p_i for every column
    Qq = params.W_Q[:, None] @ cols[..., -1:]  # W_Q p_query, (E, n, d, 1)
    scores = (K * Qq).sum(-2)  # (W_K p_i)^T W_Q p_query
    attn = torch.softmax(scores, dim=-1)
    head = (V * attn[..., None, :]).sum(-1)  # sum_i W_V p_i attn_i
    h = (params.W_O[:, None] @ head[..., None]).squeeze(-1)  # (E, n, m)
    return (torch.relu(h) * params.a[:, None, :]).sum(-1)


def hinge_loss(out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Eq. 8's per-prompt loss max(0, 1 - z F), averaged over prompts: shape (E,)."""
    if not isinstance(out, torch.Tensor) or not isinstance(z, torch.Tensor) or z.shape != out.shape:
        check_same_shape("z", z, out)
    return torch.clamp(1.0 - z * out, min=0.0).mean(-1)
