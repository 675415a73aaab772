"""Dataclasses of tensors that share leading axes: one base for both papers' weights, prompts and worlds.

An ensemble's weights (Eq. 7's :class:`~icl_utils.incontext.model.Params`, Eq. 11's
:class:`~icl_utils.cot.model.CoTParams`), a batch of prompts given as indices
(:class:`~icl_utils.incontext.data.PromptIndices`, :class:`~icl_utils.cot.data.CoTPrompts`)
and the pattern tables of one or several data models (:class:`~icl_utils.incontext.data.World`)
are all a few tensors with common leading axes.  :class:`Tensors` indexes, stacks, moves and
detaches them field by field; :class:`Weights` adds what a trainer and the entry points need.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import torch

from .checks import check_int, check_list

__all__ = ["Tensors", "Weights"]


def _listed(items):
    """A list of ``items`` when it is an iterable (a generator too), else ``items`` as given."""
    return list(items) if hasattr(items, "__iter__") and not isinstance(items, (str, bytes, dict)) else items


class Tensors:
    """Field-wise operations of a dataclass whose fields are tensors (a plain number stays as it is
    under indexing and moves, and becomes a tensor axis when items are stacked)."""

    def _map(self, fn):
        return type(self)(
            **{f.name: fn(v) if isinstance(v := getattr(self, f.name), torch.Tensor) else v for f in fields(self)}
        )

    def __getitem__(self, index):
        """The same items indexed along the leading axes (views where torch gives views)."""
        return self._map(lambda t: t[index])

    def to(self, device):
        return self._map(lambda t: t.to(device))

    def detach(self):
        """Detached copies (what a trainer returns)."""
        return self._map(lambda t: t.detach().clone())

    def state(self) -> dict:
        """Plain CPU tensors by name (for saving)."""
        return {f.name: getattr(self, f.name).detach().cpu() for f in fields(self)}

    @classmethod
    def stack(cls, items):
        """Items as one, along a new leading axis (a number field becomes a tensor of them)."""
        items = check_list("items", _listed(items), what=f"a non-empty list of {cls.__name__}")
        return cls(**{f.name: torch.stack([torch.as_tensor(getattr(i, f.name)) for i in items]) for f in fields(cls)})

    @classmethod
    def cat(cls, items):
        """Items as one, joined along their leading axis."""
        items = check_list("items", _listed(items), what=f"a non-empty list of {cls.__name__}")
        return cls(**{f.name: torch.cat([getattr(i, f.name) for i in items]) for f in fields(cls)})


class Weights(Tensors):
    """The weights of an ensemble of models: every field has a leading member axis E.

    ``TRAINED`` names the fields SGD updates (the others, e.g. Eq. 7's fixed read-out a,
    stay at their initial values)."""

    TRAINED: tuple = ()

    @property
    def E(self) -> int:
        """The number of members."""
        return getattr(self, fields(self)[0].name).shape[0]

    def trained(self) -> list:
        return [getattr(self, n) for n in self.TRAINED]

    def select(self, index):
        """Members ``index`` (an int, slice or index list) as a smaller ensemble (an int keeps the axis)."""
        return self[[index] if isinstance(index, int) else index]

    @classmethod
    def check_at(cls, results, at: int | None) -> None:
        """``at`` is None (final weights) or the index of a snapshot every run recorded."""
        if at is None:
            return
        for i, r in enumerate(results):
            if not isinstance(r, dict) or "snapshots" not in r:
                raise ValueError(
                    f"parameter 'at' = {at!r} is invalid: run {i} has no snapshots (train with snapshots=True)"
                )
            k = len(r["snapshots"][cls.TRAINED[0]])
            check_int("at", at, -k, k - 1, allowed=f"an index of the {k} recorded iterations, or None (final weights)")

    @classmethod
    def from_results(cls, results, at: int | None = None):
        """The weights of trained runs (results of the part's trainer) as one ensemble: final
        (``at=None``) or at recorded snapshot ``at`` (a trainer run with ``snapshots=True``).

        A run's weights must be finite (a diverged run is not a model)."""
        results = check_list("results", results, what=f"a non-empty list of trained runs (to build {cls.__name__})")
        cls.check_at(results, at)
        names = [f.name for f in fields(cls)]
        out = []
        for i, r in enumerate(results):
            if not isinstance(r, dict) or not isinstance(r.get("weights"), dict) or set(names) - set(r["weights"]):
                raise ValueError(
                    f"parameter 'results' holds {type(r).__name__} at {i}: allowed results of a trainer, "
                    f"with the weights {names}"
                )
            if not all(np.isfinite(np.asarray(r["weights"][n])).all() for n in names):
                raise ValueError(f"parameter 'results': run {i} has non-finite weights (a diverged run)")
            w = {n: (r["snapshots"][n][at] if at is not None and n in cls.TRAINED else r["weights"][n]) for n in names}
            out.append(cls(**{n: torch.as_tensor(w[n]) for n in names}))
        return cls.stack(out)
