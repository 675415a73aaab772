"""Measurements of a trained (or training) Eq. 7 ensemble, as chapter 1 plots them.

* :func:`classification_error` -- the generalization error of Theorems 1-3;
* :func:`attention_concentration` -- Proposition 1 / figure A-9: attention mass
  on context columns that share the query's relevant pattern;
* :func:`attention_magnitudes` -- figure A-8: norms of W_Q p_query and W_K p_i
  and their components along the query's relevant pattern;
* :func:`wov_embeddings` -- Proposition 2 / figures A-10, A-11: angle and
  magnitude of the feature and label parts of the rows of W_O W_V against
  mu_bar and q.

All functions take ensembles (leading axis E) and return one value per member.
"""

from __future__ import annotations

import torch

from ..core.checks import check_instance, check_same_shape, check_tensor
from .data import PromptIndices
from .model import Params, attention, forward

__all__ = [
    "classification_error",
    "attention_concentration",
    "ATTN_TOL",
    "uniform_pattern_share",
    "attention_magnitudes",
    "wov_embeddings",
    "probe_all",
    "attention",
]


def classification_error(out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Fraction of prompts with sign(F) != z; shape (E,).

    F = 0 counts as an error, and so does a non-finite F (NaN or +-inf, the output
    of a diverged model): only a finite output of the right sign is right.
    """
    check_same_shape("z", z, out)
    right = (out * z > 0) & torch.isfinite(out)
    return (~right).float().mean(-1)


#: Proposition 1 sends the attention on the columns without the query's pattern to 0; the chapters'
#: claims allow it this much (a stated tolerance, not the theorem's: those columns carry random
#: labels, and 5 % of the attention on them cannot outweigh the same-pattern labels).
ATTN_TOL = 0.05


def uniform_pattern_share(alpha: float, l: int) -> float:
    """The attention uniform weights put on the columns with the query's pattern: the query
    itself and, on average, alpha / 2 of the l context columns, out of l + 1 columns."""
    return (alpha / 2 * l + 1) / (l + 1)


def attention_concentration(attn: torch.Tensor, idx: PromptIndices) -> dict:
    """Summed attention on same-pattern contexts, on other contexts, on the query.

    ``attn`` (E, n, l + 1); ``idx.pattern`` (E, n, l + 1).  "Same pattern"
    means a context column whose relevant pattern is the query's.  Returns
    means over prompts, each of shape (E,); the three sum to 1.
    """
    check_tensor("attn", attn)
    check_instance("idx", idx, PromptIndices)
    if tuple(attn.shape) != tuple(idx.pattern.shape):
        raise ValueError(
            f"parameter 'attn' has shape {tuple(attn.shape)}: allowed the prompts' shape {tuple(idx.pattern.shape)}"
        )
    same = (idx.pattern[..., :-1] == idx.pattern[..., -1:]).float()
    ctx = attn[..., :-1]
    a_same = (ctx * same).sum(-1)
    a_query = attn[..., -1]
    return {
        "attn_same": a_same.mean(-1),
        "attn_other": (1 - a_same - a_query).mean(-1),
        "attn_query": a_query.mean(-1),
    }


def attention_magnitudes(params: Params, P: torch.Tensor, idx: PromptIndices, mu: torch.Tensor) -> dict:
    """Figure A-8: ||W_Q p_query||, ||W_K p_i|| and their components along the query's pattern.

    The component of a vector w along pattern mu_j is w . [mu_j; 0] (mu_j is
    a unit vector).  For W_K p_i the average runs over context columns with the
    query's pattern.  ``mu`` (E, M1, d_X) holds each member's relevant patterns.
    Returns means over prompts, each of shape (E,).
    """
    check_instance("params", params, Params)
    check_tensor("P", P)
    check_instance("idx", idx, PromptIndices)
    check_tensor("mu", mu)
    if P.ndim != 4 or tuple(P.shape[:3]) != tuple(idx.pattern.shape):
        raise ValueError(
            f"parameter 'P' has shape {tuple(P.shape)}: allowed (E, n, l + 1, d) over the prompts "
            f"{tuple(idx.pattern.shape)}"
        )
    E, n, L, d = P.shape
    d_X = mu.shape[-1]
    if mu.ndim != 3 or mu.shape[0] != E or d_X >= d:
        raise ValueError(f"parameter 'mu' has shape {tuple(mu.shape)}: allowed (E = {E}, M1, d_X) with d_X < d = {d}")
    e = torch.arange(E, device=P.device).view(E, 1)
    mu_q = mu[e, idx.pattern[..., -1]]  # (E, n, d_X)
    qv = torch.einsum("eij,enj->eni", params.W_Q, P[..., -1, :])
    kv = torch.einsum("eij,enlj->enli", params.W_K, P[..., :-1, :])
    same = (idx.pattern[..., :-1] == idx.pattern[..., -1:]).float()
    count = same.sum(-1).clamp(min=1)
    k_norm = (kv.norm(dim=-1) * same).sum(-1) / count
    k_along = (torch.einsum("enli,eni->enl", kv[..., :d_X], mu_q) * same).sum(-1) / count
    has = (same.sum(-1) > 0).float()
    denom = has.sum(-1).clamp(min=1)
    return {
        "q_norm": qv.norm(dim=-1).mean(-1),
        "q_along": (qv[..., :d_X] * mu_q).sum(-1).mean(-1),
        "k_norm": (k_norm * has).sum(-1) / denom,
        "k_along": (k_along * has).sum(-1) / denom,
    }


def _angle_deg(w: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    cos = (w * ref).sum(-1) / (w.norm(dim=-1) * ref.norm(dim=-1)).clamp(min=1e-30)
    return torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0)))


def wov_embeddings(params: Params, mu_bar: torch.Tensor, q: torch.Tensor) -> dict:
    """Proposition 2 / A-10, A-11: rows of W_O W_V split into feature and label parts.

    ``mu_bar`` (E, d_X) the average relevant pattern, ``q`` (E, d_Y) the label
    embedding.  Returns, per member and neuron (shape (E, m)), the angle in
    degrees of the feature part to mu_bar and its norm, and the angle of the
    label part to q and its norm.  Proposition 2 predicts feature angles
    near 0, and label angles near 0 for a_i > 0 and near 180 for a_i < 0.
    """
    check_instance("params", params, Params)
    check_tensor("mu_bar", mu_bar)
    check_tensor("q", q)
    E, d = params.W_V.shape[0], params.W_V.shape[-1]
    if mu_bar.ndim != 2 or q.ndim != 2 or mu_bar.shape[0] != E or q.shape[0] != E or mu_bar.shape[1] + q.shape[1] != d:
        raise ValueError(
            f"parameters 'mu_bar' and 'q' have shapes {tuple(mu_bar.shape)} and {tuple(q.shape)}: "
            f"allowed (E = {E}, d_X) and (E, d_Y) with d_X + d_Y = d = {d}"
        )
    d_X = mu_bar.shape[-1]
    WOV = torch.bmm(params.W_O, params.W_V)
    feat, lab = WOV[..., :d_X], WOV[..., d_X:]
    return {
        "feat_angle": _angle_deg(feat, mu_bar[:, None, :]),
        "feat_norm": feat.norm(dim=-1),
        "label_angle": _angle_deg(lab, q[:, None, :]),
        "label_norm": lab.norm(dim=-1),
    }


@torch.no_grad()
def probe_all(params: Params, P: torch.Tensor, idx: PromptIndices, mu: torch.Tensor) -> dict:
    """Error, hinge loss, attention concentration and magnitudes on one prompt set."""
    out, attn = forward(params, P, return_attention=True)
    z = idx.label[..., -1]
    res = {"err": classification_error(out, z), "loss": torch.clamp(1 - z * out, min=0).mean(-1)}
    res.update(attention_concentration(attn, idx))
    res.update(attention_magnitudes(params, P, idx, mu))
    return res
