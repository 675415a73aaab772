"""GPT-2 on Part I prompts: the multi-layer model of chapter 5 ([LWLCC24], figures A-12, A-13, A-21..A-26).

The papers show their multi-layer results on GPT-2 but publish no size or optimizer.  We follow
Garg et al. ("What can transformers learn in context?", NeurIPS 2022), whose code trains
``transformers``' :class:`~transformers.GPT2Model` for in-context learning:

* **the model** is a ``GPT2Model`` built from a :class:`~transformers.GPT2Config` (no pretrained
  weights, nothing downloaded, dropout 0) between a linear *read-in* from the prompt columns
  p_i = [x_i; y_i] of Eq. 6 (one token per column, query last with y = 0) to the embedding, and a
  linear *read-out* of the query position's last hidden state to the scalar output F;
* **the size** is Garg et al.'s smallest configuration, 3 layers, 2 heads, 64 dimensions;
* **the loss** is the hinge loss of Eq. 8 on F (the papers' loss, so that errors and margins
  compare with chapters 1-2), minimized by Adam (Garg et al.'s optimizer).

Training is an ensemble: every weight carries a leading member axis E, and :func:`forward` is a
batched GPT-2 forward pass written with batched matrix products -- ``tests/test_gpt2.py`` proves it
equal, output, attention and gradients, to ``transformers``' ``GPT2Model`` with the same weights
(:func:`to_modules`).  Adam's update is elementwise, so one Adam over the stacked weights is E
independent Adams, and a member trained in an ensemble is the member trained alone (to rounding).
A member's data are those of the :class:`~icl_utils.incontext.config.ICLConfig` with the same seed
(:meth:`GPT2RunConfig.data_config`): the same patterns, task split and test prompts as the
one-layer models of chapters 1-2.

Importing this module sets ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` (unless set): the
model is built from a configuration and nothing is ever fetched.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..core import cache as _cache
from ..core.checks import (
    MAX_LR,
    MAX_S1,
    _fail,
    check_bool,
    check_choice,
    check_configs,
    check_ensemble,
    check_float,
    check_instance,
    check_int,
    check_list,
    check_memory,
    largest,
)
from ..core.device import get_device
from ..core.fields import Fields
from ..core.progress import progress_bar
from ..core.results import Evaluation
from ..core.rng import make_generator
from ..core.sgd import CHUNK_STEPS, sgd_loop
from .config import EvalConfig, ICLConfig
from .data import PromptIndices, World, embed, sample_prompt_indices
from .training import eval_prompts, setup_member

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

__all__ = [
    "GPT2RunConfig",
    "gpt2_config",
    "init_weights",
    "stack_weights",
    "to_modules",
    "forward",
    "neuron_directions",
    "attention_by_pattern",
    "train_ensemble",
    "evaluate",
]


LN_EPS = 1e-5  # GPT2Config's layer_norm_epsilon


@dataclass(frozen=True)
class GPT2RunConfig(Fields):
    """One training run of GPT-2 on Part I prompts (chapter 5).

    Data (Eq. 6), as :class:`~icl_utils.incontext.config.ICLConfig`: ``M1`` IDR and ``M2`` IDI patterns in
    R^``d_X``, weight ``kappa``, labels +-q in R^``d_Y``, a fraction ``alpha`` of relevant examples,
    training tasks a fraction ``task_fraction`` of all.  Every training step draws its prompt
    length uniformly from [``l_min``, ``l_tr``] (the same length for the whole batch), so that every
    position the tests use is trained (GPT-2 has learned position embeddings).

    Model: ``n_layer`` GPT-2 blocks of width ``n_embd`` with ``n_head`` heads and ``n_positions``
    positions (a prompt of l examples uses l + 1), between the linear read-in and read-out.

    Training: the hinge loss of Eq. 8, Adam with learning rate ``lr`` decayed to 0 along a cosine
    over the ``T`` steps (``decay = "cosine"``; ``"none"`` keeps it constant), batch ``B``.
    Every ``record_every`` steps: error and loss on ``n_eval`` fixed prompts of length ``l_ts`` with
    fraction ``alpha_test`` (seen and unseen tasks), the per-layer attention of the query on
    in-domain prompts and on ODR prompts with coefficient sum ``S1_probe``, and the MLP neurons'
    label directions.  ``seed`` fixes the patterns, split, initialization and every prompt.
    """

    seed: int = 0
    M1: int = 6
    M2: int = 12
    d_X: int = 20
    d_Y: int = 4
    kappa: float = 0.5
    alpha: float = 0.6
    l_tr: int = 20
    l_min: int = 1
    task_fraction: float = 0.5
    n_layer: int = 3
    n_head: int = 2
    n_embd: int = 64
    n_positions: int = 64
    lr: float = 1e-3
    decay: str = "cosine"
    B: int = 64
    T: int = 300
    alpha_test: float = 0.6
    l_ts: int = 20
    n_eval: int = 200
    record_every: int = 15
    S1_probe: float = 1.0

    #: Fields the members of one ensemble share: those that fix shapes or loop lengths, and the
    #: learning rate (one Adam runs over the stacked weights).
    ENSEMBLE_FIELDS: ClassVar[tuple] = (
        *("M1", "M2", "d_X", "d_Y", "n_layer", "n_head", "n_embd", "n_positions"),
        *("l_tr", "l_min", "l_ts", "B", "T", "n_eval", "record_every", "lr"),
    )

    def __post_init__(self):
        c = self._check
        c("seed", check_int, 0, allowed="integers >= 0")
        c("n_layer", check_int, 1, allowed="integers >= 1")
        c("n_head", check_int, 1, allowed="integers >= 1")
        c("n_embd", check_int, 1, allowed="integers >= 1")
        if self.n_embd % self.n_head:
            _fail("n_head", self.n_head, f"a divisor of n_embd = {self.n_embd}")
        c("n_positions", check_int, 2, allowed="integers >= 2")
        for name in ("l_tr", "l_ts"):
            c(
                name,
                check_int,
                1,
                self.n_positions - 1,
                allowed=f"integers in [1, n_positions - 1 = {self.n_positions - 1}]",
            )
        c("l_min", check_int, 1, self.l_tr, allowed=f"integers in [1, l_tr = {self.l_tr}]")
        c("lr", check_float, 0.0, MAX_LR, lo_open=True)
        c("decay", check_choice, ("cosine", "none"))
        c("B", check_int, 1, allowed="integers >= 1")
        c("T", check_int, 1, allowed="integers >= 1")
        c("n_eval", check_int, 1, allowed="integers >= 1")
        c("record_every", check_int, 1, allowed="integers >= 1")
        c("S1_probe", check_float, 0.0, MAX_S1, lo_open=True)
        self.data_config()  # validates the data fields (M1, M2, d_X, d_Y, kappa, alpha, ...)

    def data_config(self) -> ICLConfig:
        """The Part I configuration whose data this run uses (same seed: same patterns,
        task split and test prompts as the one-layer model's)."""
        return ICLConfig(
            seed=self.seed,
            M1=self.M1,
            M2=self.M2,
            d_X=self.d_X,
            d_Y=self.d_Y,
            kappa=self.kappa,
            alpha=self.alpha,
            l_tr=self.l_tr,
            task_fraction=self.task_fraction,
            alpha_test=self.alpha_test,
            l_ts=self.l_ts,
            n_eval=self.n_eval,
        )

    @property
    def d(self) -> int:
        """Token width before the read-in: d_X + d_Y."""
        return self.d_X + self.d_Y


def _transformers():
    """The ``transformers`` package, imported quietly: its hub client imports ``tqdm.auto``, which
    warns inside Jupyter when ipywidgets is missing (this package's bars do not use it)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import transformers
    return transformers


def gpt2_config(cfg: GPT2RunConfig):
    """The ``transformers.GPT2Config`` of a run: its size, dropout 0, eager attention (which
    returns attention weights), no vocabulary (the read-in replaces the token embedding)."""
    check_instance("cfg", cfg, GPT2RunConfig)
    return _transformers().GPT2Config(
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=cfg.n_embd,
        n_positions=cfg.n_positions,
        vocab_size=1,
        bos_token_id=None,
        eos_token_id=None,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        use_cache=False,
        attn_implementation="eager",
    )


def _torch_seed(seed: int) -> int:
    """The global-generator seed of a run's ``"init"`` stream (GPT2Model draws from torch's
    global generator; :func:`init_weights` forks it, so nothing else is disturbed)."""
    return int(make_generator(seed, "init").initial_seed())


def to_modules(weights: dict, cfg: GPT2RunConfig):
    """``(read_in, GPT2Model, read_out)`` holding one member's ``weights`` (a name -> tensor dict
    without the member axis): the ``transformers`` form of the model, for tests and benchmarks."""
    check_instance("cfg", cfg, GPT2RunConfig)
    dtype = torch.get_default_dtype()
    model = _transformers().GPT2Model(gpt2_config(cfg)).to(dtype)
    read_in = torch.nn.Linear(cfg.d, cfg.n_embd).to(dtype)
    read_out = torch.nn.Linear(cfg.n_embd, 1).to(dtype)
    if weights is not None:
        state = {k: v for k, v in weights.items() if not k.startswith(("read_in.", "read_out."))}
        state["wte.weight"] = model.wte.weight.detach().clone()
        model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
        read_in.load_state_dict({k[8:]: torch.as_tensor(v) for k, v in weights.items() if k.startswith("read_in.")})
        read_out.load_state_dict({k[9:]: torch.as_tensor(v) for k, v in weights.items() if k.startswith("read_out.")})
    return read_in, model, read_out


def init_weights(cfg: GPT2RunConfig) -> dict:
    """A run's initial weights: ``transformers``' own GPT-2 initialization (normal, std 0.02;
    the residual projections scaled by 1/sqrt(2 n_layer)) and ``torch.nn.Linear``'s for the
    read-in and read-out, drawn from the run's ``"init"`` stream.  Returns name -> tensor
    (the unused token embedding ``wte`` left out)."""
    check_instance("cfg", cfg, GPT2RunConfig)
    config = gpt2_config(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_torch_seed(cfg.seed))
        model = _transformers().GPT2Model(config)
        read_in = torch.nn.Linear(cfg.d, cfg.n_embd)
        read_out = torch.nn.Linear(cfg.n_embd, 1)
    dtype = torch.get_default_dtype()
    out = {k: v.detach().to(dtype).clone() for k, v in model.state_dict().items() if k != "wte.weight"}
    out.update({f"read_in.{k}": v.detach().to(dtype).clone() for k, v in read_in.state_dict().items()})
    out.update({f"read_out.{k}": v.detach().to(dtype).clone() for k, v in read_out.state_dict().items()})
    return out


def stack_weights(weights) -> dict:
    """Members' weight dicts stacked on a leading member axis E."""
    weights = check_list("weights", weights, what="a non-empty list of weight dicts")
    return {k: torch.stack([torch.as_tensor(w[k]) for w in weights]) for k in weights[0]}


def _ln(h, w, b):
    """LayerNorm over the last axis with per-member gain and bias (E, D)."""
    shape = (w.shape[0],) + (1,) * (h.ndim - 2) + (w.shape[1],)
    return F.layer_norm(h, h.shape[-1:], eps=LN_EPS) * w.view(shape) + b.view(shape)


def _conv1d(h, w, b):
    """GPT-2's Conv1D (x W + b, W of shape (in, out)) per member: h (E, ..., in) -> (E, ..., out)."""
    E, inner = h.shape[0], h.shape[1:-1]
    flat = h.reshape(E, -1, h.shape[-1])
    return torch.baddbmm(b[:, None, :], flat, w).reshape(E, *inner, w.shape[-1])


def forward(weights: dict, tokens: torch.Tensor, cfg: GPT2RunConfig, attention: bool = False):
    """The ensemble's outputs F on prompts ``tokens`` (E, n, L, d) (the columns of :func:`embed`,
    query last): (E, n).  With ``attention``, also the attention of the query (last position)
    over the L positions in every layer and head: (E, n_layer, n, n_head, L).

    The GPT-2 forward pass of ``transformers`` (pre-LayerNorm blocks, causal attention, tanh-GELU
    MLP of width 4 n_embd, final LayerNorm), written for a leading member axis."""
    E, n, L, _ = tokens.shape
    if L > cfg.n_positions:
        _fail("l_ts", L - 1, f"prompts of at most n_positions - 1 = {cfg.n_positions - 1} examples")
    H, D = cfg.n_head, cfg.n_embd
    hd = D // H
    w = weights
    h = _conv1d(tokens, w["read_in.weight"].transpose(1, 2), w["read_in.bias"]) + w["wpe.weight"][:, None, :L]
    causal = torch.ones(L, L, dtype=torch.bool, device=tokens.device).tril()
    attn_rows = []
    for k in range(cfg.n_layer):
        p = f"h.{k}."
        x = _ln(h, w[p + "ln_1.weight"], w[p + "ln_1.bias"])
        qkv = _conv1d(x, w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"])
        q, key, v = (t.reshape(E, n, L, H, hd).transpose(2, 3) for t in qkv.split(D, dim=-1))  # (E, n, H, L, hd)
        scores = (q @ key.transpose(-1, -2)) * hd**-0.5
        scores = scores.masked_fill(~causal, torch.finfo(scores.dtype).min)
        a = torch.softmax(scores, dim=-1)
        if attention:
            attn_rows.append(a[..., -1, :])
        y = (a @ v).transpose(2, 3).reshape(E, n, L, D)
        h = h + _conv1d(y, w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"])
        x = _ln(h, w[p + "ln_2.weight"], w[p + "ln_2.bias"])
        x = F.gelu(_conv1d(x, w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"]), approximate="tanh")
        h = h + _conv1d(x, w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"])
    last = _ln(h[:, :, -1], w["ln_f.weight"], w["ln_f.bias"])  # (E, n, D)
    out = (last @ w["read_out.weight"].transpose(1, 2)).squeeze(-1) + w["read_out.bias"]
    if attention:
        return out, torch.stack(attn_rows, 1)
    return out


def neuron_directions(weights: dict, cfg: GPT2RunConfig, q: torch.Tensor) -> dict:
    """Per layer and MLP neuron, the label direction and output sign that play the roles of the
    one-layer model's neuron weights on the attention's value output (W_O applied to W_V's label
    part, Proposition 2) and of its a_i.

    In Eq. 7 the query's neuron sees the labels only through the attention: sum_j attn_j W_V p_j.
    In GPT-2 likewise -- the query's own y is 0 -- so the label a layer-k neuron i sees travels
    from the read-in's label columns R_y = W_in[:, d_X:] through ln_1 (centring P, gain g_1), the
    value weights W_V and output projection W_P of the attention, ln_2 (P, gain g_2) to the
    neuron's input weights c_fc[:, i].  Its **label direction** is

        u_i = R_y^T P diag(g_1) W_V W_P P diag(g_2) c_fc[:, i]   in R^d_Y

    (the direct path from the embedding, LayerNorm's 1/sigma left out): what its pre-activation
    gains per unit of label in the attended columns.  Its **angle** is the angle between u_i and
    q (degrees), its **magnitude** |u_i|.  Its **output sign** (the role of a_i) is the sign of its
    direct contribution to F: the read-out r through the final LayerNorm (P, gain g_f) applied to
    its output weights, sign(c_proj[i, :] . P (g_f * r)).  Returns arrays (E, n_layer, 4 n_embd)
    under ``angle``, ``magnitude``, ``sign``.  ``q`` (E, d_Y): each member's label embedding.
    """
    w, D = weights, cfg.n_embd

    def centre(m):  # P m: LayerNorm's centring of the rows of m (E, D, ...)
        return m - m.mean(1, keepdim=True)

    R_y = centre(w["read_in.weight"][:, :, cfg.d_X :])  # (E, D, d_Y): P R_y
    r = centre((w["read_out.weight"][:, 0] * w["ln_f.weight"])[:, :, None])  # (E, D, 1)
    out = {"angle": [], "magnitude": [], "sign": []}
    for k in range(cfg.n_layer):
        p = f"h.{k}."
        W_V = w[p + "attn.c_attn.weight"][:, :, 2 * D :]  # (E, D, D), Conv1D: x -> x W
        c_in = centre(w[p + "ln_2.weight"][:, :, None] * w[p + "mlp.c_fc.weight"])  # P diag(g_2) c_fc
        path = (w[p + "ln_1.weight"][:, :, None] * W_V) @ w[p + "attn.c_proj.weight"]  # diag(g_1) W_V W_P
        u = R_y.transpose(1, 2) @ path @ c_in  # (E, d_Y, 4D)
        mag = u.norm(dim=1)
        cos = (q[:, :, None] * u).sum(1) / mag.clamp_min(1e-300)
        out["angle"].append(torch.rad2deg(torch.arccos(cos.clamp(-1, 1))))
        out["magnitude"].append(mag)
        out["sign"].append(torch.sign(w[p + "mlp.c_proj.weight"] @ r).squeeze(-1))
    return {k: torch.stack(v, 1) for k, v in out.items()}


def attention_by_pattern(attn: torch.Tensor, idx: PromptIndices) -> dict:
    """The query's mean attention weight on one context column with its own relevant pattern
    (``same``) and on one with another pattern (``other``), per member and layer, averaged over
    heads and prompts (A-21..A-23).  ``attn`` (E, n_layer, n, n_head, L) from :func:`forward`;
    the query's own column is in neither.  Uniform attention gives 1 / L to both.
    Returns arrays (E, n_layer)."""
    a = attn.mean(3)[..., :-1]  # (E, K, n, l): heads averaged, context columns only
    same = (idx.pattern[..., :-1] == idx.pattern[..., -1:]).to(a.dtype)[:, None]  # (E, 1, n, l)
    other = 1.0 - same
    mean_same = (a * same).sum((-1, -2)) / same.sum((-1, -2)).clamp_min(1)
    mean_other = (a * other).sum((-1, -2)) / other.sum((-1, -2)).clamp_min(1)
    return {"same": mean_same, "other": mean_other}


def hinge(out, z):
    """Eq. 8's hinge loss max(0, 1 - z F), averaged over prompts: (E,)."""
    return torch.clamp(1 - z * out, min=0).mean(-1)


def error(out, z):
    """Classification error; a non-finite output counts as wrong: (E,)."""
    return (~(out * z > 0)).to(out.dtype).mean(-1)


def check_run_size(configs) -> None:
    """Reject an ensemble that cannot fit in memory (an estimate, float64), before anything is built."""
    configs = check_ensemble(configs, GPT2RunConfig)
    c, E = configs[0], len(configs)
    D, L = c.n_embd, max(c.l_tr, c.l_ts) + 1
    R = c.T // c.record_every + 2
    per_token = 8 * (30 * D + 4 * c.n_head * L)  # activations kept for the backward pass, per token and layer
    check_memory(
        [
            ("T", c.T, 8 * E * (c.T + R * (8 + 4 * c.n_layer * (1 + 12 * D)))),
            largest(
                E * c.n_layer * CHUNK_STEPS * c.B * L * per_token // CHUNK_STEPS, B=c.B, l_tr=c.l_tr, n_layer=c.n_layer
            ),
            largest(E * c.n_layer * c.n_eval * L * per_token, n_eval=c.n_eval, l_ts=c.l_ts, n_layer=c.n_layer),
            largest(8 * E * 4 * c.n_layer * 13 * D * D, n_embd=c.n_embd, n_layer=c.n_layer),
            ("n_positions", c.n_positions, 8 * E * 4 * c.n_positions * D),  # the position embedding
        ],
        f"an ensemble of {E} GPT-2 run(s) (T = {c.T}, n_eval = {c.n_eval}, B = {c.B})",
    )


def schedule_factor(cfg: GPT2RunConfig, t: int) -> float:
    """The learning rate of step t as a fraction of ``lr``: constant, or a cosine from 1 down to 0
    over the T steps (``decay = "cosine"``)."""
    if cfg.decay == "none":
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * min(t, cfg.T) / cfg.T))


def length_schedule(cfg: GPT2RunConfig) -> torch.Tensor:
    """The prompt length of every training step, uniform on [l_min, l_tr].  It depends only on
    shape fields (``T``, ``l_min``, ``l_tr``), so every member of an ensemble -- or the member
    trained alone -- sees the same lengths."""
    g = torch.Generator().manual_seed(cfg.T * 1_000_003 + cfg.l_tr * 1009 + cfg.l_min)
    return torch.randint(cfg.l_min, cfg.l_tr + 1, (cfg.T,), generator=g)


def _probe_sets(configs, dev):
    """Fixed recording prompts per member: seen and unseen in-domain tasks, and ODR prompts."""
    sets = {}
    for name, test in (
        ("seen", lambda c: EvalConfig(c.alpha_test, c.l_ts, c.n_eval, tasks="seen")),
        ("unseen", lambda c: EvalConfig(c.alpha_test, c.l_ts, c.n_eval, tasks="unseen")),
        ("odr", lambda c: EvalConfig(c.alpha_test, c.l_ts, c.n_eval, S1=c.S1_probe)),
    ):
        worlds, idxs = zip(*(eval_prompts(c.data_config(), test(c)) for c in configs))
        sets[name] = (World.stack(worlds).to(dev), PromptIndices.stack(idxs).to(dev))
    return sets


def train_ensemble(configs, device=None, progress=None, desc: str = "GPT-2") -> list[dict]:
    """Train one GPT-2 per configuration, all at once; one result dict per model.

    Each result holds ``iters`` (R,), ``loss`` (T,) the training minibatch hinge loss, per
    recorded iteration ``err_seen``, ``err_unseen``, ``loss_unseen``, the per-layer attention
    ``attn_same_id``, ``attn_other_id`` (in-domain prompts of unseen tasks) and
    ``attn_same_odr``, ``attn_other_odr`` (ODR prompts, S1 = ``S1_probe``), each (R, n_layer),
    the neurons' ``neuron_angle``, ``neuron_magnitude``, ``neuron_sign`` (R, n_layer, 4 n_embd),
    and the final ``weights``."""
    configs = check_ensemble(configs, GPT2RunConfig)
    dev = get_device(device)
    check_run_size(configs)
    ref = configs[0]
    E, B = len(configs), ref.B
    members = [setup_member(c.data_config()) for c in configs]
    world = World.stack([m.world for m in members]).to(dev)
    weights = {k: v.to(dev).requires_grad_(True) for k, v in stack_weights([init_weights(c) for c in configs]).items()}
    params = list(weights.values())
    # One Adam over the stacked weights: its update is elementwise, so each member has its own
    # (its learning rate is one per parameter group, hence GPT2RunConfig.ENSEMBLE_FIELDS).
    opt = torch.optim.Adam(params, lr=ref.lr, foreach=False)
    probe = _probe_sets(configs, dev)
    records: dict[str, list] = {}

    def record():
        with torch.no_grad():
            for name in ("seen", "unseen", "odr"):
                world_p, idx = probe[name]
                out, attn = forward(weights, embed(world_p, idx), ref, attention=True)
                z = idx.label[..., -1]
                if name != "odr":
                    records.setdefault(f"err_{name}", []).append(error(out, z))
                    records.setdefault(f"loss_{name}", []).append(hinge(out, z))
                if name != "seen":
                    tag = "id" if name == "unseen" else "odr"
                    by = attention_by_pattern(attn, idx)
                    records.setdefault(f"attn_same_{tag}", []).append(by["same"])
                    records.setdefault(f"attn_other_{tag}", []).append(by["other"])
            for k, v in neuron_directions(weights, ref, world.q).items():
                records.setdefault(f"neuron_{k}", []).append(v)

    gens = [make_generator(c.seed, "train") for c in configs]
    L = ref.l_tr + 1
    n = CHUNK_STEPS * B
    host = PromptIndices(
        pattern=torch.empty(E, n, L, dtype=torch.long),
        irrelevant=torch.empty(E, n, L, dtype=torch.long),
        label=torch.empty(E, n, L),
    )
    lengths = length_schedule(ref).tolist()
    data = {"t": 0}

    def draw():
        for e, (m, c, g) in enumerate(zip(members, configs, gens)):
            sample_prompt_indices(m.train_tasks, c.alpha, c.l_tr, n, c.M1, c.M2, g, out=host[e])
        data["chunk"] = host.to(dev)

    def loss_at(s):
        l = lengths[data["t"]]
        data["t"] += 1
        cols = torch.cat([torch.arange(l), torch.tensor([ref.l_tr])]).to(dev)  # l contexts and the query
        idx = data["chunk"][:, s * B : (s + 1) * B]
        idx = PromptIndices(idx.pattern[..., cols], idx.irrelevant[..., cols], idx.label[..., cols])
        out = forward(weights, embed(world, idx), ref)
        return hinge(out, idx.label[..., -1])

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: schedule_factor(ref, t))

    def adam_step(losses):
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        opt.step()
        sched.step()

    bar = progress_bar(ref.T, f"{desc} ({E} models)", progress)
    labels = [f"seed = {c.seed}, lr = {c.lr}" for c in configs]
    iters, hist = sgd_loop(
        params, None, ref.T, ref.record_every, CHUNK_STEPS, draw, loss_at, record, bar, labels, step=adam_step
    )
    stacked = {k: torch.stack(v).cpu().numpy() for k, v in records.items()}  # (R, E, ...)
    loss_np = hist.cpu().numpy()
    final = {k: v.detach().cpu() for k, v in weights.items()}
    results = []
    for e, (c, m) in enumerate(zip(configs, members)):
        r = {"config": c.to_dict(), "model": "gpt2", "iters": np.asarray(iters), "loss": loss_np[:, e].copy()}
        r.update({k: v[:, e].copy() for k, v in stacked.items()})
        r["weights"] = {k: v[e].numpy() for k, v in final.items()}
        r["n_train_tasks"] = int(m.train_tasks.shape[0])
        r["n_unseen_tasks"] = int(m.unseen_tasks.shape[0])
        results.append(r)
    return results


@_cache.computing
def evaluate(results, tests, device=None, cache: bool = True) -> dict:
    """Test trained GPT-2 models (results of :func:`train_ensemble`) under every
    :class:`~icl_utils.incontext.config.EvalConfig`, on the very prompts the one-layer model with the same
    seed is tested on (:func:`icl_utils.incontext.training.eval_prompts`).  Returns ``err`` (len(results),
    len(tests)) and ``attn_same``, ``attn_other`` (len(results), len(tests), n_layer)."""
    results = check_list("results", results, what="a non-empty list of GPT-2 results")
    for r in results:
        if not isinstance(r, dict) or r.get("model") != "gpt2":
            raise ValueError("parameter 'results' is invalid: allowed results of GPT-2 training (train_runs)")
    tests = check_configs(tests, EvalConfig, "tests")
    cache = check_bool("cache", cache)
    dev = get_device(device)
    cfgs = [GPT2RunConfig(**r["config"]) for r in results]
    K = cfgs[0].n_layer
    for t in tests:
        for c in cfgs:
            if t.l_ts + 1 > c.n_positions:
                _fail("l_ts", t.l_ts, f"test lengths of at most n_positions - 1 = {c.n_positions - 1} examples")
    err = np.full((len(results), len(tests)), np.nan)
    same = np.full((len(results), len(tests), K), np.nan)
    other = np.full_like(same, np.nan)
    weights: dict = {}  # a model's weights as tensors, converted once for all its tests
    digests = [_cache.weights_digest(r) for r in results]  # other weights: evaluated anew
    for j, test in enumerate(tests):
        for i, (r, c) in enumerate(zip(results, cfgs)):
            key = {"run": r["config"], "test": test.to_dict(), "weights": digests[i]}
            hit = _cache.load(KIND_EVAL, key) if cache else None
            if hit is None:
                world, idx = eval_prompts(c.data_config(), test)
                if i not in weights:
                    weights[i] = {k: torch.as_tensor(v)[None].to(dev) for k, v in r["weights"].items()}
                w = weights[i]
                world_t = World.stack([world]).to(dev)
                idx = PromptIndices.stack([idx]).to(dev)
                with torch.no_grad():
                    out, attn = forward(w, embed(world_t, idx), c, attention=True)
                by = attention_by_pattern(attn, idx)
                hit = (
                    float(error(out, idx.label[..., -1])[0]),
                    by["same"][0].cpu().numpy(),
                    by["other"][0].cpu().numpy(),
                )
                if cache:
                    _cache.store(KIND_EVAL, key, hit)
            err[i, j], same[i, j], other[i, j] = hit
    return Evaluation({"err": err, "attn_same": same, "attn_other": other}, [r["config"] for r in results], tests)


KIND_EVAL = "gpt2_evaluate"
