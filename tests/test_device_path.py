"""Every tensor the package computes with lives on the chosen device -- checked without a GPU.

The ``meta`` device stands in for CUDA: tensors on it have shapes and no values, and torch
refuses to mix them with CPU tensors exactly as it refuses to mix CUDA and CPU tensors.  So a
tensor that the model, a probe or a trainer creates on the CPU by default (a missing
``device=``) makes these tests fail here, as it would fail a chapter on a GPU.  The model and
probe kernels run whole; the trainers run every SGD step and every recording on ``meta`` and
stop where the results are copied to the host (a meta tensor has no values to copy)."""

import traceback

import pytest
import torch

from icl_utils.core import sgd
from icl_utils.core.rng import make_generator
from icl_utils.cot import data as cot_data
from icl_utils.cot import model as cot_model
from icl_utils.cot.probes import attention_by_category
from icl_utils.incontext import data, gpt2, model, probes, pruning, training
from icl_utils.incontext.config import ICLConfig

META = torch.device("meta")
CFG = ICLConfig(m=8, n_eval=10, l_ts=5, T=6, record_every=3, B=4, l_tr=5)


@pytest.fixture(scope="module")
def part1():
    m = training.setup_member(CFG)
    idx = data.sample_prompt_indices(m.train_tasks, 0.6, 5, 7, CFG.M1, CFG.M2, make_generator(0, "probe"))[None]
    world = data.World.stack([m.world])
    params = model.Params.cat([model.init_params(CFG.d, CFG.m, 0.3, 0.01, [make_generator(0, "init")])])
    return params.to(META), world.to(META), idx.to(META)


def test_the_eq7_model_and_its_probes_stay_on_the_device(part1):
    params, world, idx = part1
    P = data.embed(world, idx)
    out, attn = model.forward_indexed(params, world, idx, True)
    assert P.device == out.device == attn.device == META
    assert model.forward(params, P).device == META
    assert model.hinge_loss(out, idx.z).device == META
    assert all(v.device == META for v in probes.probe_all(params, P, idx, world.mu).values())
    assert all(v.device == META for v in probes.wov_embeddings(params, world.mu.mean(1), world.q).values())
    assert pruning.neuron_outputs(params, (world, idx)).device == META


def test_gpt2_stays_on_the_device(part1):
    _, world, idx = part1
    cfg = gpt2.GPT2RunConfig(T=2, n_eval=5, B=4)
    w = {k: v.to(META) for k, v in gpt2.stack_weights([gpt2.init_weights(cfg)]).items()}
    out, attn = gpt2.forward(w, data.embed(world, idx), cfg, attention=True)
    assert out.device == attn.device == META
    assert all(v.device == META for v in gpt2.neuron_directions(w, cfg, world.q).values())


def test_the_eq11_model_stays_on_the_device():
    g = make_generator(0, "probe")
    world = cot_data.make_cot_world(4, 2, 8, generator=g)
    prompts = cot_data.sample_cot_prompts(cot_data.sample_steps(1, 2, 4, g), 0.6, 3, 2, g)
    params = cot_model.init_cot_params(8, 0.1, 0.01, [make_generator(0, "init")])
    metaw = type(world)(**{k: v.to(META) if torch.is_tensor(v) else v for k, v in vars(world).items()})
    out, attn = cot_model.forward_indexed(params.to(META), metaw, prompts[None].to(META), return_attention=True)
    assert out.device == attn.device == META
    assert attention_by_category(attn, prompts[None].to(META), 2).device == META


def stops_at_the_host_copy(run, monkeypatch):
    """Run a trainer on meta: every step and recording must run there; the only failure allowed is
    the final copy of the results to the host."""
    monkeypatch.setattr(sgd, "_check_finite", lambda *a, **k: None)  # reads values: none on meta
    with pytest.raises((NotImplementedError, RuntimeError)) as err:
        run()
    frames = [f for f in traceback.extract_tb(err.tb) if "icl_utils" in f.filename]
    assert frames and ".cpu()" in frames[-1].line, f"failed before the results' host copy: {err.value}"


@pytest.mark.parametrize("kwargs", [{}, {"probes": False}, {"snapshots": True}])
def test_the_eq8_trainer_runs_on_the_device(monkeypatch, kwargs):
    monkeypatch.setattr(training, "get_device", lambda device=None: META)
    stops_at_the_host_copy(lambda: training.train_ensemble([CFG, CFG.replace(seed=1)], progress=False, **kwargs),
                           monkeypatch)  # fmt: skip


def test_the_eq8_trainer_with_input_noise_runs_on_the_device(monkeypatch):
    monkeypatch.setattr(training, "get_device", lambda device=None: META)
    stops_at_the_host_copy(lambda: training.train_ensemble([CFG.replace(noise_std=0.1)], progress=False), monkeypatch)


def test_the_gpt2_trainer_runs_on_the_device(monkeypatch):
    monkeypatch.setattr(gpt2, "get_device", lambda device=None: META)
    cfg = gpt2.GPT2RunConfig(T=4, record_every=2, n_eval=5, B=4, l_tr=6, l_ts=6)
    stops_at_the_host_copy(lambda: gpt2.train_ensemble([cfg], progress=False), monkeypatch)
