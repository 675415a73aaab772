"""icl_utils: the small PyTorch package behind *Provable In-Context Learning*.

One concern per module (see STYLE.md):

* :mod:`icl_utils.config` -- validated parameters and the quick / paper profiles;
* :mod:`icl_utils.data` -- Part I prompt generators (IDR/IDI, tasks, prompts, OOD);
* :mod:`icl_utils.model` -- the Eq. 7 transformer, fast and literal forms;
* :mod:`icl_utils.training` -- one SGD trainer over an ensemble of models;
* :mod:`icl_utils.probes` -- error, attention and W_O W_V measurements;
* :mod:`icl_utils.pruning` -- magnitude, random and largest-first neuron pruning;
* :mod:`icl_utils.transitions` -- Part II noisy-step transition matrices, tau^f, tau_o^f, Condition 1;
* :mod:`icl_utils.cot` -- Part II reasoning prompts (positional codes, noisy steps) and Eq. 11;
* :mod:`icl_utils.reasoning` -- Part II training, CoT and ICL inference, attention by category;
* :mod:`icl_utils.experiments` -- one entry point per experiment kind;
* :mod:`icl_utils.cache` -- the on-disk result cache behind the entry points;
* :mod:`icl_utils.baselines` -- classical learners fitted on the context examples;
* :mod:`icl_utils.book` -- executing chapters for the book (``make book``);
* :mod:`icl_utils.plotting` -- the book's theme and theory overlays.

Chapters import it as ``import icl_utils as icl``.
"""

import random

import numpy as np
import torch

# The book computes in float64: SGD at learning rate 10 amplifies last-bit differences between CPUs
# (vector width, math-library code paths, thread count) until a run near the edge of generalizing lands
# elsewhere; in float64 the printed results agree across them (tests/test_numerics.py).  Importing the
# package sets torch's default floating dtype, so every tensor the package or a chapter creates is float64.
DTYPE = torch.float64
torch.set_default_dtype(DTYPE)

from . import (  # noqa: E402 - after the dtype is set
    baselines,
    cache,
    claims,
    config,
    cot,
    data,
    experiments,
    model,
    plotting,
    probes,
    pruning,
    reasoning,
    training,
    transitions,
)
from .config import ICLConfig, get_profile  # noqa: E402
from .training import get_device, train_ensemble  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "baselines",
    "cache",
    "claims",
    "config",
    "cot",
    "data",
    "experiments",
    "model",
    "plotting",
    "probes",
    "pruning",
    "reasoning",
    "training",
    "transitions",
    "ICLConfig",
    "get_profile",
    "get_device",
    "train_ensemble",
    "set_seed",
    "start_chapter",
    "__version__",
]


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators (the package itself
    draws from explicit per-seed generators, see :func:`icl_utils.data.make_generator`)."""
    seed = config.check_int("seed", seed, 0, 2**32 - 1, allowed="integers in [0, 2**32 - 1]")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def start_chapter(chapter: str, profile: str = "quick", device=None, **overrides):
    """Everything a chapter's setup cell does: seeds (0), the book's figure theme, the
    validated profile (with ``overrides``; None values keep the profile's), the device.
    Returns ``(profile, device)``."""
    set_seed(0)
    plotting.set_theme()
    return get_profile(chapter, profile, **overrides), get_device(device)
