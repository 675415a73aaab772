"""icl_utils: the small PyTorch package behind *Provable In-Context Learning*.

Five sub-packages, one per layer; a layer imports only the layers above it in this list
(``tests/test_layout.py`` checks it):

* :mod:`icl_utils.core` -- what both papers share: parameter validation, the configuration
  base class, the device, seeded random streams, float64 numerics, the ensemble SGD loop,
  progress bars, the on-disk result cache, power-law fits with bootstrap intervals;
* :mod:`icl_utils.incontext` -- Part I, [LWLCC24]: Eq. 6 prompts, the Eq. 7 transformer, its
  Eq. 8 trainer, probes (Propositions 1-2), magnitude pruning (Theorem 3), classical
  baselines, the experiment entry points, and GPT-2 trained on the same prompts (chapter 5);
* :mod:`icl_utils.cot.data` -- Part II, [LLCCW25]: K-step reasoning prompts, the Eq. 11 model, its
  trainer, chain-of-thought and ICL inference, the transition matrices of Theorems 5-6;
* :mod:`icl_utils.concepts` -- Part III, [BHH+24]: the multi-concept word semantics of chapter 6 (the
  book's reconstruction: concept dictionary, sparse-coding prompts, attention + ReLU MLP, its trainer);
* :mod:`icl_utils.book` -- the executable book: chapter profiles, claims, plots, exported
  data, chapter execution, generated pages, the browser check, launch buttons.

Chapters import it as ``import icl_utils as icl`` and take what they use from the
sub-packages, e.g. ``from icl_utils.incontext import data, experiments``.

Docstrings cite the papers' equations and theorems:

* [LWLCC24] H. Li, M. Wang, S. Lu, X. Cui, P.-Y. Chen, "How Do Nonlinear Transformers Learn
  and Generalize in In-Context Learning?", ICML 2024, arXiv:2402.15607 (Part I: Eqs. 6-8,
  Theorems 1-3, Propositions 1-2);
* [LLCCW25] H. Li, S. Lu, P.-Y. Chen, X. Cui, M. Wang, "Training Nonlinear Transformers for
  Chain-of-Thought Inference: A Theoretical Generalization Analysis", ICLR 2025,
  arXiv:2410.02167 (Part II: Eq. 11, Theorems 4-6, Condition 1).
"""

import importlib

from . import core  # first: float64 numerics for everything below
from ._version import __version__

__all__ = [
    "core",
    "incontext",
    "cot",
    "concepts",
    "book",
    "ICLConfig",
    "get_profile",
    "get_device",
    "set_seed",
    "start_chapter",
    "chapter_parameters",
    "__version__",
]

#: Names the package root offers, imported when first used: a Ray worker or a script that trains
#: does not pay for the book's plotting libraries.
_LAZY = {
    "incontext": (".incontext", None),
    "cot": (".cot", None),
    "concepts": (".concepts", None),
    "book": (".book", None),
    "ICLConfig": (".incontext.config", "ICLConfig"),
    "get_profile": (".book.profiles", "get_profile"),
    "get_device": (".core.device", "get_device"),
    "set_seed": (".book.chapter", "set_seed"),
    "start_chapter": (".book.chapter", "start_chapter"),
    "chapter_parameters": (".book.chapter", "chapter_parameters"),
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'icl_utils' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = importlib.import_module(module, __name__)
    return value if attr is None else getattr(value, attr)


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
