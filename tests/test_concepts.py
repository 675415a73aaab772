"""Part III (chapter 6): the concept dictionary, the prompts' statistics, the model against its
literal form and finite differences, the trainer (ensemble = alone, determinism), the cached entry
points, and bad parameters rejected before training with the parameter named."""

import math

import numpy as np
import pytest
import torch

from icl_utils.concepts import ConceptConfig, ConceptTest
from icl_utils.concepts import data as cdata
from icl_utils.concepts import experiments as X
from icl_utils.concepts import model as cmodel
from icl_utils.concepts import training as ctrain
from icl_utils.core import cache, stats
from icl_utils.core.rng import make_generator

SMALL = ConceptConfig(T=30, record_every=10, n_eval=200, B=16, L=8, m=8)


def prompts(cfg=SMALL, test=None, n=2000, seed=0):
    return cdata.sample_prompts(cfg, test, n, make_generator(seed, "probe"))


# ---- the dictionary ---------------------------------------------------------------------------


def test_dictionary_inner_products():
    D = cdata.make_dictionary(SMALL)
    C = SMALL.K + SMALL.K_irr
    W = D.word.reshape(2 * C, -1)
    G = W @ W.T
    beta = SMALL.beta
    for k in range(C):
        assert torch.allclose(G[2 * k, 2 * k], torch.tensor(1.0))  # unit features
        assert math.isclose(float(G[2 * k, 2 * k + 1]), (1 - beta**2) / (1 + beta**2))  # within > 0
    cross = G.clone()
    for k in range(C):
        cross[2 * k : 2 * k + 2, 2 * k : 2 * k + 2] = 0
    assert cross.abs().max() == 0  # across concepts orthogonal
    assert torch.allclose(
        D.label[:, 0] @ D.label[:, 1].T * torch.eye(SMALL.K), torch.eye(SMALL.K) * (1 - beta**2) / (1 + beta**2)
    )
    assert D.noise_dirs.shape == (SMALL.d - 2 * C, SMALL.d)
    assert (D.noise_dirs @ D.word.reshape(2 * C, -1).T).abs().max() == 0


# ---- data statistics --------------------------------------------------------------------------


def test_prompt_shapes_and_query_slot():
    p = prompts(n=50)
    assert p.P.shape == (50, SMALL.L + 1, 2 * SMALL.d)
    assert p.z.shape == (50,) and p.sem.shape == (50, SMALL.L + 1) and p.task.shape == (50,)
    assert (p.P[:, -1, SMALL.d :] == 0).all()  # the query's label slot is empty


def test_words_are_sparse_codes_with_the_task_concept():
    cfg = SMALL.replace(noise_std=0.0)
    p = prompts(cfg, n=500)
    D = cdata.make_dictionary(cfg)
    coef = p.P[..., : cfg.d] @ D.concept.T * math.sqrt(1 + cfg.beta**2)  # coefficient of each concept
    present = coef.abs() > 0.5
    assert (present.sum(-1) == cfg.n_other + 1).all()  # sparsity: task + n_other concepts
    assert present[torch.arange(500), :, p.task].all()  # every word carries the task concept
    sem = p.P[..., : cfg.d] @ D.semantic.T * math.sqrt(1 + cfg.beta**2) / cfg.beta
    assert torch.equal(torch.sign(sem[torch.arange(500), :, p.task]), p.sem)


def test_label_balance_and_label_features():
    p = prompts(n=4000)
    assert abs(float(p.z.mean())) < 0.05
    assert abs(float(p.sem.mean())) < 0.02
    D = cdata.make_dictionary(SMALL)
    y = p.P[:, :-1, SMALL.d :]
    want = D.label[p.task[:, None], (p.sem[:, :-1] < 0).long()]
    assert torch.allclose(y, want)  # no label noise: the label is the semantic
    assert torch.equal(p.z, p.sem[:, -1])


def test_noise_level():
    cfg = SMALL.replace(noise_std=0.3)
    p = prompts(cfg, n=2000)
    resid = p.P[..., : cfg.d] @ cdata.make_dictionary(cfg).noise_dirs.T
    assert abs(float(resid.std()) - 0.3) < 0.01


def test_label_noise_rate_and_switched_semantics():
    p = prompts(SMALL.replace(label_noise=0.2), n=5000)
    assert abs(float((p.z != p.sem[:, -1]).double().mean()) - 0.2) < 0.02
    s = prompts(test=ConceptTest(switched=True, L=8), n=500)
    assert torch.equal(s.z, -s.sem[:, -1])
    D = cdata.make_dictionary(SMALL)
    assert torch.allclose(s.P[:, :-1, SMALL.d :], D.label[s.task[:, None], (s.sem[:, :-1] > 0).long()])
    mixed = prompts(SMALL.replace(switch_rate=0.5), n=4000)
    assert abs(float((mixed.z == -mixed.sem[:, -1]).double().mean()) - 0.5) < 0.03


def test_test_distributions():
    skew = prompts(test=ConceptTest(task_probs=(0.7, 0.1, 0.1, 0.1)), n=5000)
    assert abs(float((skew.task == 0).double().mean()) - 0.7) < 0.02
    held = SMALL.replace(held_out=3)
    assert (prompts(held, n=2000).task != 3).all()
    assert (prompts(held, ConceptTest(held_out=True), n=100).task == 3).all()
    comb = prompts(SMALL.replace(noise_std=0.0), ConceptTest(combine=(0.5, 0.5)), n=200)
    D = cdata.make_dictionary(SMALL)
    c = comb.P[..., : SMALL.d] @ D.concept.T * math.sqrt(1 + SMALL.beta**2)
    assert torch.allclose(c[..., 0], torch.full_like(c[..., 0], 0.5)) and torch.allclose(c[..., 1], c[..., 0])
    assert comb.P[:, -1, 8:].shape[0] == 200 and (comb.task == -1).all()
    assert prompts(test=ConceptTest(L=40), n=3).P.shape[1] == 41


def test_sampling_is_deterministic():
    a, b = prompts(n=30, seed=3), prompts(n=30, seed=3)
    assert torch.equal(a.P, b.P) and torch.equal(a.z, b.z)
    assert not torch.equal(a.P, prompts(n=30, seed=4).P)


def test_sampling_into_a_buffer_equals_sampling_alone():
    """The trainer fills its prompt chunk in place (``out``): the same prompts, bit for bit."""
    a = cdata.sample_prompts(SMALL, None, 30, torch.Generator().manual_seed(3))
    buf = torch.full((30, SMALL.L + 1, 2 * SMALL.d), float("nan"))
    b = cdata.sample_prompts(SMALL, None, 30, torch.Generator().manual_seed(3), out=buf)
    assert b.P is buf and torch.equal(a.P, b.P) and torch.equal(a.z, b.z) and torch.equal(a.sem, b.sem)
    with pytest.raises(ValueError, match="'out'"):
        cdata.sample_prompts(SMALL, None, 30, torch.Generator().manual_seed(3), out=buf[:, :-1])
    with pytest.raises(ValueError, match="'out'"):
        cdata.sample_prompts(SMALL, None, 30, torch.Generator().manual_seed(3), out=buf.float())


# ---- the model ---------------------------------------------------------------------------------


def random_params(E=2, D=16, m=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = cmodel.init_params(D, m, 0.5, 0.3, [torch.Generator().manual_seed(seed + e) for e in range(E)])
    p.W_Q = p.W_Q + 0.3 * torch.randn(p.W_Q.shape, generator=g)
    p.W_K = p.W_K + 0.3 * torch.randn(p.W_K.shape, generator=g)
    return p


def test_forward_equals_the_literal_form():
    cfg = ConceptConfig(K=2, K_irr=2, d=8, L=5, n_other=1)
    P = torch.stack([prompts(cfg, n=7, seed=s).P for s in range(2)])
    params = random_params(D=16)
    out, attn = cmodel.forward(params, P, return_attention=True)
    lit, lit_attn = cmodel.forward_literal(params, P, return_attention=True)
    assert out.shape == (2, 7) and attn.shape == (2, 7, 6)
    assert torch.allclose(out, lit, atol=1e-12) and torch.allclose(attn, lit_attn, atol=1e-12)
    assert torch.allclose(attn.sum(-1), torch.ones(2, 7))


def test_gradients_match_finite_differences():
    cfg = ConceptConfig(K=2, K_irr=2, d=8, L=4, n_other=1)
    pr = prompts(cfg, n=5)
    P, z = pr.P[None], pr.z[None]
    params = random_params(E=1, D=16)
    ws = params.trained()
    for w in ws:
        w.requires_grad_(True)
    loss = cmodel.logistic_loss(cmodel.forward(params, P), z).sum()
    grads = torch.autograd.grad(loss, ws)
    g = torch.Generator().manual_seed(1)
    for w, gr in zip(ws, grads):
        direction = torch.randn(w.shape, generator=g)
        h = 1e-6
        with torch.no_grad():
            w += h * direction
            up = cmodel.logistic_loss(cmodel.forward(params, P), z).sum()
            w -= 2 * h * direction
            down = cmodel.logistic_loss(cmodel.forward(params, P), z).sum()
            w += h * direction
        assert math.isclose(float((up - down) / (2 * h)), float((gr * direction).sum()), rel_tol=1e-5, abs_tol=1e-9)


def test_logistic_loss_and_error_against_literal():
    out = torch.tensor([[2.0, -1.0, 0.0, 0.5]])
    z = torch.tensor([[1.0, 1.0, -1.0, -1.0]])
    want = np.mean([math.log(1 + math.exp(-zz * o)) for zz, o in zip(z[0].tolist(), out[0].tolist())])
    assert math.isclose(float(cmodel.logistic_loss(out, z)), want, rel_tol=1e-12)
    assert float(cmodel.error(out, z)) == 0.75  # f = 0 counts as wrong


def test_initialization():
    p = cmodel.init_params(10, 4, 0.5, 0.01, [make_generator(0, "init")])
    assert torch.equal(p.W_Q[0], 0.5 * torch.eye(10)) and torch.equal(p.W_K[0], 0.5 * torch.eye(10))
    assert p.a[0].tolist() == [0.25, 0.25, -0.25, -0.25]
    assert p.W_O.shape == (1, 4, 10) and 0.003 < float(p.W_O.std()) < 0.03


def test_correct_attention_and_products():
    pr = prompts(SMALL, n=4)
    attn = torch.full((4, SMALL.L + 1), 1.0 / (SMALL.L + 1))
    same = (pr.sem[:, :-1] == pr.sem[:, -1:]).sum(-1) / (SMALL.L + 1)
    assert torch.allclose(ctrain.correct_attention(attn, pr), same.double())
    p = cmodel.init_params(2 * SMALL.d, SMALL.m, 0.5, 0.01, [make_generator(0, "init")])
    a, m, norm = ctrain.weight_products(p, SMALL)
    assert torch.allclose(a[0], torch.tensor([0.25, 0.0, 0.25, 0.25]))  # identity start: attn_init^2, 0 cross
    assert m.shape == (1, 4) and (m < 0.1).all() and norm.shape == (1,)


# ---- training ----------------------------------------------------------------------------------


def test_training_records_and_shapes():
    (r,) = ctrain.train_ensemble([SMALL], snapshots=True)
    R = SMALL.T // SMALL.record_every + 1
    assert r["iters"].tolist() == [0, 10, 20, 30] and r["loss"].shape == (SMALL.T,)
    for k in ("test_err", "test_loss", "test_attn", "train_loss", "train_attn", "mlp_norm"):
        assert r[k].shape == (R,), k
    assert r["attn_prod"].shape == (R, 4) and r["mlp_prod"].shape == (R, 4)
    assert r["snapshots"]["W_Q"].shape == (R, 2 * SMALL.d, 2 * SMALL.d)
    assert math.isclose(r["test_loss"][0], math.log(2), rel_tol=1e-3)  # output ~0 at the start


def test_member_of_an_ensemble_equals_it_trained_alone():
    cfgs = [SMALL.replace(seed=s, lr=lr) for s, lr in ((0, 10.0), (1, 5.0), (2, 10.0))]
    group = ctrain.train_ensemble(cfgs)
    alone = ctrain.train_ensemble([cfgs[1]])[0]
    for k in ("W_Q", "W_K", "W_O"):
        np.testing.assert_allclose(group[1]["weights"][k], alone["weights"][k], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(group[1]["test_err"], alone["test_err"])


def test_training_is_deterministic():
    a = ctrain.train_ensemble([SMALL])[0]
    b = ctrain.train_ensemble([SMALL])[0]
    assert all(np.array_equal(a["weights"][k], b["weights"][k]) for k in a["weights"])


def test_it_learns():
    cfg = ConceptConfig(T=500, n_eval=400, record_every=50)
    (r,) = ctrain.train_ensemble([cfg])
    assert r["test_err"][0] > 0.3 and r["test_err"][-1] < 0.05
    assert r["test_attn"][-1] > 0.8


def test_flipping_the_label_features_breaks_the_trained_model():
    """Mutation check: the label embedding's sign flipped in the test prompts (the demonstrations say
    the opposite label) must change the answers of a model that reads the labels."""
    cfg = ConceptConfig(n_eval=400, record_every=50, switch_rate=0.5)
    runs = X.train_concepts([cfg], cache=False)
    good = X.evaluate_concepts(runs, [ConceptTest(n_eval=400)], cache=False)["err"][0, 0]
    pr = X.test_prompts(runs, ConceptTest(n_eval=400))
    pr.P[..., cfg.d :] *= -1
    with torch.no_grad():
        bad = float(cmodel.error(cmodel.forward(X.params_of(runs), pr.P), pr.z)[0])
    assert good < 0.05 and bad > 0.5


def test_divergence_stops_with_the_config_named(monkeypatch):
    """A non-finite loss stops training (through core.sgd.sgd_loop) naming the member's seed and lr."""
    from icl_utils.core.sgd import DivergenceError

    real = ctrain.forward
    calls = [0]

    def poisoned(params, P, return_attention=False):
        calls[0] += 1
        out = real(params, P, return_attention)
        if calls[0] > 8 and not return_attention:
            out = out + float("nan")  # a loss that is no longer finite
        return out

    monkeypatch.setattr(ctrain, "forward", poisoned)
    with pytest.raises(DivergenceError, match="seed = 1, lr = 3.0"):
        ctrain.train_ensemble([SMALL.replace(seed=1, lr=3.0)])


# ---- the cached entry points ---------------------------------------------------------------------


def test_cached_result_equals_uncached(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    fresh = X.train_concepts([SMALL], cache=False)[0]
    first = X.train_concepts([SMALL])[0]
    again = X.train_concepts([SMALL])[0]
    for k in ("W_Q", "W_K", "W_O"):
        assert np.array_equal(fresh["weights"][k], first["weights"][k])
        assert np.array_equal(first["weights"][k], again["weights"][k])
    assert list(tmp_path.rglob("*.pkl"))


def test_evaluation_is_keyed_on_the_weights(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    runs = X.train_concepts([SMALL])
    test = ConceptTest(L=8, n_eval=300)
    e1 = X.evaluate_concepts(runs, [test])["err"][0, 0]
    flipped = [dict(runs[0], weights={**runs[0]["weights"], "a": -runs[0]["weights"]["a"]})]
    e2 = X.evaluate_concepts(flipped, [test])["err"][0, 0]
    assert e1 == X.evaluate_concepts(runs, [test], cache=False)["err"][0, 0]
    assert e2 == X.evaluate_concepts(flipped, [test], cache=False)["err"][0, 0]
    assert e1 != e2


def test_evaluation_at_snapshots():
    runs = X.train_concepts([SMALL], snapshots=True, cache=False)
    ev = X.evaluate_concepts(runs, [ConceptTest(L=8, n_eval=200)], snapshots=True, cache=False)
    assert ev["err"].shape == (1, 1, 4)
    assert ev["err"][0, 0, 0] > 0.3
    final = X.evaluate_concepts(runs, [ConceptTest(L=8, n_eval=200)], cache=False)["err"][0, 0]
    assert ev["err"][0, 0, -1] == final


# ---- statistics ----------------------------------------------------------------------------------


def test_fit_decay_tells_exponential_from_power_law():
    t = np.arange(10, 200, 10.0)
    seeds = np.random.default_rng(0).normal(0, 0.05, (len(t), 5))
    exp_curve = np.exp(-0.03 * t)[:, None] * np.exp(seeds)
    f = stats.fit_decay(t, exp_curve)
    assert f.exponential_better and f.rate[1] < 0.03 < f.rate[2]
    pow_curve = (t**-2.0)[:, None] * np.exp(seeds)
    g = stats.fit_decay(t, pow_curve)
    assert not g.exponential_better and g.power.contains(-2.0)
    with pytest.raises(ValueError, match="'t'"):
        stats.fit_decay([0.0, 1.0], [[0.1], [0.2]])


# ---- bad parameters --------------------------------------------------------------------------------

BAD_RUNS = [
    ({"K": 1}, "'K'"),
    ({"K_irr": -1}, "'K_irr'"),
    ({"d": 10}, "'d'"),
    ({"beta": 1.0}, "'beta'"),
    ({"beta": 0.0}, "'beta'"),
    ({"n_other": 8}, "'n_other'"),
    ({"noise_std": -0.1}, "'noise_std'"),
    ({"noise_std": 1e300}, "'noise_std'"),
    ({"label_noise": 0.5}, "'label_noise'"),
    ({"switch_rate": 1.5}, "'switch_rate'"),
    ({"L": 0}, "'L'"),
    ({"L": 10**6}, "'L'"),
    ({"m": 7}, "'m'"),
    ({"lr": 0.0}, "'lr'"),
    ({"lr": 1e6}, "'lr'"),
    ({"B": 0}, "'B'"),
    ({"T": 0}, "'T'"),
    ({"held_out": 4}, "'held_out'"),
    ({"K": 2, "K_irr": 0, "d": 4, "n_other": 0, "held_out": 1}, "'held_out'"),
    ({"w_std": 0.0}, "'w_std'"),
    ({"seed": -1}, "'seed'"),
]


@pytest.mark.parametrize("kw,name", BAD_RUNS)
def test_bad_run_parameters_are_rejected_naming_them(kw, name):
    with pytest.raises(ValueError, match=name):
        ConceptConfig(**kw)


BAD_TESTS = [
    ({"L": 0}, "'L'"),
    ({"L": 5000}, "'L'"),
    ({"task_probs": (0.5, 0.6)}, "'task_probs'"),
    ({"task_probs": (-0.1, 1.1)}, "'task_probs'"),
    ({"combine": (-0.5, 1.0)}, "'combine'"),
    ({"combine": (0.0, 0.0)}, "'combine'"),
    ({"combine": (1.0,)}, "'combine'"),
    ({"combine": (1.0, 1.0), "held_out": True}, "'combine'"),
    ({"label_noise": 0.7}, "'label_noise'"),
    ({"switched": "yes"}, "'switched'"),
    ({"n_eval": 0}, "'n_eval'"),
]


@pytest.mark.parametrize("kw,name", BAD_TESTS)
def test_bad_test_parameters_are_rejected_naming_them(kw, name):
    with pytest.raises(ValueError, match=name):
        ConceptTest(**kw)


def test_tests_that_do_not_fit_the_run_are_rejected_before_anything_runs():
    runs = [{"config": SMALL.to_dict(), "weights": {}, "iters": np.arange(2)}]
    with pytest.raises(ValueError, match="'task_probs'"):
        X.evaluate_concepts(runs, [ConceptTest(task_probs=(0.5, 0.5))], cache=False)
    with pytest.raises(ValueError, match="'held_out'"):
        X.evaluate_concepts(runs, [ConceptTest(held_out=True)], cache=False)
    with pytest.raises(ValueError, match="'snapshots'"):
        X.evaluate_concepts(runs, [ConceptTest()], snapshots=True, cache=False)
    with pytest.raises(ValueError, match="'configs'"):
        X.train_concepts([SMALL, SMALL.replace(L=9)][:0])
    with pytest.raises(ValueError, match="'results'"):
        X.evaluate_concepts([{"config": {"M1": 3}, "weights": {}}], [ConceptTest()], cache=False)


def test_profile_rejects_bad_chapter_parameters():
    import icl_utils as icl

    with pytest.raises(ValueError, match="'L_short'"):
        icl.get_profile("06_multi_concept", L_short=32)
    with pytest.raises(ValueError, match="'held_out'"):
        icl.get_profile("06_multi_concept", held_out=1)
    with pytest.raises(ValueError, match="'lengths'"):
        icl.get_profile("06_multi_concept", lengths=(0, 8, 64))
    with pytest.raises(ValueError, match="unknown"):
        icl.get_profile("06_multi_concept", alpah=0.3)
    assert icl.get_profile("06_multi_concept", lr=2.5).base.lr == 2.5
