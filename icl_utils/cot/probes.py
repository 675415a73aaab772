"""Attention by category of trained Eq. 11 models (Figure B-20 of [LLCCW25]): the query's attention
on (same pattern, same step), (other pattern, same step), (same pattern, other step) and
(other, other) context columns.
"""

from __future__ import annotations

import torch

from .data import CoTPrompts
from .inference import _check_K

__all__ = ["CATEGORIES", "attention_by_category"]

CATEGORIES = ("same pattern, same step", "other pattern, same step", "same pattern, other step", "other, other")


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
    col_step = torch.arange(L - 1, device=attn.device) % K  # code index of every non-query column
    same_step = col_step == (prompts.k[..., None] - 1)
    same_pat = prompts.inp[..., :-1] == prompts.inp[..., -1:]
    cats = [same_pat & same_step, ~same_pat & same_step, same_pat & ~same_step, ~same_pat & ~same_step]
    valid = prompts.valid[..., :-1]
    return torch.stack([(attn * (c & valid)).sum(-1) for c in cats], dim=-1)
