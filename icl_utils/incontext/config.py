"""The run configurations of Part I, validated at construction.

Every training run in Part I is one frozen :class:`ICLConfig` (Eqs. 6-8 of [LWLCC24]); a test
distribution for trained models is one :class:`EvalConfig` (in domain, Theorem 1, or out of
domain, Theorem 2).  Construction validates every field, so a bad parameter raises a
:class:`ValueError` naming the parameter, its value and the allowed range *before* any
training starts.

The papers publish no dimensions, widths, learning rates, batch sizes or iteration counts; the
defaults below are our measured starting point (M1 = 6, M2 = 12, d_X = 20, d_Y = 4,
kappa = 0.5, m = 40, l = 20, alpha = 0.6, B = 128, learning rate 10).  Chapter 1 explains each
choice.  The chapters' quick and paper profiles are in :mod:`icl_utils.book.profiles`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..core.checks import MAX_INIT, MAX_LR, MAX_S1, _fail, check_choice, check_float, check_int
from ..core.fields import Fields

#: The largest input noise std a run accepts: the patterns have unit norm, so noise 10 times their
#: size already hides them; beyond it the inputs overflow training before the learning rate matters.
MAX_NOISE_STD = 10.0

__all__ = ["ICLConfig", "EvalConfig"]


@dataclass(frozen=True)
class ICLConfig(Fields):
    """One training run of the Eq. 7 transformer on Part I prompts (Eqs. 6-8 of [LWLCC24]).

    Data (Eq. 6): ``M1`` orthonormal IDR patterns and ``M2`` IDI patterns in
    R^``d_X``, inputs ``mu_j + kappa * nu_k`` (+ ``noise_std`` Gaussian noise),
    label embedding ``+-q`` in R^``d_Y``, prompts of ``l_tr`` context examples
    of which a fraction ``alpha`` carry the task's patterns.  Training tasks
    are a fraction ``task_fraction`` of all M1 (M1 - 1) tasks: with ``task_split =
    "cyclic"`` rounded up to a uniform cover of the patterns (Theorem 1's condition),
    with ``"random"`` drawn at random with no cover promised (see
    :func:`icl_utils.incontext.data.split_tasks`).

    Model (Eq. 7): ``m`` ReLU neurons, ``a`` fixed at +-1/m, W_Q = W_K = W_V =
    ``qkv_init`` * I, W_O ~ N(0, ``o_init_std``^2).

    Training (Eq. 8): hinge loss, SGD with learning rate ``lr``, batch ``B``,
    ``T`` iterations.  Testing uses fraction ``alpha_test`` (the papers'
    alpha') and length ``l_ts`` on ``n_eval`` fixed prompts, measured every
    ``record_every`` iterations.  ``seed`` fixes the patterns, the task split,
    the initialization and every prompt.
    """

    seed: int = 0
    M1: int = 6
    M2: int = 12
    d_X: int = 20
    d_Y: int = 4
    kappa: float = 0.5
    noise_std: float = 0.0
    m: int = 40
    qkv_init: float = 0.3
    o_init_std: float = 0.01
    alpha: float = 0.6
    l_tr: int = 20
    task_fraction: float = 0.5
    task_split: str = "cyclic"
    B: int = 128
    T: int = 600
    lr: float = 10.0
    alpha_test: float = 0.6
    l_ts: int = 20
    n_eval: int = 1000
    record_every: int = 20

    #: Fields the members of one ensemble share (they fix tensor shapes or loop lengths).
    ENSEMBLE_FIELDS: ClassVar[tuple] = (
        "M1",
        "M2",
        "d_X",
        "d_Y",
        "m",
        "l_tr",
        "l_ts",
        "B",
        "T",
        "n_eval",
        "record_every",
    )

    def __post_init__(self):
        c = self._check
        c("seed", check_int, 0, allowed="integers >= 0")
        c("M1", check_int, 2, allowed="integers >= 2 (a task needs two IDR patterns)")
        c("M2", check_int, 1, allowed="integers >= 1")
        c("d_Y", check_int, 1, allowed="integers >= 1")
        c("d_X", check_int, self.M1 + self.M2, allowed=f"integers >= M1 + M2 = {self.M1 + self.M2}")
        c("kappa", check_float, 0.0, 1.0, hi_open=True)
        c("noise_std", check_float, 0.0, MAX_NOISE_STD)
        c("m", check_int, 2, allowed="even integers >= 2 (half the neurons have a_i = +1/m, half -1/m)")
        if self.m % 2:
            _fail("m", self.m, "even integers >= 2 (half the neurons have a_i = +1/m, half -1/m)")
        # a zero scale is a fixed point of the gradient (the weights never move): rejected too
        c("qkv_init", check_float, 0.0, MAX_INIT, lo_open=True)
        c("o_init_std", check_float, 0.0, MAX_INIT, lo_open=True)
        for name in ("alpha", "alpha_test"):
            v = c(name, check_float, 0.0, 1.0, lo_open=True)
            if self.M1 == 2 and v < 1.0:
                _fail(name, v, "1.0 when M1 = 2 (there is no third pattern to draw)")
        c("l_tr", check_int, 1, allowed="integers >= 1")
        c("l_ts", check_int, 1, allowed="integers >= 1")
        c("task_fraction", check_float, 0.0, 1.0, lo_open=True)
        c("task_split", check_choice, ("cyclic", "random"))
        c("B", check_int, 1, allowed="integers >= 1")
        c("T", check_int, 1, allowed="integers >= 1")
        c("lr", check_float, 0.0, MAX_LR, lo_open=True)
        c("n_eval", check_int, 1, allowed="integers >= 1")
        c("record_every", check_int, 1, allowed="integers >= 1")

    @property
    def d(self) -> int:
        """Column height of a prompt, d_X + d_Y."""
        return self.d_X + self.d_Y


@dataclass(frozen=True)
class EvalConfig(Fields):
    """A test distribution for trained models (Theorems 1-2 of [LWLCC24]).

    ``S1 = None`` tests in domain, on the ``tasks`` ("unseen", "seen" or "all")
    of each model's own split.  A number ``S1 > 0`` tests out of domain: ODR
    patterns whose IDR coefficients sum to ``S1`` (``group_size`` IDR
    patterns each), ODI patterns in the IDI span with weight ``kappa_ood``
    (default: the training kappa), on all OOD tasks.  Prompts have a fraction
    ``alpha_test`` (alpha') of relevant examples and ``l_ts`` examples;
    ``n_eval`` prompts per model.
    """

    alpha_test: float = 0.6
    l_ts: int = 20
    n_eval: int = 1000
    S1: float | None = None
    group_size: int = 2
    kappa_ood: float | None = None
    tasks: str = "unseen"

    def __post_init__(self):
        c = self._check
        c("alpha_test", check_float, 0.0, 1.0, lo_open=True)
        c("l_ts", check_int, 1, allowed="integers >= 1")
        c("n_eval", check_int, 1, allowed="integers >= 1")
        if self.S1 is not None:
            c("S1", check_float, 0.0, MAX_S1, lo_open=True, allowed=f"numbers in (0, {MAX_S1:g}] (or None: in domain)")
        c("group_size", check_int, 1, allowed="integers >= 1")
        if self.kappa_ood is not None:
            c("kappa_ood", check_float, 0.0, 1.0, hi_open=True)
        if not isinstance(self.tasks, str) or self.tasks not in ("unseen", "seen", "all"):
            _fail("tasks", self.tasks, "'unseen', 'seen' or 'all'")
        # fields that only one kind of test reads: set on the other, they would be ignored
        if self.S1 is None:
            if self.group_size != 2:
                _fail("group_size", self.group_size, "2 for an in-domain test (S1 = None); it shapes OOD patterns only")
            if self.kappa_ood is not None:
                _fail("kappa_ood", self.kappa_ood, "None for an in-domain test (S1 = None); it shapes OOD inputs only")
        elif self.tasks != "unseen":
            _fail("tasks", self.tasks, "'unseen' for an OOD test (S1 set): OOD tasks are the ODR patterns' own")
