"""Part I, [LWLCC24]: how a one-layer nonlinear transformer learns and generalizes in context.

* :mod:`~icl_utils.incontext.config` -- ``ICLConfig`` (one Eq. 8 training run), ``EvalConfig`` (a test distribution);
* :mod:`~icl_utils.incontext.data` -- Eq. 6: IDR/IDI patterns, tasks and their split, prompts, OOD patterns;
* :mod:`~icl_utils.incontext.model` -- the Eq. 7 transformer, fast and literal forms, the hinge loss;
* :mod:`~icl_utils.incontext.training` -- Eq. 8's SGD for an ensemble of models, with the records chapter 1 plots;
* :mod:`~icl_utils.incontext.probes` -- error, attention concentration and W_O W_V measurements (Propositions 1-2);
* :mod:`~icl_utils.incontext.pruning` -- magnitude, random and largest-first neuron pruning (Theorem 3);
* :mod:`~icl_utils.incontext.baselines` -- classical learners fitted on a prompt's context examples;
* :mod:`~icl_utils.incontext.gpt2` -- GPT-2 on the same prompts (the papers' multi-layer figures, chapter 5);
* :mod:`~icl_utils.incontext.experiments` -- one cached entry point per experiment kind.
"""

from . import baselines, config, data, experiments, gpt2, model, probes, pruning, training

__all__ = ["baselines", "config", "data", "experiments", "gpt2", "model", "probes", "pruning", "training"]
