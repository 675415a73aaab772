import pytest
import torch

from icl_utils.incontext.model import Params, attention, forward, forward_literal, hinge_loss, init_params


def random_params(E=3, d=7, m=6, seed=0, scale=0.5):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64) * scale  # noqa: E731
    a = torch.cat([torch.full((m // 2,), 1.0 / m), torch.full((m // 2,), -1.0 / m)]).double()
    return Params(W_Q=r(E, d, d), W_K=r(E, d, d), W_V=r(E, d, d), W_O=r(E, m, d), a=a.expand(E, m).clone())


def random_prompts(E=3, n=5, L=6, d=7, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(E, n, L, d, generator=g, dtype=torch.float64)


def eq7_by_loops(p: Params, P: torch.Tensor) -> torch.Tensor:
    """Eq. 7 term by term, one model and one prompt at a time."""
    E, n, L, d = P.shape
    out = torch.zeros(E, n, dtype=P.dtype)
    for e in range(E):
        for k in range(n):
            cols = [P[e, k, i] for i in range(L)]
            pq = cols[-1]
            scores = torch.stack([(p.W_K[e] @ c) @ (p.W_Q[e] @ pq) for c in cols])
            attn = torch.exp(scores - scores.max())
            attn = attn / attn.sum()
            head = sum(p.W_V[e] @ c * attn[i] for i, c in enumerate(cols))
            out[e, k] = p.a[e] @ torch.relu(p.W_O[e] @ head)
    return out


def test_fast_equals_literal_equals_loops():
    p, P = random_params(), random_prompts()
    fast, lit, loops = forward(p, P), forward_literal(p, P), eq7_by_loops(p, P)
    assert fast.shape == (3, 5)
    torch.testing.assert_close(fast, loops, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(lit, loops, rtol=1e-10, atol=1e-12)


def test_fast_and_literal_have_the_same_gradients():
    P = random_prompts()
    z = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0], dtype=torch.float64).expand(3, 5)
    grads = []
    for f in (forward, forward_literal):
        p = random_params(scale=0.2)
        ws = p.trained()
        for w in ws:
            w.requires_grad_(True)
        loss = hinge_loss(f(p, P), z).sum()
        grads.append(torch.autograd.grad(loss, ws))
    for gf, gl in zip(*grads):
        assert gf.abs().max() > 0
        torch.testing.assert_close(gf, gl, rtol=1e-9, atol=1e-12)


def test_attention_is_a_distribution_over_all_columns_including_the_query():
    p, P = random_params(), random_prompts()
    attn = attention(p, P)
    assert attn.shape == (3, 5, 6)
    torch.testing.assert_close(attn.sum(-1), torch.ones(3, 5, dtype=torch.float64))
    out, attn2 = forward(p, P, return_attention=True)
    torch.testing.assert_close(attn, attn2)


def test_members_are_independent():
    p, P = random_params(), random_prompts()
    full = forward(p, P)
    torch.testing.assert_close(forward(p.select(1), P[1:2]), full[1:2])


def test_hinge_loss():
    out = torch.tensor([[2.0, 0.5, -1.0]])
    z = torch.tensor([[1.0, 1.0, 1.0]])
    torch.testing.assert_close(hinge_loss(out, z), torch.tensor([(0 + 0.5 + 2) / 3]))


def test_init_params():
    gens = [torch.Generator().manual_seed(s) for s in range(2)]
    p = init_params(24, 40, 0.3, 0.01, gens)
    assert p.W_Q.shape == (2, 24, 24) and p.W_O.shape == (2, 40, 24) and p.a.shape == (2, 40)
    torch.testing.assert_close(p.W_K[0], 0.3 * torch.eye(24))
    assert (p.a[:, :20] == 1 / 40).all() and (p.a[:, 20:] == -1 / 40).all()
    assert 0.005 < float(p.W_O.std()) < 0.015
    again = init_params(24, 40, 0.3, 0.01, [torch.Generator().manual_seed(s) for s in range(2)])
    assert torch.equal(p.W_O, again.W_O)


@pytest.mark.parametrize("index", [0, [0, 2], slice(1, 3)])
def test_select_and_cat(index):
    p = random_params()
    sel = p.select(index)
    assert sel.W_Q.ndim == 3
    both = Params.cat([p.select(0), p.select([1, 2])])
    assert torch.equal(both.W_O, p.W_O)


def test_indexed_form_equals_eq7_on_embedded_prompts():
    from icl_utils.core.rng import make_generator
    from icl_utils.incontext.data import all_tasks, embed, make_world, sample_prompt_indices
    from icl_utils.incontext.model import forward_indexed

    worlds = [make_world(6, 12, 20, 4, 0.5, make_generator(s, "world")) for s in range(3)]
    from icl_utils.incontext.data import PromptIndices, World

    # one stacked World, each member with its own kappa
    world = World.stack([World(w.mu, w.nu, w.q, k) for w, k in zip(worlds, (0.5, 0.3, 0.7))])
    assert world.mu.shape == (3, 6, 20) and world.kappa.tolist() == [0.5, 0.3, 0.7]

    idx = PromptIndices.stack(
        sample_prompt_indices(all_tasks(6), 0.6, 9, 11, 6, 12, make_generator(s, "train")) for s in range(3)
    )
    P = embed(world, idx)
    z = idx.label[..., -1].double()
    outs, grads = [], []
    for f in (lambda p: forward_indexed(p, world, idx), lambda p: eq7_by_loops(p, P)):
        p = random_params(E=3, d=24, m=8, scale=0.3)
        for w in p.trained():
            w.requires_grad_(True)
        out = f(p)
        outs.append(out)
        grads.append(torch.autograd.grad(hinge_loss(out, z).sum(), p.trained()))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-10, atol=1e-12)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    p = random_params(E=3, d=24, m=8, scale=0.3)
    _, attn = forward_indexed(p, world, idx, return_attention=True)
    torch.testing.assert_close(attn, attention(p, P))


def test_readout_gradient_is_bit_identical_to_autograd_of_the_einsum():
    from icl_utils.incontext.model import readout

    g = torch.Generator().manual_seed(3)
    r = torch.relu(torch.randn(4, 33, 40, generator=g)).requires_grad_(True)
    a = torch.randn(4, 40, generator=g)
    up = torch.randn(4, 33, generator=g)
    ref = torch.einsum("enm,em->en", r, a)
    (g_ref,) = torch.autograd.grad((ref * up).sum(), r)
    out = readout(r, a)
    (g_new,) = torch.autograd.grad((out * up).sum(), r)
    assert torch.equal(out, ref) and torch.equal(g_new, g_ref)
