"""Bad inputs fail loudly and clearly, before any training; a diverged run is never a result.

The table :data:`BAD` calls the public API with wrong types, empty lists, negative
sizes, NaN/inf numbers, wrong shapes and unknown names; every case must raise a
ValueError (or TypeError) whose message names the parameter.  The rest of the file
covers divergence (a non-finite loss stops training, a non-finite output counts as
an error), the result cache (code fingerprint, unwritable folders) and the device.
"""

import errno
import functools
import shutil
import warnings

import numpy as np
import pytest
import torch

import icl_utils as icl
from icl_utils import core, cot
from icl_utils.book.profiles import InDomainProfile, get_profile
from icl_utils.core import cache
from icl_utils.cot import transitions
from icl_utils.incontext import data, experiments, model, probes, pruning, training
from icl_utils.incontext.baselines import knn_predict, make_learner, predict_prompts
from icl_utils.incontext.config import EvalConfig, ICLConfig

NAN, INF = float("nan"), float("inf")
TINY = ICLConfig(T=2, record_every=1, n_eval=8, B=2, l_tr=2, l_ts=2, m=4)
TINY_COT = cot.config.CoTConfig(T=2, record_every=1, n_eval=4, B=2, l_tr=2)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


WORLD = data.make_world(6, 12, 20, 4, 0.5, gen())
TASKS = data.all_tasks(6)
PARAMS = model.init_params(24, 4, 0.3, 0.01, [gen(0), gen(1)])
P_GOOD = torch.zeros(2, 3, 5, 24)
CW = cot.data.make_cot_world(4, 2, 8)
STEPS = cot.data.sample_steps(3, 2, 4, gen())
CPROMPTS = cot.data.sample_cot_prompts(STEPS, 0.5, 3, 2, gen(1))
CPARAMS = cot.model.init_cot_params(8, 0.1, 0.01, [gen()])
STEPS1 = [[0, 1], [1, 0]]
A_GOOD = transitions.build_transitions(STEPS1, 0.81)
X3 = np.zeros((2, 3, 5))
Y3 = np.array([[1, -1, 1], [-1, -1, 1]])


@functools.cache
def trained():
    """One tiny trained run (with snapshots), trained once for the whole table."""
    return experiments.train_runs([TINY], progress=False, cache=False, snapshots=True)


def sample(**kw):
    args = dict(tasks=TASKS, alpha=0.6, l=3, n=4, M1=6, M2=12, generator=gen())
    args.update(kw)
    return data.sample_prompt_indices(**args)


def cot_prompts(**kw):
    args = dict(steps=STEPS, alpha=0.5, l=3, k=1, generator=gen())
    args.update(kw)
    return cot.data.sample_cot_prompts(**args)


def test_errors_cot(**kw):
    steps, A = cot.inference.eval_tasks(2, 2, 4, 0.6, True, 0)
    args = dict(params=CPARAMS, world=CW, steps=steps, transitions=A, alpha_test=0.8, l_ts=3, n_per_task=2, seed=0)
    args.update(kw)
    return cot.inference.eval_errors(**args)


test_errors_cot.__test__ = False  # not a pytest test


def evaluate_cot_args(**kw):
    steps, A = cot.inference.eval_tasks(2, 2, 4, 0.6, True, 0)
    run = {"config": {"seed": 0}, "weights": {"W_Q": 0, "W_K": 0, "W_V": 0}}
    args = dict(results=[run], world=CW, steps=steps, transitions=A, alpha_test=0.8, l_ts=3, n_per_task=2)
    args.update(kw)
    return cot.inference.evaluate_cot(**args)


def nan_weights():
    r = dict(trained()[0])
    r["weights"] = {k: v * np.nan for k, v in r["weights"].items()}
    return [r]


PROFILE = get_profile("01_in_domain")

# (parameter the message must name, call).
BAD = {
    # --- run configurations
    "ICLConfig seed < 0": ("seed", lambda: ICLConfig(seed=-1)),
    "ICLConfig seed float": ("seed", lambda: ICLConfig(seed=1.5)),
    "ICLConfig seed bool": ("seed", lambda: ICLConfig(seed=True)),
    "ICLConfig seed str": ("seed", lambda: ICLConfig(seed="0")),
    "ICLConfig m = 0": ("m", lambda: ICLConfig(m=0)),
    "ICLConfig m odd": ("m", lambda: ICLConfig(m=7)),
    "ICLConfig lr nan": ("lr", lambda: ICLConfig(lr=NAN)),
    "ICLConfig lr inf": ("lr", lambda: ICLConfig(lr=INF)),
    "ICLConfig lr < 0": ("lr", lambda: ICLConfig(lr=-1.0)),
    "ICLConfig kappa str": ("kappa", lambda: ICLConfig(kappa="0.5")),
    "ICLConfig n_eval = 0": ("n_eval", lambda: ICLConfig(n_eval=0)),
    "ICLConfig record_every = 0": ("record_every", lambda: ICLConfig(record_every=0)),
    "ICLConfig noise_std < 0": ("noise_std", lambda: ICLConfig(noise_std=-1.0)),
    "ICLConfig alpha nan": ("alpha", lambda: ICLConfig(alpha=np.nan)),
    "ICLConfig T numpy float": ("T", lambda: ICLConfig(T=np.float64(5))),
    "ICLConfig T None": ("T", lambda: ICLConfig(T=None)),
    "ICLConfig d_Y = 0": ("d_Y", lambda: ICLConfig(d_Y=0)),
    "ICLConfig replace unknown": ("alpah", lambda: ICLConfig().replace(alpah=0.5)),
    "EvalConfig tasks unknown": ("tasks", lambda: EvalConfig(tasks="everything")),
    "EvalConfig S1 = 0": ("S1", lambda: EvalConfig(S1=0)),
    "EvalConfig S1 nan": ("S1", lambda: EvalConfig(S1=NAN)),
    "EvalConfig group_size = 0": ("group_size", lambda: EvalConfig(group_size=0)),
    "EvalConfig kappa_ood = 1": ("kappa_ood", lambda: EvalConfig(kappa_ood=1.0)),
    "EvalConfig n_eval < 0": ("n_eval", lambda: EvalConfig(n_eval=-5)),
    "CoTConfig K = 0": ("K", lambda: cot.config.CoTConfig(K=0)),
    "CoTConfig d < M + K": ("d", lambda: cot.config.CoTConfig(d=3)),
    "CoTConfig lr < 0": ("lr", lambda: cot.config.CoTConfig(lr=-1.0)),
    "CoTConfig v_std inf": ("v_std", lambda: cot.config.CoTConfig(v_std=INF)),
    "CoTConfig M = 1": ("M", lambda: cot.config.CoTConfig(M=1)),
    # --- chapter profiles
    "profile chapter int": ("chapter", lambda: get_profile(3)),
    "profile chapter list": ("chapter", lambda: get_profile(["01_in_domain"])),
    "profile name unknown": ("profile", lambda: get_profile("01_in_domain", "fast")),
    "profile extra": ("extra", lambda: get_profile("01_in_domain", extra="garbage")),
    "profile n_seeds float": ("n_seeds", lambda: get_profile("01_in_domain", n_seeds=1.0)),
    "profile lengths empty": ("lengths", lambda: get_profile("01_in_domain", lengths=())),
    "profile lengths scalar": ("lengths", lambda: get_profile("01_in_domain", lengths=5)),
    "profile fractions nan": ("fractions", lambda: get_profile("01_in_domain", fractions=(NAN,))),
    "profile S1s str": ("S1s", lambda: get_profile("02_out_of_domain", S1s="0.5")),
    "profile n_random = 0": ("n_random", lambda: get_profile("03_pruning", n_random=0)),
    "profile CoT lengths 0": ("lengths", lambda: get_profile("04_cot_vs_icl", lengths=[0])),
    "profile CoT tau_c1 = 0": ("tau_c1", lambda: get_profile("04_cot_vs_icl", tau_c1=0)),
    "profile replace unknown": ("bogus", lambda: PROFILE.replace(bogus=1)),
    "profile replace invalid": ("n_seeds", lambda: PROFILE.replace(n_seeds=0)),
    "profile base dict": ("base", lambda: InDomainProfile(name="x", base={}, n_seeds=1)),
    "start_chapter device": ("device", lambda: icl.start_chapter("01_in_domain", device="banana")),
    "start_chapter unknown": ("bogus", lambda: icl.start_chapter("01_in_domain", bogus=1)),
    "set_seed < 0": ("seed", lambda: icl.set_seed(-1)),
    "set_seed str": ("seed", lambda: icl.set_seed("0")),
    "set_seed too large": ("seed", lambda: icl.set_seed(2**40)),
    # --- devices
    "device unknown": ("device", lambda: icl.get_device("banana")),
    "device bad cuda index": ("device", lambda: icl.get_device("cuda:99")),
    "device meta": ("device", lambda: icl.get_device("meta")),
    "device mps": ("device", lambda: icl.get_device("mps")),
    "device float": ("device", lambda: icl.get_device(1.5)),
    "train_ensemble device": ("device", lambda: training.train_ensemble([TINY], device="banana", progress=False)),
    "train_runs device": ("device", lambda: experiments.train_runs([TINY], device="banana", cache=False)),
    "evaluate_runs device": ("device", lambda: experiments.evaluate_runs(trained(), [EvalConfig()], device="x")),
    "init_params device": ("device", lambda: model.init_params(24, 4, 0.3, 0.01, [gen()], device="banana")),
    # --- generators and prompts of Part I
    "make_generator seed str": ("seed", lambda: core.rng.make_generator("x")),
    "make_generator seed < 0": ("seed", lambda: core.rng.make_generator(-1)),
    "make_generator seed float": ("seed", lambda: core.rng.make_generator(1.5)),
    "make_generator stream unknown": ("stream", lambda: core.rng.make_generator(0, "nope")),
    "make_generator stream < 0": ("stream", lambda: core.rng.make_generator(0, -1)),
    "make_generator stream float": ("stream", lambda: core.rng.make_generator(0, 1.5)),
    "make_world generator int": ("generator", lambda: data.make_world(6, 12, 20, 4, 0.5, 3)),
    "make_world M1 = 1": ("M1", lambda: data.make_world(1, 12, 20, 4, 0.5, gen())),
    "make_world kappa nan": ("kappa", lambda: data.make_world(6, 12, 20, 4, NAN, gen())),
    "make_world d_X huge": ("d_X", lambda: data.make_world(6, 12, 10**7, 4, 0.5, gen())),
    "all_tasks M1 huge": ("M1", lambda: data.all_tasks(10**6)),
    "make_world d_Y huge": ("d_Y", lambda: data.make_world(6, 12, 20, 10**15, 0.5, gen())),
    "split_tasks M1 huge": ("M1", lambda: data.split_tasks(10**7, 0.5, gen())),
    "embed world None": ("world", lambda: data.embed(None, sample()[None])),
    "embed single world": ("world", lambda: data.embed(WORLD, sample()[None])),
    "make_ood_world world str": ("world", lambda: data.make_ood_world("world", 1.0)),
    "make_ood_world S1 = 0": ("S1", lambda: data.make_ood_world(WORLD, 0)),
    "make_ood_world group_size": ("group_size", lambda: data.make_ood_world(WORLD, 1.0, group_size=10)),
    "make_ood_world M2_ood = 0": ("M2_ood", lambda: data.make_ood_world(WORLD, 1.0, M2_ood=0)),
    "all_tasks M1 = 1": ("M1", lambda: data.all_tasks(1)),
    "all_tasks M1 float": ("M1", lambda: data.all_tasks(2.0)),
    "split_tasks fraction 0": ("task_fraction", lambda: data.split_tasks(6, 0.0, gen())),
    "split_tasks generator str": ("generator", lambda: data.split_tasks(6, 0.5, "g")),
    "sample alpha = 0": ("alpha", lambda: sample(alpha=0.0)),
    "sample l = 0": ("l", lambda: sample(l=0)),
    "sample n < 0": ("n", lambda: sample(n=-1)),
    "sample task out of range": ("tasks", lambda: sample(tasks=torch.tensor([[0, 7]]))),
    "sample task a == b": ("tasks", lambda: sample(tasks=torch.tensor([[1, 1]]))),
    "sample tasks 1-d": ("tasks", lambda: sample(tasks=torch.tensor([0, 1, 2]))),
    "sample tasks list": ("tasks", lambda: sample(tasks=[[0, 1]])),
    "sample M2 = 0": ("M2", lambda: sample(M2=0)),
    "sample M1 = 1": ("M1", lambda: sample(M1=1)),
    "sample n huge": ("n", lambda: sample(n=10**13)),
    "sample M1 huge": ("M1", lambda: sample(M1=10**13)),
    "sample generator None-like": ("generator", lambda: sample(generator=0)),
    # --- the Eq. 7 model
    "init_params m = 0": ("m", lambda: model.init_params(24, 0, 0.3, 0.01, [gen()])),
    "init_params d = 0": ("d", lambda: model.init_params(0, 4, 0.3, 0.01, [gen()])),
    "init_params qkv_init nan": ("qkv_init", lambda: model.init_params(24, 4, NAN, 0.01, [gen()])),
    "init_params o_init_std < 0": ("o_init_std", lambda: model.init_params(24, 4, 0.3, -1.0, [gen()])),
    "init_params no generators": ("generators", lambda: model.init_params(24, 4, 0.3, 0.01, [])),
    "init_params one generator": ("generators", lambda: model.init_params(24, 4, 0.3, 0.01, gen())),
    "forward prompt height": ("P", lambda: model.forward(PARAMS, torch.zeros(2, 3, 5, 10))),
    "forward prompt 3-d": ("P", lambda: model.forward(PARAMS, torch.zeros(3, 5, 24))),
    "forward prompt ensemble": ("P", lambda: model.forward(PARAMS, torch.zeros(3, 3, 5, 24))),
    "forward_literal prompt": ("P", lambda: model.forward_literal(PARAMS, torch.zeros(2, 3, 5, 10))),
    "forward params": ("params", lambda: model.forward("params", P_GOOD)),
    "init_params m huge": ("m", lambda: model.init_params(24, 10**12, 0.3, 0.01, [gen()])),
    "init_params d huge": ("d", lambda: model.init_params(10**8, 4, 0.3, 0.01, [gen()])),
    "forward_indexed idx": (
        "idx",
        lambda: model.forward_indexed(PARAMS, data.World.stack([WORLD, WORLD]), "i"),
    ),
    "hinge_loss out None": ("out", lambda: model.hinge_loss(None, torch.ones(2, 5))),
    "hinge_loss shapes": ("z", lambda: model.hinge_loss(torch.zeros(2, 5), torch.ones(2, 6))),
    # --- the trainer
    "train_ensemble empty": ("configs", lambda: training.train_ensemble([], progress=False)),
    "train_ensemble shapes differ": (
        "configs",
        lambda: training.train_ensemble([TINY, TINY.replace(B=3)], progress=False),
    ),
    "train_ensemble not configs": ("configs", lambda: training.train_ensemble(["x"], progress=False)),
    "train_ensemble one config": ("configs", lambda: training.train_ensemble(TINY, progress=False)),
    "train_ensemble T huge": ("T", lambda: training.train_ensemble([TINY.replace(T=10**12)], progress=False)),
    "train_ensemble n_eval huge": (
        "n_eval",
        lambda: training.train_ensemble([TINY.replace(n_eval=10**12)], progress=False),
    ),
    "train_ensemble B huge": ("B", lambda: training.train_ensemble([TINY.replace(B=10**12)], progress=False)),
    "train_ensemble m huge": ("m", lambda: training.train_ensemble([TINY.replace(m=10**10)], progress=False)),
    "train_ensemble l_ts huge": ("l_ts", lambda: training.train_ensemble([TINY.replace(l_ts=10**12)], progress=False)),
    "setup_member str": ("cfg", lambda: training.setup_member("cfg")),
    "record_iterations T = 0": ("T", lambda: core.sgd.record_iterations(0, 5)),
    "record_iterations T huge": ("T", lambda: core.sgd.record_iterations(10**15, 1)),
    "record_iterations every = 0": ("every", lambda: core.sgd.record_iterations(10, 0)),
    # --- probes
    "classification_error shapes": ("z", lambda: probes.classification_error(torch.zeros(2, 5), torch.ones(2, 6))),
    "classification_error out list": ("out", lambda: probes.classification_error([1.0], torch.ones(1, 1))),
    "wov_embeddings params None": ("params", lambda: probes.wov_embeddings(None, torch.zeros(2, 20), torch.ones(2, 4))),
    "attention_concentration shapes": (
        "attn",
        lambda: probes.attention_concentration(torch.ones(2, 4, 3), sample(n=4, l=3)),
    ),
    "wov_embeddings mu_bar": ("mu_bar", lambda: probes.wov_embeddings(PARAMS, torch.zeros(2, 7), torch.ones(2, 4))),
    # --- pruning
    "n_pruned rate = 1": ("rate", lambda: pruning.n_pruned(4, 1.0)),
    "n_pruned rate nan": ("rate", lambda: pruning.n_pruned(4, NAN)),
    "n_pruned m = 0": ("m", lambda: pruning.n_pruned(0, 0.1)),
    "prune_by_magnitude rate < 0": ("rate", lambda: pruning.prune_by_magnitude(PARAMS, -0.1)),
    "prune_by_magnitude params": ("params", lambda: pruning.prune_by_magnitude("params", 0.1)),
    "prune_largest all": ("rate", lambda: pruning.prune_largest(PARAMS, 0.99)),
    "prune_random seed < 0": ("seed", lambda: pruning.prune_random(PARAMS, 0.5, -1)),
    "prune_random seed float": ("seed", lambda: pruning.prune_random(PARAMS, 0.5, 1.5)),
    "prune_rows out of range": ("remove", lambda: pruning.prune_rows(PARAMS, torch.tensor([[9], [0]]))),
    "prune_rows wrong E": ("remove", lambda: pruning.prune_rows(PARAMS, torch.tensor([[1]]))),
    "mask_neurons out of range": ("remove", lambda: pruning.mask_neurons(PARAMS, torch.tensor([[9], [0]]))),
    # --- transitions
    "check_steps not a permutation": ("steps", lambda: transitions.check_steps([[0, 0]])),
    "check_steps empty": ("steps", lambda: transitions.check_steps([])),
    "check_steps fractional": ("steps", lambda: transitions.correct_paths(np.array([[0.5, 1.5]]))),
    "check_transitions negative": ("A", lambda: transitions.check_transitions([[[1.5, -0.5], [0, 1]]])),
    "check_transitions nan": ("A", lambda: transitions.check_transitions([[[NAN, 1], [0, 1]]])),
    "check_transitions shape": ("A", lambda: transitions.check_transitions(np.ones((2, 2)))),
    "k_step_matrix str": ("A", lambda: transitions.k_step_matrix("abc")),
    "tau_f K differs": ("A", lambda: transitions.tau_f(A_GOOD, [[0, 1]])),
    "build_transitions tau = 0": ("tau", lambda: transitions.build_transitions(STEPS1, 0)),
    "build_transitions tau nan": ("tau", lambda: transitions.build_transitions(STEPS1, NAN)),
    "build_transitions unreachable": ("tau", lambda: transitions.build_transitions(STEPS1, 0.1)),
    "build_transitions condition1 str": ("condition1", lambda: transitions.build_transitions(STEPS1, 0.5, "no")),
    # --- Part II data and model
    "make_cot_world M = 1": ("M", lambda: cot.data.make_cot_world(1, 2)),
    "make_cot_world d small": ("d", lambda: cot.data.make_cot_world(4, 2, d=3)),
    "make_cot_world generator": ("generator", lambda: cot.data.make_cot_world(4, 2, basis=False, generator="g")),
    "sample_steps n = 0": ("n", lambda: cot.data.sample_steps(0, 2, 4, gen())),
    "sample_steps M = 0": ("M", lambda: cot.data.sample_steps(5, 2, 0, gen())),
    "sample_steps n huge": ("n", lambda: cot.data.sample_steps(10**12, 2, 4, gen())),
    "make_cot_world d huge": ("d", lambda: cot.data.make_cot_world(4, 2, d=10**8)),
    "sample_steps generator": ("generator", lambda: cot.data.sample_steps(5, 2, 4, 7)),
    "cot prompts alpha = 0": ("alpha", lambda: cot_prompts(alpha=0.0)),
    "cot prompts l = 0": ("l", lambda: cot_prompts(l=0)),
    "cot prompts k > K": ("k", lambda: cot_prompts(k=3)),
    "cot prompts k float": ("k", lambda: cot_prompts(k=1.5)),
    "cot prompts k wrong length": ("k", lambda: cot_prompts(k=torch.tensor([1, 2]))),
    "cot prompts l huge": ("l", lambda: cot_prompts(l=10**12)),
    "cot prompts steps 2-d": ("steps", lambda: cot_prompts(steps=STEPS[0])),
    "cot prompts steps not permutations": ("steps", lambda: cot_prompts(steps=torch.zeros(3, 2, 4, dtype=torch.long))),
    "cot prompts transitions shape": ("transitions", lambda: cot_prompts(transitions=np.ones((2, 3, 3)) / 3)),
    "counted prompts alpha > 1": (
        "alpha",
        lambda: cot.data.sample_counted_prompts(STEPS, 1.5, 3, 1, gen()),
    ),
    "init_cot_params d = 0": ("d", lambda: cot.model.init_cot_params(0, 0.1, 0.01, [gen()])),
    "init_cot_params qk_init nan": ("qk_init", lambda: cot.model.init_cot_params(6, NAN, 0.01, [gen()])),
    "init_cot_params v_std < 0": ("v_std", lambda: cot.model.init_cot_params(6, 0.1, -1.0, [gen()])),
    "init_cot_params d huge": ("d", lambda: cot.model.init_cot_params(10**8, 0.1, 0.01, [gen()])),
    "embed_cot world None": ("world", lambda: cot.data.embed_cot(None, CPROMPTS)),
    "cot forward_indexed prompts": ("prompts", lambda: cot.model.forward_indexed(CPARAMS, CW, "prompts")),
    "squared_loss target list": ("target", lambda: cot.model.squared_loss(torch.zeros(1, 3, 8), [0.0])),
    "init_cot_params no generators": ("generators", lambda: cot.model.init_cot_params(6, 0.1, 0.01, [])),
    "cot forward prompt height": (
        "P",
        lambda: cot.model.forward(CPARAMS, torch.zeros(1, 3, 6, 7), torch.ones(3, 6, dtype=torch.bool)),
    ),
    "cot forward valid shape": (
        "valid",
        lambda: cot.model.forward(CPARAMS, torch.zeros(1, 3, 6, 16), torch.ones(3, 5, dtype=torch.bool)),
    ),
    # --- Part II training and inference
    "train_cot empty": ("configs", lambda: cot.training.train_cot([])),
    "train_cot shapes differ": ("configs", lambda: cot.training.train_cot([TINY_COT, TINY_COT.replace(B=3)])),
    "train_cot one config": ("configs", lambda: cot.training.train_cot(TINY_COT)),
    "train_cot T huge": ("T", lambda: cot.training.train_cot([TINY_COT.replace(T=10**12)])),
    "train_cot n_eval huge": ("n_eval", lambda: cot.training.train_cot([TINY_COT.replace(n_eval=10**12)])),
    "eval_world mix = 1": ("mix", lambda: cot.inference.eval_world(CW, mix=1.0)),
    "eval_world world str": ("world", lambda: cot.inference.eval_world("w")),
    "decode out None": ("out", lambda: cot.inference.decode(None, CW.patterns)),
    "cot_inference patterns": (
        "patterns",
        lambda: cot.inference.cot_inference(CPARAMS, CW, None, CPROMPTS, patterns=[1.0]),
    ),
    "decode width": ("out", lambda: cot.inference.decode(torch.zeros(3, 5), CW.patterns)),
    "icl_prompts K = 0": ("K", lambda: cot.inference.icl_prompts(CPROMPTS, 0)),
    "icl_prompts K mismatch": ("K", lambda: cot.inference.icl_prompts(CPROMPTS, 4)),
    "attention_by_category K": ("K", lambda: cot.probes.attention_by_category(torch.ones(3, 7), CPROMPTS, 0)),
    "cot_inference prompts": ("prompts", lambda: cot.inference.cot_inference(CPARAMS, CW, STEPS, "prompts")),
    "icl_inference world": ("world", lambda: cot.inference.icl_inference(CPARAMS, "world", CPROMPTS)),
    "eval_tasks n_tasks = 0": ("n_tasks", lambda: cot.inference.eval_tasks(0, 2, 4, 0.6, True, 0)),
    "eval_tasks n_tasks huge": ("n_tasks", lambda: cot.inference.eval_tasks(10**13, 2, 4, 0.6, True, 0)),
    "eval_tasks tau = 0": ("tau", lambda: cot.inference.eval_tasks(3, 2, 4, 0, True, 0)),
    "eval_tasks seed < 0": ("seed", lambda: cot.inference.eval_tasks(3, 2, 4, 0.6, True, -1)),
    "eval_errors n_per_task = 0": ("n_per_task", lambda: test_errors_cot(n_per_task=0)),
    "eval_errors alpha_test = 0": ("alpha_test", lambda: test_errors_cot(alpha_test=0.0)),
    "eval_errors l_ts = 0": ("l_ts", lambda: test_errors_cot(l_ts=0)),
    "eval_errors l_ts huge": ("l_ts", lambda: test_errors_cot(l_ts=10**12)),
    "eval_errors steps vs world": ("steps", lambda: test_errors_cot(steps=torch.zeros(2, 3, 4, dtype=torch.long))),
    "eval_errors transitions shape": ("transitions", lambda: test_errors_cot(transitions=np.ones((1, 2, 4, 4)))),
    "cot params_of empty": ("results", lambda: cot.model.CoTParams.from_results([])),
    "evaluate_cot results empty": ("results", lambda: evaluate_cot_args(results=[])),
    "evaluate_cot results not runs": ("results", lambda: evaluate_cot_args(results=[{"loss": 1}])),
    "evaluate_cot world": ("world", lambda: evaluate_cot_args(world="w")),
    "evaluate_cot alpha_test = 0": ("alpha_test", lambda: evaluate_cot_args(alpha_test=0.0)),
    "evaluate_cot l_ts = 0": ("l_ts", lambda: evaluate_cot_args(l_ts=0)),
    "evaluate_cot n_per_task": ("n_per_task", lambda: evaluate_cot_args(n_per_task=1.5)),
    "evaluate_cot cache": ("cache", lambda: evaluate_cot_args(cache="yes")),
    # --- experiment entry points
    "grid seeds empty": ("seeds", lambda: experiments.grid(TINY, [])),
    "grid seeds int": ("seeds", lambda: experiments.grid(TINY, 3)),
    "grid seed float": ("seed", lambda: experiments.grid(TINY, [0.5])),
    "grid seed str": ("seed", lambda: experiments.grid(TINY, ["1"])),
    "grid sweep empty": ("alpha", lambda: experiments.grid(TINY, [0], alpha=[])),
    "grid sweep scalar": ("alpha", lambda: experiments.grid(TINY, [0], alpha=0.5)),
    "grid sweep unknown": ("alpah", lambda: experiments.grid(TINY, [0], alpah=[0.5])),
    "grid base str": ("base", lambda: experiments.grid("base", [0])),
    "train_runs empty": ("configs", lambda: experiments.train_runs([], cache=False)),
    "train_runs one config": ("configs", lambda: experiments.train_runs(TINY, cache=False)),
    "train_runs max_ensemble = 0": ("max_ensemble", lambda: experiments.train_runs([TINY], max_ensemble=0)),
    "train_runs T huge": ("T", lambda: experiments.train_runs([TINY.replace(T=10**12)], cache=False)),
    "train_runs cache str": ("cache", lambda: experiments.train_runs([TINY], cache="no")),
    "stack empty": ("results", lambda: experiments.stack([], "loss")),
    "stack unknown key": ("key", lambda: experiments.stack(trained(), "nope")),
    "iterations_to_target nan": ("target", lambda: experiments.iterations_to_target(trained()[0], NAN)),
    "iterations_to_target result": ("result", lambda: experiments.iterations_to_target(None, 0.1)),
    "stack key list": ("key", lambda: experiments.stack(trained(), ["loss"])),
    "fit_power_law x dict": ("x", lambda: experiments.fit_power_law({}, [1.0])),
    "iterations_to_target key": ("key", lambda: experiments.iterations_to_target(trained()[0], 0.1, key="nope")),
    "fit_power_law lengths": ("y", lambda: experiments.fit_power_law([1, 2, 3], [1, 2])),
    "eval_prompts test str": ("test", lambda: experiments.eval_prompts(TINY, "test")),
    "eval_prompts config unknown": ("bogus", lambda: experiments.eval_prompts({"bogus": 1}, EvalConfig())),
    "eval_prompts config str": ("config", lambda: experiments.eval_prompts("cfg", EvalConfig())),
    "eval_prompts no unseen": (
        "tasks",
        lambda: experiments.eval_prompts(TINY.replace(task_fraction=1.0), EvalConfig(n_eval=4)),
    ),
    "eval_prompts n_eval huge": ("n_eval", lambda: experiments.eval_prompts(TINY, EvalConfig(n_eval=10**13))),
    "eval_prompts l_ts huge": ("l_ts", lambda: experiments.eval_prompts(TINY, EvalConfig(l_ts=10**13, n_eval=4))),
    "params_of at out of range": ("at", lambda: model.Params.from_results(trained(), at=99)),
    "params_of at float": ("at", lambda: model.Params.from_results(trained(), at=1.0)),
    "params_of no snapshots": (
        "at",
        lambda: model.Params.from_results([{k: v for k, v in trained()[0].items() if k != "snapshots"}], at=0),
    ),
    "params_of empty": ("results", lambda: model.Params.from_results([])),
    "params_of non-finite weights": ("results", lambda: model.Params.from_results(nan_weights())),
    "params_of not results": ("results", lambda: model.Params.from_results(["run"])),
    "evaluate_runs tests empty": ("tests", lambda: experiments.evaluate_runs(trained(), [], cache=False)),
    "evaluate_runs results empty": ("results", lambda: experiments.evaluate_runs([], [EvalConfig()], cache=False)),
    "evaluate_runs one test": ("tests", lambda: experiments.evaluate_runs(trained(), EvalConfig(), cache=False)),
    "evaluate_runs tests str": ("tests", lambda: experiments.evaluate_runs(trained(), ["x"], cache=False)),
    "evaluate_runs at": ("at", lambda: experiments.evaluate_runs(trained(), [EvalConfig(n_eval=4)], at=50)),
    "evaluate_params configs length": (
        "configs",
        lambda: experiments.evaluate_params(PARAMS, [TINY], EvalConfig(n_eval=4)),
    ),
    "evaluate_params no test": (
        "test",
        lambda: experiments.evaluate_params(model.Params.from_results(trained()), [TINY]),
    ),
    "evaluate_params batch": (
        "batch",
        lambda: experiments.evaluate_params(model.Params.from_results(trained()), [TINY], batch=[]),
    ),
    "evaluate_params params": ("params", lambda: experiments.evaluate_params("p", [TINY], EvalConfig(n_eval=4))),
    "eval_batch test str": ("test", lambda: experiments.eval_batch([TINY], "t")),
    "eval_batch configs empty": ("configs", lambda: experiments.eval_batch([], EvalConfig())),
    "baseline_errors test str": ("test", lambda: experiments.baseline_errors(trained(), "t", cache=False)),
    "baseline_errors learner": (
        "learner",
        lambda: experiments.baseline_errors(trained(), EvalConfig(), ["nope"], cache=False),
    ),
    "baseline_errors learners empty": (
        "learners",
        lambda: experiments.baseline_errors(trained(), EvalConfig(), [], cache=False),
    ),
    "baseline_errors results empty": (
        "results",
        lambda: experiments.baseline_errors([], EvalConfig(), cache=False),
    ),
    "pruning_curve rates empty": (
        "rates",
        lambda: experiments.pruning_curve(PARAMS, [TINY, TINY], EvalConfig(n_eval=4), []),
    ),
    "pruning_curve rate 1.5": (
        "rates",
        lambda: experiments.pruning_curve(PARAMS, [TINY, TINY], EvalConfig(n_eval=4), [1.5]),
    ),
    "pruning_curve method": (
        "method",
        lambda: experiments.pruning_curve(PARAMS, [TINY, TINY], EvalConfig(n_eval=4), [0.1], method="nope"),
    ),
    "pruning_curve n_random = 0": (
        "n_random",
        lambda: experiments.pruning_curve(PARAMS, [TINY, TINY], EvalConfig(n_eval=4), [0.1], "random", 0),
    ),
    "pruning_curve configs None": (
        "configs",
        lambda: experiments.pruning_curve(PARAMS, None, EvalConfig(n_eval=4), [0.1]),
    ),
    "pruning_curve configs length": (
        "configs",
        lambda: experiments.pruning_curve(PARAMS, [TINY], EvalConfig(n_eval=4), [0.1]),
    ),
    # --- classical baselines
    "make_learner unknown": ("learner", lambda: make_learner("nope")),
    "make_learner list": ("learner", lambda: make_learner(["svm_rbf"])),
    "predict_prompts shapes": ("X_ctx", lambda: predict_prompts("1nn", np.zeros((2, 3)), Y3, np.zeros((2, 5)))),
    "predict_prompts labels 0/1": ("y_ctx", lambda: predict_prompts("1nn", X3, (Y3 > 0), np.zeros((2, 5)))),
    "predict_prompts nan": ("X_ctx", lambda: predict_prompts("1nn", X3 * np.nan, Y3, np.zeros((2, 5)))),
    "predict_prompts query inf": ("X_query", lambda: predict_prompts("svm_rbf", X3, Y3, np.full((2, 5), INF))),
    "knn_predict k even": ("k", lambda: knn_predict(X3, Y3, np.zeros((2, 5)), 2)),
    "knn_predict k float": ("k", lambda: knn_predict(X3, Y3, np.zeros((2, 5)), 1.0)),
    "knn_predict shapes": ("X_query", lambda: knn_predict(X3, Y3, np.zeros((3, 5)), 1)),
    # --- the result cache
    "cache kind with a path": ("kind", lambda: cache.entry_key("../up", {})),
    "cache kind empty": ("kind", lambda: cache.entry_key("", {})),
}


@pytest.mark.parametrize("name, call", list(BAD.values()), ids=list(BAD))
def test_bad_input_is_rejected_naming_the_parameter(name, call):
    with pytest.raises((ValueError, TypeError)) as err:
        call()
    assert repr(name) in str(err.value), str(err.value)


def test_the_table_is_broad():
    assert len(BAD) >= 100


# --------------------------------------------------------------------------------------------
# Good inputs that used to be refused.


def test_numpy_integers_are_integers():
    cfg = ICLConfig(seed=np.int64(2), T=np.int32(5))
    assert cfg == ICLConfig(seed=2, T=5) and type(cfg.seed) is int and type(cfg.T) is int
    assert cache.entry_key("k", cfg.to_dict()) == cache.entry_key("k", ICLConfig(seed=2, T=5).to_dict())
    assert [c.seed for c in experiments.grid(TINY, np.arange(3))] == [0, 1, 2]
    assert [c.seed for c in experiments.grid(TINY, [np.int64(4)], alpha=np.array([0.5, 0.7]))] == [4, 4]
    assert (
        core.rng.make_generator(np.int64(3), "train").initial_seed()
        == core.rng.make_generator(3, "train").initial_seed()
    )
    assert get_profile("01_in_domain", n_seeds=np.int64(2)).n_seeds == 2
    with pytest.raises(ValueError, match="'seed'"):
        ICLConfig(seed=np.bool_(True))


def test_real_numbers_are_stored_as_floats():
    cfg = ICLConfig(alpha=1, lr=np.float32(5.0))
    assert type(cfg.alpha) is float and type(cfg.lr) is float and cfg.alpha == 1.0
    prof = get_profile("01_in_domain", fractions=np.array([0.2, 0.4]))
    assert prof.fractions == (0.2, 0.4) and all(type(f) is float for f in prof.fractions)


def test_profiles_have_replace_and_to_dict():
    prof = get_profile("03_pruning")
    again = prof.replace(n_random=3, rates=[0.0, 0.1])
    assert again.n_random == 3 and again.rates == (0.0, 0.1) and again.base == prof.base
    d = prof.to_dict()
    assert d["n_random"] == prof.n_random and d["base"]["T"] == prof.base.T
    with pytest.raises(ValueError, match="unknown PruningProfile parameter.*'bogus'"):
        prof.replace(bogus=1)


# --------------------------------------------------------------------------------------------
# Divergence: a diverged run stops with a clear error, and a non-finite output is an error.


def test_non_finite_output_counts_as_an_error():
    out = torch.tensor([[NAN, 1.0, INF, -INF, 2.0]])
    z = torch.tensor([[1.0, 1.0, 1.0, -1.0, -1.0]])
    assert probes.classification_error(out, z).tolist() == pytest.approx([0.8])  # only the 1.0 is right
    # bit-identical on finite outputs
    out = torch.randn(3, 1000, generator=gen())
    z = torch.where(torch.rand(3, 1000, generator=gen(1)) < 0.5, -1.0, 1.0)
    assert torch.equal(probes.classification_error(out, z), (out * z <= 0).float().mean(-1))


def test_non_finite_cot_output_decodes_to_no_pattern():
    pats = torch.eye(3)
    out = torch.tensor([[0.9, 0.2, 0.0], [NAN, 0.0, 0.0], [INF, 0.0, 0.0]])
    assert cot.inference.decode(out, pats).tolist() == [0, -1, -1]


def test_diverged_model_is_wrong_on_every_part_ii_prompt():
    params = cot.model.CoTParams(*(w * NAN for w in CPARAMS.trained()))
    pr = cot.data.sample_cot_prompts(cot.data.sample_steps(20, 2, 4, gen()), 1.0, 3, 1, gen(1))
    assert cot.inference.cot_inference(params, CW, None, pr)[1].min() == 1.0
    assert cot.inference.icl_inference(params, CW, pr)[1].min() == 1.0


def test_diverged_part_i_model_is_wrong_on_every_prompt():
    params = model.Params(*(w * NAN for w in PARAMS.trained()), a=PARAMS.a)
    res = experiments.evaluate_params(params, [TINY, TINY], EvalConfig(n_eval=50))
    assert (res["err"] == 1.0).all()


def test_diverging_training_stops_naming_lr_seed_and_iteration(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    cfg = ICLConfig(lr=1e6, T=50, n_eval=100, B=32, record_every=10)
    with pytest.raises(core.sgd.DivergenceError) as err:
        experiments.train_runs([cfg], progress=False)
    msg = str(err.value)
    assert "lr = 1000000.0" in msg and "seed = 0" in msg and "iteration" in msg
    assert isinstance(err.value, FloatingPointError)
    assert err.value.members == [0] and 0 <= err.value.iteration < 50
    assert not list((tmp_path / "cache").rglob("*.pkl"))  # nothing reached the cache


def test_divergence_names_only_the_diverged_members():
    good = TINY.replace(T=50, record_every=50, B=8)
    cfgs = [good.replace(seed=0), good.replace(seed=1, lr=1e6), good.replace(seed=2)]
    with pytest.raises(core.sgd.DivergenceError, match=r"member 1 \(seed = 1, lr = 1000000.0\)") as err:
        training.train_ensemble(cfgs, progress=False)
    assert err.value.members == [1] and "seed = 0," not in str(err.value)


def test_diverging_part_ii_training_stops():
    with pytest.raises(core.sgd.DivergenceError, match=r"iteration \d+ of T = 30.*seed = 0, lr = 1000000.0"):
        cot.training.train_cot([TINY_COT.replace(lr=1e6, T=30, record_every=30, qk_init=10.0)])


def test_non_finite_weights_stop_the_loop_even_with_a_finite_loss():
    w = torch.zeros(2, 3, requires_grad=True)

    def loss_at(s):
        return (w[:, 1:] * 0).sum(1)  # finite whatever w[:, 0] holds

    def poison():
        with torch.no_grad():
            w[1, 0] = INF

    with pytest.raises(core.sgd.DivergenceError, match="member 1") as err:
        core.sgd.sgd_loop([w], torch.ones(2, 1), 10, 5, 5, poison, loss_at, lambda: None)
    assert err.value.members == [1]


def test_a_healthy_run_passes_the_checks():
    r = training.train_ensemble([TINY.replace(T=60, record_every=60, B=8)], progress=False)[0]
    assert np.isfinite(r["loss"]).all()


# --------------------------------------------------------------------------------------------
# The result cache: every result module in the key, unwritable folders never lose work.


def test_code_fingerprint_covers_every_result_module(tmp_path, monkeypatch):
    copy = tmp_path / "icl_utils"
    shutil.copytree(cache.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "PACKAGE_DIR", copy)
    monkeypatch.setattr(cache, "_CODE_DIGEST", None)
    names = cache.result_modules()
    for name in (
        "incontext/baselines.py",
        "cot/data.py",
        "cot/training.py",
        "incontext/experiments.py",
        "incontext/pruning.py",
        "cot/transitions.py",
        "core/sgd.py",
        "core/tensors.py",
    ):
        assert name in names
    assert not [n for n in names if n.startswith("book/")]
    before = cache.code_digest()
    key = cache.entry_key("k", {"a": 1})
    for name in names:
        (copy / name).write_text((copy / name).read_text() + "\n# edited\n")
        monkeypatch.setattr(cache, "_CODE_DIGEST", None)
        assert cache.code_digest() != before, name
        assert cache.entry_key("k", {"a": 1}) != key, name
        (copy / name).write_text((copy / name).read_text()[: -len("\n# edited\n")])
    monkeypatch.setattr(cache, "_CODE_DIGEST", None)
    assert cache.code_digest() == before
    (copy / "book" / "plotting.py").write_text("# the book's theme changed\n")
    monkeypatch.setattr(cache, "_CODE_DIGEST", None)
    assert cache.code_digest() == before


def test_edited_baselines_module_misses_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    copy = tmp_path / "icl_utils"
    shutil.copytree(cache.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "PACKAGE_DIR", copy)
    monkeypatch.setattr(cache, "_CODE_DIGEST", None)
    runs = trained()
    test = EvalConfig(n_eval=6, l_ts=4)
    experiments.baseline_errors(runs, test, ["1nn"])
    calls = []
    real = experiments.predict_prompts
    monkeypatch.setattr(experiments, "predict_prompts", lambda *a: calls.append(1) or real(*a))
    experiments.baseline_errors(runs, test, ["1nn"])
    assert not calls  # a hit
    learners = copy / "incontext" / "baselines.py"
    learners.write_text(learners.read_text() + "\n# a changed learner\n")
    monkeypatch.setattr(cache, "_CODE_DIGEST", None)
    experiments.baseline_errors(runs, test, ["1nn"])
    assert calls  # the edit is a miss


def test_full_cache_warns_and_keeps_the_results(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_WARNED", set())

    def full(f, blob):
        f.write(blob[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache, "_write_blob", full)
    with pytest.warns(cache.CacheWarning, match=r"cache.*No space left.*without caching") as rec:
        runs = experiments.train_runs([TINY, TINY.replace(seed=1)], progress=False)
    assert len(runs) == 2 and all(np.isfinite(r["loss"]).all() for r in runs)
    assert len([w for w in rec if issubclass(w.category, cache.CacheWarning)]) == 1  # once per folder
    assert str(tmp_path / "cache") in str(rec[0].message)
    assert not list((tmp_path / "cache").rglob("*.pkl")) and not list((tmp_path / "cache").rglob(".tmp-*"))


def test_read_only_cache_warns_and_keeps_the_results(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    root.mkdir()
    monkeypatch.setenv(cache.ENV, str(root))
    monkeypatch.setattr(cache, "_WARNED", set())
    root.chmod(0o500)
    try:
        probe = root / "probe"
        try:
            probe.mkdir()
        except OSError:
            pass
        else:  # root ignores the permission bits: simulate what a read-only folder does
            probe.rmdir()

            def read_only(*a, **k):
                raise PermissionError(errno.EACCES, "Permission denied", str(root))

            monkeypatch.setattr(cache.tempfile, "mkstemp", read_only)
        with pytest.warns(cache.CacheWarning, match="not writable|Permission denied"):
            runs = experiments.train_runs([TINY], progress=False)
        assert np.isfinite(runs[0]["loss"]).all()
    finally:
        root.chmod(0o700)


def test_cache_dir_that_is_a_file_warns_once_and_disables_the_cache(tmp_path, monkeypatch):
    f = tmp_path / "not_a_folder"
    f.write_text("x")
    monkeypatch.setenv(cache.ENV, str(f))
    monkeypatch.setattr(cache, "_WARNED", set())
    with pytest.warns(cache.CacheWarning, match=f"{cache.ENV}.*not a folder") as rec:
        assert cache.cache_dir() is None
        runs = experiments.train_runs([TINY], progress=False)
        experiments.train_runs([TINY], progress=False)
    assert np.isfinite(runs[0]["loss"]).all()
    assert len([w for w in rec if issubclass(w.category, cache.CacheWarning)]) == 1
    assert f.read_text() == "x"


def test_unreadable_entry_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    experiments.train_runs([TINY], progress=False)

    def unreadable(self):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(cache.Path, "read_bytes", unreadable)
    with pytest.warns(cache.CacheWarning, match="unreadable"):
        assert cache.load("train_runs", TINY.to_dict()) is None


# --------------------------------------------------------------------------------------------
# Devices.


def test_cpu_device_forms_are_accepted():
    for dev in (None, "cpu", "CPU", torch.device("cpu"), "cpu:0"):
        assert icl.get_device(dev).type in ("cpu", "cuda")
    assert icl.get_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_fails_at_the_start():
    for call in (
        lambda: icl.get_device("cuda"),
        lambda: icl.start_chapter("01_in_domain", device="cuda"),
        lambda: experiments.train_runs([TINY], device="cuda:0", cache=False),
        lambda: experiments.evaluate_runs(trained(), [EvalConfig(n_eval=4)], device="cuda", cache=False),
    ):
        with pytest.raises(ValueError, match="parameter 'device' = .*cuda.*CUDA is not available") as err:
            call()
        assert "'cpu'" in str(err.value)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_is_accepted_with_cuda():
    assert icl.get_device("cuda").type == "cuda"
    assert icl.get_device(None).type == "cuda"


def test_no_warning_for_good_inputs(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", cache.CacheWarning)
        experiments.train_runs([TINY], progress=False)
        experiments.train_runs([TINY], progress=False)
