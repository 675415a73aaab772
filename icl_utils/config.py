"""Validated parameters and the chapters' ``quick`` / ``paper`` profiles.

Every experiment in the book is described by one frozen :class:`ICLConfig`
(Part I of SPEC.md, Eqs. 6-8 of [LWLCC24]).  Construction validates every
field, so a bad parameter raises a :class:`ValueError` naming the parameter,
its value and the allowed range *before* any training starts.

The papers publish no dimensions, widths, learning rates, batch sizes or
iteration counts; the defaults below are the measured starting point of
SPEC.md (M1 = 6, M2 = 12, d_X = 20, d_Y = 4, kappa = 0.5, m = 40, l = 20,
alpha = 0.6, B = 128, learning rate 10).  Chapter 1 explains each choice.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields

__all__ = [
    "ICLConfig",
    "TestConfig",
    "InDomainProfile",
    "OODProfile",
    "PruningProfile",
    "CoTProfile",
    "PROFILE_NAMES",
    "get_profile",
    "check_int",
    "check_float",
]

PROFILE_NAMES = ("quick", "paper")


def _fail(name, value, allowed):
    raise ValueError(f"parameter {name!r} = {value!r} is invalid: allowed {allowed}")


def check_int(name, value, lo=None, hi=None, allowed=None):
    """Validate an integer parameter (bools and floats are rejected)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"parameter {name!r} = {value!r} has type {type(value).__name__}: allowed an integer"
            + (f" in {allowed}" if allowed else "")
        )
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        _fail(name, value, allowed or f"integers in [{lo}, {hi if hi is not None else 'inf'})")
    return value


def check_float(name, value, lo=None, hi=None, lo_open=False, hi_open=False, allowed=None):
    """Validate a real parameter: finite, and inside the given (half-)open range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"parameter {name!r} = {value!r} has type {type(value).__name__}: allowed a real number"
            + (f" in {allowed}" if allowed else "")
        )
    value = float(value)
    rng = allowed or (
        ("(" if lo_open else "[")
        + f"{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}"
        + (")" if hi_open or hi is None else "]")
    )
    if not math.isfinite(value):
        _fail(name, value, f"a finite number in {rng}")
    if lo is not None and (value < lo or (lo_open and value == lo)):
        _fail(name, value, rng)
    if hi is not None and (value > hi or (hi_open and value == hi)):
        _fail(name, value, rng)
    return value


class _Fields:
    """``replace`` and ``to_dict`` of the package's frozen configuration dataclasses."""

    def replace(self, **changes):
        """A copy with some fields changed (and validated)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown {type(self).__name__} parameter(s) {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ICLConfig(_Fields):
    """One training run of the Eq. 7 transformer on Part I prompts (SPEC.md, Part I).

    Data (Eq. 6): ``M1`` orthonormal IDR patterns and ``M2`` IDI patterns in
    R^``d_X``, inputs ``mu_j + kappa * nu_k`` (+ ``noise_std`` Gaussian noise),
    label embedding ``+-q`` in R^``d_Y``, prompts of ``l_tr`` context examples
    of which a fraction ``alpha`` carry the task's patterns.  Training tasks
    are a fraction ``task_fraction`` of all M1 (M1 - 1) tasks (rounded up to a
    uniform cover, see :func:`icl_utils.data.split_tasks`).

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
    B: int = 128
    T: int = 600
    lr: float = 10.0
    alpha_test: float = 0.6
    l_ts: int = 20
    n_eval: int = 1000
    record_every: int = 20

    def __post_init__(self):
        check_int("seed", self.seed, 0, allowed="integers >= 0")
        check_int("M1", self.M1, 2, allowed="integers >= 2 (a task needs two IDR patterns)")
        check_int("M2", self.M2, 1, allowed="integers >= 1")
        check_int("d_Y", self.d_Y, 1, allowed="integers >= 1")
        check_int("d_X", self.d_X, self.M1 + self.M2, allowed=f"integers >= M1 + M2 = {self.M1 + self.M2}")
        check_float("kappa", self.kappa, 0.0, 1.0, hi_open=True)
        check_float("noise_std", self.noise_std, 0.0)
        check_int("m", self.m, 2, allowed="even integers >= 2 (half the neurons have a_i = +1/m, half -1/m)")
        if self.m % 2:
            _fail("m", self.m, "even integers >= 2 (half the neurons have a_i = +1/m, half -1/m)")
        check_float("qkv_init", self.qkv_init, 0.0)
        check_float("o_init_std", self.o_init_std, 0.0)
        for name in ("alpha", "alpha_test"):
            v = check_float(name, getattr(self, name), 0.0, 1.0, lo_open=True)
            if self.M1 == 2 and v < 1.0:
                _fail(name, v, "1.0 when M1 = 2 (there is no third pattern to draw)")
        check_int("l_tr", self.l_tr, 1, allowed="integers >= 1")
        check_int("l_ts", self.l_ts, 1, allowed="integers >= 1")
        check_float("task_fraction", self.task_fraction, 0.0, 1.0, lo_open=True)
        check_int("B", self.B, 1, allowed="integers >= 1")
        check_int("T", self.T, 1, allowed="integers >= 1")
        check_float("lr", self.lr, 0.0, lo_open=True)
        check_int("n_eval", self.n_eval, 1, allowed="integers >= 1")
        check_int("record_every", self.record_every, 1, allowed="integers >= 1")

    @property
    def d(self) -> int:
        """Column height of a prompt, d_X + d_Y."""
        return self.d_X + self.d_Y


@dataclass(frozen=True)
class TestConfig(_Fields):
    """A test distribution for trained models (Theorems 1-2 of [LWLCC24]).

    ``S1 = None`` tests in domain, on the ``tasks`` ("unseen", "seen" or "all")
    of each model's own split.  A number ``S1 > 0`` tests out of domain: ODR
    patterns whose IDR coefficients sum to ``S1`` (``group_size`` IDR
    patterns each), ODI patterns in the IDI span with weight ``kappa_ood``
    (default: the training kappa), on all OOD tasks.  Prompts have a fraction
    ``alpha_test`` (alpha') of relevant examples and ``l_ts`` examples;
    ``n_eval`` prompts per model.
    """

    __test__ = False  # not a pytest test class

    alpha_test: float = 0.6
    l_ts: int = 20
    n_eval: int = 1000
    S1: float | None = None
    group_size: int = 2
    kappa_ood: float | None = None
    tasks: str = "unseen"

    def __post_init__(self):
        check_float("alpha_test", self.alpha_test, 0.0, 1.0, lo_open=True)
        check_int("l_ts", self.l_ts, 1, allowed="integers >= 1")
        check_int("n_eval", self.n_eval, 1, allowed="integers >= 1")
        if self.S1 is not None:
            check_float("S1", self.S1, 0.0, lo_open=True, allowed="finite numbers > 0 (or None: in domain)")
        check_int("group_size", self.group_size, 1, allowed="integers >= 1")
        if self.kappa_ood is not None:
            check_float("kappa_ood", self.kappa_ood, 0.0, 1.0, hi_open=True)
        if self.tasks not in ("unseen", "seen", "all"):
            raise ValueError(f"parameter 'tasks' = {self.tasks!r} is invalid: allowed 'unseen', 'seen' or 'all'")


def _tuple_of(name, values, check):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"parameter {name!r} = {values!r} is invalid: allowed a non-empty list")
    values = tuple(values)
    if not values:
        raise ValueError(f"parameter {name!r} = {values!r} is invalid: allowed a non-empty list")
    for v in values:
        check(name, v)
    return values


def _frac(name, value):
    """A fraction in (0, 1] (alpha, alpha', tau, task fractions)."""
    return check_float(name, value, 0.0, 1.0, lo_open=True)


def _rate(name, value):
    """A rate in [0, 1) (pruning rates)."""
    return check_float(name, value, 0.0, 1.0, hi_open=True)


def _positive(name, value):
    return check_float(name, value, 0.0, lo_open=True, allowed="finite numbers > 0")


def _length(name, value):
    return check_int(name, value, 1, allowed="integers >= 1")


class _ChapterProfile:
    """What every chapter profile shares: a validated ``base`` run, ``n_seeds`` seeds,
    tuple-valued sweeps checked element by element."""

    def _check_common(self, base_type) -> None:
        if not isinstance(self.base, base_type):
            raise ValueError(f"parameter 'base' = {self.base!r} is invalid: allowed a {base_type.__name__}")
        check_int("n_seeds", self.n_seeds, 1, allowed="integers >= 1")

    def _check_tuples(self, **checks) -> None:
        for name, check in checks.items():
            object.__setattr__(self, name, _tuple_of(name, getattr(self, name), check))

    @property
    def seeds(self) -> tuple:
        return tuple(range(self.n_seeds))


@dataclass(frozen=True)
class InDomainProfile(_ChapterProfile):
    """Parameters of chapter 1 (Theorem 1, Propositions 1-2).

    ``base`` is the reference run; ``n_seeds`` independent seeds are trained
    for every point of every sweep.  Sweeps: the task fraction
    (``fractions``), the training prompt length (``lengths`` x
    ``alphas_length``, trained ``T_length`` steps and tested at length
    ``l_ts_length``) and the iterations needed to reach ``target_error`` on
    unseen tasks (``alphas_speed``, at most ``T_speed`` steps, measured every
    ``record_every_speed`` steps).
    """

    name: str
    base: ICLConfig
    n_seeds: int
    fractions: tuple = (0.2, 0.4, 0.6, 0.8)
    alphas_length: tuple = (0.2, 0.4, 0.8)
    lengths: tuple = (1, 2, 3, 5, 8, 12, 20)
    T_length: int = 300
    l_ts_length: int = 40
    alphas_speed: tuple = (0.3, 0.4, 0.6, 0.8, 1.0)
    target_error: float = 0.05
    T_speed: int = 1500
    record_every_speed: int = 5
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self._check_common(ICLConfig)
        self._check_tuples(fractions=_frac, alphas_length=_frac, lengths=_length, alphas_speed=_frac)
        for name in ("T_length", "l_ts_length", "T_speed", "record_every_speed"):
            _length(name, getattr(self, name))
        check_float("target_error", self.target_error, 0.0, 0.5, lo_open=True, hi_open=True)


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
    base: ICLConfig
    n_seeds: int
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
    target_error: float = 0.05

    def __post_init__(self):
        self._check_common(ICLConfig)
        self._check_tuples(
            S1s=_positive, lengths=_length, alphas_test=_frac, lengths_baseline=_length, alphas_baseline=_frac
        )
        _positive("S1_alpha", self.S1_alpha)
        for name in ("n_eval", "l_mech", "record_every_mech", "n_eval_baseline"):
            _length(name, getattr(self, name))
        check_float("target_error", self.target_error, 0.0, 0.5, lo_open=True, hi_open=True)


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
    base: ICLConfig
    n_seeds: int
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
        _frac("alpha_test", self.alpha_test)
        _positive("S1", self.S1)
        check_float("grown_factor", self.grown_factor, 1.0, lo_open=True, allowed="finite numbers > 1")
        for name in ("n_random", "l_ts", "n_eval", "n_timing", "timing_repeats"):
            _length(name, getattr(self, name))


# Chapter 3: the quick profile is the class defaults plus these; the paper profile a short diff.
_PRUNING = {
    "quick": dict(
        base=ICLConfig(T=400, n_eval=1000, record_every=10),  # chapter 1's quick reference run, unchanged
        n_seeds=5,  # five models: claims are medians / counts over seeds, not one chaotic run
    ),
    "paper": dict(
        base=ICLConfig(T=1500, n_eval=4000, record_every=5),  # chapter 1's paper reference run (shared cache)
        n_seeds=10,  # more models for the bootstrap intervals over seeds
        rates=tuple(round(0.025 * i, 3) for i in range(17)),  # A-14/A-15 at 2.5 % steps (one neuron at m = 40)
        n_random=100,  # random pruning: more draws per rate (cheap: no forward pass per draw)
        n_eval=4000,  # 4x the prompts: the error's standard error halves
        # Omega(R) sweep at 5 % steps up to 0.9, as at quick: each sign keeps a large neuron
        fractions_large=tuple(round(0.05 * i, 2) for i in range(19)),
        timing_repeats=10,  # best of 10: steadier time ratios
    ),
}


@dataclass(frozen=True)
class CoTProfile(_ChapterProfile):
    """Parameters of chapter 4 (Theorems 4-6 of [LWLCC25], figures B-17 to B-20).

    ``base`` (an :class:`icl_utils.reasoning.CoTConfig`) is trained for every
    alpha in ``alphas_train`` and ``n_seeds`` seeds; the models trained with
    ``alpha_main`` are tested.  Tests use TSR patterns (``tsr_mix``),
    ``n_tasks`` random tasks with noisy examples, ``n_per_task`` prompts each,
    at every length in ``lengths``.  B-17: alpha' in ``alphas_test`` at
    tau^f = ``tau_main``; B-18: tau^f in ``taus`` at alpha' = ``alpha_test_main``;
    B-19: tau^f = ``tau_c1`` with and without Condition 1.
    """

    name: str
    base: object  # an icl_utils.reasoning.CoTConfig
    n_seeds: int
    alphas_train: tuple = (0.3, 0.5, 0.8)
    alpha_main: float = 0.5
    alphas_test: tuple = (0.4, 0.6, 0.8, 1.0)
    taus: tuple = (0.4, 0.5, 0.6, 0.7)
    tau_main: float = 0.6
    alpha_test_main: float = 0.8
    tau_c1: float = 0.36
    lengths: tuple = (1, 2, 5, 10, 20, 40, 70, 100)
    n_tasks: int = 6
    n_per_task: int = 100
    tsr_mix: float = 0.3
    target_error: float = 0.05

    def __post_init__(self):
        from .reasoning import CoTConfig

        self._check_common(CoTConfig)
        self._check_tuples(alphas_train=_frac, alphas_test=_frac, taus=_frac, lengths=_length)
        for name in ("alpha_main", "tau_main", "alpha_test_main", "tau_c1"):
            _frac(name, getattr(self, name))
        if self.alpha_main not in self.alphas_train:
            raise ValueError(f"parameter 'alpha_main' = {self.alpha_main} is invalid: allowed one of alphas_train")
        _length("n_tasks", self.n_tasks)
        _length("n_per_task", self.n_per_task)
        check_float("tsr_mix", self.tsr_mix, 0.0, 1.0, hi_open=True)
        check_float("target_error", self.target_error, 0.0, 0.5, lo_open=True, hi_open=True)


def _cot_profiles():
    from .reasoning import CoTConfig

    return {
        "quick": dict(base=CoTConfig(T=400, record_every=20, n_eval=300), n_seeds=2),
        "paper": dict(
            base=CoTConfig(T=2000, record_every=20, n_eval=1000),
            n_seeds=5,
            alphas_train=(0.2, 0.3, 0.5, 0.8),
            lengths=(1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 55, 70, 85, 100),
            n_tasks=12,
            n_per_task=200,
        ),
    }


_OOD = {
    "quick": dict(base=ICLConfig(T=400, n_eval=1000, record_every=10), n_seeds=3),
    "paper": dict(
        base=ICLConfig(T=1500, n_eval=4000, record_every=5),
        n_seeds=10,
        S1s=(0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.3, 1.6, 2.0),
        lengths=(1, 2, 3, 4, 5, 7, 10, 13, 16, 20, 25, 30, 40, 50, 70, 100),
        n_eval=4000,
        alphas_test=(0.4, 0.6, 0.8, 0.9, 1.0),
        record_every_mech=10,
        lengths_baseline=(6, 8, 10, 12, 14, 16, 18, 20),
        n_eval_baseline=500,
        target_error=0.02,
    ),
}

_IN_DOMAIN = {
    "quick": dict(
        base=ICLConfig(T=400, n_eval=1000, record_every=10),
        n_seeds=3,
        fractions=(0.2, 0.4, 0.6, 0.8),
        alphas_length=(0.2, 0.4, 0.8),
        lengths=(1, 2, 3, 5, 8, 13, 20),
        T_length=400,
        l_ts_length=40,
        alphas_speed=(0.3, 0.4, 0.5, 0.6, 0.8, 1.0),
        target_error=0.05,
        T_speed=400,
        record_every_speed=5,
    ),
    "paper": dict(
        base=ICLConfig(T=1500, n_eval=4000, record_every=5),
        n_seeds=10,
        fractions=(0.2, 0.4, 0.6, 0.8),
        alphas_length=(0.1, 0.2, 0.4, 0.8),
        lengths=(1, 2, 3, 4, 5, 7, 10, 13, 16, 20, 25, 30),
        T_length=1000,
        l_ts_length=60,
        alphas_speed=(0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
        target_error=0.02,
        T_speed=1500,
        record_every_speed=2,
    ),
}

_PROFILES = {
    "01_in_domain": (InDomainProfile, _IN_DOMAIN),
    "02_out_of_domain": (OODProfile, _OOD),
    "03_pruning": (PruningProfile, _PRUNING),
    "04_cot_vs_icl": (CoTProfile, None),
}


def get_profile(chapter: str, profile: str = "quick", **overrides):
    """The validated parameter profile of a chapter.

    ``profile`` is ``"quick"`` (the default: a chapter runs in about a minute
    on two CPU cores) or ``"paper"`` (more seeds, longer training, finer
    sweeps).  ``overrides`` replace single fields; ``None`` values are ignored
    so that a notebook's parameters cell can pass its optional overrides
    straight through.  Fields of the base :class:`ICLConfig` may be overridden
    by name too (e.g. ``lr=5.0``).
    """
    if chapter not in _PROFILES:
        raise ValueError(f"parameter 'chapter' = {chapter!r} is invalid: allowed one of {sorted(_PROFILES)}")
    if profile not in PROFILE_NAMES:
        raise ValueError(f"parameter 'profile' = {profile!r} is invalid: allowed one of {list(PROFILE_NAMES)}")
    cls, table = _PROFILES[chapter]
    table = _cot_profiles() if table is None else table
    values = dict(table[profile])
    base_type = type(values["base"])
    base_fields = {f.name for f in fields(base_type)}
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
            allowed = sorted((own_fields | base_fields) - {"name", "extra", "base"})
            raise ValueError(f"parameter {key!r} is unknown for chapter {chapter!r}: allowed {allowed}")
    if base_changes:
        values["base"] = values["base"].replace(**base_changes)
    return cls(name=profile, **values)
