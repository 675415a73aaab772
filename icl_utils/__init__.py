"""icl_utils: the small PyTorch package behind *Provable In-Context Learning*.

One concern per module:

* :mod:`icl_utils.config` -- validated run configurations (Part I) and the validators;
* :mod:`icl_utils.profiles` -- the chapters' quick profiles (defaults) and the paper diff, with reasons;
* :mod:`icl_utils.data` -- Part I prompt generators (IDR/IDI, tasks, prompts, OOD);
* :mod:`icl_utils.model` -- the Eq. 7 transformer, fast and literal forms;
* :mod:`icl_utils.training` -- one SGD trainer over an ensemble of models;
* :mod:`icl_utils.gpt2` -- GPT-2 on Part I prompts (chapter 5): the batched model, its Adam trainer, probes;
* :mod:`icl_utils.probes` -- error, attention and W_O W_V measurements;
* :mod:`icl_utils.pruning` -- magnitude, random and largest-first neuron pruning;
* :mod:`icl_utils.transitions` -- Part II noisy-step transition matrices, tau^f, tau_o^f, Condition 1;
* :mod:`icl_utils.cot` -- Part II reasoning prompts (positional codes, noisy steps) and Eq. 11;
* :mod:`icl_utils.reasoning` -- Part II training, CoT and ICL inference, attention by category;
* :mod:`icl_utils.experiments` -- one entry point per experiment kind;
* :mod:`icl_utils.cache` -- the on-disk result cache behind the entry points;
* :mod:`icl_utils.baselines` -- classical learners fitted on the context examples;
* :mod:`icl_utils.book` -- executing chapters for the book (``make book``);
* :mod:`icl_utils.numerics` -- float64 everywhere (importing the package sets torch's default dtype);
* :mod:`icl_utils.stats` -- power-law fits with bootstrap intervals over seeds, seed counts;
* :mod:`icl_utils.export` -- measured curves and claims as CSV/JSON beside the executed chapter;
* :mod:`icl_utils.plotting` -- the book's theme and theory overlays.

Chapters import it as ``import icl_utils as icl``.

Docstrings cite the papers' equations and theorems:

* [LWLCC24] H. Li, M. Wang, S. Lu, X. Cui, P.-Y. Chen, "How Do Nonlinear Transformers Learn
  and Generalize in In-Context Learning?", ICML 2024, arXiv:2402.15607 (Part I: Eqs. 6-8,
  Theorems 1-3, Propositions 1-2);
* [LLCCW25] H. Li, S. Lu, P.-Y. Chen, X. Cui, M. Wang, "Training Nonlinear Transformers for
  Chain-of-Thought Inference: A Theoretical Generalization Analysis", ICLR 2025,
  arXiv:2410.02167 (Part II: Eq. 11, Theorems 4-6, Condition 1).
"""

import random

import numpy as np
import torch

from . import (
    baselines,
    cache,
    claims,
    config,
    cot,
    data,
    experiments,
    export,
    gpt2,
    model,
    numerics,
    plotting,
    probes,
    profiles,
    pruning,
    reasoning,
    stats,
    training,
    transitions,
)
from ._version import __version__
from .config import ICLConfig, get_device
from .profiles import get_profile
from .training import train_ensemble

__all__ = [
    "baselines",
    "cache",
    "claims",
    "config",
    "cot",
    "data",
    "experiments",
    "gpt2",
    "model",
    "numerics",
    "stats",
    "export",
    "plotting",
    "probes",
    "profiles",
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
    "chapter_parameters",
    "__version__",
]


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators (the package itself
    draws from explicit per-seed generators, see :func:`icl_utils.data.make_generator`)."""
    seed = config.check_int("seed", seed, 0, 2**32 - 1, allowed="integers in [0, 2**32 - 1]")
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
    plotting.set_theme()
    return get_profile(chapter, profile, **overrides), get_device(device)
