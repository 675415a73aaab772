import numpy as np
import torch

from icl_utils.incontext.data import PromptIndices
from icl_utils.incontext.model import Params
from icl_utils.incontext.probes import (
    attention_concentration,
    attention_magnitudes,
    classification_error,
    wov_embeddings,
)


def test_classification_error_counts_zero_as_wrong():
    out = torch.tensor([[1.0, -2.0, 0.0, 3.0]])
    z = torch.tensor([[1.0, 1.0, 1.0, -1.0]])
    assert classification_error(out, z).tolist() == [0.75]


def test_attention_concentration_by_hand():
    pattern = torch.tensor([[[2, 1, 2, 0, 2]]])  # query pattern 2; contexts 0 and 2 match
    idx = PromptIndices(pattern, torch.zeros_like(pattern), torch.ones(1, 1, 5))
    attn = torch.tensor([[[0.3, 0.1, 0.2, 0.1, 0.3]]])
    r = attention_concentration(attn, idx)
    assert np.allclose([r["attn_same"].item(), r["attn_other"].item(), r["attn_query"].item()], [0.5, 0.2, 0.3])


def test_attention_magnitudes_on_identity_weights():
    d_X, d_Y = 3, 1
    mu = torch.eye(d_X)[None]  # patterns e_0, e_1, e_2
    P = torch.zeros(1, 1, 3, d_X + d_Y)
    P[0, 0, 0, 1] = 1.0  # context with pattern 1
    P[0, 0, 1, 0] = 1.0  # context with pattern 0
    P[0, 0, 2, 1] = 1.0  # query with pattern 1
    idx = PromptIndices(torch.tensor([[[1, 0, 1]]]), torch.zeros(1, 1, 3, dtype=torch.long), torch.ones(1, 1, 3))
    eye = torch.eye(4)[None]
    p = Params(W_Q=2 * eye, W_K=3 * eye, W_V=eye, W_O=torch.ones(1, 2, 4), a=torch.tensor([[0.5, -0.5]]))
    r = attention_magnitudes(p, P, idx, mu)
    assert np.allclose([r["q_norm"].item(), r["q_along"].item(), r["k_norm"].item(), r["k_along"].item()], [2, 2, 3, 3])


def test_wov_embeddings_angles():
    d_X = 2
    mu_bar = torch.tensor([[1.0, 0.0]])
    q = torch.tensor([[0.0, 1.0]])
    W_O = torch.tensor([[[1.0, 0.0, 0.0, 2.0], [0.0, 3.0, 0.0, -1.0]]])  # rows: feature (2), label (2)
    p = Params(W_Q=torch.eye(4)[None], W_K=torch.eye(4)[None], W_V=torch.eye(4)[None], W_O=W_O, a=torch.ones(1, 2))
    r = wov_embeddings(p, mu_bar, q)
    assert np.allclose(r["feat_angle"].numpy(), [[0.0, 90.0]], atol=1e-3)
    assert np.allclose(r["feat_norm"].numpy(), [[1.0, 3.0]])
    assert np.allclose(r["label_angle"].numpy(), [[0.0, 180.0]], atol=1e-3)
    assert np.allclose(r["label_norm"].numpy(), [[2.0, 1.0]])
    assert d_X == 2


def test_attention_of_a_hand_built_matcher_goes_to_the_querys_pattern():
    # Proposition 1's end state built by hand: W_Q = W_K = c * (projection onto the IDR
    # patterns).  Then (W_K p_i)^T W_Q p_query = c^2 [pattern_i == pattern_query], so the
    # softmax puts (k + 1) e^{c^2} / ((k + 1) e^{c^2} + (l - k)) on the k matching contexts
    # and the query, and the rest on the l - k other columns.
    from icl_utils.incontext.model import attention

    d_X, d_Y = 4, 1
    mu = torch.eye(d_X)
    pats = torch.tensor([0, 1, 0, 2, 3, 0])  # 5 contexts, query (last) has pattern 0; k = 2 match
    P = torch.zeros(1, 1, 6, d_X + d_Y)
    P[0, 0, :, :d_X] = mu[pats]
    P[0, 0, :-1, d_X] = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0])
    idx = PromptIndices(pats.view(1, 1, -1), torch.zeros(1, 1, 6, dtype=torch.long), torch.ones(1, 1, 6))
    proj = torch.zeros(d_X + d_Y, d_X + d_Y)
    proj[:d_X, :d_X] = torch.eye(d_X)
    eye = torch.eye(d_X + d_Y)[None]
    for c in (0.0, 1.0, 2.0, 3.0):
        W = (c * proj)[None]
        p = Params(W_Q=W, W_K=W, W_V=eye, W_O=torch.ones(1, 2, d_X + d_Y), a=torch.tensor([[0.5, -0.5]]))
        r = attention_concentration(attention(p, P), idx)
        e = np.exp(c**2)
        expected = 3 * e / (3 * e + 3)
        assert np.isclose(r["attn_same"].item() + r["attn_query"].item(), expected)
        assert np.isclose(r["attn_query"].item(), e / (3 * e + 3))
        assert np.isclose(r["attn_other"].item(), 1 - expected)
    assert r["attn_same"].item() + r["attn_query"].item() > 0.99  # c = 3: Proposition 1's limit


def test_uniform_pattern_share_counts_the_query_and_the_matching_contexts():
    from icl_utils.incontext.probes import uniform_pattern_share

    # alpha = 1, l = 4: two of the four contexts plus the query, out of five columns
    assert uniform_pattern_share(1.0, 4) == 3 / 5
    # by hand on uniform weights over a prompt with the expected number of matches
    pattern = torch.tensor([[[0, 1, 0, 2, 0]]])  # query (last) pattern 0; 2 of 4 contexts match
    idx = PromptIndices(pattern, torch.zeros_like(pattern), torch.ones(1, 1, 5))
    r = attention_concentration(torch.full((1, 1, 5), 0.2), idx)
    assert np.isclose(r["attn_same"].item() + r["attn_query"].item(), uniform_pattern_share(1.0, 4))
