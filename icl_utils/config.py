"""Validated parameters: the run configurations of Part I and the validators every module uses.

Every experiment in the book is described by one frozen :class:`ICLConfig`
(Eqs. 6-8 of [LWLCC24]).  Construction validates every
field, so a bad parameter raises a :class:`ValueError` naming the parameter,
its value and the allowed range *before* any training starts.

The papers publish no dimensions, widths, learning rates, batch sizes or
iteration counts; the defaults below are our measured starting point
(M1 = 6, M2 = 12, d_X = 20, d_Y = 4, kappa = 0.5, m = 40, l = 20,
alpha = 0.6, B = 128, learning rate 10).  Chapter 1 explains each choice.  The chapters'
quick and paper profiles are in :mod:`icl_utils.profiles`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass, fields

import torch

__all__ = [
    "ICLConfig",
    "TestConfig",
    "check_int",
    "check_float",
    "check_bool",
    "check_choice",
    "check_instance",
    "check_list",
    "check_configs",
    "check_ensemble",
    "check_generator",
    "check_tensor",
    "check_same_shape",
    "get_device",
    "check_memory",
    "largest",
]


def _short(value, limit=80) -> str:
    """``repr(value)``, cut to ``limit`` characters (tensors, arrays and long lists stay readable)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" or word.startswith(("ICL", "MPS")) else "a"


def _fail(name, value, allowed):
    raise ValueError(f"parameter {name!r} = {_short(value)} is invalid: allowed {allowed}")


def _wrong_type(name, value, allowed):
    raise ValueError(f"parameter {name!r} = {_short(value)} has type {type(value).__name__}: allowed {allowed}")


def check_int(name, value, lo=None, hi=None, allowed=None):
    """Validate an integer parameter and return it as an ``int``.

    Python and NumPy integers are accepted (``np.int64(2)``, the elements of
    ``np.arange(3)``); bools, floats (even integral ones) and strings are rejected.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _wrong_type(name, value, "an integer" + (f" in {allowed}" if allowed else ""))
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        _fail(name, value, allowed or f"integers in [{lo}, {hi if hi is not None else 'inf'})")
    return value


def check_float(name, value, lo=None, hi=None, lo_open=False, hi_open=False, allowed=None):
    """Validate a real parameter: finite, and inside the given (half-)open range; returns a ``float``.

    Python and NumPy reals (and integers) are accepted; bools and strings are rejected.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _wrong_type(name, value, "a real number" + (f" in {allowed}" if allowed else ""))
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


def check_bool(name, value) -> bool:
    """Validate a flag: ``True`` or ``False`` (a NumPy bool too), not a string or a number."""
    import numpy as np

    if not isinstance(value, (bool, np.bool_)):
        _wrong_type(name, value, "True or False")
    return bool(value)


def check_choice(name, value, choices):
    """Validate a name among ``choices`` (strings)."""
    if not isinstance(value, str) or value not in choices:
        _fail(name, value, f"one of {list(choices)}")
    return value


def check_instance(name, value, cls, what=None):
    """Validate that ``value`` is a ``cls`` (a type or a tuple of types)."""
    if not isinstance(value, cls):
        names = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        _wrong_type(name, value, what or f"{_article(names)} {names}")
    return value


def check_list(name, values, check=None, what="a non-empty list"):
    """Validate a non-empty list (any iterable but a string or a mapping); returns a tuple.

    ``check(name, value)`` validates (and may convert) every element.
    """
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        _fail(name, values, what)
    values = tuple(values)
    if not values:
        _fail(name, values, what)
    return tuple(check(name, v) for v in values) if check is not None else values


def check_configs(configs, cls, name="configs"):
    """Validate a non-empty list of run configurations of type ``cls``; returns it as a list."""
    what = f"a non-empty list of {cls.__name__}"
    if isinstance(configs, cls):
        _fail(name, configs, f"{what} (put a single configuration in a list)")
    if isinstance(configs, (str, bytes, dict)) or not hasattr(configs, "__iter__"):
        _fail(name, configs, what)
    configs = list(configs)
    if not configs:
        raise ValueError(f"parameter {name!r} is empty: allowed {what}")
    for c in configs:
        if not isinstance(c, cls):
            raise ValueError(f"parameter {name!r} holds {type(c).__name__}: allowed {cls.__name__} objects")
    return configs


def check_ensemble(configs, cls, fields):
    """Validate the configurations of one ensemble: a non-empty list of ``cls`` that agree on
    ``fields`` (those that fix tensor shapes, loop lengths or a shared optimizer setting)."""
    configs = check_configs(configs, cls)
    ref = configs[0]
    for c in configs[1:]:
        for f in fields:
            if getattr(c, f) != getattr(ref, f):
                raise ValueError(
                    f"parameter 'configs': field {f!r} differs within one ensemble "
                    f"({getattr(ref, f)!r} vs {getattr(c, f)!r}); group configurations by {tuple(fields)}"
                )
    return configs


def check_tensor(name, value, ndim=None):
    """Validate a ``torch.Tensor`` (with ``ndim`` dimensions, an int or a tuple of allowed ones)."""
    if not isinstance(value, torch.Tensor):
        _wrong_type(name, value, "a torch.Tensor")
    if ndim is not None and value.ndim not in (ndim if isinstance(ndim, tuple) else (ndim,)):
        raise ValueError(f"parameter {name!r} has shape {tuple(value.shape)}: allowed {ndim} dimensions")
    return value


def check_generator(name, generator, optional=True):
    """Validate a ``torch.Generator`` (or None, torch's global generator, when ``optional``)."""
    if generator is None and optional:
        return generator
    if not isinstance(generator, torch.Generator):
        _wrong_type(name, generator, "a torch.Generator" + (" or None" if optional else ""))
    return generator


def memory_bytes() -> int | None:
    """The machine's physical memory in bytes (None where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(terms, what: str) -> None:
    """Reject a request that cannot fit in memory, before any work starts.

    ``terms`` holds ``(name, value, bytes)`` triples: the memory (an estimate of the
    arrays it sizes) that parameter ``name`` = ``value`` drives; see :func:`largest`
    for arrays sized by several parameters.  When the sum exceeds the machine's
    physical memory, a ValueError names the parameter with the largest share.
    """
    limit = memory_bytes()
    share: dict = {}
    for name, value, nbytes in terms:
        share[name] = (value, share.get(name, (value, 0))[1] + nbytes)
    total = sum(b for _, b in share.values())
    if limit is None or total <= limit:
        return
    name = max(share, key=lambda k: share[k][1])
    _fail(
        name,
        share[name][0],
        f"values that fit in memory: {what} would need about {total / 2**30:.4g} GiB, "
        f"this machine has {limit / 2**30:.4g} GiB",
    )


def largest(nbytes: int, **sizes) -> tuple:
    """A :func:`check_memory` term for an array of ``nbytes`` sized by several parameters
    (e.g. ``n_eval`` prompts of ``l_ts + 1`` columns): it is charged to the largest size."""
    name = max(sizes, key=sizes.get)
    return (name, sizes[name], nbytes)


class _Fields:
    """``replace`` and ``to_dict`` of the package's frozen configuration dataclasses."""

    def replace(self, **changes):
        """A copy with some fields changed (and validated)."""
        names = [f.name for f in fields(self)]
        unknown = set(changes) - set(names)
        if unknown:
            raise ValueError(f"unknown {type(self).__name__} parameter(s) {sorted(unknown)}: allowed {names}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def _check(self, name, check, *args, **kwargs):
        """Validate field ``name`` with ``check`` and store the value it returns (an ``int`` for
        a NumPy integer, a ``float`` for an integer given to a real field), so that equal
        configurations have equal dictionaries and cache keys."""
        value = check(name, getattr(self, name), *args, **kwargs)
        object.__setattr__(self, name, value)
        return value


@dataclass(frozen=True)
class ICLConfig(_Fields):
    """One training run of the Eq. 7 transformer on Part I prompts (Eqs. 6-8 of [LWLCC24]).

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
        c = self._check
        c("seed", check_int, 0, allowed="integers >= 0")
        c("M1", check_int, 2, allowed="integers >= 2 (a task needs two IDR patterns)")
        c("M2", check_int, 1, allowed="integers >= 1")
        c("d_Y", check_int, 1, allowed="integers >= 1")
        c("d_X", check_int, self.M1 + self.M2, allowed=f"integers >= M1 + M2 = {self.M1 + self.M2}")
        c("kappa", check_float, 0.0, 1.0, hi_open=True)
        c("noise_std", check_float, 0.0)
        c("m", check_int, 2, allowed="even integers >= 2 (half the neurons have a_i = +1/m, half -1/m)")
        if self.m % 2:
            _fail("m", self.m, "even integers >= 2 (half the neurons have a_i = +1/m, half -1/m)")
        c("qkv_init", check_float, 0.0)
        c("o_init_std", check_float, 0.0)
        for name in ("alpha", "alpha_test"):
            v = c(name, check_float, 0.0, 1.0, lo_open=True)
            if self.M1 == 2 and v < 1.0:
                _fail(name, v, "1.0 when M1 = 2 (there is no third pattern to draw)")
        c("l_tr", check_int, 1, allowed="integers >= 1")
        c("l_ts", check_int, 1, allowed="integers >= 1")
        c("task_fraction", check_float, 0.0, 1.0, lo_open=True)
        c("B", check_int, 1, allowed="integers >= 1")
        c("T", check_int, 1, allowed="integers >= 1")
        c("lr", check_float, 0.0, lo_open=True)
        c("n_eval", check_int, 1, allowed="integers >= 1")
        c("record_every", check_int, 1, allowed="integers >= 1")

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
        c = self._check
        c("alpha_test", check_float, 0.0, 1.0, lo_open=True)
        c("l_ts", check_int, 1, allowed="integers >= 1")
        c("n_eval", check_int, 1, allowed="integers >= 1")
        if self.S1 is not None:
            c("S1", check_float, 0.0, lo_open=True, allowed="finite numbers > 0 (or None: in domain)")
        c("group_size", check_int, 1, allowed="integers >= 1")
        if self.kappa_ood is not None:
            c("kappa_ood", check_float, 0.0, 1.0, hi_open=True)
        if not isinstance(self.tasks, str) or self.tasks not in ("unseen", "seen", "all"):
            _fail("tasks", self.tasks, "'unseen', 'seen' or 'all'")


def check_same_shape(name, t, ref) -> None:
    """``t`` must broadcast to ``ref``'s shape without changing it."""
    if isinstance(t, torch.Tensor) and isinstance(ref, torch.Tensor) and t.shape == ref.shape:
        return
    check_tensor("out" if name != "out" else "ref", ref)
    check_tensor(name, t)
    try:
        ok = torch.broadcast_shapes(t.shape, ref.shape) == ref.shape
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(f"parameter {name!r} has shape {tuple(t.shape)}: allowed the shape {tuple(ref.shape)}")


def get_device(device=None) -> torch.device:
    """``device`` if given, else CUDA when available, else the CPU.

    Allowed: None, ``"cpu"``, and -- where CUDA is available -- ``"cuda"`` or
    ``"cuda:N"`` with N below the number of GPUs (strings or ``torch.device``).
    Anything else raises a ValueError naming the parameter before any work starts:
    an unknown name, CUDA on a machine without it, a GPU index that does not exist,
    or a device the package cannot compute on (``"mps"`` has no float64, ``"meta"``
    holds no values).
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = torch.cuda.is_available()
    allowed = "'cpu'" + (f", 'cuda' or 'cuda:N' with N < {torch.cuda.device_count()}" if cuda else "")
    allowed += " or None (CUDA when available, else the CPU)"
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device.strip().lower())
        except (RuntimeError, ValueError) as err:
            raise ValueError(f"parameter 'device' = {device!r} is invalid ({err}): allowed {allowed}") from None
    else:
        raise ValueError(f"parameter 'device' = {device!r} has type {type(device).__name__}: allowed {allowed}")
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not cuda:
            why = "this torch is built without CUDA" if torch.version.cuda is None else "no GPU is visible"
            raise ValueError(
                f"parameter 'device' = {device!r} is invalid: CUDA is not available on this machine ({why}); "
                "allowed 'cpu' or None (the CPU here)"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"parameter 'device' = {device!r} is invalid: no such GPU; allowed {allowed}")
        return dev
    note = " (MPS has no float64, the package's dtype)" if dev.type == "mps" else ""
    raise ValueError(f"parameter 'device' = {device!r} is invalid{note}: allowed {allowed}")
