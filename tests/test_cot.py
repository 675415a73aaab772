import numpy as np
import pytest
import torch

from icl_utils import cot
from icl_utils.cot.transitions import build_transitions


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_world_is_orthonormal():
    for basis in (True, False):
        w = cot.data.make_cot_world(4, 2, 8, basis=basis, generator=gen())
        both = torch.cat([w.patterns, w.codes])
        torch.testing.assert_close(both @ both.T, torch.eye(6), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="'d'"):
        cot.data.make_cot_world(4, 2, 5)
    with pytest.raises(ValueError, match="'K'"):
        cot.data.make_cot_world(4, 0)


def test_steps_are_permutations():
    steps = cot.data.sample_steps(50, 3, 5, gen())
    assert steps.shape == (50, 3, 5)
    assert (torch.sort(steps, dim=-1).values == torch.arange(5)).all()


@pytest.mark.parametrize("alpha", [0.4, 1.0])
def test_prompts_follow_the_chain_and_alpha(alpha):
    K, M, l, n = 2, 4, 20, 2000
    steps = cot.data.sample_steps(n, K, M, gen(1))
    pr = cot.data.sample_cot_prompts(steps, alpha, l, 2, gen(2))
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
    steps = cot.data.sample_steps(3, K, M, gen(3))
    pr = cot.data.sample_cot_prompts(steps, 0.5, l, torch.tensor([1, 2, 3]), gen(4))
    q_in, q_out, q_valid = pr.inp[:, l * K :], pr.out[:, l * K :], pr.valid[:, l * K :]
    for r, k in enumerate([1, 2, 3]):
        assert q_valid[r].tolist() == [j < k for j in (1, 2)] + [True]
        assert q_in[r, -1] == pr.z[r, k - 1] and q_out[r, -1] == -1
        for j in range(1, k):  # history column j holds [z_{j-1}; z_j]
            assert (q_in[r, j - 1], q_out[r, j - 1]) == (pr.z[r, j - 1], pr.z[r, j])
        assert pr.label[r] == pr.z[r, k]


def test_embedding_and_positional_codes():
    w = cot.data.make_cot_world(4, 2, 8)
    steps = cot.data.sample_steps(5, 2, 4, gen(5))
    pr = cot.data.sample_cot_prompts(steps, 0.5, 3, 1, gen(6))
    P = cot.data.embed_cot(w, pr)
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
    one = cot.data.sample_steps(1, K, M, gen(7))
    A = build_transitions(one[0].numpy(), 0.49, condition1=True)
    pr = cot.data.sample_cot_prompts(one.expand(n, K, M), 1.0, l, 1, gen(8), transitions=A)
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
    return cot.model.CoTParams(W_Q=r(E, 2 * d, 2 * d), W_K=r(E, 2 * d, 2 * d), W_V=r(E, d, 2 * d))


def test_fast_equals_literal_equals_loops_with_gradients():
    w = cot.data.make_cot_world(4, 2, 8)
    steps = cot.data.sample_steps(6, 2, 4, gen(9))
    pr = cot.data.sample_cot_prompts(steps, 0.5, 3, torch.tensor([1, 2, 1, 2, 1, 2]), gen(10))
    P = cot.data.embed_cot(w, pr).double()[None].expand(2, -1, -1, -1)
    target = w.patterns[pr.label].double()
    outs, grads = [], []
    for f in (cot.model.forward, cot.model.forward_literal, eq11_by_loops):
        p = random_params()
        for t in p.trained():
            t.requires_grad_(True)
        out = f(p, P, pr.valid)
        outs.append(out)
        grads.append(torch.autograd.grad(cot.model.squared_loss(out, target).sum(), p.trained()))
    for o in outs[1:]:
        torch.testing.assert_close(outs[0], o, rtol=1e-10, atol=1e-12)
    for g in grads[1:]:
        for a, b in zip(grads[0], g):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    _, attn = cot.model.forward(random_params(), P, pr.valid, return_attention=True)
    assert (attn[..., 6] == 0).sum() >= 3  # masked history slots get no attention when k = 1


def test_init_and_validation():
    p = cot.model.init_cot_params(8, 0.1, 0.01, [gen(0), gen(1)])
    assert p.W_Q.shape == (2, 16, 16) and p.W_V.shape == (2, 8, 16)
    assert 0.005 < float(p.W_V.std()) < 0.015
    steps = cot.data.sample_steps(2, 2, 4, gen())
    with pytest.raises(ValueError, match="'alpha'"):
        cot.data.sample_cot_prompts(steps, 0.0, 3, 1, gen())
    with pytest.raises(ValueError, match="'k'"):
        cot.data.sample_cot_prompts(steps, 0.5, 3, 3, gen())
    with pytest.raises(ValueError, match="'l'"):
        cot.data.sample_cot_prompts(steps, 0.5, 0, 1, gen())
    assert np.isfinite(float(cot.model.squared_loss(torch.zeros(1, 2, 8), torch.ones(2, 8))[0]))


def test_indexed_form_equals_eq11():
    w = cot.data.make_cot_world(4, 2, 8)
    steps = cot.data.sample_steps(7, 2, 4, gen(20))
    pr = cot.data.sample_cot_prompts(steps, 0.5, 4, torch.tensor([1, 2, 1, 2, 2, 1, 2]), gen(21))
    P = cot.data.embed_cot(w, pr)[None].expand(2, -1, -1, -1)
    target = w.patterns[pr.label]
    res = []
    for f in (lambda p: cot.model.forward(p, P, pr.valid), lambda p: cot.model.forward_indexed(p, w, pr)):
        p = random_params()
        p = cot.model.CoTParams(*(t.clone() for t in p.trained()))
        for t in p.trained():
            t.requires_grad_(True)
        out = f(p)
        res.append((out, torch.autograd.grad(cot.model.squared_loss(out, target).sum(), p.trained())))
    torch.testing.assert_close(res[0][0], res[1][0], rtol=1e-4, atol=1e-5)
    for a, b in zip(res[0][1], res[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # per-model prompts (leading E axis) give the same as shared ones
    both = cot.data.CoTPrompts(*(torch.stack([t, t]) for t in (pr.inp, pr.out, pr.valid, pr.k, pr.z)))
    p = cot.model.CoTParams(*(t.clone() for t in random_params().trained()))
    torch.testing.assert_close(cot.model.forward_indexed(p, w, both), cot.model.forward_indexed(p, w, pr))


def counted_from_full(pr, M, K):
    """The counted form of full clean prompts: each distinct example once, with its count."""
    n, L = pr.inp.shape
    l = (L - K) // K
    starts = pr.inp[:, : l * K : K]  # (n, l): each example's first pattern
    counts = torch.zeros(n, M).scatter_add_(1, starts, torch.ones(n, l))
    ex_in, ex_out = pr.inp[:, : l * K].view(n, l, K), pr.out[:, : l * K].view(n, l, K)
    order = torch.argsort(starts, dim=1, stable=True)
    first = torch.zeros(n, M, dtype=torch.long)
    first.scatter_(1, starts.gather(1, order.flip(1)), order.flip(1))  # an example that starts at x
    pick = lambda t: t.gather(1, first[..., None].expand(n, M, K)).reshape(n, M * K)
    inp = torch.cat([pick(ex_in), pr.inp[:, l * K :]], 1)
    out = torch.cat([pick(ex_out), pr.out[:, l * K :]], 1)
    valid = torch.cat([torch.ones(n, M * K, dtype=torch.bool), pr.valid[:, l * K :]], 1)
    mult = torch.cat([counts.repeat_interleave(K, 1), torch.ones(n, K)], 1)
    return cot.data.CoTPrompts(inp, out, valid, pr.k, pr.z), mult


def test_counted_prompts_give_eq11_on_the_full_prompt():
    M, K, l = 4, 2, 9
    w = cot.data.make_cot_world(M, K, 8)
    steps = cot.data.sample_steps(7, K, M, gen(22))
    pr = cot.data.sample_cot_prompts(steps, 0.5, l, torch.tensor([1, 2, 1, 2, 2, 1, 2]), gen(23))
    small, mult = counted_from_full(pr, M, K)
    assert (mult[:, : M * K].sum(1) == K * l).all()
    p = cot.model.CoTParams(*(t.clone().requires_grad_(True) for t in random_params().trained()))
    target = w.patterns[pr.label]
    res = []
    for f in (
        lambda: cot.model.forward(p, cot.data.embed_cot(w, pr)[None].expand(2, -1, -1, -1), pr.valid),
        lambda: cot.model.forward_indexed(p, w, small, mult),
    ):
        out = f()
        res.append((out, torch.autograd.grad(cot.model.squared_loss(out, target).sum(), p.trained())))
    torch.testing.assert_close(res[0][0], res[1][0], rtol=1e-4, atol=1e-5)
    for a, b in zip(res[0][1], res[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_counted_prompts_structure_and_statistics():
    M, K, l, n, alpha = 5, 3, 12, 20000, 0.3
    steps = cot.data.sample_steps(n, K, M, gen(24))
    k = torch.randint(1, K + 1, (n,), generator=gen(25))
    pr, mult = cot.data.sample_counted_prompts(steps, alpha, l, k, gen(26))
    assert pr.inp.shape == mult.shape == (n, (M + 1) * K)
    counts = mult[:, : M * K : K]
    assert (counts.sum(1) == l).all() and (counts >= 0).all() and (mult[:, M * K :] == 1).all()
    # example x starts at x and follows the task's steps
    assert (pr.inp[:, : M * K : K] == torch.arange(M)).all()
    f1 = steps[:, 0].gather(1, torch.arange(M).expand(n, M))
    assert torch.equal(pr.out[:, : M * K : K], f1)
    # the query part is that of sample_cot_prompts: correct chain, step k asked
    assert torch.equal(pr.z[:, 1], steps[:, 0].gather(1, pr.z[:, :1])[:, 0]) and torch.equal(pr.k, k)
    # counts: Binomial(l, alpha) on z_0, the rest uniform over the other M - 1 patterns
    on_z0 = counts.gather(1, pr.z[:, :1])[:, 0]
    se = (l * alpha * (1 - alpha) / n) ** 0.5
    assert abs(on_z0.mean().item() - l * alpha) < 5 * se
    assert abs(on_z0.var().item() - l * alpha * (1 - alpha)) < 0.05 * l * alpha * (1 - alpha)
    others = (counts.sum(0) - torch.zeros(M).scatter_add_(0, pr.z[:, 0], on_z0)) / n
    rest = torch.zeros(M).scatter_add_(0, pr.z[:, 0], torch.ones(n))  # prompts whose z_0 is each pattern
    expected = (n - rest) / n * l * (1 - alpha) / (M - 1)
    torch.testing.assert_close(others, expected, rtol=0.03, atol=0)
    with pytest.raises(ValueError, match="'alpha'"):
        cot.data.sample_counted_prompts(steps[:2], 0.0, l, 1, gen())


def test_indexed_form_equals_eq11_on_test_patterns():
    """Inference runs the indexed form on TSR patterns (not orthonormal) and on masked ICL columns."""

    w = cot.inference.eval_world(cot.data.make_cot_world(4, 2, 8), 0.3)
    steps = cot.data.sample_steps(7, 2, 4, gen(22))
    pr = cot.inference.icl_prompts(
        cot.data.sample_cot_prompts(steps, 0.5, 4, torch.tensor([1, 2, 1, 2, 2, 1, 2]), gen(23)), 2
    )
    p = random_params()
    P = cot.data.embed_cot(w, pr)[None].expand(2, -1, -1, -1)
    torch.testing.assert_close(cot.model.forward_indexed(p, w, pr), cot.model.forward(p, P, pr.valid))
