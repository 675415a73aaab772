# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,mystnb,-all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # GPT-2 learns in context the same way
#
# **The question.** Theorems 1-3 are proved for the one-layer model of Eq. 7. Does a
# real multi-layer transformer trained on the same prompts generalize the same way
# out of domain, and does it learn the same mechanism -- attention that selects the
# context examples sharing the query's pattern, and MLP neurons that split by the sign of
# their output along the label embedding $q$?
#
# The first paper's talk answers with GPT-2: its out-of-domain figures
# were measured on GPT-2, and show a 3-layer model's attention and neurons
# over training {cite:p}`li2024nonlinear`. This chapter trains GPT-2 on the prompts of
# {doc}`01_in_domain` and draws every one of those figures, beside the one-layer model of
# {doc}`02_out_of_domain` tested on the very same prompts.
#
# ```{admonition} What to take away
# :class: tip
# - A 3-layer GPT-2 trained on the same prompts generalizes to unseen tasks as the
#   one-layer model does.
# - Out of domain it reproduces the source's A-12: the $S_1<1$ curves stay above the
#   $S_1\ge 1$ ones at every length shown, where the one-layer model catches up.
# - Its mechanism is the one of Propositions 1-2, but not in every layer: at least one layer
#   selects the contexts sharing the query's pattern, and the neurons of at least one layer
#   split by the sign of their output along $q$.
# ```
#
# ```{admonition} The model: GPT-2 between a read-in and a read-out
# A prompt's columns $p_i=[x_i;y_i]$ (Eq. 6, the query last with $y=0$) are the tokens.
# A linear **read-in** maps each to the embedding, GPT-2 adds its learned position
# embedding and applies its blocks (`transformers`' `GPT2Model`, built from a
# `GPT2Config`, no pretrained weights, dropout 0), and a linear **read-out** of the query
# position's last hidden state gives the output $F$. Its sign is the predicted label. The
# setup is Garg et al.'s {cite:p}`garg2022what`, whose code trains GPT-2 for in-context
# learning, with their smallest size: 3 layers, 2 heads, width 64.
# ```

# %% tags=["parameters", "remove-cell"]
# Parameters (papermill -p NAME VALUE): the profile, the device, and any field of the chapter's
# profile or of its run config (e.g. -p lr 0.003); an unknown name stops the chapter with an
# error naming it.  None keeps the profile's value.
profile = "quick"
n_seeds = None
n_eval = None
device = None

# %% tags=["remove-cell"]
import icl_utils as icl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from icl_utils.book import export, plotting
from icl_utils.book.claims import Claims
from icl_utils.incontext import data, gpt2
from icl_utils.incontext import experiments as X
from icl_utils.incontext.config import EvalConfig

prof, dev = icl.start_chapter("05_gpt2", **icl.chapter_parameters(globals()))
base, seeds = prof.base, prof.seeds

# %%
print(f"profile: {prof.name}, {len(seeds)} seeds, device: {dev.type}")
print(
    f"GPT-2: {base.n_layer} layers, {base.n_head} heads, width {base.n_embd}; "
    f"Adam lr={base.lr}, B={base.B}, T={base.T}, prompt lengths {base.l_min}..{base.l_tr}"
)
print(
    f"data as chapter 1: M1={base.M1} M2={base.M2} d_X={base.d_X} d_Y={base.d_Y} "
    f"kappa={base.kappa} alpha={base.alpha}"
)
print(f"one-layer model for comparison: chapter 2's, T={prof.one_layer.T}, same seeds")

# %% [markdown]
# ## Training
#
# Every seed trains one GPT-2 on the prompts of chapter 1 -- the same patterns, task
# split and prompt stream as the one-layer model with that seed -- with the hinge loss
# of Eq. 8 and Adam. GPT-2 has learned position embeddings, so each step draws its
# prompt length uniformly from 1 to $l_{tr}=20$: every position a test uses is trained.
# The seeds train together as one ensemble (a batched GPT-2 forward pass that the tests
# prove equal to `transformers`' `GPT2Model`). Below: the error on fixed prompts of seen
# and unseen tasks over training.

# %%
runs = X.train_runs(X.grid(base, seeds), device=dev, desc="GPT-2")
one = X.train_runs(
    X.grid(prof.one_layer, seeds), device=dev, desc="one-layer (chapter 2)"
)
it = runs[0]["iters"]
n_params = sum(v.size for v in runs[0]["weights"].values())
print(f"{n_params} trained weights per GPT-2 ({len(runs)} models)")

# %% mystnb={"figure": {"caption": "GPT-2 training: error on prompts of seen and unseen tasks (median and range over seeds) against the training iteration. Look at the long plateau at 0.5 and the sudden drop part-way through training, on unseen tasks as on seen ones.", "name": "fig-gpt2-training"}} tags=["hide-input"]
floor_tr = data.guess_floor(base.alpha_test, base.l_ts)
fig, ax = plt.subplots(figsize=(plotting.WIDTH, 3.8))
for key, color, label in [
    ("err_seen", "tab:blue", "seen tasks"),
    ("err_unseen", "tab:red", "unseen tasks"),
]:
    plotting.mean_band(
        ax, it, X.stack(runs, key), color=color, center="median", label=label
    )
ax.set(
    xlabel="training iteration $t$",
    ylabel="classification error",
    ylim=(0, 0.6),
    title=f"GPT-2 on Part I prompts ($l_{{ts}}$ = {base.l_ts})",
)
ax.legend()
plt.show()
err_un = X.stack(runs, "err_unseen")
final_unseen = np.median(err_un[:, -1])
half = [
    it[np.argmax(e <= 0.25)] if (e <= 0.25).any() else np.nan for e in err_un
]  # first point halfway down from 0.5
print(
    f"unseen-task error at t = {it[-1]}: median {final_unseen:.3f} "
    f"(guessing floor {floor_tr:.4f}); seeds below 0.05: {int((err_un[:, -1] <= 0.05).sum())} of {len(seeds)}"
)
run_seeds = [c.seed for c in runs.configs]
_ = export.save_table(
    "training-error",
    export.long_table(
        {"err_seen": X.stack(runs, "err_seen"), "err_unseen": err_un},
        seed=run_seeds,
        t=it,
    ),
)

# %% [markdown]
# ## Figures: each layer's attention over training
#
# In every layer we read the query's attention weights (averaged over the two heads) and
# average them over the context columns that share the query's relevant pattern ("same
# pattern") and over the others ("other"), on fixed prompts: ODR prompts with coefficient
# sum $S_1$ as in the source (printed in the figure), and in-domain prompts of unseen
# tasks. Uniform attention gives both $1/(l_{ts}+1)$ (dotted). The one-layer model's final
# weight per same-pattern column on the same ODR prompts is the dashed line.

# %%
tests_probe = [
    EvalConfig(
        alpha_test=base.alpha_test, l_ts=base.l_ts, n_eval=prof.n_eval, S1=base.S1_probe
    )
]
one_probe = X.evaluate_runs(one, tests_probe, device=dev)
idx_counts = []
for r in one:
    _, idx = X.eval_prompts(r["config"], tests_probe[0])
    idx_counts.append(
        float((idx.pattern[:, :-1] == idx.pattern[:, -1:]).sum(1).double().mean())
    )
# the one-layer model's attention on one same-pattern context column (its attn_same is the sum)
one_same = np.median(one_probe["attn_same"][:, 0] / np.asarray(idx_counts))
K = base.n_layer
uniform = 1 / (base.l_ts + 1)

# %% mystnb={"figure": {"caption": "A-21 to A-23: per layer (columns), the query's mean attention weight on a context column with its own pattern (solid) and on one with another pattern (thin), over training; top: ODR prompts, bottom: in-domain prompts of unseen tasks; median and range over seeds. Dotted: uniform attention; dashed: the one-layer model's final weight per same-pattern column on the same ODR prompts. Look at which layers separate the two curves, when, and how far below the one-layer model they stay.", "name": "fig-gpt2-attention"}} tags=["hide-input", "full-width"]
fig, axes = plt.subplots(2, K, figsize=(plotting.WIDE, 5.6), sharex=True, sharey=True)
for row, (tag, name) in enumerate(
    [("odr", f"ODR, $S_1$ = {base.S1_probe}"), ("id", "in domain")]
):
    same_k, other_k = (
        X.stack(runs, f"attn_same_{tag}"),
        X.stack(runs, f"attn_other_{tag}"),
    )
    for k in range(K):
        ax = axes[row, k]
        plotting.mean_band(
            ax,
            it,
            same_k[:, :, k],
            color="tab:red",
            center="median",
            label="same pattern",
        )
        plotting.mean_band(
            ax,
            it,
            other_k[:, :, k],
            color="tab:blue",
            center="median",
            lw=1,
            label="other",
        )
        ax.axhline(uniform, color=plotting.THEORY_COLOR, ls=":", lw=1)
        if tag == "odr":
            ax.axhline(one_same, color="k", ls="--", lw=1, label="one-layer model")
        ax.set_title(f"layer {k + 1}, {name}", fontsize="medium")
        if row == 1:
            ax.set_xlabel("training iteration $t$")
fig.supylabel("attention per column")  # once: one label per row collided
fig.suptitle("A-21..A-23: the query's attention by pattern, per layer")
fig.tight_layout()
plotting.legend_below(fig, ncol=3, handles=axes[0, 0].get_legend_handles_labels()[0])
plt.show()
same_odr, other_odr = X.stack(runs, "attn_same_odr"), X.stack(runs, "attn_other_odr")
ratio_final = np.median(same_odr[:, -1] / other_odr[:, -1], axis=0)  # (K,)
print(
    "final same/other attention ratio on ODR prompts (median seed): "
    + ", ".join(f"layer {k + 1}: {v:.1f}" for k, v in enumerate(ratio_final))
)
print(
    "final weight per same-pattern column (median seed): "
    + ", ".join(
        f"layer {k + 1}: {v:.3f}" for k, v in enumerate(np.median(same_odr[:, -1], 0))
    )
    + f"; one-layer model {one_same:.3f}; uniform {uniform:.3f}"
)
sel = int(np.argmax(ratio_final))  # the layer that selects most
rise = np.median(same_odr[:, :, sel] / other_odr[:, :, sel], axis=0)
mid = rise[0] + (rise[-1] - rise[0]) / 2
t_rise = it[np.argmax(rise >= mid)]
print(
    f"layer {sel + 1}'s same/other ratio (median seed) rises from {rise[0]:.1f} to {rise[-1]:.1f}; "
    f"it passes halfway at t = {t_rise}"
)
_ = export.save_table(
    "attention-by-layer",
    export.long_table(
        {
            "same": np.stack([same_odr, X.stack(runs, "attn_same_id")], axis=1),
            "other": np.stack([other_odr, X.stack(runs, "attn_other_id")], axis=1),
        },
        seed=run_seeds,
        prompts=["ODR", "in domain"],
        t=it,
        layer=range(1, K + 1),
    ),
)

# %% [markdown]
# ## Figures: the MLP neurons of each layer
#
# The one-layer model's neurons are rows of $W_O$ with fixed output weights $a_i=\pm1/m$, and
# Proposition 2 says that their label part grows along $+q$ for $a_i>0$ and along $-q$ for
# $a_i<0$. GPT-2's MLP has no $a_i$ and no separate label rows, so we read both from the
# weights, along the path the label takes to the query:
#
# - the query's own $y$ is 0, so a neuron sees the context labels only through the
#   attention, as in Eq. 7. Its **label direction** $u_i\in\mathbb R^{d_Y}$ is its input
#   weights composed with that path: the read-in's label columns, the layer's first
#   LayerNorm (centring and gain), the attention's value and output weights, the second
#   LayerNorm. It says how much the neuron's pre-activation gains per unit of label
#   carried by the attended columns, and plays the role of $W_O$'s label part applied to
#   $W_V$;
# - its **output sign** (the role of $a_i$) is the sign of its direct contribution to
#   $F$: its output weights through the final LayerNorm and the read-out.
#
# Each point is one neuron of seed 0 (the first model): the angle between $u_i$ and $q$
# against $|u_i|$, coloured by training iteration, $\triangle$ for a positive output
# sign and $\triangledown$ for a negative one.

# %%
snap = np.unique(np.linspace(0, len(it) - 1, prof.n_snapshots).round().astype(int))
ang, mag, sgn = (X.stack(runs, f"neuron_{k}") for k in ("angle", "magnitude", "sign"))
n_top = max(1, ang.shape[-1] // 10)  # the largest tenth of the neurons


def agreement(a, m, s):
    """Share of the largest tenth of neurons on the side of q their output sign predicts."""
    top = np.argsort(m)[-n_top:]
    return float(np.mean((s[top] > 0) == (a[top] < 90)))


agree = np.array(
    [
        [agreement(ang[e, -1, k], mag[e, -1, k], sgn[e, -1, k]) for k in range(K)]
        for e in range(len(seeds))
    ]
)  # (seeds, K)
growth = np.median(mag[:, -1].mean(-1) / mag[:, 0].mean(-1), axis=0)  # (K,)

# %% mystnb={"figure": {"caption": "A-24 to A-26: the MLP neurons of each layer of one GPT-2 (seed 0): angle between the neuron's label direction and $q$ (x) against its magnitude (y), colour = training iteration, upward triangles for a positive output sign and downward for a negative one. Look at the magnitudes growing over training, and at the layers where the upward triangles move to small angles and the downward ones to large angles (Proposition 2's split).", "name": "fig-gpt2-neurons"}} tags=["hide-input", "full-width"]
fig, axes = plt.subplots(1, K, figsize=(plotting.WIDE, 3.8), sharey=True)
cmap = plt.cm.viridis
for k, ax in enumerate(np.atleast_1d(axes)):
    for j, s in enumerate(snap):
        color = cmap(j / max(1, len(snap) - 1))
        for sign, marker in ((1, "^"), (-1, "v")):
            keep = sgn[0, s, k] == sign
            ax.scatter(
                ang[0, s, k][keep],
                mag[0, s, k][keep],
                marker=marker,
                s=12,
                color=color,
                alpha=0.6,
                label=f"t = {it[s]}" if (k == K - 1 and sign == 1) else None,
            )
    ax.axvline(90, color=plotting.THEORY_COLOR, ls=":", lw=1)
    ax.set(xlim=(0, 180), xlabel="angle to $q$ (degrees)", title=f"layer {k + 1}")
    ax.set_xticks([0, 45, 90, 135, 180])
np.atleast_1d(axes)[0].set_ylabel("magnitude $|u_i|$")
np.atleast_1d(axes)[-1].legend(
    loc="upper left", bbox_to_anchor=(1.02, 1), title="iteration"
)
fig.suptitle(
    "A-24..A-26: neurons by angle to $q$ and magnitude ($\\triangle$: output sign +, $\\triangledown$: -)"
)
fig.tight_layout()
plt.show()
print(
    "mean neuron magnitude, final / initial (median seed): "
    + ", ".join(f"layer {k + 1}: {v:.1f}x" for k, v in enumerate(growth))
)
print(
    f"largest tenth of the neurons ({n_top} per layer) on the side of q their output sign predicts, "
    "per seed:"
)
for e in range(len(seeds)):
    print(
        f"  seed {seeds[e]}: "
        + ", ".join(f"layer {k + 1}: {v:.2f}" for k, v in enumerate(agree[e]))
    )
best_agree = np.median(agree.max(1))
_ = export.save_table(
    "neurons-seed0",
    export.long_table(
        {"angle": ang[0, snap], "magnitude": mag[0, snap], "sign": sgn[0, snap]},
        t=it[snap],
        layer=range(1, K + 1),
        neuron=range(ang.shape[-1]),
    ),
)

# %% [markdown]
# ## Figure A-12 on GPT-2: out-of-domain error against test length
#
# Both models are tested on the same OOD prompts (chapter 2's: ODR patterns with
# coefficient sum $S_1$, fraction $\alpha'=\alpha$ of relevant examples) at every length
# up to 20, the longest of the source's figure.

# %%
tests_S1 = [
    EvalConfig(S1=S1, alpha_test=base.alpha, l_ts=l, n_eval=prof.n_eval)
    for S1 in (*prof.S1s, None)
    for l in prof.lengths
]
# errors laid out over (seed, S1, l_ts), read off the runs' configs and the tests
err_g_da = gpt2.evaluate(runs, tests_S1, device=dev).array("err", "seed", "S1", "l_ts")
err_1_da = X.evaluate_runs(one, tests_S1, device=dev).array("err", "seed", "S1", "l_ts")
err_g, err_1 = err_g_da.values, err_1_da.values

# %% mystnb={"figure": {"caption": "A-12: error on OOD prompts against the test length $l_{ts}$, one curve per $S_1$ (dashed: $S_1<1$), and in domain (grey); left the one-layer model of Eq. 7, right GPT-2, tested on the same prompts; median over seeds, range shaded; dotted: the resolution $1/n$. Look at the $S_1<1$ curves: on GPT-2 they level off above the $S_1\\ge1$ curves, as on the source's figure.", "name": "fig-gpt2-ood-length"}} tags=["hide-input", "full-width"]
floor = 1 / (prof.n_eval * len(seeds))
fig, axes = plt.subplots(1, 2, figsize=(plotting.WIDE, 4.2), sharey=True)
colors = plt.cm.viridis(np.linspace(0, 0.9, len(prof.S1s)))
for ax, err, title in [
    (axes[0], err_1, "one-layer model (Eq. 7)"),
    (axes[1], err_g, "GPT-2"),
]:
    for k, S1 in enumerate(prof.S1s):
        plotting.mean_band(
            ax,
            prof.lengths,
            np.maximum(err[:, k], floor),
            color=colors[k],
            center="median",
            marker="o",
            ms=4,
            label=f"$S_1$ = {S1}",
            ls="-" if S1 >= 1 else "--",
        )
    plotting.mean_band(
        ax,
        prof.lengths,
        np.maximum(err[:, -1], floor),
        color="0.5",
        center="median",
        marker="s",
        ms=3,
        label="in domain",
    )
    ax.axhline(floor, color=plotting.THEORY_COLOR, ls=":", lw=1)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="test prompt length $l_{ts}$",
        title=f"A-12: {title}",
    )
    plotting.plain_log_ticks(ax, prof.lengths)
axes[0].set_ylabel("error (log)")
axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1))
fig.tight_layout()
plt.show()
med_g, med_1 = np.median(err_g, 0), np.median(err_1, 0)  # (S1s + in domain, lengths)
for name, med in [("GPT-2", med_g), ("one-layer", med_1)]:
    print(
        f"{name}, error at l_ts = {prof.lengths[-1]} (median seed): "
        + ", ".join(
            f"S1={S1}: {e:.3f}" for S1, e in zip((*prof.S1s, "in domain"), med[:, -1])
        )
    )
models = pd.Index(["GPT-2", "one-layer"], name="model")
table = xr.concat([err_g_da, err_1_da], models).to_dataframe("err").reset_index()
table["S1"] = ["in domain" if pd.isna(s) else s for s in table["S1"]]
_ = export.save_table("ood-error-vs-length-gpt2-and-one-layer", table)

# %% [markdown]
# ## Figure A-13 on GPT-2: error against test length for several $\alpha'$
#
# In domain (unseen tasks) and out of domain ($S_1$ printed), for the source's fractions
# $\alpha'$ of relevant examples; dashed verticals at $l_{ts}=1/\alpha'$.

# %%
tests_a = [
    EvalConfig(S1=S1, alpha_test=a, l_ts=l, n_eval=prof.n_eval)
    for S1 in (None, prof.S1_alpha)
    for a in prof.alphas_test
    for l in prof.lengths
]
dims_a = ("seed", "S1", "alpha_test", "l_ts")  # S1 = None: in domain
err_ag_da = gpt2.evaluate(runs, tests_a, device=dev).array("err", *dims_a)
err_a1_da = X.evaluate_runs(one, tests_a, device=dev).array("err", *dims_a)
err_ag, err_a1 = err_ag_da.values, err_a1_da.values

# %% mystnb={"figure": {"caption": "A-13: error against $l_{ts}$ for fractions $\\alpha'$ of relevant test examples, in domain (left column) and out of domain (right column); top the one-layer model, bottom GPT-2, on the same prompts; median over seeds, range shaded; dashed verticals at $l_{ts}=1/\\alpha'$. Look at the order of the curves: a larger $\\alpha'$ needs shorter prompts, on both models.", "name": "fig-gpt2-alpha"}} tags=["hide-input", "full-width"]
fig, axes = plt.subplots(2, 2, figsize=(plotting.WIDE, 7), sharex=True, sharey=True)
colors = plt.cm.plasma(np.linspace(0, 0.8, len(prof.alphas_test)))
for row, (err, model) in enumerate([(err_a1, "one-layer model"), (err_ag, "GPT-2")]):
    for d, where in enumerate(["in domain", f"OOD, $S_1$ = {prof.S1_alpha}"]):
        ax = axes[row, d]
        for k, a in enumerate(prof.alphas_test):
            plotting.mean_band(
                ax,
                prof.lengths,
                np.maximum(err[:, d, k], floor),
                color=colors[k],
                center="median",
                marker="o",
                ms=4,
                label=f"$\\alpha'$ = {a}",
            )
            ax.axvline(1 / a, color=colors[k], ls="--", lw=1)
        ax.axhline(floor, color=plotting.THEORY_COLOR, ls=":", lw=1)
        ax.set(xscale="log", yscale="log", title=f"A-13: {model}, {where}")
        plotting.plain_log_ticks(ax, prof.lengths)
        if row == 1:
            ax.set_xlabel("test prompt length $l_{ts}$")
    axes[row, 0].set_ylabel("error (log)")
axes[0, 1].legend(loc="lower left")  # the empty corner
fig.tight_layout()
plt.show()
need = {}
for err, model in [(err_ag, "GPT-2"), (err_a1, "one-layer")]:
    for d, where in enumerate(["in domain", f"OOD S1={prof.S1_alpha}"]):
        for k, a in enumerate(prof.alphas_test):
            med = np.median(err[:, d, k], 0)
            hit = [l for l, e in zip(prof.lengths, med) if e <= prof.target_error]
            need[model, where, a] = hit[0] if hit else None
        print(
            f"{model}, {where}: shortest l_ts with median error <= {prof.target_error}: "
            + ", ".join(
                f"alpha'={a}: {need[model, where, a]}" for a in prof.alphas_test
            )
        )
table = xr.concat([err_ag_da, err_a1_da], models).to_dataframe("err").reset_index()
table["S1"] = ["in domain" if pd.isna(s) else s for s in table["S1"]]
_ = export.save_table("error-vs-length-by-alpha-test-gpt2-and-one-layer", table)

# %% [markdown]
# ## Where the deeper model differs from Eq. 7
#
# - **Out of domain, GPT-2 stays above where Eq. 7 catches up.** On the same prompts, the
#   one-layer model's error for $S_1=0.7$ and $0.9$ keeps falling with the length to nearly
#   0 at $l_{ts}=20$, while GPT-2's falls more and more slowly and stays above -- the
#   source's figure. Longer training narrows the gap for $S_1=0.9$: at the quick profile it
#   stays above the $S_1\ge1$ curves at every length; at the paper profile it comes within
#   a few test prompts of $S_1=1.1$ (the claims below say which holds in this build). An
#   error that more context examples do not repair is an error in how the query itself is
#   read. Why that might be: in Eq. 7 a context column's
#   attention score and the perceptron's input both scale with the ODR pattern, so a
#   smaller $S_1$ only weakens a signal that long prompts then average out. GPT-2 first
#   adds a position embedding and biases to each token and normalizes it (LayerNorm);
#   those parts do not shrink with $S_1$, so for $S_1<1$ the query's pattern is a smaller
#   share of its own normalized token, in every layer, however long the prompt.
# - **In domain, GPT-2 needs shorter prompts.** With $\alpha'=1$ and a single context
#   example, GPT-2's error is an order of magnitude below Eq. 7's (A-13 above): the deeper
#   model learns to use one example, the one-layer model needs several.
# - **The mechanism is shared out between layers.** Every layer attends less sharply than
#   the one-layer model, which must select and copy in its only attention layer; the
#   selection is spread over the layers, with one of them (which one differs between seeds
#   and profiles) ahead of the others.
# - **The neurons' split survives where the label arrives.** Read along the path the
#   labels take through each layer's attention, the large neurons of at least one layer
#   split as in Proposition 2 -- positive output towards $q$, negative away -- and their
#   magnitudes grow many times over (printed above); in other layers the split is weaker in some
#   seeds (the per-seed table above), as the source says.
#
# ## Claims

# %% tags=["hide-input"]
claims = Claims()
l_last = prof.lengths[-1]
eps = 0.02  # chapter 1's epsilon
claims.check(
    "Thm 1 (GPT-2)",
    f"GPT-2 generalizes to unseen tasks: error at l_ts = {base.l_ts} at most eps + guessing floor "
    f"= {eps + floor_tr:.3f} after training (median seed)",
    f"{final_unseen:.3f}",
    final_unseen <= eps + floor_tr,
    figure="fig-gpt2-training",
)
small = [k for k, S1 in enumerate(prof.S1s) if S1 < 1]
big = [k for k, S1 in enumerate(prof.S1s) if S1 >= 1]
two_prompts = 2 / prof.n_eval
gap_g = np.array(
    [med_g[small, j].min() - med_g[big, j].max() for j in range(len(prof.lengths))]
)
claims.check(
    "A-12",
    "on GPT-2, as on the source's figure, every S1 < 1 curve stays above every S1 >= 1 curve at every "
    f"length shown (by more than two test prompts, {two_prompts:.3f}; median seed)",
    "smallest gap "
    + f"{gap_g.min():.3f} (at l_ts = {prof.lengths[int(np.argmin(gap_g))]})",
    bool(np.all(gap_g > two_prompts)),
    required=False,
    figure="fig-gpt2-ood-length",
    why="the S1 < 1 curve closest to 1 (S1 = 0.9) approaches the S1 >= 1 curves as training goes "
    "on, and at the length printed it is within two test prompts of them: longer training (the "
    "paper profile) narrows the gap, as it does sooner for the one-layer model (chapter 2); the "
    "smaller S1 stay above, and GPT-2 stays above Eq. 7 (next claim)",
)
lvl_g, lvl_1 = med_g[small, -1].min(), med_1[small, -1].min()
claims.check(
    "A-12",
    f"at l_ts = {l_last}, GPT-2's smallest S1 < 1 error is higher than the one-layer model's "
    "(the plateau belongs to the deeper model; median seed)",
    f"GPT-2 {lvl_g:.3f}, one-layer {lvl_1:.3f}",
    lvl_g > lvl_1 + two_prompts,
    figure="fig-gpt2-ood-length",
)
for model in ("GPT-2", "one-layer"):
    for where in ["in domain", f"OOD S1={prof.S1_alpha}"]:
        ls = [need[model, where, a] for a in prof.alphas_test]
        claims.check(
            "A-13",
            f"{model}, {where}: the length needed to reach error {prof.target_error} shrinks (weakly) as "
            "alpha' grows",
            ", ".join(f"alpha'={a}: {n}" for a, n in zip(prof.alphas_test, ls)),
            None not in ls and all(x >= y for x, y in zip(ls, ls[1:])),
            figure="fig-gpt2-alpha",
        )
claims.check(
    "A-21..A-23",
    "at least one layer learns to select same-pattern contexts: its final attention per same-pattern "
    "column is more than twice that per other column (ODR prompts, median seed)",
    ", ".join(f"layer {k + 1}: {v:.1f}x" for k, v in enumerate(ratio_final)),
    bool(ratio_final.max() > 2),
    figure="fig-gpt2-attention",
)
claims.check(
    "A-21..A-23",
    "every layer learns to select same-pattern contexts (more than twice the weight per column; "
    "the source's statement)",
    ", ".join(f"layer {k + 1}: {v:.1f}x" for k, v in enumerate(ratio_final)),
    bool(ratio_final.min() > 2),
    required=False,
    figure="fig-gpt2-attention",
    why="the selection is shared between the layers and not every layer passes twice the other "
    "columns' weight (which layers do differs between seeds and profiles): GPT-2's residual stream "
    "carries what earlier layers gathered, so no single layer needs the one-layer model's sharp "
    "selection. The source's 3-layer model, of unpublished size and training, showed a rise in "
    "every layer",
)
claims.check(
    "A-21..A-23",
    "the final attention per same-pattern column is below the one-layer model's in every layer "
    "(ODR prompts, median seed)",
    ", ".join(
        f"layer {k + 1}: {v:.3f}" for k, v in enumerate(np.median(same_odr[:, -1], 0))
    )
    + f"; one-layer {one_same:.3f}",
    bool(np.all(np.median(same_odr[:, -1], 0) < one_same)),
    figure="fig-gpt2-attention",
)
claims.check(
    "A-24..A-26",
    "the neurons' mean magnitude grows over training in every layer (final over initial above 1, "
    "median seed)",
    ", ".join(f"layer {k + 1}: {v:.1f}x" for k, v in enumerate(growth)),
    bool(np.all(growth > 1)),
    figure="fig-gpt2-neurons",
)
claims.check(
    "A-24..A-26",
    "Proposition 2's split holds in at least one layer: at least 90 % of its largest tenth of neurons lie "
    "on the side of q their output sign predicts (best layer, median seed; chance is 50 %)",
    f"{best_agree:.2f}",
    best_agree >= 0.9,
    figure="fig-gpt2-neurons",
)
claims.report()

# %% [markdown]
# (against-source-05_gpt2)=
# ## Against the source
#
# Each figure of the source that this chapter reproduces, what it shows (from its
# description), what we measure, and whether the two agree: a row agrees exactly when the
# claims above that state the source's result hold, and a row that differs gives the
# reason found.

# %% tags=["hide-input"]
claims.against_source(
    "A-12 (GPT-2)",
    "the S1 < 1 curves stay visibly above the S1 >= 1 curves at every length up to 20",
    f"GPT-2 at l_ts = {l_last}: "
    + ", ".join(f"S1={S1}: {e:.3f}" for S1, e in zip(prof.S1s, med_g[:-1, -1]))
    + f"; smallest gap between S1 < 1 and S1 >= 1 over the lengths {gap_g.min():.3f} "
    f"(two test prompts: {two_prompts:.3f})",
    claims.find("A-12", "stays above"),
    figure="fig-gpt2-ood-length",
)
claims.against_source(
    "A-13 (GPT-2)",
    "in domain and out of domain, a larger alpha' needs shorter prompts",
    "; ".join(
        f"{where}: "
        + ", ".join(f"alpha'={a}: {need['GPT-2', where, a]}" for a in prof.alphas_test)
        for where in ["in domain", f"OOD S1={prof.S1_alpha}"]
    ),
    claims.find("A-13", "GPT-2"),
    figure="fig-gpt2-alpha",
)
claims.against_source(
    "A-21..A-23",
    "each layer learns to select same-pattern contexts, with a sharp rise part-way through "
    "training; final weights below the one-layer model's",
    "final same/other ratio per layer: "
    + ", ".join(f"{v:.1f}x" for v in ratio_final)
    + f"; rise of layer {sel + 1} at t = {t_rise}",
    claims.find("A-21..A-23"),
    figure="fig-gpt2-attention",
)
claims.against_source(
    "A-24..A-26",
    "the neurons' magnitudes grow; the split (a_i > 0 towards q, a_i < 0 away) still holds for one "
    "of the layers",
    "growth "
    + ", ".join(f"{v:.1f}x" for v in growth)
    + f"; best layer's agreement {best_agree:.2f}",
    claims.find("A-24..A-26"),
    figure="fig-gpt2-neurons",
)
_ = claims.source_table()

# %% [markdown]
# ## Threats to validity
#
# - **One small GPT-2 and one optimizer.** 3 layers, 2 heads, width 64, Adam at
#   $10^{-3}$ for a few hundred steps; the source publishes none of these. A wider or
#   longer-trained model could spread the attention differently across layers.
# - **Read-outs of a deep model's mechanism are ours.** The per-layer attention is read at
#   the query position and averaged over heads; the neuron's label direction follows the
#   direct path through one attention layer and ignores LayerNorm's scale $1/\sigma$ and the
#   paths through earlier layers. Other read-outs (per head, or through every path) could
#   tell a different story for the deeper layers.
# - **Lengths.** GPT-2 is trained and tested only up to $l_{ts}=20$, the longest of the
#   source's figure: its learned position embeddings do not extend past the trained
#   positions.

# %% [markdown]
# ## What we chose that the paper did not publish
#
# - **Model**: `transformers`' `GPT2Model` of Garg et al.'s smallest size (3 layers, 2
#   heads, width 64, 64 positions), dropout 0, eager attention; linear read-in and
#   read-out with `torch.nn.Linear`'s initialization; GPT-2's own initialization for the
#   rest. Garg et al. train GPT-2 for in-context learning with this interface.
# - **Loss and optimizer**: the hinge loss of Eq. 8 -- the papers' loss, so errors and
#   margins compare with chapters 1-2 -- and Adam at $10^{-3}$ (Garg et al. use Adam at
#   $10^{-4}$ for 500 000 steps; ten times their rate learns this task within 150 steps),
#   batch 64, with the rate decayed to 0 along a cosine over the $T$ steps. Without the
#   decay two of five seeds were still moving at the end, and their errors changed by up to
#   0.17 when the last bits of the arithmetic changed (another CPU); with it the runs end
#   in the same place to $10^{-10}$.
# - **Prompt lengths**: each training step draws its length uniformly from 1 to 20 (Garg
#   et al. grow it with a curriculum), so every position the tests use is trained.
# - **Data**: chapter 1's world ($M_1=6$, $M_2=12$, $d_X=20$, $d_Y=4$, $\kappa=0.5$,
#   $\alpha=0.6$, half the tasks in training), the same seeds as the one-layer models, so
#   both models are tested on identical prompts.
# - **Probes**: attention per column by pattern on 200 fixed prompts every 15 steps (every
#   10 steps at the paper profile); ODR prompts with $S_1=1$ for A-21..A-23; a neuron's label
#   direction and output sign as defined above; "the split holds" read on the largest tenth
#   of a layer's neurons, at 90 %.
