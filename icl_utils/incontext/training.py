"""One SGD trainer (Eq. 8 of [LWLCC24]) for an ensemble of independent Eq. 7 models.

:func:`train_ensemble` trains E models at once: every weight carries a leading axis E, and each
member has its own configuration (seed, alpha, task fraction, learning rate ... anything that
keeps the tensor shapes), its own patterns, task split, initialization and prompt stream.  A
member's random streams come from its own seed only (:func:`icl_utils.core.rng.make_generator`),
so training it inside an ensemble gives the same model as training it alone (to float rounding;
``tests/test_training.py`` shows it).

At the iterations ``0, record_every, 2 record_every, ..., T`` the trainer measures what chapter 1
plots on fixed evaluation prompts (seen and unseen tasks, fraction ``alpha_test``, length
``l_ts``): error, loss, attention concentration and magnitudes, and the W_O W_V embeddings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from ..core.checks import check_ensemble, check_instance, check_memory, largest
from ..core.device import get_device
from ..core.progress import progress_bar
from ..core.rng import make_generator
from ..core.sgd import CHUNK_STEPS, sgd_loop
from .config import EvalConfig, ICLConfig
from .data import PromptIndices, World, all_tasks, embed, make_ood_world, make_world, sample_prompt_indices, split_tasks
from .model import Params, forward, forward_indexed, hinge_loss, init_params
from .probes import classification_error, probe_all, wov_embeddings

__all__ = ["PROBE_BUDGET", "Member", "setup_member", "eval_prompts", "check_run_size", "train_ensemble"]

#: Largest number of floats of dense evaluation prompts built at once when recording.
PROBE_BUDGET = 4_000_000


@dataclass
class Member:
    """What one ensemble member's seed fixes: its world and its task split."""

    config: ICLConfig
    world: World
    train_tasks: torch.Tensor
    unseen_tasks: torch.Tensor


def setup_member(cfg: ICLConfig) -> Member:
    """Patterns (``"world"`` stream) and task split (``"split"`` stream) of a configuration."""
    check_instance("cfg", cfg, ICLConfig)
    world = make_world(cfg.M1, cfg.M2, cfg.d_X, cfg.d_Y, cfg.kappa, make_generator(cfg.seed, "world"))
    tr, un = split_tasks(cfg.M1, cfg.task_fraction, make_generator(cfg.seed, "split"), cfg.task_split)
    return Member(cfg, world, tr, un)


def eval_prompts(config: ICLConfig | dict, test: EvalConfig):
    """The test world and prompts of one trained model under ``test``.

    In domain, the model's own patterns and task split; out of domain, ODR/ODI
    patterns built from them (:func:`icl_utils.incontext.data.make_ood_world`, stream
    ``"ood"``) and every OOD task.  Prompts come from the ``"probe"`` stream of
    the model's seed, so every test of a model -- and every learner compared on
    it -- sees the same random draws.  Returns ``(world, PromptIndices)``.
    """
    cfg = config if isinstance(config, ICLConfig) else _config_of(config)
    check_instance("test", test, EvalConfig)
    check_memory(
        [largest(3 * 8 * test.n_eval * (test.l_ts + 1), n_eval=test.n_eval, l_ts=test.l_ts)], "the test prompts"
    )
    member = setup_member(cfg)
    if test.S1 is None:
        world = member.world
        tasks = {
            "unseen": member.unseen_tasks,
            "seen": member.train_tasks,
            "all": torch.cat([member.train_tasks, member.unseen_tasks]),
        }[test.tasks]
        if tasks.shape[0] == 0:
            raise ValueError(f"parameter 'tasks' = {test.tasks!r}: this model has no such tasks")
    else:
        world = make_ood_world(
            member.world, test.S1, test.group_size, kappa_ood=test.kappa_ood, generator=make_generator(cfg.seed, "ood")
        )
        tasks = all_tasks(world.M1)
    idx = sample_prompt_indices(
        tasks, test.alpha_test, test.l_ts, test.n_eval, world.M1, world.M2, make_generator(cfg.seed, "probe")
    )
    return world, idx


def _config_of(config) -> ICLConfig:
    """An ICLConfig from the dictionary of one (a result's ``"config"``)."""
    if not isinstance(config, dict):
        raise ValueError(
            f"parameter 'config' = {config!r} has type {type(config).__name__}: allowed an ICLConfig or its dict"
        )
    unknown = set(config) - {f.name for f in dataclasses.fields(ICLConfig)}
    if unknown:
        raise ValueError(f"unknown ICLConfig parameter(s) {sorted(unknown)} in parameter 'config'")
    return ICLConfig(**config)


def _noise(cfg, n, L, g):
    if cfg.noise_std == 0:
        return torch.zeros(n, L, cfg.d_X)
    return torch.randn(n, L, cfg.d_X, generator=g) * cfg.noise_std


def _eval_sets(m: Member):
    """Fixed evaluation prompts of a member: seen tasks, unseen tasks (``"eval"`` stream)."""
    c, g = m.config, make_generator(m.config.seed, "eval")
    sets = {}
    for name, tasks in (("seen", m.train_tasks), ("unseen", m.unseen_tasks)):
        has = tasks.shape[0] > 0
        idx = sample_prompt_indices(tasks if has else m.train_tasks, c.alpha_test, c.l_ts, c.n_eval, c.M1, c.M2, g)
        sets[name] = (idx, _noise(c, c.n_eval, c.l_ts + 1, g), has)
    return sets


def check_run_size(configs, snapshots: bool = False) -> None:
    """Reject an ensemble whose arrays cannot fit in memory, before anything is built.

    An estimate (float64 and int64 everywhere, the copies the trainer makes counted) of
    what each parameter sizes: ``T`` the (T, E) loss history and the records, ``n_eval``
    and ``l_ts`` the fixed evaluation prompts, ``B`` and ``l_tr`` the prompt chunk and a
    step's activations, ``d_X`` the patterns and weights, ``m`` the neurons.  A ValueError
    names the parameter with the largest share when the sum exceeds the machine's
    physical memory (e.g. ``T = 10**12``); real runs need far less than any machine has.
    """
    configs = check_ensemble(configs, ICLConfig)
    c, E = configs[0], len(configs)
    R = c.T // c.record_every + 2
    per_record = 11 + 4 * c.m + (3 * c.d * c.d + c.m * c.d if snapshots else 0)
    noise = any(x.noise_std > 0 for x in configs)
    L_ts, L_tr = c.l_ts + 1, c.l_tr + 1
    eval_bytes = 8 * E * c.n_eval * L_ts * (6 + (2 * c.d_X if noise else 0)) + 8 * c.n_eval * L_ts * c.d * 4
    chunk_bytes = 8 * E * c.B * (L_tr * (CHUNK_STEPS * (6 + (c.d_X if noise else 0)) + 8) + 4 * c.m)
    check_memory(
        [
            ("T", c.T, 3 * 8 * E * (c.T + R * per_record) + 100 * R),
            largest(eval_bytes, n_eval=c.n_eval, l_ts=c.l_ts),
            largest(chunk_bytes, B=c.B, l_tr=c.l_tr),
            largest(8 * E * (2 * c.d_X * c.d_X + 3 * 3 * c.d * c.d), d_X=c.d_X, d_Y=c.d_Y),
            ("m", c.m, 8 * E * 3 * c.m * c.d),
        ],
        f"an ensemble of {E} run(s) (T = {c.T}, record_every = {c.record_every}, n_eval = {c.n_eval}, B = {c.B})",
    )


def train_ensemble(
    configs, device=None, progress=None, desc: str = "training", snapshots: bool = False, probes: bool = True
) -> list[dict]:
    """Train one Eq. 7 model per configuration, all at once; return one result dict per model.

    Each result holds numpy arrays: ``iters`` (R,) the recorded iterations;
    ``loss`` (T,) the training minibatch hinge loss; per recorded iteration
    ``err_seen``, ``err_unseen``, ``loss_seen``, ``loss_unseen`` (NaN for the
    unseen entries when every task is a training task), the attention
    concentration ``attn_same``, ``attn_other``, ``attn_query`` and the
    magnitudes ``q_norm``, ``q_along``, ``k_norm``, ``k_along`` (on the
    unseen-task prompts, or the seen ones when there are none); per recorded
    iteration and neuron (R, m) ``feat_angle``, ``feat_norm``,
    ``label_angle``, ``label_norm`` (Proposition 2); the final weights under
    ``weights``; and the task split sizes.  With ``snapshots``, the weights at
    every recorded iteration too, under ``snapshots`` (each (R, ...)).
    ``progress`` shows a progress bar (``None``: unless ``TQDM_DISABLE`` is set).
    With ``probes=False`` only the errors and losses are recorded (computed in
    pattern space, without dense prompts): what a sweep needs, at a fraction of
    the cost.
    """
    configs = check_ensemble(configs, ICLConfig)
    dev = get_device(device)
    check_run_size(configs, snapshots)
    ref = configs[0]
    E, B, T, L = len(configs), ref.B, ref.T, ref.l_tr + 1
    members = [setup_member(c) for c in configs]
    world = World.stack([m.world for m in members]).to(dev)
    mu_bar = world.mu.mean(1)
    lr = torch.tensor([c.lr for c in configs], device=dev).view(E, 1, 1)

    params = Params.cat(
        init_params(c.d, c.m, c.qkv_init, c.o_init_std, [make_generator(c.seed, "init")]) for c in configs
    ).to(dev)
    for w in params.trained():
        w.requires_grad_(True)

    # Fixed evaluation prompts.
    sets = [_eval_sets(m) for m in members]
    ev = {}
    for name in ("seen", "unseen"):
        idx = PromptIndices.stack(s[name][0] for s in sets).to(dev)
        noise = torch.stack([s[name][1] for s in sets]).to(dev)
        has = torch.tensor([s[name][2] for s in sets], device=dev)
        ev[name] = (idx, noise, has)
    probe_set = "unseen" if all(s["unseen"][2] for s in sets) else "seen"

    records: dict[str, list] = {}

    def record_errors():
        with torch.no_grad():
            for name in ("seen", "unseen"):
                idx, noise, has = ev[name]
                if ref.noise_std == 0 and all(c.noise_std == 0 for c in configs):
                    out = forward_indexed(params, world, idx)
                else:
                    out = forward(params, embed(world, idx, noise))
                z = idx.label[..., -1]
                nan = torch.full((E,), float("nan"), device=dev)
                records.setdefault(f"err_{name}", []).append(torch.where(has, classification_error(out, z), nan))
                records.setdefault(f"loss_{name}", []).append(torch.where(has, hinge_loss(out, z), nan))

    def record():
        if not probes:
            return record_errors()
        with torch.no_grad():
            parts: dict[str, list] = {}
            # Dense prompts are built for a few members at a time, to bound memory on large ensembles.
            step = max(1, PROBE_BUDGET // (ref.n_eval * (ref.l_ts + 1) * ref.d))
            for lo in range(0, E, step):
                sl = slice(lo, min(E, lo + step))
                sub = params.select(list(range(sl.start, sl.stop)))
                for name in ("seen", "unseen"):
                    idx, noise, has = ev[name]
                    idx_s = idx[sl]
                    P = embed(world[sl], idx_s, noise[sl])
                    r = probe_all(sub, P, idx_s, world.mu[sl])
                    nan = torch.full_like(r["err"], float("nan"))
                    parts.setdefault(f"err_{name}", []).append(torch.where(has[sl], r["err"], nan))
                    parts.setdefault(f"loss_{name}", []).append(torch.where(has[sl], r["loss"], nan))
                    if name == probe_set:
                        for k in ("attn_same", "attn_other", "attn_query", "q_norm", "q_along", "k_norm", "k_along"):
                            parts.setdefault(k, []).append(r[k])
            for k, v in parts.items():
                records.setdefault(k, []).append(torch.cat(v))
            for k, v in wov_embeddings(params, mu_bar, world.q).items():
                records.setdefault(k, []).append(v)
            if snapshots:
                for k, v in zip(Params.TRAINED, params.trained()):
                    records.setdefault(f"snap_{k}", []).append(v.detach().clone())

    gens = [make_generator(c.seed, "train") for c in configs]
    n = CHUNK_STEPS * B
    # Each member's prompts for the next CHUNK_STEPS steps are written in place into one buffer.
    host = PromptIndices(
        pattern=torch.empty(E, n, L, dtype=torch.long),
        irrelevant=torch.empty(E, n, L, dtype=torch.long),
        label=torch.empty(E, n, L),
    )
    data = {}

    def draw():
        for e, (m, c, g) in enumerate(zip(members, configs, gens)):
            sample_prompt_indices(m.train_tasks, c.alpha, c.l_tr, n, c.M1, c.M2, g, out=host[e])
        data["chunk"], data["noise"] = host.to(dev), None
        if any(c.noise_std > 0 for c in configs):
            data["noise"] = torch.stack([_noise(c, n, L, g) for c, g in zip(configs, gens)]).to(dev)

    def loss_at(s):
        sl = slice(s * B, (s + 1) * B)
        idx, noise = data["chunk"][:, sl], data["noise"]
        if noise is None:  # pattern-space form: no (E, B, l + 1, d) tensor is built
            out = forward_indexed(params, world, idx)
        else:
            out = forward(params, embed(world, idx, noise[:, sl]))
        return hinge_loss(out, idx.label[..., -1])

    bar = progress_bar(T, f"{desc} ({E} models)", progress)
    labels = [f"seed = {c.seed}, lr = {c.lr}" for c in configs]
    rec_iters, loss_hist = sgd_loop(
        params.trained(), lr, T, ref.record_every, CHUNK_STEPS, draw, loss_at, record, bar, labels
    )

    stacked = {k: torch.stack(v).cpu().numpy() for k, v in records.items()}  # (R, E, ...)
    loss_np = loss_hist.cpu().numpy()
    final = params.detach().to("cpu")
    results = []
    for e, (c, m) in enumerate(zip(configs, members)):
        r = {"config": c.to_dict(), "iters": np.asarray(rec_iters), "loss": loss_np[:, e].copy()}
        for k, v in stacked.items():
            if k.startswith("snap_"):
                r.setdefault("snapshots", {})[k[5:]] = v[:, e].copy()
            else:
                r[k] = v[:, e].copy()
        r["weights"] = {k: v[0].numpy() for k, v in final.select(e).state().items()}
        r["n_train_tasks"] = int(m.train_tasks.shape[0])
        r["n_unseen_tasks"] = int(m.unseen_tasks.shape[0])
        results.append(r)
    return results
