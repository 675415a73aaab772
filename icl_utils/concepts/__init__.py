"""Part III, [BHH+24]: how a transformer harnesses multi-concept word semantics in context (chapter 6).

The paper's body and code are not reachable from the machines this book is built on; the data
model and the model here are the book's reconstruction from the paper's stated setting
(SPEC.md Part III), and chapter 6 states every choice.

* :mod:`~icl_utils.concepts.config` -- :class:`ConceptConfig` (one training run) and :class:`ConceptTest`
  (a test distribution: lengths, skewed task concepts, switched semantics, combined and held-out concepts);
* :mod:`~icl_utils.concepts.data` -- the concept dictionary and the sparse-coding multi-concept prompts;
* :mod:`~icl_utils.concepts.model` -- softmax attention then a ReLU MLP, for an ensemble (fast and literal forms);
* :mod:`~icl_utils.concepts.training` -- logistic-loss SGD for an ensemble, with the paper's dynamics recorded;
* :mod:`~icl_utils.concepts.experiments` -- the cached entry points ``train_concepts`` and ``evaluate_concepts``.
"""

from . import config, data, experiments, model, training
from .config import ConceptConfig, ConceptTest

__all__ = ["config", "data", "experiments", "model", "training", "ConceptConfig", "ConceptTest"]
