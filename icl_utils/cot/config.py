""":class:`CoTConfig`: one training run of Eq. 11 of [LLCCW25], validated at construction.

The papers publish no dimensions, learning rates, batch sizes or iteration counts; the
defaults are our measured starting point, explained in chapter 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..core.checks import MAX_INIT, MAX_LR, check_float, check_int
from ..core.fields import Fields

__all__ = ["CoTConfig", "CHUNK_COLUMNS"]


@dataclass(frozen=True)
class CoTConfig(Fields):
    """One run of Eq. 11 on K-step reasoning prompts (Eq. 11 of [LLCCW25]).

    ``M`` patterns and ``K`` steps in R^``d`` (standard basis vectors), prompts
    of ``l_tr`` clean examples of which a fraction ``alpha`` start from the
    query's pattern; SGD with learning rate ``lr``, batch ``B``, ``T``
    iterations, W_Q = W_K = ``qk_init`` I, W_V ~ N(0, ``v_std``^2).  Every
    ``record_every`` steps: attention by category and clean CoT error on
    ``n_eval`` fixed prompts of length ``l_tr``.
    """

    seed: int = 0
    M: int = 4
    K: int = 2
    d: int = 8
    alpha: float = 0.5
    l_tr: int = 20
    B: int = 128
    T: int = 1000
    lr: float = 1.0
    qk_init: float = 0.1
    v_std: float = 0.01
    record_every: int = 50
    n_eval: int = 500

    #: Fields the members of one ensemble share (they fix tensor shapes or loop lengths).
    ENSEMBLE_FIELDS: ClassVar[tuple] = ("M", "K", "d", "l_tr", "B", "T", "record_every", "n_eval")

    def __post_init__(self):
        c = self._check
        c("seed", check_int, 0, allowed="integers >= 0")
        c("M", check_int, 2, allowed="integers >= 2")
        c("K", check_int, 1, allowed="integers >= 1 (a task has at least one step)")
        c("d", check_int, self.M + self.K, allowed=f"integers >= M + K = {self.M + self.K}")
        c("alpha", check_float, 0.0, 1.0, lo_open=True)
        for name in ("l_tr", "B", "T", "record_every", "n_eval"):
            c(name, check_int, 1, allowed="integers >= 1")
        c("lr", check_float, 0.0, MAX_LR, lo_open=True)
        c("qk_init", check_float, 0.0, MAX_INIT, lo_open=True)  # 0: W_Q, W_K never move
        c("v_std", check_float, 0.0, MAX_INIT)


#: ... and for at most this many prompt columns per member.
CHUNK_COLUMNS = 400_000
