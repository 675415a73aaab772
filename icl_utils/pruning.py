"""Pruning the neurons of the trained perceptron (Theorem 3 of [LWLCC24], chapter 3).

Neuron i of Eq. 7 is row i of W_O with its output weight a_i; its magnitude is
the norm of that row.  Pruning a neuron deletes the row and a_i, so the pruned
model is a *smaller* model (m' < m rows), not a masked one -- it really costs
less at inference.  Every function works on an ensemble: each member loses
the same number of neurons (its own choice of rows), so the result is again
an ensemble of equal shapes.
"""

from __future__ import annotations

import math

import torch

from .config import check_float, check_instance, check_int
from .model import Params

__all__ = [
    "neuron_magnitudes",
    "n_pruned",
    "prune_rows",
    "prune_by_magnitude",
    "prune_random",
    "prune_largest",
    "mask_neurons",
]


def neuron_magnitudes(params: Params) -> torch.Tensor:
    """Norm of every row of W_O, shape (E, m)."""
    check_instance("params", params, Params)
    return params.W_O.norm(dim=-1)


def n_pruned(m: int, rate: float) -> int:
    """How many of ``m`` neurons a pruning ``rate`` removes: round(rate * m).

    ``rate`` must lie in [0, 1) and leave at least one neuron.
    """
    check_int("m", m, 1, allowed="integers >= 1")
    rate = check_float("rate", rate, 0.0, 1.0, hi_open=True)
    k = math.floor(rate * m + 0.5)
    if k >= m:
        raise ValueError(f"parameter 'rate' = {rate!r} is invalid: it would remove all {m} neurons")
    return k


def _check_remove(params, remove) -> None:
    """``remove`` must be an integer (E, k) tensor of row indices in [0, m)."""
    check_instance("params", params, Params)
    E, m = params.a.shape
    if not isinstance(remove, torch.Tensor) or remove.ndim != 2 or remove.shape[0] != E or remove.is_floating_point():
        shape = tuple(remove.shape) if isinstance(remove, torch.Tensor) else type(remove).__name__
        raise ValueError(f"parameter 'remove' has shape {shape}: allowed an integer (E = {E}, k) tensor of neurons")
    if remove.numel() and (int(remove.min()) < 0 or int(remove.max()) >= m):
        raise ValueError(f"parameter 'remove' holds neurons outside [0, m = {m})")


def prune_rows(params: Params, remove: torch.Tensor) -> Params:
    """Delete the neurons ``remove`` (E, k) (row indices per member) from every member."""
    _check_remove(params, remove)
    E, m = params.a.shape
    keep = torch.ones(E, m, dtype=torch.bool, device=params.a.device)
    if remove.numel():
        keep.scatter_(1, remove.to(params.a.device), False)
    m_new = int(keep[0].sum())
    if not bool((keep.sum(1) == m_new).all()):
        raise ValueError("parameter 'remove': every member must lose the same number of distinct neurons")
    return Params(
        W_Q=params.W_Q,
        W_K=params.W_K,
        W_V=params.W_V,
        W_O=params.W_O[keep].view(E, m_new, -1),
        a=params.a[keep].view(E, m_new),
    )


def prune_by_magnitude(params: Params, rate: float) -> Params:
    """Theorem 3's pruning: remove the fraction ``rate`` of neurons with the smallest W_O row norm."""
    check_instance("params", params, Params)
    k = n_pruned(params.m, rate)
    order = torch.argsort(neuron_magnitudes(params), dim=1, stable=True)
    return prune_rows(params, order[:, :k])


def prune_largest(params: Params, rate: float) -> Params:
    """Remove the fraction ``rate`` of neurons with the *largest* W_O row norm (Theorem 3's Omega(R) part)."""
    check_instance("params", params, Params)
    k = n_pruned(params.m, rate)
    order = torch.argsort(neuron_magnitudes(params), dim=1, descending=True, stable=True)
    return prune_rows(params, order[:, :k])


def prune_random(params: Params, rate: float, seed: int) -> Params:
    """Remove the fraction ``rate`` of neurons chosen uniformly at random (reproducible by ``seed``)."""
    check_instance("params", params, Params)
    k = n_pruned(params.m, rate)
    seed = check_int("seed", seed, 0, allowed="integers >= 0")
    g = torch.Generator().manual_seed(seed)
    rows = torch.stack([torch.randperm(params.m, generator=g)[:k] for _ in range(params.E)])
    return prune_rows(params, rows)


def mask_neurons(params: Params, remove: torch.Tensor) -> Params:
    """The same pruning as :func:`prune_rows`, done by zeroing rows of W_O and entries of a
    (the model keeps its size).  Used by the tests: both must compute the same function."""
    _check_remove(params, remove)
    keep = torch.ones_like(params.a, dtype=torch.bool)
    if remove.numel():
        keep.scatter_(1, remove.to(keep.device), False)
    return Params(
        W_Q=params.W_Q,
        W_K=params.W_K,
        W_V=params.W_V,
        W_O=params.W_O * keep[..., None],
        a=params.a * keep,
    )
