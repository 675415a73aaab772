"""Part II, [LLCCW25]: how a nonlinear transformer learns chain-of-thought inference.

* :mod:`~icl_utils.cot.config` -- :class:`CoTConfig` (one Eq. 11 training run);
* :mod:`~icl_utils.cot.transitions` -- noisy-step transition matrices, tau^f, tau_o^f, Condition 1;
* :mod:`~icl_utils.cot.data` -- K-step reasoning prompts with positional codes, clean and noisy steps;
* :mod:`~icl_utils.cot.model` -- the attention-only model of Eq. 11, fast and literal forms, the squared loss;
* :mod:`~icl_utils.cot.training` -- SGD on Eq. 11 for an ensemble of models (Theorem 4);
* :mod:`~icl_utils.cot.inference` -- CoT decoding step by step and one-step ICL, their test errors (Theorems 5-6);
* :mod:`~icl_utils.cot.probes` -- attention by (pattern, step) category.
"""

from . import config, data, inference, model, probes, training, transitions

__all__ = ["config", "data", "inference", "model", "probes", "training", "transitions"]
