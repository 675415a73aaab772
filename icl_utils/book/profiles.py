"""The chapters' parameter profiles, as data: ``quick`` and ``paper``.

A profile is a frozen dataclass per chapter whose **defaults are the quick profile** (a
chapter runs in about a minute or two on two CPU cores).  The **paper profile** is the short
diff :data:`PAPER`: every field that changes, its paper value and the reason for it.
:func:`get_profile` builds either, with any field (or any field of the chapter's base run
configuration) overridden by name; :func:`describe` lists the diff as a table for the book.

This module sits above both parts of the package: it imports the run configurations of
Part I (:mod:`icl_utils.incontext.config`), Part II (:mod:`icl_utils.cot.training`) and Part III
(:mod:`icl_utils.concepts.config`); nothing below
imports it.
"""

from __future__ import annotations

import math

from dataclasses import dataclass, fields

from ..core.checks import MAX_S1
from ..core.checks import _article
from ..core.checks import _fail
from ..core.checks import _short
from ..core.checks import check_choice
from ..core.checks import check_distinct
from ..core.checks import check_float
from ..core.checks import check_int
from ..core.checks import check_list
from ..core.fields import Fields
from ..core.sgd import record_iterations
from ..concepts.config import ConceptConfig
from ..cot.config import CoTConfig
from ..incontext.config import ICLConfig
from ..incontext.gpt2 import GPT2RunConfig


__all__ = [
    "InDomainProfile",
    "OODProfile",
    "PruningProfile",
    "CoTProfile",
    "GPT2Profile",
    "ConceptProfile",
    "PROFILE_NAMES",
    "PAPER",
    "get_profile",
    "describe",
]

PROFILE_NAMES = ("quick", "paper")

#: Chapter 1's reference run at the quick profile; chapters 2 and 3 test the same models.
QUICK_REFERENCE_RUN = ICLConfig(T=400, n_eval=1000, record_every=10)
#: ... and at the paper profile (150 recorded points draw A-8..A-11).
PAPER_REFERENCE_RUN = ICLConfig(T=1500, n_eval=4000, record_every=10)


def _tuple_of(name, values, check):
    """A non-empty sweep of distinct values, every element validated (and converted) by ``check``
    (a repeated value would be one sweep point twice, which the chapters' tables cannot tell apart)."""
    return check_distinct(name, check_list(name, values, check))


def _frac(name, value):
    """A fraction in (0, 1] (alpha, alpha', tau, task fractions)."""
    return check_float(name, value, 0.0, 1.0, lo_open=True)


def _rate(name, value):
    """A rate in [0, 1) (pruning rates)."""
    return check_float(name, value, 0.0, 1.0, hi_open=True)


def _positive(name, value):
    return check_float(name, value, 0.0, lo_open=True, allowed="finite numbers > 0")


def _s1(name, value):
    """An OOD coefficient sum S1 (the tests accept at most MAX_S1)."""
    return check_float(name, value, 0.0, MAX_S1, lo_open=True)


#: The most seeds a chapter trains per sweep point (the paper profile uses 10).
MAX_SEEDS = 1000


#: The largest count a profile accepts for a length, a number of prompts, steps or repeats: the
#: paper profile's largest is 20000 (timing prompts); 10**12 would only fail later, in memory.
MAX_COUNT = 1_000_000


def _length(name, value):
    return check_int(name, value, 1, MAX_COUNT, allowed=f"integers in [1, {MAX_COUNT}]")


class _ChapterProfile(Fields):
    """What every chapter profile shares: a validated ``base`` run, ``n_seeds`` seeds,
    tuple-valued sweeps checked element by element, and the run configurations'
    ``replace`` / ``to_dict``."""

    def _check_common(self, base_type) -> None:
        if not isinstance(self.base, base_type):
            cls = base_type.__name__
            raise ValueError(f"parameter 'base' = {_short(self.base)} is invalid: allowed {_article(cls)} {cls}")
        self._check("n_seeds", check_int, 1, MAX_SEEDS, allowed=f"integers in [1, {MAX_SEEDS}]")

    def _check_tuples(self, **checks) -> None:
        for name, check in checks.items():
            self._check(name, _tuple_of, check)

    @property
    def seeds(self) -> tuple:
        """The chapter's seeds: ``n_seeds`` consecutive ones from the run config's ``seed`` (0 unless
        overridden, e.g. ``-p seed 5`` trains seeds 5..9 at ``n_seeds`` = 5)."""
        return tuple(range(self.base.seed, self.base.seed + self.n_seeds))


@dataclass(frozen=True)
class InDomainProfile(_ChapterProfile):
    """Parameters of chapter 1 (Theorem 1, Propositions 1-2).

    ``base`` is the reference run; ``n_seeds`` independent seeds are trained
    for every point of every sweep.  Sweeps: the task fraction
    (``fractions``), the training prompt length (``lengths`` x
    ``alphas_length``, trained ``T_length`` steps and tested at length
    ``l_ts_length``) and the iterations needed to reach ``target_error`` above
    the test prompts' guessing floor on unseen tasks (``alphas_speed``, at most
    ``T_speed`` steps, measured every ``record_every_speed`` steps at test length
    ``l_ts_length`` on ``n_eval_speed`` prompts).  The other sweeps measure their
    final errors on ``n_eval_sweep`` prompts.
    """

    name: str
    base: ICLConfig = QUICK_REFERENCE_RUN
    n_seeds: int = 5  # five models: claims are medians / counts over seeds, not one chaotic run
    fractions: tuple = (0.2, 0.4, 0.6, 0.8)
    # random training sets: below 1/(M1-1) = 0.2 none can cover every pattern; from about 0.5
    # most do (M1 = 6), so the grid spans sets that never, sometimes and mostly cover
    fractions_random: tuple = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    alphas_length: tuple = (0.2, 0.4, 0.8)
    lengths: tuple = (1, 2, 3, 5, 8, 13, 20)
    # at T = 400, 1 or 2 of 5 seeds at alpha = 0.2 had not left the initial plateau; at 800 all had
    T_length: int = 800
    l_ts_length: int = 40
    alphas_speed: tuple = (0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
    target_error: float = 0.02
    # the slowest seed (alpha = 0.2 at the paper profile) reached the target by t = 250 when trained
    # for 1500 steps; 600 keeps a margin of 2.4x
    T_speed: int = 600
    record_every_speed: int = 5
    n_eval_sweep: int = 500  # error resolution 0.002, a tenth of eps
    # evaluated every 5 steps, the speed sweep's test prompts cost 6x its training at 2000 prompts;
    # 500 resolve 0.002, a tenth of eps
    n_eval_speed: int = 500

    def __post_init__(self):
        self._check_common(ICLConfig)
        self._check_tuples(fractions=_frac, fractions_random=_frac, alphas_length=_frac, lengths=_length, alphas_speed=_frac)
        for name in ("T_length", "l_ts_length", "T_speed", "record_every_speed", "n_eval_sweep", "n_eval_speed"):
            self._check(name, _length)
        if self.record_every_speed > self.T_speed:
            _fail("record_every_speed", self.record_every_speed, f"at most T_speed = {self.T_speed} (it records only 0 and T)")
        self._check("target_error", check_float, 0.0, 0.5, lo_open=True, hi_open=True)


@dataclass(frozen=True)
class OODProfile(_ChapterProfile):
    """Parameters of chapter 2 (Theorem 2, figures A-12, A-13, A-27, A-28).

    ``base`` is the trained model (chapter 1's reference run), ``n_seeds``
    seeds of it.  A-12: OOD error against test length ``lengths`` for every
    coefficient sum in ``S1s``; A-13: in-domain and OOD (``S1_alpha``) error
    against ``lengths`` for every alpha' in ``alphas_test``; both on
    ``n_eval`` prompts per model.  Mechanism: attention on ODR prompts of
    length ``l_mech`` over training, recorded every ``record_every_mech``
    iterations.  A-27/28: ICL against classical learners at test lengths
    ``lengths_baseline`` and alpha' in ``alphas_baseline`` on
    ``n_eval_baseline`` prompts per model.
    """

    name: str
    base: ICLConfig = QUICK_REFERENCE_RUN  # chapter 1's quick reference run (shared cache)
    n_seeds: int = 5
    S1s: tuple = (0.5, 0.7, 0.9, 1.1, 1.3)
    lengths: tuple = (1, 2, 3, 5, 8, 13, 20, 30, 50)
    n_eval: int = 1000
    alphas_test: tuple = (0.6, 0.8, 0.9, 1.0)
    S1_alpha: float = 1.1
    l_mech: int = 20
    record_every_mech: int = 20
    lengths_baseline: tuple = (6, 8, 10, 14, 20)
    alphas_baseline: tuple = (0.8, 0.6)
    n_eval_baseline: int = 150
    target_error: float = 0.02

    def __post_init__(self):
        self._check_common(ICLConfig)
        self._check_tuples(
            S1s=_s1, lengths=_length, alphas_test=_frac, lengths_baseline=_length, alphas_baseline=_frac
        )
        self._check("S1_alpha", _s1)
        if isinstance(self.record_every_mech, int) and self.record_every_mech > self.base.T:
            _fail("record_every_mech", self.record_every_mech, f"at most base.T = {self.base.T} (it records only 0 and T)")
        for name in ("n_eval", "l_mech", "record_every_mech", "n_eval_baseline"):
            self._check(name, _length)
        self._check("target_error", check_float, 0.0, 0.5, lo_open=True, hi_open=True)


@dataclass(frozen=True)
class PruningProfile(_ChapterProfile):
    """Parameters of chapter 3 (Theorem 3, figures A-14, A-15).

    The pruned models are ``n_seeds`` seeds of ``base`` (chapter 1's reference
    run).  A neuron is *large* when its W_O row norm exceeds ``grown_factor``
    times the expected norm of an untrained row, *small* otherwise.  Pruning
    rates ``rates``; random pruning averaged over ``n_random`` draws; test
    prompts of length ``l_ts`` with ``alpha_test`` (A-14) and each of
    ``alphas_test`` (A-15), ``n_eval`` per model, in domain and out of domain
    with coefficient sum ``S1``.  The Omega(R) sweep removes the fractions
    ``fractions_large`` of the large neurons.  Inference is timed on
    ``n_timing`` prompts, best of ``timing_repeats``.
    """

    name: str
    base: ICLConfig = QUICK_REFERENCE_RUN  # chapter 1's quick reference run (shared cache)
    n_seeds: int = 5
    grown_factor: float = 2.0  # small = within 2x an untrained row's norm (~7 standard deviations above it)
    rates: tuple = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)
    n_random: int = 20
    alpha_test: float = 0.6
    alphas_test: tuple = (0.6, 0.8, 1.0)
    l_ts: int = 8  # short test prompts: the unpruned error (~0.04) is measurable, not 0 as at l_ts = 20
    n_eval: int = 1000
    S1: float = 1.1
    fractions_large: tuple = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    n_timing: int = 20000
    timing_repeats: int = 5

    def __post_init__(self):
        self._check_common(ICLConfig)
        self._check_tuples(rates=_rate, alphas_test=_frac, fractions_large=_rate)
        for rate in self.rates:  # every pruning rate must leave a neuron of the m the runs have
            if math.floor(rate * self.base.m + 0.5) >= self.base.m:
                _fail("rates", self.rates, f"rates that leave at least one of m = {self.base.m} neurons ({rate} removes all)")
        self._check("alpha_test", _frac)
        self._check("S1", _s1)
        self._check("grown_factor", check_float, 1.0, 100.0, lo_open=True, allowed="numbers in (1, 100]")
        for name in ("n_random", "l_ts", "n_eval", "n_timing", "timing_repeats"):
            self._check(name, _length)


@dataclass(frozen=True)
class CoTProfile(_ChapterProfile):
    """Parameters of chapter 4 (Theorems 4-6 of [LLCCW25], figures B-17 to B-20).

    ``base`` (an :class:`icl_utils.cot.config.CoTConfig`) is trained for every
    alpha in ``alphas_train`` (each above 1/M) and ``n_seeds`` seeds; the
    models trained with ``alpha_main`` are tested.  Theorem 4's iteration count
    is the number of steps to a training loss of ``loss_target``; the final loss
    is compared with ``eps``.  Below 1/M: ``alpha_below`` (between
    1/``M_contrast`` and 1/M) is trained ``T_below`` steps with M patterns and
    with ``M_contrast`` patterns.  Tests use TSR patterns (``tsr_mix``),
    ``n_tasks`` random tasks with noisy examples, ``n_per_task`` prompts each
    (drawn per seed), at every length in ``lengths``.  B-17: alpha' in
    ``alphas_test`` at tau^f = ``tau_main``; B-18: tau^f in ``taus`` at alpha' =
    ``alpha_test_main``; B-19: tau^f = ``tau_c1`` with and without Condition 1.
    """

    name: str
    # 6 alphas above 1/M = 0.25 (0.3 to 1: Theorem 4's exponent is fitted on them) x 5 seeds; T = 400
    # (the slowest, alpha = 0.3, reaches a loss of 0.01 by about 210); T_below = 2 T
    base: CoTConfig = CoTConfig(T=400, record_every=20, n_eval=300)
    n_seeds: int = 5
    alphas_train: tuple = (0.3, 0.4, 0.5, 0.65, 0.8, 1.0)
    alpha_main: float = 0.5
    loss_target: float = 0.05
    eps: float = 0.01
    alpha_below: float = 0.2
    M_contrast: int = 8
    T_below: int = 800
    alphas_test: tuple = (0.4, 0.6, 0.8, 1.0)
    taus: tuple = (0.4, 0.5, 0.6, 0.7)
    tau_main: float = 0.6
    alpha_test_main: float = 0.8
    tau_c1: float = 0.36
    lengths: tuple = (1, 2, 3, 5, 7, 10, 14, 20, 30, 40, 70, 100)
    n_tasks: int = 6
    n_per_task: int = 100
    tsr_mix: float = 0.3
    target_error: float = 0.05

    def __post_init__(self):
        self._check_common(CoTConfig)
        self._check_tuples(alphas_train=_frac, alphas_test=_frac, taus=_frac, lengths=_length)
        for name in ("alpha_main", "tau_main", "alpha_test_main", "tau_c1", "alpha_below"):
            self._check(name, _frac)
        M = self.base.M
        low = [a for a in self.alphas_train if a <= 1 / M]
        if low:
            raise ValueError(
                f"parameter 'alphas_train' = {self.alphas_train} is invalid: allowed values above 1/M = {1 / M:.3g} "
                "(below it SGD finds another solution; chapter 4 trains alpha_below for that)"
            )
        if self.alpha_main not in self.alphas_train:
            raise ValueError(f"parameter 'alpha_main' = {self.alpha_main} is invalid: allowed one of alphas_train")
        self._check("M_contrast", check_int, M + 1, 4096, allowed=f"integers in (M = {M}, 4096]")
        if not 1 / self.M_contrast < self.alpha_below < 1 / M:
            between = f"a value between 1/M_contrast = {1 / self.M_contrast:.3g} and 1/M = {1 / M:.3g}"
            _fail("alpha_below", self.alpha_below, between)
        self._check("T_below", _length)
        self._check("n_tasks", _length)
        self._check("n_per_task", _length)
        self._check("tsr_mix", check_float, 0.0, 1.0, hi_open=True)
        for name in ("target_error", "loss_target", "eps"):
            self._check(name, check_float, 0.0, 0.5, lo_open=True, hi_open=True)


#: The data fields GPT-2 (chapter 5) shares with the one-layer model it is compared with: an override
#: of one of them by name changes both (``-p alpha 0.3`` trains both models at alpha = 0.3).
GPT2_SHARED_DATA = ("M1", "M2", "d_X", "d_Y", "kappa", "alpha", "l_tr", "task_fraction", "alpha_test", "l_ts")


@dataclass(frozen=True)
class GPT2Profile(_ChapterProfile):
    """Parameters of chapter 5 (GPT-2: figures A-12, A-13 as published, A-21..A-26).

    ``base`` (a :class:`icl_utils.incontext.gpt2.GPT2RunConfig`) is trained for ``n_seeds`` seeds; the
    one-layer models it is compared with are chapter 2's (``one_layer``, the same seeds, so the
    same patterns, task splits and test prompts).  A-12: OOD error against test length
    ``lengths`` for every coefficient sum in ``S1s``; A-13: in-domain and OOD (``S1_alpha``) error
    against ``lengths`` for every alpha' in ``alphas_test``; ``n_eval`` prompts per model and point.
    Neurons (A-24..A-26) are drawn at ``n_snapshots`` recorded iterations.  ``target_error``: the
    error a length must reach in A-13's needed-length comparison.
    """

    name: str
    # T = 300 (Adam at 1e-3, cosine decay): every seed's unseen-task error falls from 0.5 to below 0.05
    # by about step 150.  A constant rate kept two of five seeds moving, and their errors then differed
    # by up to 0.17 under MKL_CBWR=COMPATIBLE; with the decay the five runs agree to 1e-10.
    base: GPT2RunConfig = GPT2RunConfig()
    n_seeds: int = 5
    one_layer: ICLConfig = QUICK_REFERENCE_RUN  # chapter 2's models (shared cache)
    S1s: tuple = (0.5, 0.7, 0.9, 1.1, 1.3)
    lengths: tuple = (1, 2, 3, 5, 8, 13, 20)
    alphas_test: tuple = (0.8, 0.9, 1.0)
    S1_alpha: float = 1.1
    n_eval: int = 500
    n_snapshots: int = 4
    target_error: float = 0.05

    def __post_init__(self):
        self._check_common(GPT2RunConfig)
        if not isinstance(self.one_layer, ICLConfig):
            _fail("one_layer", self.one_layer, "an ICLConfig (chapter 2's one-layer model)")
        for name in GPT2_SHARED_DATA:  # the comparison is on the same data, or it is not made
            if getattr(self.base, name) != getattr(self.one_layer, name):
                _fail(
                    name,
                    getattr(self.base, name),
                    f"the one-layer model's value too ({getattr(self.one_layer, name)}): GPT-2 and the one-layer "
                    "model it is compared with share their data model (override it by name, e.g. -p alpha 0.3, "
                    "and both change)",
                )
        self._check_tuples(S1s=_s1, lengths=_length, alphas_test=_frac)
        too_long = [v for v in self.lengths if v + 1 > self.base.n_positions]
        if too_long:
            _fail("lengths", self.lengths, f"lengths of at most n_positions - 1 = {self.base.n_positions - 1}")
        self._check("S1_alpha", _s1)
        self._check("n_eval", _length)
        R = len(record_iterations(self.base.T, self.base.record_every))  # the recorded iterations
        self._check("n_snapshots", check_int, 2, max(2, R), allowed=f"integers in [2, {max(2, R)}] (recorded iterations)")
        self._check("target_error", check_float, 0.0, 0.5, lo_open=True, hi_open=True)


@dataclass(frozen=True)
class ConceptProfile(_ChapterProfile):
    """Parameters of chapter 6 (multi-concept word semantics, [BHH+24]).

    ``base`` (a :class:`icl_utils.concepts.config.ConceptConfig`) is trained for ``n_seeds`` seeds,
    with snapshots of its weights at every recorded iteration; so are its variants with label
    noise ``label_noise`` (the Bayes error), with the task concept ``held_out`` left out of
    training, with training prompts whose semantics are switched at rate ``switch_rate``, and
    with every noise level in ``noise_levels`` (where the guarantee stops).  Test lengths
    ``lengths`` (shorter and longer than training; the claims use ``L_short`` and ``L_long``),
    the skewed task distribution gives concept 0 probability ``skew``, the innovation sweep
    combines concepts 0 and 1 with coefficient sums ``combine_sums`` (equal halves).  The
    exponential rate is fitted where the median error lies between its plateau and
    ``floor_count`` wrong test prompts; ``eps`` and ``ood_tolerance`` are the claims' stated
    tolerances and ``growth`` the factor by which a product must grow (or stay within).
    """

    name: str
    base: ConceptConfig = ConceptConfig()
    n_seeds: int = 5
    label_noise: float = 0.1
    held_out: int = 3
    switch_rate: float = 0.5
    noise_levels: tuple = (0.05, 0.2, 0.4, 0.8)
    lengths: tuple = (2, 4, 8, 16, 32, 64)
    L_short: int = 8
    L_long: int = 64
    skew: float = 0.7
    combine_sums: tuple = (0.4, 0.6, 0.8, 1.0, 1.4, 2.0)
    floor_count: int = 5
    eps: float = 0.01
    ood_tolerance: float = 0.02
    growth: float = 10.0

    def __post_init__(self):
        self._check_common(ConceptConfig)
        b = self.base
        self._check("label_noise", check_float, 0.0, 0.5, lo_open=True, hi_open=True)
        self._check("held_out", check_int, 0, b.K - 1, allowed=f"a task concept in [0, {b.K - 1}]")
        if self.held_out in (0, 1):
            _fail("held_out", self.held_out, "a task concept other than 0 and 1 (the innovation sweep combines them)")
        self._check("switch_rate", check_float, 0.0, 1.0, lo_open=True)
        self._check_tuples(
            noise_levels=lambda n, v: check_float(n, v, 0.0, 10.0),
            lengths=lambda n, v: check_int(n, v, 1, 4096, allowed="integers in [1, 4096]"),
            combine_sums=lambda n, v: check_float(n, v, 0.0, 10.0, lo_open=True),
        )
        for name in ("L_short", "L_long"):
            self._check(name, check_int, 1, 4096, allowed="integers in [1, 4096]")
            if getattr(self, name) not in self.lengths:
                _fail(name, getattr(self, name), f"one of lengths = {self.lengths}")
        if not self.L_short < b.L < self.L_long:
            _fail("L_short", self.L_short, f"a length below the training L = {b.L}, with L_long above it")
        self._check("skew", check_float, 1 / b.K, 1.0, lo_open=True, hi_open=True)
        self._check(
            "floor_count", check_int, 1, self.base.n_eval, allowed=f"integers in [1, n_eval = {self.base.n_eval}]"
        )
        self._check("eps", check_float, 0.0, 0.5, lo_open=True, hi_open=True)
        self._check("ood_tolerance", check_float, 0.0, 0.5, lo_open=True, hi_open=True)
        self._check("growth", check_float, 1.0, 1e6, lo_open=True, allowed="numbers in (1, 1e6]")


#: The paper profile: per chapter, every field that differs from the quick defaults, as
#: ``field: (paper value, reason)``.
PAPER = {
    "01_in_domain": {
        "base": (PAPER_REFERENCE_RUN, "T = 1500 and 4000 test prompts: 150 recorded points draw A-8..A-11"),
        "n_seeds": (10, "medians and bootstrap intervals that one run cannot move"),
        "alphas_length": ((0.1, 0.2, 0.4, 0.8), "alpha = 0.1 adds a point where 1/alpha = 10"),
        "lengths": ((1, 2, 3, 4, 5, 7, 10, 13, 16, 20, 25, 30), "a finer grid around every 1/alpha"),
        "T_length": (2000, "alpha = 0.1 leaves the plateau later (Theorem 1: T grows as alpha shrinks)"),
        "l_ts_length": (60, "guessing floor (1 - alpha'/2)^l_ts / 2 = 0.023 at alpha' = 0.1, below 0.001 from 0.2"),
        "alphas_speed": ((0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0), "a wider range of alpha to fit"),
        "n_eval_sweep": (2000, "error resolution 0.0005 per seed (final errors only: cheap)"),
    },
    "02_out_of_domain": {
        "base": (PAPER_REFERENCE_RUN, "chapter 1's paper reference runs (shared cache)"),
        "n_seeds": (10, "as chapter 1"),
        "S1s": ((0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.3, 1.6, 2.0), "a finer scan around S1 = 1"),
        "lengths": ((1, 2, 3, 4, 5, 7, 10, 13, 16, 20, 25, 30, 40, 50, 70, 100), "out to l_ts = 100"),
        "n_eval": (4000, "error resolution 0.00025 per model"),
        "alphas_test": ((0.4, 0.6, 0.8, 0.9, 1.0), "a smaller alpha' too"),
        "record_every_mech": (50, "30 points over T = 1500; every 10 steps made this figure alone 4.7 minutes"),
        "lengths_baseline": ((6, 8, 10, 12, 14, 16, 18, 20), "every second length from 6 to 20"),
        "n_eval_baseline": (500, "5000 prompts per point over 10 seeds: separates ICL from 1-NN"),
    },
    "03_pruning": {
        "base": (PAPER_REFERENCE_RUN, "chapter 1's paper reference runs (shared cache)"),
        "n_seeds": (10, "more models for the bootstrap intervals over seeds"),
        "rates": (tuple(round(0.025 * i, 3) for i in range(17)), "A-14/A-15 at 2.5 % steps (one neuron at m = 40)"),
        "n_random": (100, "random pruning: more draws per rate (cheap: no forward pass per draw)"),
        "n_eval": (4000, "4x the prompts: the error's standard error halves"),
        "fractions_large": (
            tuple(round(0.05 * i, 2) for i in range(19)),
            "Omega(R) sweep at 5 % steps up to 0.9: each sign keeps a large neuron",
        ),
        "timing_repeats": (10, "best of 10: steadier time ratios"),
    },
    "04_cot_vs_icl": {
        "base": (
            CoTConfig(T=1000, record_every=20, n_eval=500),
            "T = 1000, five times what the slowest alpha (0.3) needs to reach a loss of 0.01; 500 probe "
            "prompts every 20 steps (B-20's claim compares t = 60 with t = 160)",
        ),
        "n_seeds": (10, "tighter bootstrap intervals for both fitted exponents"),
        "alphas_train": ((0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0), "10 points above 1/M for the fit"),
        "T_below": (2000, "alpha = 0.2 trained twice the main budget: the stuck loss is not a matter of time"),
        "lengths": (
            (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 40, 55, 70, 100),
            "finer near the needed lengths",
        ),
        "n_tasks": (12, "more test tasks (each with its own transition matrices)"),
        "n_per_task": (200, "2400 prompts per seed and length: an error of 0.05 is 120 wrong prompts"),
    },
    "05_gpt2": {
        "base": (
            GPT2RunConfig(T=400, record_every=10),
            "T = 400, over twice the step by which every seed has learned; probes every 10 steps draw A-21's "
            "rise (T = 500 with 300 probe prompts made this chapter 12.7 minutes alone)",
        ),
        "n_seeds": (10, "medians and ranges that one run cannot move"),
        "one_layer": (PAPER_REFERENCE_RUN, "chapter 2's paper models (shared cache)"),
        "lengths": ((1, 2, 3, 4, 5, 7, 10, 13, 16, 20), "a finer grid up to the source's l_ts = 20"),
        "n_eval": (1000, "error resolution 0.001 per model"),
    },
    "06_multi_concept": {
        "base": (
            ConceptConfig(T=1200, n_eval=2000),
            "1.5 times the steps, three times the step by which the slowest seed reaches its floor (the "
            "error must stay there, not only reach it), and 2000 test prompts (resolution 0.0005)",
        ),
        "n_seeds": (10, "bootstrap intervals of the rate over 10 independent trainings"),
        "lengths": ((1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128), "a finer grid of test lengths, out to 8 L"),
        "combine_sums": ((0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.2, 1.4, 2.0), "a finer scan of the coefficient sum"),
        "noise_levels": ((0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8), "a finer scan of the noise"),
    },
}

_CLASSES = {
    "01_in_domain": InDomainProfile,
    "02_out_of_domain": OODProfile,
    "03_pruning": PruningProfile,
    "04_cot_vs_icl": CoTProfile,
    "05_gpt2": GPT2Profile,
    "06_multi_concept": ConceptProfile,
}


def get_profile(chapter: str, profile: str = "quick", **overrides):
    """The validated parameter profile of a chapter.

    ``profile`` is ``"quick"`` (the class defaults: a chapter runs in about a minute
    or two on two CPU cores) or ``"paper"`` (the defaults changed by :data:`PAPER`).
    ``overrides`` replace single fields; ``None`` values are ignored so that a
    notebook's parameters cell can pass its optional overrides straight through.
    Fields of the base run configuration may be overridden by name too (e.g.
    ``lr=5.0``); an unknown name is an error that names it.
    """
    check_choice("chapter", chapter, sorted(_CLASSES))
    check_choice("profile", profile, PROFILE_NAMES)
    cls = _CLASSES[chapter]
    values = {k: v for k, (v, _) in PAPER[chapter].items()} if profile == "paper" else {}
    base = values.get("base", _default(cls, "base"))
    base_fields = {f.name for f in fields(type(base))}
    own_fields = {f.name for f in fields(cls)}
    base_changes = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key in own_fields and key != "name":
            values[key] = value
        elif key in base_fields:
            base_changes[key] = value
        else:
            allowed = sorted((own_fields | base_fields) - {"name", "base"})
            raise ValueError(f"parameter {key!r} is unknown for chapter {chapter!r}: allowed {allowed}")
    if base_changes:
        values["base"] = values.get("base", base).replace(**base_changes)
        shared = {k: v for k, v in base_changes.items() if k in GPT2_SHARED_DATA}
        if cls is GPT2Profile and shared and overrides.get("one_layer") is None:
            values["one_layer"] = values.get("one_layer", _default(cls, "one_layer")).replace(**shared)
    return cls(name=profile, **values)


def _default(cls, name):
    return next(f.default for f in fields(cls) if f.name == name)


def _show(value) -> str:
    if isinstance(value, (ICLConfig, CoTConfig, GPT2RunConfig, ConceptConfig)):
        default = type(value)()
        changed = [
            f"{f.name}={getattr(value, f.name)}"
            for f in fields(value)
            if getattr(value, f.name) != getattr(default, f.name)
        ]
        return f"{type(value).__name__}({', '.join(changed)})"
    if isinstance(value, tuple) and len(value) > 8:
        return f"{len(value)} values, {value[0]} to {value[-1]}"
    return str(value)


def describe() -> list[tuple]:
    """The paper profile as rows ``(chapter, field, quick value, paper value, reason)``."""
    return [
        (chapter, name, _show(_default(_CLASSES[chapter], name)), _show(value), reason)
        for chapter, diff in PAPER.items()
        for name, (value, reason) in diff.items()
    ]
