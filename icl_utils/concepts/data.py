"""The concept dictionary and the multi-concept prompts of Part III ([BHH+24]; chapter 6).

Our reconstruction of the paper's "concept-based low-noise sparse-coding prompt model"
(SPEC.md Part III):

* :func:`make_dictionary` -- for each of the ``K + K_irr`` concepts an orthonormal pair of
  directions (a_k, b_k) of the word block R^d, and the word features
  mu_k^+- = (a_k +- beta b_k) / sqrt(1 + beta^2): within one concept the two features have
  cosine (1 - beta^2) / (1 + beta^2) > 0, across concepts 0.  Task concepts also have label
  features q_k^+- built the same way from their own directions (c_k, e_k) of the label block.
  The directions are standard basis vectors; the noise is isotropic and the model's
  initialization rotation-invariant, so the choice of basis changes no result.
* :func:`sample_prompts` -- a word is the task concept's feature of its semantic s, plus the
  features of ``n_other`` other concepts with random semantics, plus Gaussian noise: a sparse
  code over the dictionary.  Its label is s (-s with switched semantics), flipped with
  probability ``label_noise``.  A prompt stacks the demonstrations [x_i; q_{k*}^{label_i}] and
  the query [x_q; 0] last (as Eq. 6 of [LWLCC24]); only the demonstrations say which concept
  decides the label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..core.checks import check_generator, check_instance, check_int
from ..core.tensors import Tensors
from .config import ConceptConfig, ConceptTest

__all__ = ["Dictionary", "Prompts", "make_dictionary", "sample_prompts", "PLUS", "MINUS"]

#: Index of the + and of the - semantic in a feature table's second axis.
PLUS, MINUS = 0, 1


@dataclass
class Dictionary(Tensors):
    """The concept dictionary of one data model.

    ``concept`` (C, d): the shared direction a_k of each concept; ``semantic`` (C, d): its
    semantic direction b_k; ``word`` (C, 2, d): the word features mu_k^+ and mu_k^- (unit
    norm); ``label_concept`` / ``label_semantic`` (K, d): c_k and e_k of the label block;
    ``label`` (K, 2, d): the label features q_k^+-; ``noise_dirs`` (d - 2C, d): the word
    block's directions outside the dictionary.  C = K + K_irr; concepts 0..K-1 are the task
    concepts, the others irrelevant.
    """

    concept: torch.Tensor
    semantic: torch.Tensor
    word: torch.Tensor
    label_concept: torch.Tensor
    label_semantic: torch.Tensor
    label: torch.Tensor
    noise_dirs: torch.Tensor

    @property
    def d(self) -> int:
        return self.concept.shape[-1]


def make_dictionary(cfg: ConceptConfig) -> Dictionary:
    """The dictionary of ``cfg``'s data model (no randomness: standard basis directions)."""
    check_instance("cfg", cfg, ConceptConfig)
    C, K, d, beta = cfg.K + cfg.K_irr, cfg.K, cfg.d, cfg.beta
    eye = torch.eye(d)
    a, b = eye[0 : 2 * C : 2], eye[1 : 2 * C : 2]
    c, e = eye[0 : 2 * K : 2], eye[1 : 2 * K : 2]
    scale = 1.0 / math.sqrt(1 + beta**2)

    def features(u, v):
        return torch.stack([(u + beta * v) * scale, (u - beta * v) * scale], 1)

    return Dictionary(a, b, features(a, b), c, e, features(c, e), eye[2 * C :])


@dataclass
class Prompts(Tensors):
    """A batch of prompts: ``P`` (n, L + 1, 2d) tokens, the query last; ``z`` (n,) the query's
    label (+-1, after label noise); ``sem`` (n, L + 1) every word's semantic on the task concept
    (+-1, before switching and label noise: a demonstration is *correct* for the query when its
    ``sem`` equals the query's); ``task`` (n,) the task concept (-1 for a combined task)."""

    P: torch.Tensor
    z: torch.Tensor
    sem: torch.Tensor
    task: torch.Tensor


def _signs(shape, g) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=g).mul_(-2).add_(1).double()


def sample_prompts(
    cfg: ConceptConfig, test: ConceptTest | None, n: int, g: torch.Generator | None, out: torch.Tensor | None = None
) -> Prompts:
    """``n`` prompts of ``cfg``'s data model under ``test`` (None: the training distribution), drawn
    from ``g`` alone (the same generator state gives the same prompts).  ``out``: an (n, L + 1, 2d)
    float64 tensor to write the tokens into (the result's ``P`` is then ``out``; a trainer fills its
    prompt chunk in place instead of stacking copies)."""
    check_instance("cfg", cfg, ConceptConfig)
    if test is not None:
        check_instance("test", test, ConceptTest)
        test.check_for(cfg)
    n = check_int("n", n, 1, allowed="integers >= 1")
    check_generator("g", g)
    D = make_dictionary(cfg)
    C, K, d = cfg.K + cfg.K_irr, cfg.K, cfg.d
    L = cfg.L if test is None else test.L
    W = L + 1
    if out is not None:
        check_instance("out", out, torch.Tensor)
        if tuple(out.shape) != (n, W, 2 * d) or out.dtype != torch.float64:
            raise ValueError(
                f"parameter 'out' has shape {tuple(out.shape)} and dtype {out.dtype}: "
                f"allowed a float64 tensor of shape {(n, W, 2 * d)} (n, L + 1, 2d)"
            )
    if test is None:  # a training prompt's semantics are swapped with probability switch_rate
        switched = torch.rand(n, 1, generator=g) < cfg.switch_rate
    else:
        switched = torch.full((n, 1), test.switched)
    flip_p = cfg.label_noise if test is None or test.label_noise is None else test.label_noise
    combine = None if test is None else test.combine
    # the task concept of every prompt
    if combine is not None:
        task = torch.full((n,), -1, dtype=torch.long)
    elif test is not None and test.held_out:
        task = torch.full((n,), cfg.held_out, dtype=torch.long)
    else:
        if test is not None and test.task_probs is not None:
            probs = torch.tensor(test.task_probs)
        else:
            probs = torch.zeros(K)
            probs[list(cfg.training_concepts)] = 1.0
        task = torch.multinomial(probs / probs.sum(), n, replacement=True, generator=g)
    sem = _signs((n, W), g)  # each word's semantic on the task concept
    # the other concepts of every word: n_other distinct ones, none of them the task's
    excluded = torch.zeros(n, C, dtype=torch.bool)
    if combine is not None:
        excluded[:, :2] = True
    else:
        excluded[torch.arange(n), task] = True
    order = torch.rand(n, W, C, generator=g).masked_fill_(excluded[:, None, :], 2.0).argsort(-1)
    others = order[..., : cfg.n_other]  # (n, W, n_other)
    other_signs = torch.randint(0, 2, others.shape, generator=g)  # PLUS or MINUS
    noise = torch.randn(n, W, d, generator=g) * cfg.noise_std
    flips = torch.rand(n, W, generator=g) < flip_p
    # words: task feature + other concepts' features + noise (a sparse code over the dictionary)
    s_idx = (sem < 0).long()
    if combine is None:
        x = D.word[task[:, None], s_idx]
    else:
        x = combine[0] * D.word[0][s_idx] + combine[1] * D.word[1][s_idx]
    x = x + D.word[others, other_signs].sum(-2) + noise
    # labels: the semantic (swapped when switched), flipped with probability label_noise
    lab = torch.where(switched, -sem, sem)
    lab = torch.where(flips, -lab, lab)
    l_idx = (lab < 0).long()
    if combine is None:
        y = D.label[task[:, None], l_idx]
    else:
        y = combine[0] * D.label[0][l_idx] + combine[1] * D.label[1][l_idx]
    y[:, -1] = 0.0  # the query's label slot is empty
    if out is None:
        P = torch.cat([x, y], -1)
    else:
        P = out
        P[..., :d] = x
        P[..., d:] = y
    return Prompts(P, lab[:, -1].clone(), sem, task)
