"""The training loop every trainer of the package runs, over an ensemble of independent models.

Eq. 8's SGD for Eq. 7 ([LWLCC24]), Eq. 11's squared-loss SGD ([LLCCW25]) and GPT-2's Adam all
draw their prompts in chunks of :data:`CHUNK_STEPS` steps, take one step for every member at
once, record at :func:`record_iterations`, and stop with a :class:`DivergenceError` naming the
members and the iteration when a loss or weight is no longer finite, or when a loss has grown
beyond :data:`EXPLOSION_FACTOR` times its start (a run that explodes without overflowing).
"""

from __future__ import annotations

import torch

from .checks import check_int, check_memory

__all__ = ["CHUNK_STEPS", "EXPLOSION_FACTOR", "DivergenceError", "sgd_step", "record_iterations", "sgd_loop"]

#: Prompts are drawn for this many SGD steps at once per member (amortizes the per-call cost).
CHUNK_STEPS = 25
#: A run has diverged when a member's minibatch loss exceeds this many times its first loss (or
#: this many times 1, when the first loss is below 1).  Every chapter's runs, at both profiles,
#: stay below 1.7 times their first loss (measured in session 11: at most 1.45 for Eq. 7, 1.62 for
#: GPT-2, 1.32 for chapter 6, 1.0 for Eq. 11; their losses start near 1 at the book's
#: initializations); an exploding learning rate passes the bound within a few steps.
EXPLOSION_FACTOR = 100.0


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or weight, or a loss beyond :data:`EXPLOSION_FACTOR`
    times its start: the run diverged and is not a result.

    ``members``: the diverged ensemble members (indices); ``iteration``: the first
    iteration with such a loss (or the iteration by which a weight was found
    non-finite).  Nothing is returned, so nothing is cached.
    """

    def __init__(self, message: str, members: list[int], iteration: int):
        super().__init__(message)
        self.members = members
        self.iteration = iteration


def sgd_step(weights, losses: torch.Tensor, lr: torch.Tensor) -> None:
    """One plain SGD step for every member at once: w_e <- w_e - lr_e grad(loss_e).

    ``losses`` (E,) holds each member's loss; members share no weights, so the
    gradient of their sum is each member's own gradient.  ``lr`` (E, 1, 1).
    """
    grads = torch.autograd.grad(losses.sum(), weights)
    with torch.no_grad():
        for w, g in zip(weights, grads):
            w.sub_(lr * g)


def record_iterations(T: int, every: int) -> list[int]:
    """The iterations at which a trainer records: 0, every, 2 every, ..., and T."""
    check_int("T", T, 1, allowed="integers >= 1")
    check_int("every", every, 1, allowed="integers >= 1")
    check_memory([("T", T, 100 * (T // every + 2))], "the list of iterations")
    iters = list(range(0, T + 1, every))
    return iters if iters[-1] == T else [*iters, T]


def _check_finite(weights, hist, lo: int, hi: int, T: int, labels) -> None:
    """Raise :class:`DivergenceError` if a loss of iterations lo..hi - 1 or a weight is not finite.

    One host synchronization per call (the trainers call it once per prompt chunk).
    """
    with torch.no_grad():
        chunk = hist[lo:hi]  # (hi - lo, E)
        bound = EXPLOSION_FACTOR * hist[0].abs().clamp(min=1.0)  # (E,)
        loss_bad = ~torch.isfinite(chunk) | (chunk.abs() > bound)  # (hi - lo, E)
        bad = loss_bad.any(0)
        for w in weights:
            bad |= ~torch.isfinite(w).flatten(1).all(1)
        if not bool(bad.any()):
            return
        members = bad.nonzero().flatten().tolist()
        rows = loss_bad.any(1).nonzero().flatten()
        # the first bad iteration's cause: a finite loss past the bound, or a non-finite loss
        row = chunk[int(rows[0]), members] if rows.numel() else None
        finite = row is not None and bool(torch.isfinite(row).all())
        first = hist[0, members].tolist()
        worst = row.abs().tolist() if finite else None
    if rows.numel():
        iteration, what = lo + int(rows[0]), "loss"
    else:
        iteration, what = hi, "weights"
    if finite:  # a loss that grew past the bound, still finite
        names = [
            f"member {e}" + (f" ({labels[e]})" if labels is not None else "") + f": loss {l0:.3g} -> {l1:.3g}"
            for e, l0, l1 in zip(members, first, worst)
        ]
        cause = (
            f"a loss grew beyond {EXPLOSION_FACTOR:g} times its first value (or {EXPLOSION_FACTOR:g}, "
            f"if that is below 1) for {'; '.join(names)}"
        )
    else:
        names = [f"member {e}" + (f" ({labels[e]})" if labels is not None else "") for e in members]
        cause = f"non-finite {what} for {'; '.join(names)}"
    at = f"at iteration {iteration}" if what == "loss" else f"by iteration {iteration}"
    raise DivergenceError(
        f"training diverged {at} of T = {T}: {cause}. "
        "Nothing is returned or cached; lower the learning rate 'lr' (or the initialization scale).",
        members,
        iteration,
    )


def sgd_loop(
    weights, lr, T: int, record_every: int, chunk_steps: int, draw, loss_at, record, bar=None, labels=None, step=None
):
    """The training loop every trainer runs (Eq. 8 for Eq. 7, Eq. 11's squared loss, GPT-2's Adam).

    Every ``chunk_steps`` steps ``draw()`` refills the trainer's prompt chunk;
    ``loss_at(s)`` returns the (E,) losses of every member on batch ``s`` of the
    chunk; ``record()`` measures at :func:`record_iterations` (the last one after
    the final step).  Returns the recorded iterations and the (T, E) minibatch losses.

    A diverged run is not a result: before each chunk refill and after the last
    step, the chunk's losses and the weights are checked (one host synchronization
    per chunk, none per step), and a non-finite one raises :class:`DivergenceError`
    naming the members (``labels[e]`` describes member e, e.g. its seed and lr) and
    the iteration.  ``step(losses)`` updates the weights from the (E,) losses; by default
    :func:`sgd_step` with learning rates ``lr``.
    """
    if step is None:

        def step(losses):
            sgd_step(weights, losses, lr)

    iters = record_iterations(T, record_every)
    before_T = set(iters[:-1])
    hist = None
    try:
        for t in range(T):
            if t % chunk_steps == 0:
                if t:
                    _check_finite(weights, hist, t - chunk_steps, t, T, labels)
                draw()
            if t in before_T:
                record()
            loss = loss_at(t % chunk_steps)
            step(loss)
            if hist is None:
                hist = torch.empty(T, *loss.shape, device=loss.device)
            hist[t] = loss.detach()
            if bar is not None:
                bar.update(1)
        _check_finite(weights, hist, (T - 1) // chunk_steps * chunk_steps, T, T, labels)
        record()
    finally:
        if bar is not None:
            bar.close()
    return iters, hist
