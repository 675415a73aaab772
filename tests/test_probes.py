import numpy as np
import torch

from icl_utils.data import PromptIndices
from icl_utils.model import Params
from icl_utils.probes import attention_concentration, attention_magnitudes, classification_error, wov_embeddings


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
