"""Pruning the neurons of the trained perceptron (Theorem 3 of [LWLCC24], chapter 3).

Neuron i of Eq. 7 is row i of W_O with its output weight a_i; its magnitude is
the norm of that row.  Pruning a neuron deletes the row and a_i, so the pruned
model is a *smaller* model (m' < m rows), not a masked one -- it really costs
less at inference.  Every function works on an ensemble: each member loses
the same number of neurons (its own choice of rows), so the result is again
an ensemble of equal shapes.

Measuring many prunings of the same models (A-14, A-15, the Omega(R) sweep)
does not need a forward pass per pruning: F = sum_i a_i ReLU(h_i) is a sum
over neurons and removing neurons only drops terms, while the attention
(everything before the perceptron) is untouched.  :func:`neuron_outputs`
computes the terms a_i ReLU(h_i) once per prompt; :func:`pruned_metrics`
scores any removal mask from them (tests check it against the pruned models).

* which neurons: :func:`neuron_magnitudes`, :func:`init_norm`,
  :func:`grown_neurons` (the large group: grown beyond the initialization scale),
  :func:`removal_mask` (smallest / largest / random first, a rate of all neurons),
  :func:`large_fraction_mask` (a fraction R of the large neurons of each sign);
* the pruned models: :func:`prune_rows`, :func:`prune_by_magnitude`,
  :func:`prune_largest`, :func:`prune_random`, :func:`mask_neurons`;
* their outputs: :func:`neuron_outputs`, :func:`pruned_metrics`, :func:`sweep`;
* their cost: :func:`cost_table` (FLOPs and measured time of pruned models).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..core.checks import check_float, check_instance, check_int, check_tensor
from .data import embed
from .model import Params, attention, forward

__all__ = [
    "neuron_magnitudes",
    "input_noise",
    "init_norm",
    "grown_neurons",
    "removal_mask",
    "large_fraction_mask",
    "one_sign_mask",
    "neuron_outputs",
    "pruned_metrics",
    "sweep",
    "cost_table",
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
    if (
        not isinstance(remove, torch.Tensor)
        or remove.ndim != 2
        or remove.shape[0] != E
        or remove.is_floating_point()
        or remove.dtype == torch.bool
    ):
        shape = tuple(remove.shape) if isinstance(remove, torch.Tensor) else type(remove).__name__
        raise ValueError(f"parameter 'remove' has shape {shape}: allowed an integer (E = {E}, k) tensor of neurons")
    if remove.numel() and (int(remove.min()) < 0 or int(remove.max()) >= m):
        raise ValueError(f"parameter 'remove' holds neurons outside [0, m = {m})")
    if remove.numel() and bool((remove.sort(-1).values.diff(dim=-1) == 0).any()):
        raise ValueError("parameter 'remove' names a neuron twice in one member: allowed distinct neurons")


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


def _rows(params: Params, rate: float, method: str, seed: int = 0) -> torch.Tensor:
    """Row indices (E, k) that pruning at ``rate`` removes from every member, by ``method``."""
    check_instance("params", params, Params)
    k = n_pruned(params.m, rate)
    if method == "magnitude":
        return torch.argsort(neuron_magnitudes(params), dim=1, stable=True)[:, :k]
    if method == "largest":
        return torch.argsort(neuron_magnitudes(params), dim=1, descending=True, stable=True)[:, :k]
    if method == "random":
        check_int("seed", seed, 0, allowed="integers >= 0")
        g = torch.Generator().manual_seed(seed)
        return torch.stack([torch.randperm(params.m, generator=g)[:k] for _ in range(params.E)]).to(params.a.device)
    raise ValueError(f"parameter 'method' = {method!r} is invalid: allowed 'magnitude', 'largest' or 'random'")


def prune_by_magnitude(params: Params, rate: float) -> Params:
    """Theorem 3's pruning: remove the fraction ``rate`` of neurons with the smallest W_O row norm."""
    return prune_rows(params, _rows(params, rate, "magnitude"))


def prune_largest(params: Params, rate: float) -> Params:
    """Remove the fraction ``rate`` of neurons with the *largest* W_O row norm (Theorem 3's Omega(R) part)."""
    return prune_rows(params, _rows(params, rate, "largest"))


def prune_random(params: Params, rate: float, seed: int) -> Params:
    """Remove the fraction ``rate`` of neurons chosen uniformly at random (reproducible by ``seed``)."""
    return prune_rows(params, _rows(params, rate, "random", seed))


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


# Which neurons are large (Theorem 3), and which a pruning removes, as masks.


def init_norm(o_init_std: float, d: int) -> float:
    """Expected norm of an untrained row of W_O ~ N(0, o_init_std^2 I_d):
    o_init_std sqrt(2) Gamma((d + 1) / 2) / Gamma(d / 2), about o_init_std sqrt(d)."""
    o_init_std = check_float("o_init_std", o_init_std, 0.0, lo_open=True, allowed="finite numbers > 0")
    check_int("d", d, 1, allowed="integers >= 1")
    return o_init_std * math.sqrt(2.0) * math.exp(math.lgamma((d + 1) / 2) - math.lgamma(d / 2))


def grown_neurons(params: Params, o_init_std: float, factor: float = 2.0) -> torch.Tensor:
    """Theorem 3's large group, (E, m) booleans: the neurons whose W_O row norm exceeds
    ``factor`` times :func:`init_norm` (the others kept the scale of their initialization).

    An untrained row's norm has a standard deviation of about o_init_std / sqrt(2),
    so at d = 24 twice the expected norm lies about seven standard deviations above it.
    """
    factor = check_float("factor", factor, 1.0, lo_open=True, allowed="finite numbers > 1")
    return neuron_magnitudes(params) > factor * init_norm(o_init_std, params.W_O.shape[-1])


def removal_mask(params: Params, rate: float, method: str = "magnitude", seed: int = 0) -> torch.Tensor:
    """The neurons (E, m booleans) that pruning at ``rate`` removes: the same rows as
    :func:`prune_by_magnitude` (``"magnitude"``), :func:`prune_largest` (``"largest"``)
    or :func:`prune_random` with ``seed`` (``"random"``)."""
    mask = torch.zeros_like(params.a, dtype=torch.bool)
    rows = _rows(params, rate, method, seed)
    if rows.numel():
        mask.scatter_(1, rows, True)
    return mask


def large_fraction_mask(params: Params, large: torch.Tensor, R: float) -> tuple[torch.Tensor, np.ndarray]:
    """Remove a fraction ``R`` of the large neurons (``large``, E x m booleans) of every model,
    the same fraction of each sign of a_i, largest first within a sign (Theorem 3's Omega(R) part).

    Each sign group of n neurons loses ceil(R n) of them.  Returns the removal mask
    (E, m) and the fraction of each model's large neurons actually removed (E,).
    """
    R = check_float("R", R, 0.0, 1.0)
    large = torch.as_tensor(large, dtype=torch.bool, device=params.a.device)
    if large.shape != params.a.shape:
        raise ValueError(f"parameter 'large' has shape {tuple(large.shape)}: allowed {tuple(params.a.shape)}")
    mags = neuron_magnitudes(params)
    mask = torch.zeros_like(large)
    for e in range(params.E):
        for sign in (1.0, -1.0):
            group = torch.nonzero(large[e] & (torch.sign(params.a[e]) == sign)).flatten()
            k = math.ceil(R * group.numel() - 1e-9)
            order = torch.argsort(mags[e, group], descending=True, stable=True)
            mask[e, group[order[:k]]] = True
    removed = (mask.sum(1) / large.sum(1).clamp(min=1)).cpu().numpy().astype(float)
    return mask, removed


def one_sign_mask(params: Params, large: torch.Tensor, sign: float = 1.0, keep: int = 0) -> torch.Tensor:
    """Remove every large neuron with sign(a_i) = ``sign`` except the ``keep`` smallest of them
    (E x m booleans): the deciding experiment of chapter 3 on what carries the sign of F."""
    check_int("keep", keep, 0, allowed="integers >= 0")
    check_instance("params", params, Params)
    if sign not in (1, -1):
        raise ValueError(f"parameter 'sign' = {sign!r} is invalid: allowed +1 or -1 (the sign of a_i)")
    large = torch.as_tensor(large, device=params.a.device)
    if tuple(large.shape) != tuple(params.a.shape):
        raise ValueError(
            f"parameter 'large' has shape {tuple(large.shape)}: allowed an (E, m) = {tuple(params.a.shape)} "
            "mask of neurons"
        )
    large = large.to(torch.bool)
    mags = neuron_magnitudes(params)
    mask = torch.zeros_like(large)
    for e in range(params.E):
        group = torch.nonzero(large[e] & (torch.sign(params.a[e]) == sign)).flatten()
        order = torch.argsort(mags[e, group], descending=True, stable=True)
        mask[e, group[order[: max(group.numel() - keep, 0)]]] = True
    return mask


# Scoring many prunings of the same models on the same prompts.


def input_noise(batch, noise_std: float, seed: int = 0) -> torch.Tensor | None:
    """Gaussian noise of standard deviation ``noise_std`` for every input x_i of a test
    ``batch`` (every column, the query's included), drawn from ``seed``; None for 0."""
    check_float("noise_std", noise_std, 0.0)
    check_int("seed", seed, 0, allowed="integers >= 0")
    if noise_std == 0:
        return None
    world, idx = batch
    g = torch.Generator().manual_seed(seed)
    shape = (*idx.pattern.shape, world.mu.shape[-1])
    return (torch.randn(shape, generator=g, dtype=world.mu.dtype) * noise_std).to(world.mu.device)


def neuron_outputs(params: Params, batch, noise_std: float = 0.0, seed: int = 0) -> torch.Tensor:
    """Every neuron's term a_i ReLU(h_i) of Eq. 7 on every prompt, shape (E, n, m).

    ``batch`` is a prepared test batch ``(world, idx)``
    (:func:`icl_utils.incontext.experiments.eval_batch`); ``noise_std`` > 0 adds Gaussian
    noise to every input x_i (:func:`input_noise`, drawn from ``seed``).  F is the sum of the
    terms over neurons; a pruned model's F is the sum over the neurons it keeps.  The
    attention is computed once (:func:`icl_utils.incontext.model.attention` on the embedded
    prompts), then h = W_O W_V sum_i attn_i p_i, as in :func:`icl_utils.incontext.model.forward`.
    """
    P = embed(*batch, input_noise(batch, noise_std, seed))
    with torch.no_grad():
        pbar = torch.einsum("enl,enld->end", attention(params, P), P)  # sum_i attn_i p_i
        h = torch.einsum("end,emd->enm", pbar, torch.bmm(params.W_O, params.W_V))  # W_O W_V pbar
        return torch.relu(h) * params.a[:, None, :]  # a_i ReLU(h_i)


def pruned_metrics(terms: torch.Tensor, z: torch.Tensor, remove: torch.Tensor) -> dict:
    """Classification error, hinge loss and mean margin z F of the models without the
    neurons ``remove``, from :func:`neuron_outputs` ``terms`` (E, n, m) and the labels
    ``z`` (E, n).  F = 0 counts as an error.

    ``remove`` holds booleans of shape (E, m) -- the result arrays have shape (E,) -- or
    (D, E, m) for D removals scored at once (one matrix product), giving arrays (D, E).
    """
    check_tensor("terms", terms, 3)
    E, _, m = terms.shape
    remove = torch.as_tensor(remove, device=terms.device)
    if remove.dtype != torch.bool:
        raise ValueError(f"parameter 'remove' has dtype {remove.dtype}: allowed a boolean mask of neurons")
    keep = (~remove).to(terms.dtype)
    if keep.shape[-2:] != (E, m) or keep.ndim not in (2, 3):
        raise ValueError(f"parameter 'remove' has shape {tuple(keep.shape)}: allowed {(E, m)} or (D, {E}, {m})")
    if keep.ndim == 2:  # one removal: a product with inner size 1 is far slower than this
        zF = z * (terms * keep[:, None, :]).sum(-1)
    else:
        zF = z * torch.einsum("enm,dem->den", terms, keep)
    return {
        "err": (zF <= 0).double().mean(-1).cpu().numpy(),
        "loss": torch.clamp(1.0 - zF, min=0.0).mean(-1).cpu().numpy(),
        "margin": zF.mean(-1).cpu().numpy(),
    }


def sweep(terms: torch.Tensor, z: torch.Tensor, params: Params, rates, method: str, n_random: int = 1) -> dict:
    """Error, hinge loss and margin of ``params`` pruned at every rate by ``method``
    (A-14, A-15): arrays of shape (len(rates), E); ``"random"`` averages ``n_random``
    draws (seeds 0, 1, ...).  ``terms`` and ``z`` as in :func:`pruned_metrics`."""
    check_int("n_random", n_random, 1, allowed="integers >= 1")
    draws = n_random if method == "random" else 1
    out = {k: np.zeros((len(rates), params.E)) for k in ("err", "loss", "margin")}
    for i, rate in enumerate(rates):
        masks = torch.stack([removal_mask(params, rate, method, s) for s in range(draws)]).to(terms.device)
        res = pruned_metrics(terms, z, masks if draws > 1 else masks[0])
        for k in out:
            out[k][i] = np.atleast_2d(res[k]).mean(0)
    return out


# The cost side: FLOPs and measured time of pruned models.


def cost_table(params: Params, P: torch.Tensor, rates, repeats: int = 5, n_flop: int = 1000):
    """FLOPs and measured time of one model (``params`` with E = 1) pruned by magnitude at ``rates``.

    FLOPs per prompt: PyTorch's counter on the fast Eq. 7 (:func:`icl_utils.incontext.model.forward`)
    over the first ``n_flop`` prompts of ``P`` (1, n, l + 1, d).  Time: the best of
    ``repeats`` runs of the whole forward pass on ``P`` and of the perceptron alone
    (a^T ReLU(W_O W_V pbar) with W_O W_V fused once, the part pruning shrinks) on
    ten copies of the prompts, the models interleaved so that a slow spell hits all
    alike.  Returns a DataFrame: ``rate``, ``m``, ``kflop``, ``flop_share``,
    ``time_share`` (whole model) and ``mlp_time_share`` (perceptron), shares
    relative to the first rate.
    """
    import pandas as pd
    from torch.utils.flop_counter import FlopCounterMode

    if params.E != 1:
        raise ValueError(f"parameter 'params' holds {params.E} models: allowed one (select it first)")
    check_int("repeats", repeats, 1, allowed="integers >= 1")
    models = [prune_by_magnitude(params, r) for r in rates]
    flops = []
    for model in models:
        with FlopCounterMode(display=False) as fc:
            forward(model, P[:, :n_flop])
        flops.append(fc.get_total_flops() / min(n_flop, P.shape[1]))
    with torch.no_grad():
        pbar = torch.einsum("enl,enld->end", attention(params, P), P).repeat(1, 10, 1)
        fused = [torch.bmm(m.W_O, m.W_V) for m in models]
    best = np.full((len(models), 2), np.inf)
    for _ in range(repeats):
        for j, model in enumerate(models):
            with torch.no_grad():
                t0 = time.perf_counter()
                forward(model, P)
                t1 = time.perf_counter()
                torch.relu(pbar @ fused[j].transpose(1, 2)) @ model.a[..., None]
                t2 = time.perf_counter()
            best[j] = np.minimum(best[j], (t1 - t0, t2 - t1))
    return pd.DataFrame(
        {
            "rate": [float(r) for r in rates],
            "m": [m.m for m in models],
            "kflop": np.array(flops) / 1e3,
            "flop_share": np.array(flops) / flops[0],
            "time_share": best[:, 0] / best[0, 0],
            "mlp_time_share": best[:, 1] / best[0, 1],
        }
    )
