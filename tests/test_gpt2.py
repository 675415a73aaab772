"""GPT-2 on Part I prompts (icl_utils.incontext.gpt2): the batched forward pass against transformers' GPT2Model,
the query-position read-out, ensemble = alone, the probes against literal versions, bad parameters."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from icl_utils.incontext import experiments as X
from icl_utils.incontext import gpt2
from icl_utils.incontext.config import EvalConfig
from icl_utils.incontext.data import PromptIndices, World, embed

TINY = gpt2.GPT2RunConfig(
    n_layer=2, n_head=2, n_embd=16, n_positions=12, l_tr=8, l_ts=8, B=8, T=30, record_every=10, n_eval=20
)


def perturbed(cfg, seed=0, scale=0.3):
    """Initial weights moved off GPT-2's initialization (biases and gains included), so that every
    term of the forward pass matters."""
    g = torch.Generator().manual_seed(seed)
    return {k: v + scale * torch.randn(v.shape, generator=g) for k, v in gpt2.init_weights(cfg).items()}


def reference(weights, cfg, tokens):
    """transformers' GPT2Model between the linear read-in and read-out: (outputs, query attention rows)."""
    read_in, model, read_out = gpt2.to_modules(weights, cfg)
    hidden = model(inputs_embeds=read_in(tokens), output_attentions=True)
    out = read_out(hidden.last_hidden_state[:, -1]).squeeze(-1)  # the query (last) position
    attn = torch.stack([a[:, :, -1, :] for a in hidden.attentions], 0)  # (K, n, H, L)
    return out, attn


def test_forward_equals_transformers_gpt2_output_attention_and_gradients():
    cfg = TINY
    ws = [perturbed(cfg, s) for s in range(2)]
    tokens = torch.randn(2, 5, 7, cfg.d, generator=torch.Generator().manual_seed(1))
    stacked = {k: v.clone().requires_grad_(True) for k, v in gpt2.stack_weights(ws).items()}
    out, attn = gpt2.forward(stacked, tokens, cfg, attention=True)
    assert out.shape == (2, 5) and attn.shape == (2, cfg.n_layer, 5, cfg.n_head, 7)
    out.sum().backward()
    for e in range(2):
        read_in, model, read_out = gpt2.to_modules(ws[e], cfg)
        hidden = model(inputs_embeds=read_in(tokens[e]), output_attentions=True)
        ref = read_out(hidden.last_hidden_state[:, -1]).squeeze(-1)
        torch.testing.assert_close(out[e], ref, rtol=1e-10, atol=1e-10)
        ref_attn = torch.stack([a[:, :, -1, :] for a in hidden.attentions], 0)
        torch.testing.assert_close(attn[e], ref_attn.transpose(0, 0), rtol=1e-10, atol=1e-12)
        ref.sum().backward()
        grads = {f"read_in.{k}": p.grad for k, p in read_in.named_parameters()}
        grads.update({f"read_out.{k}": p.grad for k, p in read_out.named_parameters()})
        grads.update({k: p.grad for k, p in model.named_parameters() if k != "wte.weight"})
        assert set(grads) == set(stacked)
        for k, g in grads.items():
            torch.testing.assert_close(stacked[k].grad[e], g, rtol=1e-9, atol=1e-11, msg=k)


def test_the_output_is_read_at_the_query_position():
    cfg = TINY
    w = gpt2.stack_weights([perturbed(cfg)])
    tokens = torch.randn(1, 3, 6, cfg.d, generator=torch.Generator().manual_seed(2))
    out = gpt2.forward(w, tokens, cfg)
    # causal attention: the query (last) position sees every column, so changing the first one changes F ...
    changed = tokens.clone()
    changed[:, :, 0] += 1.0
    assert not torch.allclose(gpt2.forward(w, changed, cfg), out)
    # ... and F equals the read-out of the reference model's last hidden state, not of another position
    ref, _ = reference({k: v[0] for k, v in w.items()}, cfg, tokens[0])
    torch.testing.assert_close(out[0], ref)


def test_init_weights_are_gpt2s_own_initialization_seeded_by_the_run():
    a, b = gpt2.init_weights(TINY), gpt2.init_weights(TINY)
    c = gpt2.init_weights(TINY.replace(seed=1))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["h.0.attn.c_attn.weight"], c["h.0.attn.c_attn.weight"])
    assert "wte.weight" not in a
    # transformers' GPT-2 initialization: std 0.02, residual projections 0.02 / sqrt(2 n_layer)
    assert abs(a["h.0.mlp.c_fc.weight"].std().item() - 0.02) < 0.003
    assert abs(a["h.0.mlp.c_proj.weight"].std().item() - 0.02 / math.sqrt(2 * TINY.n_layer)) < 0.002
    # the global generator is not disturbed
    torch.manual_seed(5)
    x = torch.rand(3)
    torch.manual_seed(5)
    gpt2.init_weights(TINY)
    assert torch.equal(torch.rand(3), x)


def test_a_member_trained_in_an_ensemble_is_the_member_trained_alone():
    cfgs = [TINY.replace(seed=s) for s in (0, 1, 2)]
    together = gpt2.train_ensemble(cfgs, progress=False)
    alone = gpt2.train_ensemble([cfgs[1]], progress=False)[0]
    for k, v in alone["weights"].items():
        np.testing.assert_allclose(together[1]["weights"][k], v, rtol=1e-8, atol=1e-10, err_msg=k)
    np.testing.assert_allclose(together[1]["loss"], alone["loss"], rtol=1e-8, atol=1e-10)
    assert not np.allclose(together[0]["loss"], together[1]["loss"])


def test_train_results_shapes_and_records():
    r = gpt2.train_ensemble([TINY], progress=False)[0]
    R, K, N = 4, TINY.n_layer, 4 * TINY.n_embd
    assert r["iters"].tolist() == [0, 10, 20, 30] and r["loss"].shape == (TINY.T,)
    for key in ("err_seen", "err_unseen", "loss_unseen"):
        assert r[key].shape == (R,)
    for key in ("attn_same_id", "attn_other_id", "attn_same_odr", "attn_other_odr"):
        assert r[key].shape == (R, K) and np.all((r[key] >= 0) & (r[key] <= 1))
    for key in ("neuron_angle", "neuron_magnitude", "neuron_sign"):
        assert r[key].shape == (R, K, N)
    assert r["model"] == "gpt2" and r["config"]["seed"] == 0


def test_attention_by_pattern_on_a_hand_built_attention():
    # one prompt, columns 0..3 context, 4 the query; columns 1 and 3 share the query's pattern
    idx = PromptIndices(
        pattern=torch.tensor([[[2, 0, 1, 0, 0]]]),
        irrelevant=torch.zeros(1, 1, 5, dtype=torch.long),
        label=torch.ones(1, 1, 5),
    )
    a = torch.tensor([0.1, 0.3, 0.05, 0.35, 0.2])  # layer 0, both heads
    b = torch.tensor([0.0, 0.5, 0.0, 0.5, 0.0])  # layer 1, head 0; head 1 uniform
    attn = torch.stack([torch.stack([a, a]), torch.stack([b, torch.full((5,), 0.2)])])[None, :, None]
    by = gpt2.attention_by_pattern(attn, idx)  # (1, 2)
    torch.testing.assert_close(by["same"][0], torch.tensor([0.325, (0.5 + 0.2) / 2]))
    torch.testing.assert_close(by["other"][0], torch.tensor([0.075, (0.0 + 0.2) / 2]))


def test_neuron_directions_against_a_literal_computation():
    cfg = TINY
    w = gpt2.stack_weights([perturbed(cfg, 3)])
    q = torch.nn.functional.normalize(torch.randn(1, cfg.d_Y, generator=torch.Generator().manual_seed(4)), dim=-1)
    got = gpt2.neuron_directions(w, cfg, q)
    D = cfg.n_embd
    P = torch.eye(D) - torch.ones(D, D) / D  # LayerNorm's centring
    R_y = w["read_in.weight"][0][:, cfg.d_X :]
    r = P @ (w["ln_f.weight"][0] * w["read_out.weight"][0, 0])
    for k in range(cfg.n_layer):
        for i in (0, 7, 4 * D - 1):
            W_V = w[f"h.{k}.attn.c_attn.weight"][0][:, 2 * D :]
            g1, g2 = torch.diag(w[f"h.{k}.ln_1.weight"][0]), torch.diag(w[f"h.{k}.ln_2.weight"][0])
            path = P @ g1 @ W_V @ w[f"h.{k}.attn.c_proj.weight"][0] @ P @ g2
            u = R_y.T @ path @ w[f"h.{k}.mlp.c_fc.weight"][0][:, i]
            angle = math.degrees(math.acos(float(u @ q[0] / u.norm())))
            assert got["magnitude"][0, k, i].item() == pytest.approx(u.norm().item(), rel=1e-10)
            assert got["angle"][0, k, i].item() == pytest.approx(angle, abs=1e-8)
            sign = float(torch.sign(w[f"h.{k}.mlp.c_proj.weight"][0][i] @ r))
            assert got["sign"][0, k, i].item() == sign


def test_train_runs_caches_gpt2_results(tmp_path, monkeypatch):
    monkeypatch.setenv("ICL_CACHE_DIR", str(tmp_path))
    first = X.train_runs([TINY], progress=False)
    assert list(tmp_path.rglob("*"))
    again = X.train_runs([TINY], progress=False)
    np.testing.assert_array_equal(first[0]["loss"], again[0]["loss"])
    with pytest.raises(ValueError, match="snapshots"):
        X.train_runs([TINY], snapshots=True, cache=False)


def test_evaluate_uses_the_one_layer_models_test_prompts():
    r = gpt2.train_ensemble([TINY], progress=False)
    test = EvalConfig(alpha_test=0.6, l_ts=5, n_eval=30, S1=0.8)
    ev = gpt2.evaluate(r, [test], cache=False)
    world, idx = X.eval_prompts(TINY.data_config(), test)
    w = {k: torch.as_tensor(v)[None] for k, v in r[0]["weights"].items()}
    tokens = embed(World.stack([world]), idx[None])
    out = gpt2.forward(w, tokens, TINY)
    assert ev["err"][0, 0] == pytest.approx(float((out * idx.z[None] <= 0).double().mean()))
    assert ev["attn_same"].shape == (1, 1, TINY.n_layer)


@pytest.mark.parametrize(
    "change, name",
    [
        (dict(n_head=3), "n_head"),
        (dict(n_layer=0), "n_layer"),
        (dict(n_embd=0), "n_embd"),
        (dict(l_tr=12), "l_tr"),
        (dict(l_ts=40), "l_ts"),
        (dict(l_min=9), "l_min"),
        (dict(lr=0.0), "lr"),
        (dict(alpha=1.5), "alpha"),
        (dict(M1=1), "M1"),
        (dict(S1_probe=-1.0), "S1_probe"),
    ],
)
def test_bad_parameters_are_rejected_naming_the_parameter(change, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        TINY.replace(**change)


def test_a_test_prompt_longer_than_the_positions_is_rejected_before_work():
    r = gpt2.train_ensemble([TINY], progress=False)
    with pytest.raises(ValueError, match="'l_ts'"):
        gpt2.evaluate(r, [EvalConfig(l_ts=TINY.n_positions)], cache=False)


def test_ensembles_must_share_shapes_and_learning_rate():
    with pytest.raises(ValueError, match="'n_embd' differs"):
        gpt2.train_ensemble([TINY, TINY.replace(n_embd=32, seed=1)], progress=False)
    with pytest.raises(ValueError, match="'lr' differs"):
        gpt2.train_ensemble([TINY, TINY.replace(lr=1e-2, seed=1)], progress=False)


def test_the_model_is_built_with_the_network_unavailable():
    code = (
        "import socket\n"
        "def refuse(*a, **k):\n"
        "    raise OSError('network unavailable in this test')\n"
        "socket.socket.connect = refuse\n"
        "socket.socket.connect_ex = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from icl_utils.incontext import gpt2\n"
        "w = gpt2.init_weights(gpt2.GPT2RunConfig())\n"
        "gpt2.to_modules(w, gpt2.GPT2RunConfig())\n"
        "print(len(w))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) > 0


def test_the_learning_rate_decays_along_a_cosine_and_lengths_cover_the_range():
    cfg = TINY.replace(T=100)
    assert gpt2.schedule_factor(cfg, 0) == 1.0 and gpt2.schedule_factor(cfg, 100) == pytest.approx(0.0)
    assert gpt2.schedule_factor(cfg, 50) == pytest.approx(0.5)
    assert gpt2.schedule_factor(cfg.replace(decay="none"), 70) == 1.0
    lengths = gpt2.length_schedule(cfg)
    assert lengths.shape == (100,) and set(lengths.tolist()) == set(range(cfg.l_min, cfg.l_tr + 1))
    assert torch.equal(lengths, gpt2.length_schedule(cfg.replace(seed=7)))  # shared by an ensemble's members


def test_train_runs_trains_other_learning_rates_in_their_own_ensemble():
    cfgs = [TINY, TINY.replace(lr=2e-3, seed=1)]
    both = X.train_runs(cfgs, progress=False, cache=False)
    alone = gpt2.train_ensemble([cfgs[1]], progress=False)[0]
    np.testing.assert_allclose(both[1]["loss"], alone["loss"], rtol=1e-8, atol=1e-10)


def test_the_chapter_profile_rejects_lengths_past_the_positions():
    from icl_utils.book.profiles import get_profile

    with pytest.raises(ValueError, match="'lengths'"):
        get_profile("05_gpt2", lengths=(1, 70))
    assert get_profile("05_gpt2", "paper").base.T > get_profile("05_gpt2").base.T
