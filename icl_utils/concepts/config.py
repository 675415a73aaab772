"""The run and test configurations of Part III (multi-concept word semantics, [BHH+24]), validated
at construction.

The paper's body (its equations, constants and hyperparameters) is not reachable from the
machines this book is built on; the data model and the model are the book's reconstruction from
the paper's stated setting (SPEC.md Part III), explained in chapter 6.  Every default below is
our choice, and chapter 6 says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..core.checks import MAX_INIT, _fail, check_bool, check_float, check_int, check_list
from ..core.fields import Fields

__all__ = ["ConceptConfig", "ConceptTest", "MAX_NOISE_STD", "MAX_LR", "MAX_L"]

#: Noise beyond this many times a feature's norm (1) is not a word any more: rejected before training.
MAX_NOISE_STD = 10.0
#: The longest prompt (demonstrations) the model is asked to read: attention has no positions, so any
#: length works, but beyond this the test prompts alone need gigabytes.
MAX_L = 4096
#: Learning rates above this are rejected (the runs diverge at once; below it divergence stops a run).
MAX_LR = 1e4


@dataclass(frozen=True)
class ConceptConfig(Fields):
    """One training run of the two-layer transformer on multi-concept prompts (chapter 6).

    Data: ``K`` task concepts and ``K_irr`` irrelevant ones, each with two opposing word
    features mu_k^+- = (a_k +- ``beta`` b_k) / sqrt(1 + beta^2) in R^``d`` (orthonormal a, b;
    within-concept cosine (1 - beta^2)/(1 + beta^2), cross-concept 0) and, for task concepts,
    label features q_k^+- built the same way in a label block of its own.  A word is the task
    concept's feature of its semantic s plus ``n_other`` other concepts' features (random signs)
    plus N(0, ``noise_std``^2 I) noise; its label is s, flipped with probability ``label_noise``
    (a training prompt's map from semantic to label is swapped, s -> -s in its demonstrations and
    its query alike, with probability ``switch_rate``; 0 in the chapter's main runs).
    A prompt holds ``L`` demonstrations [x; q_{k*}^{label}] and the query [x_q; 0] last; the task
    concept k* is uniform over the task concepts (``held_out`` >= 0: that one never is the task
    in training).

    Model: softmax attention with W_Q = W_K = ``attn_init`` I at the start, then ``m`` ReLU
    neurons W_O ~ N(0, ``w_std``^2) read out by a fixed a = +-1/m.  Training: logistic loss,
    SGD with learning rate ``lr`` on ``B`` fresh prompts per step for ``T`` steps; every
    ``record_every`` steps the test error, losses, attention and weight products are recorded
    on ``n_eval`` fixed test prompts.  ``seed`` fixes the initialization and every prompt.
    """

    seed: int = 0
    K: int = 4
    K_irr: int = 4
    d: int = 32
    beta: float = 0.6
    n_other: int = 2
    noise_std: float = 0.05
    label_noise: float = 0.0
    switch_rate: float = 0.0
    L: int = 16
    m: int = 32
    attn_init: float = 0.5
    w_std: float = 0.01
    lr: float = 5.0
    B: int = 32
    T: int = 800
    held_out: int = -1
    record_every: int = 10
    n_eval: int = 1000

    #: Fields the members of one ensemble share (they fix tensor shapes or loop lengths).
    ENSEMBLE_FIELDS: ClassVar[tuple] = ("K", "K_irr", "d", "n_other", "L", "m", "B", "T", "record_every", "n_eval")

    def __post_init__(self):
        c = self._check
        c("seed", check_int, 0, allowed="integers >= 0")
        c("K", check_int, 2, allowed="integers >= 2 (a task concept must be told from another)")
        c("K_irr", check_int, 0, allowed="integers >= 0")
        need = 2 * (self.K + self.K_irr)
        c("d", check_int, need, allowed=f"integers >= 2 (K + K_irr) = {need} (two directions per concept)")
        c("beta", check_float, 0.0, 1.0, lo_open=True, hi_open=True, allowed="(0, 1): within-concept cosine > 0")
        n = self.K - 1 + self.K_irr
        c("n_other", check_int, 0, n, allowed=f"integers in [0, K - 1 + K_irr] = [0, {n}]")
        c("noise_std", check_float, 0.0, MAX_NOISE_STD)
        c("label_noise", check_float, 0.0, 0.5, hi_open=True)
        c("switch_rate", check_float, 0.0, 1.0)
        c("L", check_int, 1, MAX_L, allowed=f"integers in [1, {MAX_L}] (at least one demonstration)")
        c("m", check_int, 2, allowed="integers >= 2 (neurons of both read-out signs)")
        if self.m % 2:
            _fail("m", self.m, "even integers (half the neurons read out +1/m, half -1/m)")
        c("attn_init", check_float, 0.0, MAX_INIT, lo_open=True)  # 0: W_Q, W_K never move
        c("w_std", check_float, 0.0, MAX_INIT, lo_open=True)
        c("lr", check_float, 0.0, MAX_LR, lo_open=True)
        for name in ("B", "T", "record_every", "n_eval"):
            c(name, check_int, 1, allowed="integers >= 1")
        if self.held_out != -1:
            c("held_out", check_int, 0, self.K - 1, allowed=f"-1 (none) or a task concept in [0, {self.K - 1}]")
            if self.K < 3:
                _fail("held_out", self.held_out, "-1 when K = 2 (training needs two task concepts)")
        else:
            c("held_out", check_int, -1, -1)

    @property
    def training_concepts(self) -> tuple:
        """The task concepts a training prompt may ask for."""
        return tuple(k for k in range(self.K) if k != self.held_out)


@dataclass(frozen=True)
class ConceptTest(Fields):
    """A test distribution for trained Part III models (chapter 6).

    ``L`` demonstrations per prompt (shorter or longer than in training); ``task_probs``: the
    task concept's distribution (None: uniform over the training concepts, as in training; else
    one probability per task concept, e.g. skewed); ``switched``: the + and - semantics swapped
    (a word with semantic s is labelled -s, in the demonstrations and the query alike);
    ``combine`` (c_0, c_1): an unseen task whose relevant feature is c_0 mu_0 + c_1 mu_1 (and
    label feature c_0 q_0 + c_1 q_1), combining two learned concepts; ``held_out``: the task is
    the run's held-out concept; ``label_noise``: None keeps the run's; ``n_eval`` prompts.
    """

    L: int = 16
    task_probs: tuple | None = None
    switched: bool = False
    combine: tuple | None = None
    held_out: bool = False
    label_noise: float | None = None
    n_eval: int = 1000

    def __post_init__(self):
        self._check("L", check_int, 1, MAX_L, allowed=f"integers in [1, {MAX_L}] (the longest prompt the model reads)")
        if self.task_probs is not None:
            p = self._check("task_probs", check_list, lambda n, v: check_float(n, v, 0.0, 1.0))
            if abs(sum(p) - 1) > 1e-9:
                _fail("task_probs", p, "probabilities that sum to 1 (one per task concept), or None")
        self._check("switched", check_bool)
        self._check("held_out", check_bool)
        if self.combine is not None:
            cc = self._check("combine", check_list, lambda n, v: check_float(n, v, 0.0, 10.0))
            if len(cc) != 2 or sum(cc) == 0:
                _fail("combine", cc, "two coefficients >= 0 (c_0, c_1), not both 0, or None")
        kinds = sum([self.task_probs is not None, self.combine is not None, self.held_out])
        if kinds > 1:
            _fail("combine", self.combine, "None when task_probs or held_out is set (one task distribution a test)")
        if self.label_noise is not None:
            self._check("label_noise", check_float, 0.0, 0.5, hi_open=True)
        self._check("n_eval", check_int, 1, allowed="integers >= 1")

    def check_for(self, run: ConceptConfig, name: str = "tests") -> None:
        """Whether this test can be asked of a model trained with ``run`` (a ValueError naming the field)."""
        if self.task_probs is not None and len(self.task_probs) != run.K:
            _fail("task_probs", self.task_probs, f"one probability per task concept (K = {run.K})")
        if self.task_probs is not None and run.held_out >= 0 and self.task_probs[run.held_out] > 0:
            _fail("task_probs", self.task_probs, f"probability 0 for the held-out concept {run.held_out}")
        if self.held_out and run.held_out < 0:
            _fail("held_out", self.held_out, "False for a run trained without a held-out concept (held_out = -1)")
        if self.combine is not None and run.held_out in (0, 1):
            _fail("combine", self.combine, "None for a run whose held-out concept is 0 or 1 (combine mixes 0 and 1)")
        if self.combine is not None and run.n_other > run.K + run.K_irr - 2:
            _fail("combine", self.combine, f"None when n_other = {run.n_other} leaves no concept beside 0 and 1")
