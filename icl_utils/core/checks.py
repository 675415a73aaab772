"""Parameter validation shared by the whole package.

Every validator raises a :class:`ValueError` that names the parameter, its value and what is
allowed (``parameter 'lr' = -1.0 is invalid: allowed finite numbers > 0``), and returns the value
in a canonical type (an ``int`` for a NumPy integer, a ``float`` for an integer given to a real
parameter), so that equal configurations have equal cache keys.  :func:`check_memory` rejects a
request that cannot fit in the machine's memory, naming the parameter with the largest share.
"""

from __future__ import annotations

import math
import numbers
import os

import torch

__all__ = [
    "check_int",
    "check_float",
    "check_bool",
    "check_choice",
    "check_instance",
    "check_list",
    "check_configs",
    "check_ensemble",
    "check_tensor",
    "check_generator",
    "check_generators",
    "memory_bytes",
    "check_memory",
    "largest",
    "check_same_shape",
    "check_distinct",
    "check_run_configs",
    "MAX_LR",
    "MAX_INIT",
    "MAX_S1",
]

#: The largest learning rate a run config accepts: far past every stable value (the book's are at
#: most 10), so that ``lr = 1e6`` reaches the divergence check while a typo such as 1e300 is
#: rejected with its name before anything is built.
MAX_LR = 1e6
#: The largest initialization scale (qkv_init, o_init_std, qk_init, v_std, attn_init, w_std): the
#: book's are at most 0.5; a scale of 1e300 overflowed at iteration 0 and the error then blamed lr.
MAX_INIT = 100.0
#: The largest OOD coefficient sum S1 a test accepts (the chapters sweep up to 5; 1e300 overflows).
MAX_S1 = 1000.0


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


def check_ensemble(configs, cls):
    """Validate the configurations of one ensemble: a non-empty list of ``cls`` that agree on
    ``cls.ENSEMBLE_FIELDS`` (the fields that fix tensor shapes, loop lengths or a shared optimizer
    setting; every run configuration class declares them)."""
    configs = check_configs(configs, cls)
    fields = cls.ENSEMBLE_FIELDS
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


def check_generators(generators) -> list:
    """A non-empty list of ``torch.Generator``, one per ensemble member (parameter ``generators``)."""
    return check_list(
        "generators",
        generators,
        lambda n, g: check_generator(n, g, optional=False),
        "a non-empty list of torch.Generator (one per member)",
    )


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


def check_distinct(name, values):
    """``values`` (a validated sequence) must hold no value twice: a repeated sweep value, seed or
    learner is one computation twice, which tables and figures cannot tell apart."""
    seen = []
    for v in values:
        if v in seen:
            _fail(name, values, f"distinct values ({v!r} appears more than once)")
        seen.append(v)
    return values


def check_run_configs(results, config_type, trainer: str) -> list:
    """The configurations of trained runs, as ``config_type`` objects; a run another trainer made
    (its configuration has fields ``config_type`` lacks) is rejected, naming ``results``."""
    out = []
    for i, r in enumerate(results):
        try:
            out.append(config_type(**r["config"]))
        except TypeError:
            raise ValueError(
                f"parameter 'results' holds at {i} a run whose configuration is not {_article(config_type.__name__)} "
                f"{config_type.__name__}: allowed results of {trainer}"
            ) from None
    return out
