import numpy as np
import pytest
import torch

from icl_utils import cot
from icl_utils.transitions import build_transitions


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_world_is_orthonormal():
    for basis in (True, False):
        w = cot.make_cot_world(4, 2, 8, basis=basis, generator=gen())
        both = torch.cat([w.patterns, w.codes])
        torch.testing.assert_close(both @ both.T, torch.eye(6), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="'d'"):
        cot.make_cot_world(4, 2, 5)
    with pytest.raises(ValueError, match="'K'"):
        cot.make_cot_world(4, 0)


def test_steps_are_permutations():
    steps = cot.sample_steps(50, 3, 5, gen())
    assert steps.shape == (50, 3, 5)
    assert (torch.sort(steps, dim=-1).values == torch.arange(5)).all()


@pytest.mark.parametrize("alpha", [0.4, 1.0])
def test_prompts_follow_the_chain_and_alpha(alpha):
    K, M, l, n = 2, 4, 20, 2000
    steps = cot.sample_steps(n, K, M, gen(1))
    pr = cot.sample_cot_prompts(steps, alpha, l, 2, gen(2))
    L = l * K + K
    assert pr.inp.shape == (n, L) and pr.out.shape == (n, L)
    ex_in, ex_out = pr.inp[:, : l * K].view(n, l, K), pr.out[:, : l * K].view(n, l, K)
    for j in range(K):  # every example column applies step j + 1 to its input
        assert torch.equal(ex_out[:, :, j], steps[:, j].gather(1, ex_in[:, :, j]))
    assert torch.equal(ex_in[:, :, 1:], ex_out[:, :, :-1])  # chains are consecutive
    same = (ex_in[:, :, 0] == pr.z[:, :1]).float().mean().item()
    assert abs(same - alpha) < 0.015
    assert torch.equal(pr.label, pr.z[:, 2])  # query for step 2: label z_2


def test_query_part_for_every_step():
    K, M, l = 3, 5, 4
    steps = cot.sample_steps(3, K, M, gen(3))
    pr = cot.sample_cot_prompts(steps, 0.5, l, torch.tensor([1, 2, 3]), gen(4))
    q_in, q_out, q_valid = pr.inp[:, l * K :], pr.out[:, l * K :], pr.valid[:, l * K :]
    for r, k in enumerate([1, 2, 3]):
        assert q_valid[r].tolist() == [j < k for j in (1, 2)] + [True]
        assert q_in[r, -1] == pr.z[r, k - 1] and q_out[r, -1] == -1
        for j in range(1, k):  # history column j holds [z_{j-1}; z_j]
            assert (q_in[r, j - 1], q_out[r, j - 1]) == (pr.z[r, j - 1], pr.z[r, j])
        assert pr.label[r] == pr.z[r, k]


def test_embedding_and_positional_codes():
    w = cot.make_cot_world(4, 2, 8)
    steps = cot.sample_steps(5, 2, 4, gen(5))
    pr = cot.sample_cot_prompts(steps, 0.5, 3, 1, gen(6))
    P = cot.embed_cot(w, pr)
    assert P.shape == (5, 8, 16)
    # example column j carries code c_{j}; input/output halves are the patterns
    torch.testing.assert_close(P[:, 0, :8], w.patterns[pr.inp[:, 0]] + w.codes[0])
    torch.testing.assert_close(P[:, 1, :8], w.patterns[pr.inp[:, 1]] + w.codes[1])
    torch.testing.assert_close(P[:, 1, 8:], w.patterns[pr.out[:, 1]])
    assert (P[:, 6] == 0).all()  # masked history slot (k = 1)
    torch.testing.assert_close(P[:, -1, :8], w.patterns[pr.z[:, 0]] + w.codes[0])  # query: z_0 + c_{k-1}
    assert (P[:, -1, 8:] == 0).all()


def test_noisy_examples_follow_the_transition_matrices():
    K, M, l, n = 2, 4, 10, 4000
    one = cot.sample_steps(1, K, M, gen(7))
    A = build_transitions(one[0].numpy(), 0.49, condition1=True)
    pr = cot.sample_cot_prompts(one.expand(n, K, M), 1.0, l, 1, gen(8), transitions=A)
    ex_in, ex_out = pr.inp[:, : l * K].reshape(-1, K), pr.out[:, : l * K].reshape(-1, K)
    correct = (ex_out[:, 0] == one[0, 0][ex_in[:, 0]]).float().mean().item()
    assert abs(correct - 0.7) < 0.02  # p = tau^(1/K) = 0.7 per step


def eq11_by_loops(p, P, valid):
    E, n, L, _ = P.shape
    out = torch.zeros(E, n, p.W_V.shape[1], dtype=P.dtype)
    for e in range(E):
        for r in range(n):
            q = P[e, r, -1]
            cols = [i for i in range(L - 1) if valid[r, i]]
            s = torch.stack([(p.W_K[e] @ P[e, r, i]) @ (p.W_Q[e] @ q) for i in cols])
            a = torch.softmax(s, 0)
            out[e, r] = sum(p.W_V[e] @ P[e, r, i] * a[t] for t, i in enumerate(cols))
    return out


def random_params(E=2, d=8, seed=0):
    g = gen(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64) * 0.4  # noqa: E731
    return cot.CoTParams(W_Q=r(E, 2 * d, 2 * d), W_K=r(E, 2 * d, 2 * d), W_V=r(E, d, 2 * d))


def test_fast_equals_literal_equals_loops_with_gradients():
    w = cot.make_cot_world(4, 2, 8)
    steps = cot.sample_steps(6, 2, 4, gen(9))
    pr = cot.sample_cot_prompts(steps, 0.5, 3, torch.tensor([1, 2, 1, 2, 1, 2]), gen(10))
    P = cot.embed_cot(w, pr).double()[None].expand(2, -1, -1, -1)
    target = w.patterns[pr.label].double()
    outs, grads = [], []
    for f in (cot.forward, cot.forward_literal, eq11_by_loops):
        p = random_params()
        for t in p.trained():
            t.requires_grad_(True)
        out = f(p, P, pr.valid)
        outs.append(out)
        grads.append(torch.autograd.grad(cot.squared_loss(out, target).sum(), p.trained()))
    for o in outs[1:]:
        torch.testing.assert_close(outs[0], o, rtol=1e-10, atol=1e-12)
    for g in grads[1:]:
        for a, b in zip(grads[0], g):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    _, attn = cot.forward(random_params(), P, pr.valid, return_attention=True)
    assert (attn[..., 6] == 0).sum() >= 3  # masked history slots get no attention when k = 1


def test_init_and_validation():
    p = cot.init_cot_params(8, 0.1, 0.01, [gen(0), gen(1)])
    assert p.W_Q.shape == (2, 16, 16) and p.W_V.shape == (2, 8, 16)
    assert 0.005 < float(p.W_V.std()) < 0.015
    steps = cot.sample_steps(2, 2, 4, gen())
    with pytest.raises(ValueError, match="'alpha'"):
        cot.sample_cot_prompts(steps, 0.0, 3, 1, gen())
    with pytest.raises(ValueError, match="'k'"):
        cot.sample_cot_prompts(steps, 0.5, 3, 3, gen())
    with pytest.raises(ValueError, match="'l'"):
        cot.sample_cot_prompts(steps, 0.5, 0, 1, gen())
    assert np.isfinite(float(cot.squared_loss(torch.zeros(1, 2, 8), torch.ones(2, 8))[0]))


def test_indexed_form_equals_eq11():
    w = cot.make_cot_world(4, 2, 8)
    steps = cot.sample_steps(7, 2, 4, gen(20))
    pr = cot.sample_cot_prompts(steps, 0.5, 4, torch.tensor([1, 2, 1, 2, 2, 1, 2]), gen(21))
    P = cot.embed_cot(w, pr)[None].expand(2, -1, -1, -1)
    target = w.patterns[pr.label]
    res = []
    for f in (lambda p: cot.forward(p, P, pr.valid), lambda p: cot.forward_indexed(p, w, pr)):
        p = random_params()
        p = cot.CoTParams(*(t.float() for t in p.trained()))
        for t in p.trained():
            t.requires_grad_(True)
        out = f(p)
        res.append((out, torch.autograd.grad(cot.squared_loss(out, target).sum(), p.trained())))
    torch.testing.assert_close(res[0][0], res[1][0], rtol=1e-4, atol=1e-5)
    for a, b in zip(res[0][1], res[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # per-model prompts (leading E axis) give the same as shared ones
    both = cot.CoTPrompts(*(torch.stack([t, t]) for t in (pr.inp, pr.out, pr.valid, pr.k, pr.z)))
    p = cot.CoTParams(*(t.float() for t in random_params().trained()))
    torch.testing.assert_close(cot.forward_indexed(p, w, both), cot.forward_indexed(p, w, pr))
