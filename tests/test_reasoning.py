import numpy as np
import pytest
import torch

from icl_utils import cot


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


M, K, D = 4, 2, 8


def perfect_model(beta=60.0):
    """Eq. 11 built by hand to attend (almost) only to columns with the query's input pattern
    and step, and to output the output half of what it attends to."""
    world = cot.data.make_cot_world(M, K, D)
    I = torch.eye(2 * D)
    W_Q = torch.zeros(2 * D, 2 * D)
    W_Q[:D, :D] = beta * torch.eye(D)  # scores = beta * (input half . input half), codes included
    W_V = torch.cat([torch.zeros(D, D), torch.eye(D)], 1)  # read the output half
    return world, cot.model.CoTParams(W_Q=W_Q[None], W_K=I[None], W_V=W_V[None])


def test_decode_picks_the_nearest_pattern():
    pats = torch.eye(3)
    out = torch.tensor([[0.9, 0.2, 0.0], [0.1, 0.0, 0.7]])
    assert cot.inference.decode(out, pats).tolist() == [0, 2]


def test_cot_error_is_zero_for_a_perfect_model_on_clean_prompts():
    world, params = perfect_model()
    steps = cot.data.sample_steps(300, K, M, gen(1))
    pr = cot.data.sample_cot_prompts(steps, 1.0, 6, K, gen(2))  # every example starts at z_0
    decoded, wrong = cot.inference.cot_inference(params, world, steps, pr)
    assert wrong.max() == 0 and torch.equal(decoded, pr.z)
    v, wrong_icl = cot.inference.icl_inference(params, world, pr)
    assert wrong_icl.max() == 0 and torch.equal(v, pr.z[:, -1])


def test_cot_decoding_on_a_hand_made_prompt():
    world, params = perfect_model()
    steps = torch.tensor([[[1, 2, 3, 0], [3, 2, 1, 0]]])  # f_1: i -> i + 1, f_2: i -> 3 - i
    pr = cot.data.sample_cot_prompts(steps, 1.0, 3, K, gen(3))
    z0 = int(pr.z[0, 0])
    decoded, wrong = cot.inference.cot_inference(params, world, steps, pr)
    assert decoded[0].tolist() == [z0, (z0 + 1) % 4, 3 - (z0 + 1) % 4] and wrong.item() == 0


def test_icl_prompts_keep_only_input_and_final_output():
    steps = cot.data.sample_steps(5, K, M, gen(4))
    pr = cot.data.sample_cot_prompts(steps, 0.5, 3, 2, gen(5))
    ip = cot.inference.icl_prompts(pr, K)
    n, L = pr.inp.shape
    assert ip.valid[:, : 3 * K].tolist() == [[True, False] * 3] * 5
    assert not ip.valid[:, 3 * K : -1].any() and ip.valid[:, -1].all()
    assert torch.equal(ip.out[:, 0 : 3 * K : K], pr.out[:, K - 1 : 3 * K : K])  # [x_i; y_iK]
    assert torch.equal(ip.inp[:, 0 : 3 * K : K], pr.inp[:, 0 : 3 * K : K])
    assert (ip.k == 1).all() and torch.equal(ip.inp[:, -1], pr.z[:, 0])


def test_attention_by_category_sums_and_separates():
    world, params = perfect_model()
    steps = cot.data.sample_steps(200, K, M, gen(6))
    pr = cot.data.sample_cot_prompts(steps, 0.5, 10, torch.randint(1, K + 1, (200,), generator=gen(7)), gen(8))
    _, attn = cot.model.forward(params, cot.data.embed_cot(world, pr)[None], pr.valid, return_attention=True)
    cats = cot.probes.attention_by_category(attn[0], pr, K)
    torch.testing.assert_close(cats.sum(-1), torch.ones(200), atol=1e-5, rtol=0)
    has = ((pr.inp[:, :-1] == pr.inp[:, -1:]) & (torch.arange(pr.inp.shape[1] - 1) % K == pr.k[:, None] - 1)).any(1)
    assert cats[has, 0].min() > 0.99  # the hand-made model attends to same pattern and step


def test_train_cot_learns_and_records():
    cfgs = [cot.config.CoTConfig(seed=s, T=150, record_every=50, n_eval=100, B=64) for s in range(2)]
    runs = cot.training.train_cot(cfgs)
    assert runs[0]["loss"].shape == (150,) and runs[0]["attn"].shape == (4, 4) and runs[0]["cot_err"].shape == (4,)
    assert runs[0]["loss"][-10:].mean() < runs[0]["loss"][:10].mean() / 5
    np.testing.assert_allclose(runs[0]["attn"].sum(-1), 1.0, rtol=1e-5)
    again = cot.training.train_cot(cfgs[:1])[0]
    np.testing.assert_allclose(again["loss"], runs[0]["loss"], rtol=1e-4, atol=1e-6)  # ensemble = alone


def test_test_errors_and_tasks():
    world, params = perfect_model()
    steps, A = cot.inference.eval_tasks(2, K, M, 0.64, True, seed=0)
    e = cot.inference.eval_errors(params, world, steps, A, 1.0, 40, 50)
    assert e["cot"].shape == (1,) and e["cot"][0] < 0.05 and e["icl"][0] < 0.1


@pytest.mark.parametrize(
    "kwargs, name",
    [({"K": 0}, "K"), ({"alpha": 1.5}, "alpha"), ({"d": 5}, "d"), ({"lr": 0.0}, "lr"), ({"M": 1}, "M")],
)
def test_config_validation(kwargs, name):
    with pytest.raises(ValueError, match=repr(name)):
        cot.config.CoTConfig(**kwargs)


def test_inference_is_batched_over_the_ensemble():
    world, perfect = perfect_model()
    rnd = cot.model.init_cot_params(D, 0.1, 0.5, [gen(11)])
    both = cot.model.CoTParams(*(torch.cat([a, b]) for a, b in zip(perfect.trained(), rnd.trained())))
    steps = cot.data.sample_steps(100, K, M, gen(12))
    pr = cot.data.sample_cot_prompts(steps, 0.7, 8, K, gen(13))
    dec, wrong = cot.inference.cot_inference(both, world, steps, pr)
    assert dec.shape == (2, 100, K + 1) and wrong.shape == (2, 100)
    for e, one in enumerate((perfect, rnd)):
        d1, w1 = cot.inference.cot_inference(one, world, steps, pr)
        assert torch.equal(dec[e], d1) and torch.equal(wrong[e], w1)
        v1, wi1 = cot.inference.icl_inference(one, world, pr)
        assert torch.equal(cot.inference.icl_inference(both, world, pr)[0][e], v1)


def test_cot_inference_with_one_prompt_set_per_model_equals_each_model_alone():
    E, K, M, d = 3, 2, 6, 16
    world = cot.data.make_cot_world(M, K, d)
    params = cot.model.init_cot_params(d, 0.3, 0.5, [gen(30 + e) for e in range(E)])
    params.W_Q.add_(0.2 * torch.randn(params.W_Q.shape, generator=gen(60)))  # not the identity: answers differ
    own = [
        cot.data.sample_cot_prompts(cot.data.sample_steps(9, K, M, gen(40 + e)), 0.5, 4, 2, gen(50 + e))
        for e in range(E)
    ]
    stacked = cot.data.CoTPrompts(
        *(torch.stack([getattr(p, f) for p in own]) for f in ("inp", "out", "valid", "k", "z"))
    )
    decoded, wrong = cot.inference.cot_inference(params, world, None, stacked)
    for e in range(E):
        d_e, w_e = cot.inference.cot_inference(params.select(e), world, None, own[e])
        assert torch.equal(decoded[e], d_e) and torch.equal(wrong[e], w_e)


def test_iterations_to_loss_is_nan_when_never_reached():
    loss = np.r_[np.ones(30), np.full(20, 0.01)]
    assert cot.training.iterations_to_loss(loss, 0.05, window=10) == 40.0  # steps 31..40 all at 0.01
    assert cot.training.iterations_to_loss(loss, 0.6, window=10) == 35.0  # steps 26..35: five at 1, five at 0.01
    assert np.isnan(cot.training.iterations_to_loss(np.ones(50), 0.05))  # never reached: no count, not 0
    assert np.isnan(cot.training.iterations_to_loss(np.zeros(5), 0.05, window=10))  # shorter than the window


def test_test_errors_with_one_draw_per_model():
    world, perfect = perfect_model()
    rnd = cot.model.init_cot_params(D, 0.1, 0.5, [gen(14)])
    both = cot.model.CoTParams(*(torch.cat([a, b]) for a, b in zip(perfect.trained(), rnd.trained())))
    steps, A = cot.inference.eval_tasks(2, K, M, 0.49, True, seed=0)
    e = cot.inference.eval_errors(both, world, steps, A, 0.8, 12, 30, seed=[3, 4])
    for i, (one, s) in enumerate(((perfect, 3), (rnd, 4))):
        alone = cot.inference.eval_errors(one, world, steps, A, 0.8, 12, 30, seed=s)  # the same draw as in the ensemble
        assert e["cot"][i] == alone["cot"][0] and e["icl"][i] == alone["icl"][0]
    for kind, n in (("cot", 2 * 30 * K), ("icl", 2 * 30)):  # one division of a count: exact fractions
        counts = np.rint(e[kind] * n)
        np.testing.assert_array_equal(e[kind], counts / n)
    with pytest.raises(ValueError, match="'seed'"):
        cot.inference.eval_errors(both, world, steps, A, 0.8, 12, 30, seed=[3])


def test_needed_length_reads_the_crossing_between_grid_points():
    L = [1, 2, 4, 8]
    assert cot.inference.needed_length(L, [0.5, 0.3, 0.1, 0.0], 0.2) == pytest.approx(
        2 * 2**0.5
    )  # halfway in log length
    assert cot.inference.needed_length(L, [0.01, 0.3, 0.1, 0.0], 0.05) == 1.0  # already there at the first length
    assert np.isnan(cot.inference.needed_length(L, [0.5, 0.4, 0.3, 0.2], 0.05))  # never reached: no length
    with pytest.raises(ValueError, match="'lengths'"):
        cot.inference.needed_length([1, 1, 2], [0.5, 0.1, 0.0], 0.2)
