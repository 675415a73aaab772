"""What every chapter's setup cell calls: its parameters, seeds, figure theme, profile and device."""

import random
import numpy as np
import torch

from ..core.checks import check_int
from ..core.device import get_device
from .plotting import set_theme
from .profiles import get_profile

__all__ = ['set_seed', 'chapter_parameters', 'start_chapter']


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators (the package itself
    draws from explicit per-seed generators, see :func:`icl_utils.core.rng.make_generator`)."""
    seed = check_int("seed", seed, 0, 2**32 - 1, allowed="integers in [0, 2**32 - 1]")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


#: Names IPython defines in every kernel's namespace (not chapter parameters).
_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


def chapter_parameters(namespace: dict) -> dict:
    """The parameters a chapter was run with, read from its notebook's namespace (``globals()``).

    They are every name the parameters cell and papermill's injected cell defined -- ``profile``,
    ``device`` and any override such as ``-p alpha 0.3`` -- and not the modules, classes and
    functions imported beside them or IPython's own names.  Pass them to :func:`start_chapter`,
    which rejects a name that is neither a profile field nor a run-config field.
    """
    import types

    return {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_")
        and name not in _IPYTHON_NAMES
        and not isinstance(value, types.ModuleType)
        and not callable(value)  # functions and classes
    }


def start_chapter(chapter: str, profile: str = "quick", device=None, **overrides):
    """Everything a chapter's setup cell does: seeds (0), the book's figure theme, the
    validated profile (with ``overrides``; None values keep the profile's), the device.
    Returns ``(profile, device)``."""
    set_seed(0)
    set_theme()
    return get_profile(chapter, profile, **overrides), get_device(device)
