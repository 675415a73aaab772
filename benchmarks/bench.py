"""Throughput benchmark: the ensemble trainer against a plain one-model-at-a-time loop.

Run with ``make bench`` (or ``python benchmarks/bench.py``).  Everything is
measured side by side in this one run on this machine:

1. model-steps per second of (a) the literal model trained one model at a time
   in a plain PyTorch loop (nn.Module, torch.optim.SGD, fresh prompts every step
   -- what a one-off research script does) and (b) icl_utils' ensemble trainers
   at E = 1, 8 and 64 models, for chapter 1's quick configuration (Eq. 7) and for
   chapter 4's model (Eq. 11) with its longest prompts; the ratio (b)/(a) per E;
   The ensemble's time includes its setup and its evaluation at the first and last step
   (on 20 prompts), which the plain loop does not do;
2. how close (b) comes to this machine's limits: its memory traffic (bytes read
   and written by every tensor operation, counted by a dispatch hook) and
   arithmetic rate (matmul FLOPs counted by torch's FlopCounterMode) against a
   large copy and a large matrix product timed in the same run;
   and for chapter 5, GPT-2 trained alone with ``transformers``' GPT2Model against
   icl_utils' batched GPT-2 at E = 1 and 16 (Adam, the chapter's prompts); and for chapter 6,
   the multi-concept model (attention + ReLU MLP, logistic loss) as an nn.Module trained alone
   against icl_utils.concepts' ensemble trainer at E = 1, 8 and 64;
3. the quick-profile execution time of every chapter (``--no-book`` skips it).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

import icl_utils as icl
from icl_utils import cot
from icl_utils.book.execute import execute_chapter
from icl_utils.concepts import data as cdata
from icl_utils.concepts import model as cmodel
from icl_utils.concepts import training as ctraining
from icl_utils.core.rng import make_generator
from icl_utils.cot.training import train_cot
from icl_utils.incontext import gpt2
from icl_utils.incontext.data import World, embed, sample_prompt_indices
from icl_utils.incontext.model import Params, forward_literal
from icl_utils.incontext.training import setup_member, train_ensemble

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class LiteralEq7(torch.nn.Module):
    """Eq. 7 as a research script writes it: every column through W_K and W_V."""

    def __init__(self, cfg, generator):
        super().__init__()
        d, m = cfg.d, cfg.m
        self.W_Q = torch.nn.Parameter(cfg.qkv_init * torch.eye(d))
        self.W_K = torch.nn.Parameter(cfg.qkv_init * torch.eye(d))
        self.W_V = torch.nn.Parameter(cfg.qkv_init * torch.eye(d))
        self.W_O = torch.nn.Parameter(torch.randn(m, d, generator=generator) * cfg.o_init_std)
        self.register_buffer("a", torch.cat([torch.full((m // 2,), 1.0 / m), torch.full((m // 2,), -1.0 / m)]))

    def forward(self, P):  # P: (B, l + 1, d)
        p = Params(self.W_Q[None], self.W_K[None], self.W_V[None], self.W_O[None], self.a[None])
        return forward_literal(p, P[None])[0]


def plain_loop(cfg, T):
    """One model, one step at a time, fresh prompts each step; returns seconds."""
    m = setup_member(cfg)
    w = m.world
    model = LiteralEq7(cfg, make_generator(cfg.seed, "init"))
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    g = make_generator(cfg.seed, "train")
    world = World.stack([w])
    start = time.perf_counter()
    for _ in range(T):
        idx = sample_prompt_indices(m.train_tasks, cfg.alpha, cfg.l_tr, cfg.B, cfg.M1, cfg.M2, g)
        P = embed(world, idx[None])[0]
        loss = torch.clamp(1 - idx.z * model(P), min=0).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


class LiteralEq11(torch.nn.Module):
    """Eq. 11 as a research script writes it (every column through W_K and W_V)."""

    def __init__(self, cfg, generator):
        super().__init__()
        d2 = 2 * cfg.d
        self.W_Q = torch.nn.Parameter(cfg.qk_init * torch.eye(d2))
        self.W_K = torch.nn.Parameter(cfg.qk_init * torch.eye(d2))
        self.W_V = torch.nn.Parameter(torch.randn(cfg.d, d2, generator=generator) * cfg.v_std)

    def forward(self, P, valid):
        return cot.model.forward_literal(
            cot.model.CoTParams(self.W_Q[None], self.W_K[None], self.W_V[None]), P[None], valid
        )[0]


def plain_loop_cot(cfg, T):
    """Chapter 4's model, one at a time, fresh prompts every step; returns seconds."""
    world = cot.data.make_cot_world(cfg.M, cfg.K, cfg.d)
    model = LiteralEq11(cfg, make_generator(cfg.seed, "init"))
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    g = make_generator(cfg.seed, "train")
    start = time.perf_counter()
    for _ in range(T):
        steps = cot.data.sample_steps(cfg.B, cfg.K, cfg.M, g)
        pr = cot.data.sample_cot_prompts(
            steps, cfg.alpha, cfg.l_tr, torch.randint(1, cfg.K + 1, (cfg.B,), generator=g), g
        )
        loss = 0.5 * ((model(cot.data.embed_cot(world, pr), pr.valid) - world.patterns[pr.label]) ** 2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def ensemble_cot(cfg, E, T):
    start = time.perf_counter()
    train_cot([cfg.replace(seed=s, T=T, record_every=T, n_eval=20) for s in range(E)], progress=False)
    return time.perf_counter() - start


def ensemble(cfg, E, T):
    cfgs = [cfg.replace(seed=s, T=T, record_every=T) for s in range(E)]
    start = time.perf_counter()
    train_ensemble(cfgs, progress=False)
    return time.perf_counter() - start


class ConceptModule(torch.nn.Module):
    """Chapter 6's model as a research script writes it: every token through W_K, the query
    through W_Q, softmax attention read at the query, a ReLU MLP with the fixed read-out a."""

    def __init__(self, cfg, generator):
        super().__init__()
        p = cmodel.init_params(2 * cfg.d, cfg.m, cfg.attn_init, cfg.w_std, [generator])
        self.W_Q = torch.nn.Parameter(p.W_Q[0].clone())
        self.W_K = torch.nn.Parameter(p.W_K[0].clone())
        self.W_O = torch.nn.Parameter(p.W_O[0].clone())
        self.register_buffer("a", p.a[0].clone())

    def forward(self, P):  # P: (B, L + 1, 2d), the query last
        keys = P @ self.W_K.T  # W_K p_i for every token
        query = P[:, -1] @ self.W_Q.T  # W_Q p_query
        attn = torch.softmax(torch.einsum("bld,bd->bl", keys, query), -1)
        u = torch.einsum("bl,bld->bd", attn, P)
        return torch.relu(u @ self.W_O.T) @ self.a


def plain_loop_concepts(cfg, T):
    """Chapter 6's model, one at a time, fresh prompts every step (the data model's own sampler);
    returns seconds."""
    model = ConceptModule(cfg, make_generator(cfg.seed, "init"))
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    g = make_generator(cfg.seed, "train")
    start = time.perf_counter()
    for _ in range(T):
        pr = cdata.sample_prompts(cfg, None, cfg.B, g)
        loss = torch.nn.functional.softplus(-pr.z * model(pr.P)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def sampling_concepts(cfg, E, T):
    """Seconds the ensemble trainer spends drawing E models' prompts for T steps (its chunks)."""
    steps = max(1, min(ctraining.CHUNK_STEPS, ctraining.CHUNK_TOKENS // (cfg.B * (cfg.L + 1))))
    n = steps * cfg.B
    out = torch.empty(n, cfg.L + 1, 2 * cfg.d)
    gens = [make_generator(s, "train") for s in range(E)]
    start = time.perf_counter()
    for _ in range(-(-T // steps)):
        for g in gens:
            cdata.sample_prompts(cfg, None, n, g, out=out)
    return time.perf_counter() - start


def ensemble_concepts(cfg, E, T):
    start = time.perf_counter()
    ctraining.train_ensemble([cfg.replace(seed=s, T=T, record_every=T, n_eval=20) for s in range(E)], progress=False)
    return time.perf_counter() - start


class ByteCounter(TorchDispatchMode):
    """Adds up the bytes of every tensor each aten operation reads and writes (views excluded)."""

    def __init__(self):
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if getattr(func, "is_view", False) or func is torch.ops.aten.detach.default:
            return out  # views move no data
        seen = set()

        def add(x):
            if isinstance(x, torch.Tensor) and id(x) not in seen:
                seen.add(id(x))
                self.bytes += x.numel() * x.element_size()

        for a in list(args) + list((kwargs or {}).values()):
            for x in a if isinstance(a, (list, tuple)) else [a]:
                add(x)
        for x in out if isinstance(out, (list, tuple)) else [out]:
            add(x)
        return out


def machine_limits():
    x = torch.empty(2**26)  # 256 MiB
    y = torch.empty_like(x)
    x.fill_(1.0)
    y.copy_(x)
    reps, start = 10, time.perf_counter()
    for _ in range(reps):
        y.copy_(x)
    bw = 2 * x.numel() * 4 * reps / (time.perf_counter() - start)
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    a @ b
    reps, start = 5, time.perf_counter()
    for _ in range(reps):
        a @ b
    flops = 2 * 2048**3 * reps / (time.perf_counter() - start)
    return bw, flops


def plain_loop_gpt2(cfg, T):
    """GPT-2 as a research script trains it: transformers' GPT2Model (its default SDPA attention)
    between torch.nn.Linear read-in and read-out, one model, torch.optim.Adam, fresh prompts every
    step with the trainer's prompt lengths; returns seconds."""
    from transformers import GPT2Model

    m = setup_member(cfg.data_config())
    w = m.world
    read_in, ref, read_out = gpt2.to_modules(gpt2.init_weights(cfg), cfg)
    config = gpt2.gpt2_config(cfg)
    config._attn_implementation = "sdpa"
    model = GPT2Model(config).to(torch.get_default_dtype())
    model.load_state_dict(ref.state_dict())
    params = [*read_in.parameters(), *model.parameters(), *read_out.parameters()]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    g = make_generator(cfg.seed, "train")
    lengths = gpt2.length_schedule(cfg.replace(T=T)).tolist()
    world = World.stack([w])
    start = time.perf_counter()
    for t in range(T):
        idx = sample_prompt_indices(m.train_tasks, cfg.alpha, lengths[t], cfg.B, cfg.M1, cfg.M2, g)
        P = embed(world, idx[None])[0]
        out = read_out(model(inputs_embeds=read_in(P)).last_hidden_state[:, -1]).squeeze(-1)
        loss = torch.clamp(1 - idx.z * out, min=0).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def ensemble_gpt2(cfg, E, T):
    start = time.perf_counter()
    gpt2.train_ensemble([cfg.replace(seed=s, T=T, record_every=T, n_eval=20) for s in range(E)], progress=False)
    return time.perf_counter() - start


def compare(label, plain, ensemble_fn, T, args, ensembles=None):
    """Interleaved repeats (plain, E = 1, 8, 64, plain, ...), best of each: a slow spell of a
    shared machine then hits every contender alike.  Prints and returns model-steps/s per E."""
    ensembles = args.ensembles if ensembles is None else ensembles
    best = {}
    for _ in range(args.repeats):
        for key in ["plain", *ensembles]:
            sec = plain() if key == "plain" else ensemble_fn(key)
            best[key] = min(best.get(key, float("inf")), sec)
    base_rate = T / best["plain"]
    print(f"(a) plain loop, literal model, one model : {base_rate:10.0f} model-steps/s")
    rates = {}
    for E in ensembles:
        rates[E] = E * T / best[E]
        print(
            f"(b) ensemble trainer, E = {E:3d}           : {rates[E]:10.0f} model-steps/s"
            f"   ratio (b)/(a) = {rates[E] / base_rate:6.1f}x"
        )
    return rates


def ray_row(cfg, T, args):
    """The same sweep (chapter 1's prompt lengths: one ensemble group per length) in this process
    and as Ray tasks on a local Ray instance, interleaved; Ray's start-up is timed apart."""
    try:
        import ray
    except ImportError:
        print("\nRay is not installed (pip install -e '.[ray]'): no in-process vs Ray row")
        return
    from icl_utils.core import sweep
    from icl_utils.incontext import experiments as X

    lengths = [4, 8, 12, 16]
    configs = X.grid(cfg.replace(T=T, record_every=T), [0, 1, 2, 3], l_tr=lengths)
    print(
        f"\nsweep in process vs as Ray tasks: chapter 1, l_tr in {lengths} x 4 seeds = {len(lengths)} ensemble "
        f"groups (tasks) of 4 models, {T} steps; local Ray on {os.cpu_count()} cores, result cache off"
    )
    env = {k: os.environ.get(k) for k in (sweep.ENV, "ICL_CACHE_DIR")}
    os.environ["ICL_CACHE_DIR"] = "off"
    start = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    t_start = time.perf_counter() - start
    best = {"in process": float("inf"), "Ray": float("inf")}
    out = {}
    try:
        for _ in range(max(1, min(args.repeats, 2))):
            for name, switch in (("in process", "off"), ("Ray", "auto")):
                os.environ[sweep.ENV] = switch
                t0 = time.perf_counter()
                out[name] = X.train_runs(configs, progress=False)
                best[name] = min(best[name], time.perf_counter() - t0)
    finally:
        ray.shutdown()
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    same = all(
        np.array_equal(a["loss"], b["loss"]) and np.array_equal(a["err_unseen"], b["err_unseen"])
        for a, b in zip(out["in process"], out["Ray"])
    )
    print(f"  in process           {best['in process']:7.2f} s")
    print(f"  Ray tasks            {best['Ray']:7.2f} s  (+ {t_start:.1f} s to start Ray, once per process)")
    print(f"  ratio in process / Ray = {best['in process'] / best['Ray']:.2f}x; results identical: {same}")


def main(argv=None):
    ap = argparse.ArgumentParser(description="icl_utils throughput benchmark")
    ap.add_argument("--steps", type=int, default=200, help="SGD steps per measurement")
    ap.add_argument("--repeats", type=int, default=5, help="best of this many runs")
    ap.add_argument("--ensembles", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--no-book", action="store_true", help="skip timing the chapters")
    ap.add_argument("--no-ray", action="store_true", help="skip the in-process vs Ray sweep row")
    args = ap.parse_args(argv)

    torch.manual_seed(0)
    # The trainers evaluate at the first and last step (the plain loop never does): on 20 prompts,
    # so the comparison is about training; that evaluation stays inside the ensemble's time.
    cfg = icl.get_profile("01_in_domain", "quick").base.replace(n_eval=20)
    T = args.steps
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, device: cpu; "
        f"best of {args.repeats} interleaved runs"
    )
    print(f"chapter 1 quick configuration: B={cfg.B}, l_tr={cfg.l_tr}, d={cfg.d}, m={cfg.m}; {T} steps per run\n")

    rates = compare("chapter 1 quick configuration", lambda: plain_loop(cfg, T), lambda E: ensemble(cfg, E, T), T, args)
    cfg4 = icl.get_profile("04_cot_vs_icl", "quick").base
    cfg4 = cfg4.replace(l_tr=max(icl.get_profile("04_cot_vs_icl", "quick").lengths))
    T4 = max(10, T // 4)
    print(f"\nchapter 4 model, longest prompts: l = {cfg4.l_tr} examples x K = {cfg4.K}, B={cfg4.B}; {T4} steps")
    print(
        "(the ensemble trainer draws clean training prompts as counted prompts -- each distinct example once,\n"
        " with its multiplicity -- so its cost per step does not grow with l; the plain loop builds every column)"
    )
    compare("chapter 4", lambda: plain_loop_cot(cfg4, T4), lambda E: ensemble_cot(cfg4, E, T4), T4, args)

    cfg5 = icl.get_profile("05_gpt2", "quick").base
    T5 = max(10, T // 5)  # 40 steps: enough to amortize building 16 GPT2Models (about 5 s) in the ensemble
    print(
        f"\nchapter 5, GPT-2 ({cfg5.n_layer} layers, {cfg5.n_head} heads, width {cfg5.n_embd}), B={cfg5.B}, "
        f"prompt lengths {cfg5.l_min}..{cfg5.l_tr}; {T5} Adam steps"
    )
    print("(a) is transformers' GPT2Model trained alone; (b) the batched GPT-2 of icl_utils.incontext.gpt2")
    compare(
        "chapter 5",
        lambda: plain_loop_gpt2(cfg5, T5),
        lambda E: ensemble_gpt2(cfg5, E, T5),
        T5,
        args,
        ensembles=[1, 16],
    )

    cfg6 = icl.get_profile("06_multi_concept", "quick").base
    print(
        f"\nchapter 6, multi-concept model: K={cfg6.K} + {cfg6.K_irr} concepts, d={cfg6.d}, L={cfg6.L}, "
        f"m={cfg6.m}, B={cfg6.B}; {T} steps (logistic loss, SGD)"
    )
    print(
        "(a) is the model as an nn.Module trained alone; (b) icl_utils.concepts' ensemble trainer; both draw\n"
        " their prompts with the data model's sampler, one generator per model"
    )
    rates6 = compare(
        "chapter 6", lambda: plain_loop_concepts(cfg6, T), lambda E: ensemble_concepts(cfg6, E, T), T, args
    )
    E6 = max(args.ensembles)
    sampling = min(sampling_concepts(cfg6, E6, T) for _ in range(args.repeats))
    total = E6 * T / rates6[E6]
    print(
        f"  of which drawing the prompts (every model draws its own, in float64): {sampling:.2f} s of {total:.2f} s "
        f"at E = {E6} ({sampling / total:.0%});\n  the ensemble shares the model's arithmetic, not the sampling, so "
        f"sampling alone caps (b) at {E6 * T / sampling:.0f} model-steps/s"
    )

    bw, peak = machine_limits()
    E = max(args.ensembles)
    counter = ByteCounter()
    with counter:
        ensemble(cfg, E, T)
    with FlopCounterMode(display=False) as fc:
        ensemble(cfg, E, T)
    steps_per_s = rates[E] / E
    traffic = counter.bytes / T * steps_per_s
    flop_rate = fc.get_total_flops() / T * steps_per_s
    print(
        f"\nmachine, measured now: copy {bw / 1e9:.1f} GB/s (256 MiB buffer), "
        f"matmul {peak / 1e9:.1f} GFLOP/s (2048^2 fp32)"
    )
    print(
        f"ensemble E = {E}: {counter.bytes / T / 1e6:.1f} MB moved and "
        f"{fc.get_total_flops() / T / 1e6:.1f} MFLOP per step"
    )
    print(f"  achieved memory traffic {traffic / 1e9:.2f} GB/s = {traffic / bw:.0%} of the copy rate")
    print(f"  achieved matmul rate    {flop_rate / 1e9:.2f} GFLOP/s = {flop_rate / peak:.1%} of the matmul rate")
    print("  (traffic counts every operation's inputs and outputs once, so it over-counts what caches serve)")

    if not args.no_ray:
        ray_row(cfg, T, args)

    if not args.no_book:
        print("\nquick-profile execution time per chapter (fresh kernel, result cache off):")
        env_before = os.environ.get("ICL_CACHE_DIR")
        os.environ["ICL_CACHE_DIR"] = "off"
        total = 0.0
        with tempfile.TemporaryDirectory() as tmp:
            for src in sorted(glob.glob(os.path.join(ROOT, "notebooks", "[0-9]*.ipynb"))):
                sec = execute_chapter(src, os.path.join(tmp, os.path.basename(src)), "quick")
                total += sec
                print(f"  {os.path.basename(src):28s} {sec:7.1f} s")
        print(f"  {'whole book':28s} {total:7.1f} s")
        if env_before is None:
            os.environ.pop("ICL_CACHE_DIR")
        else:
            os.environ["ICL_CACHE_DIR"] = env_before
    return 0


if __name__ == "__main__":
    sys.exit(main())
