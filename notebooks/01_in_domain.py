# ---
# jupyter:
#   jupytext:
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
# # In-domain generalization
#
# **The question.** A transformer is trained by SGD on prompts of a few binary
# classification tasks. Shown a prompt of a task it has *never* seen, can it
# classify the query from the context examples alone? How many training tasks,
# how long prompts and how many iterations does that take -- and what have the
# attention layer and the perceptron learned that makes it work?
#
# This chapter reproduces Theorem 1 and Propositions 1-2 of
# {cite:t}`li2024nonlinear` for the one-layer transformer of Eq. 7 (notation:
# {doc}`notation`).
#
# ```{admonition} What to take away
# :class: tip
# - Trained on part of the tasks, the model classifies prompts of tasks it never saw: the
#   error on unseen tasks falls to the guessing floor of the test prompts (Theorem 1).
# - What the training tasks need is to **cover** every pattern with both labels: uniform
#   covers generalize (median seed), even below the theorem's fraction $(M_1-1)^{-1/2}$,
#   and a random task set fails whenever it misses a pattern.
# - Fewer relevant examples (smaller $\alpha$) need longer prompts and more iterations, as
#   predicted. The measured growth of the iterations is steeper than the theorem's
#   $\alpha^{-2/3}$ in our runs; *Claims* gives the interval.
# - The mechanism is the one of Propositions 1-2: the attention selects the context
#   examples that share the query's pattern, and the perceptron reads their labels' sign.
# ```
#
# ```{admonition} Theorem 1 (in-domain generalization)
# Suppose that
# 1. the training tasks $\mathcal T_{tr}$ cover every IDR pattern and both labels uniformly and
#    $|\mathcal T_{tr}|/|\mathcal T| \ge (M_1-1)^{-1/2}$;
# 2. training prompts have $l_{tr} \ge \Omega(1/\alpha)$ and testing prompts $l_{ts}\ge 1/\alpha'$ context examples;
# 3. SGD runs $T=\Theta(\alpha^{-2/3})$ iterations with batch $B\ge\Omega(\max(\epsilon^{-2}, M_1))$.
#
# Then the generalization error on **unseen** in-domain tasks is $O(\epsilon)$.
# ```
#
# ```{admonition} Proposition 1 (attention learns to match)
# $W_Q$ and $W_K$ learn to project inputs onto their IDR pattern; after training, the
# attention of the query concentrates on the context columns that share its IDR pattern
# -- an induction-head-like "match and copy" {cite:p}`olsson2022induction`.
# ```
#
# ```{admonition} Proposition 2 (the perceptron learns to copy the label)
# The feature part of every row of $W_O W_V$ approaches the average IDR pattern
# $\bar\mu$; its label part approaches $+q$ for neurons with $a_i>0$ and $-q$ for
# neurons with $a_i<0$.
# ```

# %% tags=["parameters", "remove-cell"]
# Parameters (papermill -p NAME VALUE): the profile, the device, and any field of the chapter's
# profile or of its run config (e.g. -p alpha 0.3); an unknown name stops the chapter with an
# error naming it.  None keeps the profile's value.
profile = "quick"
n_seeds = None
T = None
lr = None
device = None

# %% tags=["remove-cell"]
import icl_utils as icl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from icl_utils.book import export, plotting
from icl_utils.book.claims import Claims
from icl_utils.core import rng, stats
from icl_utils.incontext import data, probes, training
from icl_utils.incontext import experiments as X

prof, dev = icl.start_chapter("01_in_domain", **icl.chapter_parameters(globals()))
base, seeds = prof.base, prof.seeds

# %%
print(f"profile: {prof.name}, {len(seeds)} seeds, device: {dev.type}")
print(
    f"M1={base.M1} M2={base.M2} d_X={base.d_X} d_Y={base.d_Y} kappa={base.kappa} m={base.m} "
    f"alpha={base.alpha} l_tr={base.l_tr} B={base.B} T={base.T} lr={base.lr}"
)

# %% [markdown]
# ## Data and model
#
# Inputs live in $\mathbb R^{d_{\mathcal X}}$. There are $M_1$ orthonormal
# **in-domain-relevant** (IDR) patterns $\mu_j$ and $M_2$ orthonormal
# **in-domain-irrelevant** (IDI) patterns $\nu_k$ orthogonal to them; an input is
# $x=\mu_j+\kappa\nu_k$. A **task** $f=(a,b)$ labels inputs with pattern $\mu_a$ as
# $+1$ and inputs with pattern $\mu_b$ as $-1$; there are $|\mathcal T| = M_1(M_1-1)$
# tasks. A **prompt** (Eq. 6) stacks $l$ context examples $p_i=[x_i; y_i]$, with the
# label embedded as $y_i=\pm q$, and the query $[x_{query};0]$:
# a fraction $\alpha$ of the context examples carries the task's two patterns (half
# each), the others carry other IDR patterns with random labels. The query carries
# $\mu_a$ or $\mu_b$, and the model must output its label $z$ with the right sign.
#
# The model (Eq. 7) is one softmax attention head followed by a two-layer ReLU
# perceptron whose output weights $a_i=\pm 1/m$ are fixed:
#
# $$F(\Psi;P)=a^\top\mathrm{ReLU}\Big(W_O\sum_{i=1}^{l+1}W_V p_i\,\mathrm{attn}_i\Big),$$
#
# $$\mathrm{attn}_i=\mathrm{softmax}_i\big((W_K p_i)^\top W_Q p_{query}\big),$$
#
# trained by SGD on the hinge loss $\max(0, 1-zF)$ (Eq. 8). The training tasks are
# chosen to cover every pattern and label uniformly (a set of cyclic shifts
# $(i, i+s \bmod M_1)$); the remaining tasks are never shown in training. Below, one
# training prompt: each column is a context example, the last is the query.

# %%
member = training.setup_member(base)
g = rng.make_generator(0, "probe")
idx = data.sample_prompt_indices(
    member.train_tasks, base.alpha, 12, 1, base.M1, base.M2, g
)
P = data.embed(data.World.stack([member.world]), idx[None])[0, 0]
print(
    f"training tasks: {len(member.train_tasks)} of {base.M1 * (base.M1 - 1)}; unseen: {len(member.unseen_tasks)}"
)
print("column pattern j:", idx.pattern[0].tolist())
print(
    "column label     :",
    [int(v) for v in idx.label[0, :-1].tolist()],
    "| query label z =",
    int(idx.z[0]),
)

# %% mystnb={"figure": {"caption": "One prompt $P$ of Eq. 6: a column $p_i=[x_i;y_i]$ per context example, the query last (its label rows are zero). The tick labels name each example's IDR pattern $\\mu_j$: look for the columns that share the query's pattern -- those are the examples the trained attention learns to use.", "name": "fig-in-domain-prompt"}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(plotting.WIDTH, 3.6))
im = ax.imshow(P.T.numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
ax.axhline(base.d_X - 0.5, color="k", lw=1)
ax.axvline(P.shape[0] - 1.5, color="k", lw=1)
ax.set_xticks(
    range(P.shape[0]),
    [f"$\\mu_{{{j}}}$" for j in idx.pattern[0].tolist()[:-1]]
    + [f"$\\mu_{{{int(idx.pattern[0, -1])}}}$\nquery"],
)
ax.set_yticks([base.d_X / 2, base.d_X + base.d_Y / 2 - 0.5], ["$x$ rows", "$y$ rows"])
ax.set_title(
    "A prompt $P$ (Eq. 6): columns $p_i=[x_i;y_i]$, in the basis of $\\mathbb{R}^{d}$"
)
ax.grid(False)
fig.colorbar(im, ax=ax, shrink=0.8)
plt.show()

# %% [markdown]
# ## Training: seen and unseen tasks
#
# We train the reference configuration with several seeds (each seed draws its own
# patterns, task split, initialization and prompts) and measure, every few
# iterations, the classification error on fixed prompts of the training tasks and of
# the **unseen** tasks. The shaded band is the range over seeds.
#
# **What "error $O(\epsilon)$" means in a finite test.** A test prompt of length
# $l_{ts}$ holds no context example with the query's IDR pattern with probability
# $(1-\alpha'/2)^{l_{ts}}$ (each example carries it with probability $\alpha'/2$). On such
# a prompt the other examples' labels are fair coins, and no model can do better than
# guess: the error has a floor of $\tfrac12(1-\alpha'/2)^{l_{ts}}$ that Theorem 1's
# $l_{ts}\ge 1/\alpha'$ bounds but does not remove. Every claim of this chapter
# therefore tests "error at most $\epsilon$ + floor", with the same $\epsilon=0.02$ at
# both profiles, and the floor computed from the test prompts' $\alpha'$ and $l_{ts}$.
# Sweeps print the median over seeds and how many seeds reach the bar, statistics that
# one slow seed does not move.

# %%
runs = X.train_runs(X.grid(base, seeds), device=dev, desc="reference runs")

# %% mystnb={"figure": {"caption": "Training the reference configuration (mean over seeds, range shaded; the iteration axis is logarithmic above 10, so the early fall gets room). Left: hinge loss; right: classification error on prompts of the training tasks and of the **unseen** tasks. Look at the plateau near loss 1, then at the two error curves falling together to zero: the model generalizes to tasks it never saw (Theorem 1).", "name": "fig-in-domain-training"}} tags=["hide-input", "full-width"]
it = runs[0]["iters"]
fig, axes = plt.subplots(1, 2, figsize=(plotting.WIDE, 3.8))
loss = X.stack(runs, "loss")
kernel = np.ones(10) / 10
smooth = np.stack([np.convolve(v, kernel, mode="valid") for v in loss])
plotting.mean_band(
    axes[0], np.arange(smooth.shape[1]) + 10, smooth, label="training minibatch loss"
)
plotting.mean_band(
    axes[0], it, X.stack(runs, "loss_unseen"), label="loss on unseen tasks"
)
axes[0].set(
    xlabel="iteration $t$ (log scale above 10)",
    ylabel="hinge loss",
    title="Loss (10-step moving average)",
)
axes[0].legend()
plotting.mean_band(axes[1], it, X.stack(runs, "err_seen"), label="seen tasks")
plotting.mean_band(
    axes[1], it, X.stack(runs, "err_unseen"), label="unseen tasks", linestyle="--"
)
axes[1].set(
    xlabel="iteration $t$ (log scale above 10)",
    ylabel="classification error",
    title="Generalization error",
)
axes[1].legend()
for ax in axes:  # the fall happens early: a log axis gives it room, the flat end less
    ax.set_xscale("symlog", linthresh=10, linscale=0.4)
    ax.set_xlim(0, it[-1])
fig.tight_layout()
plt.show()
final_unseen = X.stack(runs, "err_unseen")[:, -1]
frac = runs[0]["n_train_tasks"] / (base.M1 * (base.M1 - 1))
eps = prof.target_error
bar_ref = eps + data.guess_floor(base.alpha_test, base.l_ts)
print(f"|T_tr|/|T| = {frac:.2f} (threshold (M1-1)^-1/2 = {(base.M1 - 1) ** -0.5:.2f})")
print(
    f"final error on unseen tasks: median {np.median(final_unseen):.3f}; "
    f"{stats.count_reached(final_unseen, bar_ref)} of {len(seeds)} seeds at most "
    f"eps + floor = {bar_ref:.3f}"
)
keys = ("err_seen", "err_unseen", "loss_seen", "loss_unseen", "attn_same", "attn_other")
keys += ("attn_query", "q_norm", "q_along", "k_norm", "k_along")
_ = export.save_table(
    "training-curves",
    export.long_table(
        {k: X.stack(runs, k) for k in keys},
        seed=[c.seed for c in runs.configs],
        iteration=it,
    ),
)
# %% [markdown]
# After a plateau -- at initialization the output is tiny and the hinge loss sits at
# 1 -- the error falls together on seen and unseen tasks: the model has not
# memorized its training tasks, it has learned a procedure that works for every task.
#
# ## Mechanism: what the attention layer learns (Proposition 1, figures)
#
# On the unseen-task prompts we follow the norm of $W_Q p_{query}$ and of $W_K p_i$
# (averaged over the context columns sharing the query's pattern) and their
# components along the query's IDR pattern $[\mu_j;0]$, and where the query's
# attention goes (A-9). Eq. 7's softmax runs over all $l+1$ columns, the query's own
# column included, and that column carries the query's IDR pattern too. So the
# quantity of Proposition 1 and of the source's A-9 is the attention on **every column
# with the query's IDR pattern** (thick line): it should approach 1, and the attention
# on the other columns should approach 0. The thin lines split the first into the
# same-pattern context columns and the query itself. Dotted: what uniform attention
# would give the thick line.

# %% mystnb={"figure": {"caption": "Proposition 1 on unseen-task prompts. Left (A-8): norms of $W_Q p_{query}$ and $W_K p_i$ and their components along the query's IDR pattern; right (A-9): the query's attention on all columns with its IDR pattern (thick, Proposition 1's quantity), split into same-pattern contexts and the query itself, and on the other columns, with uniform attention dotted. Look at the norms growing along the IDR pattern, the thick line rising to about 1 and the other columns falling to about 0.", "name": "fig-in-domain-attention"}} tags=["hide-input", "full-width"]
fig, axes = plt.subplots(1, 2, figsize=(plotting.WIDE, 6))
for key, lab, ls, color in [  # one colour per matrix, solid: norm, dashed: along mu_j
    ("q_norm", "$\\|W_Q p_{query}\\|$", "-", "tab:blue"),
    ("q_along", "component of $W_Q p_{query}$ along $\\mu_j$", "--", "tab:blue"),
    ("k_norm", "$\\|W_K p_i\\|$, same-pattern $i$", "-", "tab:green"),
    ("k_along", "component of $W_K p_i$ along $\\mu_j$", "--", "tab:green"),
]:
    plotting.mean_band(
        axes[0], it, X.stack(runs, key), label=lab, linestyle=ls, color=color
    )
axes[0].set(
    xlabel="iteration $t$", ylabel="magnitude", title="A-8: attention-layer magnitudes"
)
# legends under the panels: inside, they covered the bands
axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.22))
attn_pattern = X.stack(runs, "attn_same") + X.stack(runs, "attn_query")
plotting.mean_band(
    axes[1],
    it,
    attn_pattern,
    lw=2.5,
    color="k",
    label="columns with the query's pattern",
)
for key, lab, ls in [
    ("attn_same", "  of which: same-pattern contexts", "--"),
    ("attn_query", "  of which: the query itself", "-."),
    ("attn_other", "other columns", "-"),
]:
    plotting.mean_band(axes[1], it, X.stack(runs, key), label=lab, linestyle=ls)
# the claim below allows ATTN_TOL = 0.05 on the other columns (a stated tolerance, see icl_utils.incontext.probes)
ATTN_TOL = probes.ATTN_TOL
uniform_share = probes.uniform_pattern_share(base.alpha_test, base.l_ts)
axes[1].axhline(
    uniform_share,
    color=plotting.THEORY_COLOR,
    ls=":",
    label="uniform attention on the query's pattern",
)
axes[1].set(
    xlabel="iteration $t$",
    ylabel="summed attention",
    title="A-9: attention concentration",
    ylim=(0, 1),
)
axes[1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.22))
fig.tight_layout()
plt.show()
attn_end = {
    k: np.median(X.stack(runs, k)[:, -1])
    for k in ("attn_same", "attn_query", "attn_other")
}
print(
    f"attention on the columns with the query's IDR pattern (median seed): "
    f"{np.median(attn_pattern[:, 0]):.2f} at t=0 -> {np.median(attn_pattern[:, -1]):.2f} "
    f"at t={it[-1]} (uniform {uniform_share:.2f})"
)
print(
    f"at t={it[-1]}: same-pattern contexts {attn_end['attn_same']:.2f}, the query itself "
    f"{attn_end['attn_query']:.2f}, other columns {attn_end['attn_other']:.2f}"
)

# %% [markdown]
# Most of the growth of $W_Q p_{query}$ and $W_K p_i$ is along the IDR pattern (the
# claims below give the components along it and orthogonal to it): the two matrices
# learn to project onto the IDR patterns more than onto the IDI pattern, and the attention moves from the uniform share to the columns whose
# pattern matches the query, leaving almost nothing on the others. The query's own
# column always matches, and it keeps a share of the attention: it carries no label
# (its label entry is 0), so that share only scales the label signal down, it does
# not mislead it.
#
# ## Mechanism: what the perceptron learns (Proposition 2, figures)
#
# Each row $i$ of $W_O W_V$ is split into its feature part (the first
# $d_{\mathcal X}$ entries) and its label part (the last $d_{\mathcal Y}$). We plot,
# for every neuron of the first seed and every recorded iteration, the angle of the
# feature part to $\bar\mu$ and of the label part to $q$ against their magnitudes,
# coloured by iteration.

# %% mystnb={"figure": {"caption": "Proposition 2, first seed: each neuron's row of $W_O W_V$ at every recorded iteration (colour = iteration), angle against magnitude. Left: feature part against $\\bar\\mu$; right: label part against $q$. Look at the rows that grow: label parts go to 0 degrees for $a_i>0$ and to 180 degrees for $a_i<0$, feature parts to small angles from $\\bar\\mu$.", "name": "fig-in-domain-perceptron"}} tags=["hide-input", "full-width"]
r0 = runs[0]
pos = r0["weights"]["a"] > 0
fig, axes = plt.subplots(1, 2, figsize=(plotting.WIDE, 4.2))
sc = plotting.embedding_scatter(axes[0], r0["feat_angle"], r0["feat_norm"], it)
axes[0].set(
    xlabel="magnitude of the feature part", ylabel="angle to $\\bar\\mu$ (degrees)"
)
axes[0].set_title("A-10: feature parts of $W_O W_V$ rows")
plotting.embedding_scatter(
    axes[1],
    r0["label_angle"][:, pos],
    r0["label_norm"][:, pos],
    it,
    marker="^",
    label="$a_i>0$",
)
plotting.embedding_scatter(
    axes[1],
    r0["label_angle"][:, ~pos],
    r0["label_norm"][:, ~pos],
    it,
    marker="v",
    label="$a_i<0$",
)
axes[1].set(xlabel="magnitude of the label part", ylabel="angle to $q$ (degrees)")
axes[1].set_title("A-11: label parts of $W_O W_V$ rows")
axes[1].legend(loc="center right")
fig.subplots_adjust(wspace=0.35)
fig.colorbar(sc, ax=axes, label="iteration $t$", shrink=0.85)
plt.show()
big = r0["label_norm"][-1] > 0.5 * np.median(r0["label_norm"][-1])
print(f"neurons with a large row at the end: {int(big.sum())} of {base.m}")
print(
    f"feature angle to mu_bar (large neurons): median {np.median(r0['feat_angle'][-1][big]):.0f} degrees"
)
print(
    f"label angle to q (large neurons): a_i>0 median {np.median(r0['label_angle'][-1][big & pos]):.0f}, "
    f"a_i<0 median {np.median(r0['label_angle'][-1][big & ~pos]):.0f} degrees"
)

# %% [markdown]
# The rows grow along the directions Proposition 2 predicts: label parts turn to
# $+q$ for $a_i>0$ and to $-q$ for $a_i<0$ (0 and 180 degrees), and the feature
# parts align with $\bar\mu$ to within the angle printed above rather than exactly:
# the proposition describes the direction of the growth, and the small random
# initial rows keep part of their direction in a finite run. A few neurons stay
# small; chapter 3 (pruning) is about them. Together the two mechanisms give the
# answer: attention averages the labels of the examples that share the query's
# pattern, and the perceptron reads the sign of that average.
#
# ## Condition 1: how many training tasks?
#
# Theorem 1 asks for training tasks that cover every IDR pattern and both labels
# uniformly, with $|\mathcal T_{tr}|/|\mathcal T|\ge(M_1-1)^{-1/2}$. We vary the number
# $r$ of cyclic shifts in the training set, each a uniform cover, so
# $|\mathcal T_{tr}|/|\mathcal T| = r/(M_1-1)$. The smallest cover ($r=1$) is already
# the fraction $1/(M_1-1)$, below the theorem's $(M_1-1)^{-1/2}$, so cyclic covers alone
# cannot show where training on too few tasks fails. Beside them we train on **random**
# task sets of the same and smaller fractions, with no cover promised, and mark which
# of them happen to hold every pattern both as a "+1" and as a "-1" pattern. Both are
# measured on the unseen tasks at the end of training.

# %%
sweep = dict(n_eval=prof.n_eval_sweep, probes=False)  # sweeps record errors only
frac_base = base.replace(
    T=prof.T_length, record_every=prof.T_length, n_eval=sweep["n_eval"]
)
frac_runs = X.train_runs(
    X.grid(frac_base, seeds, task_fraction=prof.fractions)
    + X.grid(
        frac_base.replace(task_split="random"),
        seeds,
        task_fraction=prof.fractions_random,
    ),
    device=dev,
    desc="task fraction",
    probes=False,
)
n_tasks = base.M1 * (base.M1 - 1)
cover_runs, rand_runs = (frac_runs.select(task_split=k) for k in ("cyclic", "random"))
# does each drawn set cover every pattern as both labels?
for r, cfg in zip(rand_runs, rand_runs.configs):
    r["covers"] = data.covers_patterns(training.setup_member(cfg).train_tasks, base.M1)
# each measured value laid out over (task fraction, seed), read off the runs' configs
realized_da = cover_runs.array(
    lambda r: r["n_train_tasks"] / n_tasks, "task_fraction", "seed"
)
err_frac_da = cover_runs.array("err_unseen", "task_fraction", "seed")  # final error
realized, err_frac = realized_da.values, err_frac_da.values
real_rand = rand_runs.array(
    lambda r: r["n_train_tasks"] / n_tasks, "task_fraction", "seed"
)
err_rand = rand_runs.array("err_unseen", "task_fraction", "seed").values
covers = rand_runs.array("covers", "task_fraction", "seed").values.astype(bool)

# %% mystnb={"figure": {"caption": "Unseen-task error after training against the fraction $|\\mathcal T_{tr}|/|\\mathcal T|$ of tasks trained on. Blue: uniform covers of the patterns ($r$ cyclic shifts; median and range over seeds). Dots: random task sets, one per seed, filled when the set holds every IDR pattern both as a \"+1\" and as a \"-1\" pattern, crosses when it misses one. Dashed: Theorem 1's fraction $(M_1-1)^{-1/2}$; dotted: the bar $\\epsilon$ + guessing floor. Look at the crosses: every set that misses a pattern fails, whatever its fraction, while the covers generalize (median seed), also left of the dashed line.", "name": "fig-in-domain-task-fraction"}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(plotting.WIDTH, 4.2))
plotting.mean_band(
    ax,
    realized[:, 0],
    err_frac.T,
    marker="o",
    center="median",
    label="uniform cover (median, range)",
)
x_rand = real_rand.values
jitter = np.linspace(-0.006, 0.006, len(seeds))[None, :]  # seeds side by side
for mask, style in (
    (
        covers,
        dict(marker="o", color="tab:green", label="random set, covers every pattern"),
    ),
    (~covers, dict(marker="x", color="tab:red", label="random set, misses a pattern")),
):
    ax.scatter((x_rand + jitter)[mask], err_rand[mask], s=22, zorder=3, **style)
plotting.mark_threshold(ax, (base.M1 - 1) ** -0.5, "$(M_1-1)^{-1/2}$")
ax.axhline(
    bar_ref,
    color="tab:purple",
    ls=":",
    label=f"$\\epsilon$ + guessing floor = {bar_ref:.3f}",
)
ax.set(
    xlabel="$|\\mathcal{T}_{tr}|/|\\mathcal{T}|$",
    ylabel="error on unseen tasks",
    title="Task fraction and cover",
)
ax.set_ylim(bottom=-0.02)  # the points at 0 stay visible above the axis
fig.tight_layout()
plotting.legend_below(ax)  # inside, it could cover the random sets' points
plt.show()
for f, e in zip(realized[:, 0], err_frac):
    print(
        f"uniform cover, |T_tr|/|T| = {f:.2f}: unseen error median {np.median(e):.3f}; "
        f"{stats.count_reached(e, bar_ref)} of {len(seeds)} seeds at most {bar_ref:.3f}"
    )
for f, e, c in zip(real_rand.values[:, 0], err_rand, covers):
    print(
        f"random sets,   |T_tr|/|T| = {f:.2f}: {int(c.sum())} of {len(seeds)} cover every "
        f"pattern; {stats.count_reached(e, bar_ref)} of {len(seeds)} at most {bar_ref:.3f}"
    )
table = pd.DataFrame(
    {
        "task_split": c.task_split,
        "task_fraction": c.task_fraction,
        "seed": c.seed,
        "realized_fraction": r["n_train_tasks"] / n_tasks,
        "covers_every_pattern": r.get("covers", True),  # a cyclic split is a cover
        "err_unseen": r["err_unseen"][-1],
    }
    for r, c in zip(frac_runs, frac_runs.configs)
)
_ = export.save_table("task-fraction", table)
# %% [markdown]
# Uniform covers generalize in the median seed, including covers below
# $(M_1-1)^{-1/2}$ (an occasional seed is slower to leave the initial plateau: see the
# spread and the counts printed above). The
# condition of Theorem 1 is a *sufficient* condition from the proof, and in this
# data model the uniform cover of patterns and labels already carries what the
# attention and the perceptron need to learn (every pattern is seen as "+1" and as
# "-1"). A random set of tasks generalizes exactly when it is such a cover, at any
# fraction: a set that never shows some pattern with some label fails on the unseen
# tasks that need it, even at fractions near $(M_1-1)^{-1/2}$. Here, with $M_1 = 6$,
# random sets start to cover around that fraction (printed above), so the
# theorem's number marks roughly where *unstructured* training sets become enough;
# what decides is the cover, not the count.
#
# ## Condition 2: how long must training prompts be?
#
# With a fraction $\alpha$ of task-relevant examples, a prompt of length $l$ holds on
# average $\alpha l/2$ examples with the query's pattern; Theorem 1 needs
# $l_{tr}\ge\Omega(1/\alpha)$. We train for a fixed budget of iterations at several
# $(\alpha, l_{tr})$ and test every model on long prompts ($l_{ts}$ printed below,
# $\alpha'=\alpha$) so that the test is not limited by its own length. Dashed lines
# mark $l_{tr}=1/\alpha$.
#
# The printout below writes a median error above 0.1 as `>0.1`. Such a run has not
# learned, and at lr = 10 it does not sit still: ReLU and hinge kinks make its SGD
# path chaotic, and the last bits in which two CPUs differ grow until its error
# differs in the first digit (at $\alpha = 0.8$, $l_{tr} = 1$ we measured 0.368 on
# one machine and 0.386 with another CPU's arithmetic). A run that has learned is the
# same everywhere. The figure plots the values measured here.

# %%
len_cfgs = [
    c
    for l_tr in prof.lengths
    for c in X.grid(
        base.replace(
            l_tr=l_tr,
            l_ts=prof.l_ts_length,
            T=prof.T_length,
            record_every=prof.T_length,
            n_eval=prof.n_eval_sweep,
        ),
        seeds,
        alpha=prof.alphas_length,
    )
]
len_cfgs = [c.replace(alpha_test=c.alpha) for c in len_cfgs]
len_runs = X.train_runs(len_cfgs, device=dev, desc="prompt length", probes=False)
err_len = {}
for c, r in zip(len_cfgs, len_runs):
    err_len.setdefault(c.alpha, {}).setdefault(c.l_tr, []).append(r["err_unseen"][-1])
bar_len = {a: eps + data.guess_floor(a, prof.l_ts_length) for a in prof.alphas_length}

# %% mystnb={"figure": {"caption": "Unseen-task error after training against the training prompt length $l_{tr}$ (log axis), one curve per $\\alpha$ (median and range over seeds), each with its dashed line at $l_{tr}=1/\\alpha$ (condition 2 of Theorem 1) and its dotted bar $\\epsilon$ + guessing floor. Look at where the curves drop: at or before their own dashed line -- $l_{tr}\\ge 1/\\alpha$ always suffices, and small $\\alpha$ can learn from shorter prompts.", "name": "fig-in-domain-prompt-length"}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(plotting.WIDTH, 4))
for alpha in prof.alphas_length:
    ls = sorted(err_len[alpha])
    line = plotting.mean_band(
        ax,
        ls,
        np.array([err_len[alpha][l] for l in ls]).T,
        marker="o",
        center="median",
        label=f"$\\alpha$ = {alpha}",
    )
    ax.axvline(1 / alpha, color=line.get_color(), ls="--", lw=1)
    ax.axhline(bar_len[alpha], color=line.get_color(), ls=":", lw=1)
ax.set_xscale("log")
plotting.plain_log_ticks(ax, prof.lengths)
ax.set(
    xlabel="training prompt length $l_{tr}$",
    ylabel="error on unseen tasks",
    title=f"Training prompt length (dashed: $l_{{tr}}=1/\\alpha$; tested at $l_{{ts}}$ = {prof.l_ts_length})",
)
ax.legend()
plt.show()
print(f"median unseen error over {len(seeds)} seeds (T = {prof.T_length}):")
for alpha in prof.alphas_length:
    print(
        f"alpha = {alpha} (eps + floor = {bar_len[alpha]:.3f}): "
        + ", ".join(
            f"l={l}: {stats.fmt_error(np.median(err_len[alpha][l]))}"
            for l in sorted(err_len[alpha])
        )
    )
_ = export.save_table(
    "prompt-length",
    {
        "alpha": [c.alpha for c in len_cfgs],
        "l_tr": [c.l_tr for c in len_cfgs],
        "seed": [c.seed for c in len_cfgs],
        "err_unseen": [r["err_unseen"][-1] for r in len_runs],
    },
)
# %% [markdown]
# From $l_{tr}\ge 1/\alpha$ on, every $\alpha$ learns, as the theorem requires (the
# dotted lines are each $\alpha$'s bar, $\epsilon$ + floor). The transition can come
# *earlier* than $1/\alpha$: condition 2 is sufficient, not necessary, and the chapter
# reports, without requiring it, whether prompts much shorter than $1/\alpha$
# ($l_{tr}\le 1/(2\alpha)$) fail. With $l_{tr}$ just below $1/\alpha$ a fair share of the
# training prompts still holds an example with the query's pattern, and over a batch of
# $B$ prompts that is enough signal; at the paper profile even $\alpha=0.1$ learns from
# $l_{tr}=5$.
#
# Two things decide whether a point reaches its bar, and neither is the prompt length
# alone. **The test floor**: at $\alpha'=0.1$ and $l_{ts}=60$ (paper profile) the floor is
# $\tfrac12\,0.95^{60}=0.023$, above $\epsilon=0.02$ by itself -- an earlier version of this
# chapter asked for error $\le 0.02$ there and failed at every $l_{tr}$, with errors of
# 0.023-0.025 that are exactly this floor. **The iteration budget**: small $\alpha$ and
# short prompts leave the initial plateau late (Theorem 1's condition 3 asks for more
# iterations as $\alpha$ shrinks). With 400 iterations, one or two of five seeds at
# $\alpha=0.2$, $l_{tr}\in\{3,5,8\}$ were still on the plateau (error about 0.4); with 800
# every seed had left it, at errors of 0.002-0.014. So the sweep trains
# 800 iterations (2000 at the paper profile, for $\alpha=0.1$), and the claims use the median seed.
#
# ## Condition 3: how many iterations?
#
# Theorem 1 bounds the number of iterations by $T=\Theta(\alpha^{-2/3})$. We train at
# several $\alpha$ (with $l_{tr}$ fixed and long enough for all of them), measure the
# unseen-task error every few iterations on long test prompts ($\alpha'=\alpha$,
# $l_{ts}$ as in the length sweep, so that the floor stays small), and record the first
# iteration at which it falls to $\epsilon$ + floor. A seed that never gets there within the
# budget counts as "not reached" -- it is left out of the fit, and the printout says
# how many seeds reached the bar at each $\alpha$. On log-log axes a power law is a line;
# we fit its slope, with a 90% bootstrap interval over seeds (the shaded band), and draw
# the predicted slope $-2/3$ beside it.

# %%
speed_cfgs = X.grid(
    base.replace(
        T=prof.T_speed,
        record_every=prof.record_every_speed,
        l_ts=prof.l_ts_length,
        n_eval=prof.n_eval_speed,
    ),
    seeds,
    alpha=prof.alphas_speed,
)
speed_cfgs = [c.replace(alpha_test=c.alpha) for c in speed_cfgs]
speed_runs = X.train_runs(
    speed_cfgs, device=dev, desc="iterations vs alpha", probes=False
)
alphas = np.array(prof.alphas_speed)
bar_speed = {a: eps + data.guess_floor(a, prof.l_ts_length) for a in alphas}
t_hit_da = speed_runs.array(
    lambda r: X.iterations_to_target(r, bar_speed[r["config"]["alpha"]]),
    "alpha",
    "seed",
)
t_hit = t_hit_da.values
reached = np.isfinite(t_hit).sum(axis=1)
t_med = np.array(
    [np.median(t[np.isfinite(t)]) if np.isfinite(t).any() else np.nan for t in t_hit]
)
fit = stats.fit_power_law_ci(alphas, t_hit)

# %% mystnb={"figure": {"caption": "Iterations needed to reach the target error against $\\alpha$ (log-log; dots: seeds, line: median of the seeds that reached it), the fitted power law with its 90% bootstrap interval over seeds (band) and the predicted slope $-2/3$ (condition 3 of Theorem 1). Look at the sign of the slope -- fewer relevant examples, more iterations -- and compare its steepness with $-2/3$ (discussed below).", "name": "fig-in-domain-iterations"}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(plotting.WIDTH, 4))
for k in range(len(seeds)):
    ax.plot(
        alphas,
        t_hit[:, k],
        "o",
        color="tab:blue",
        alpha=0.35,
        label="one seed" if k == 0 else None,
    )
ok = reached > 0
ax.plot(
    alphas[ok],
    t_med[ok],
    "o-",
    color="tab:blue",
    label="median of the seeds that reached it",
)
if np.isfinite(fit.slope):
    plotting.fit_band(ax, fit, alphas[ok], label="fit")
    plotting.draw_slope(
        ax,
        alphas,
        -2 / 3,
        (alphas[-1], float(fit.predict(alphas[-1]))),
        "theory: slope $-2/3$",
    )
ax.set_xscale("log")
ax.set_yscale("log")
plotting.plain_log_ticks(ax, alphas)
plotting.plain_log_ticks(ax, [20, 50, 100, 200, 500, 1000], axis="y")
ax.set(
    xlabel="fraction of relevant examples $\\alpha$",
    ylabel="iterations to reach $\\epsilon$ + floor",
    title="Iterations needed vs $\\alpha$",
)
fig.tight_layout()
plotting.legend_below(ax)
plt.show()
print(
    f"iterations until the unseen error is at most eps + floor (eps = {eps}, l_ts = {prof.l_ts_length}):"
)
for a, t, n in zip(alphas, t_med, reached):
    med = f"median {t:.0f}" if n else "not reached"
    print(
        f"  alpha = {a}: {med} ({n} of {len(seeds)} seeds reached it within {prof.T_speed})"
    )
print(
    f"fitted exponent on the {fit.n_points} runs that reached it: {fit} "
    "(Theorem 1 predicts -2/3 = -0.67)"
    if np.isfinite(fit.slope)
    else "too few runs reached the target to fit an exponent"
)
table = t_hit_da.to_dataframe("iterations_to_target").reset_index()
table["target"] = table["alpha"].map(bar_speed)
_ = export.save_table("iterations-vs-alpha", table)
# %% [markdown]
# Fewer relevant examples mean more iterations, as predicted. The measured exponent
# (printed above, with its interval) is steeper than $-2/3$. The theorem's $\Theta(\alpha^{-2/3})$ is
# an upper-and-lower bound up to constants in an asymptotic regime (large $M_1$,
# batch and widths, small learning rate), and at this small scale most of the
# iterations are spent leaving the initial plateau, whose length depends on the
# initialization scale as much as on $\alpha$. We report the exponent we measure and
# do not tune the setup to match the prediction.
#
# ## Claims
#
# Each statement below is checked on the numbers measured above; "(reported)" marks a
# statement the text discusses whatever its verdict.

# %% tags=["hide-input"]
claims = Claims()
claims.check(
    "Thm 1",
    f"trained on {frac:.0%} of the tasks, every seed's unseen-task error falls to at most "
    f"$\\epsilon$ + guessing floor = {bar_ref:.3f}",
    f"{stats.count_reached(final_unseen, bar_ref)} of {len(seeds)} seeds; "
    f"median {np.median(final_unseen):.3f}",
    (final_unseen <= bar_ref).all(),
    figure="fig-in-domain-training",
)
above = realized[:, 0] >= (base.M1 - 1) ** -0.5
med_frac = np.median(err_frac, axis=1)
claims.check(
    "Thm 1 (1)",
    "uniform covers with $|\\mathcal T_{tr}|/|\\mathcal T| \\ge (M_1-1)^{-1/2}$ reach "
    f"$\\epsilon$ + floor = {bar_ref:.3f} on unseen tasks (median seed)",
    ", ".join(
        f"fraction {f:.2f}: {e:.3f}"
        for f, e in zip(realized[above, 0], med_frac[above])
    ),
    (med_frac[above] <= bar_ref).all(),
    figure="fig-in-domain-task-fraction",
)
claims.check(
    "Thm 1 (1)",
    "uniform covers below $(M_1-1)^{-1/2}$ also generalize (the condition is sufficient, "
    "not necessary)",
    ", ".join(
        f"fraction {f:.2f}: {e:.3f}"
        for f, e in zip(realized[~above, 0], med_frac[~above])
    ),
    (med_frac[~above] <= bar_ref).all(),
    required=False,
    figure="fig-in-domain-task-fraction",
    why="not a prediction of the theorem: its condition on the task fraction is sufficient",
)
claims.check(
    "Thm 1 (1)",
    "random task sets generalize exactly when they cover every IDR pattern as both labels: "
    "every covering set reaches $\\epsilon$ + floor on unseen tasks, every set that misses a "
    "pattern does not",
    f"covering sets: {stats.count_reached(err_rand[covers], bar_ref)} of {int(covers.sum())} "
    f"reach it; missing a pattern: {stats.count_reached(err_rand[~covers], bar_ref)} of "
    f"{int((~covers).sum())} reach it (median error "
    f"{stats.fmt_error(np.median(err_rand[~covers])) if (~covers).any() else 'none'})",
    covers.any()
    and (~covers).any()
    and (err_rand[covers] <= bar_ref).all()
    and (err_rand[~covers] > bar_ref).all(),
    required=False,
    figure="fig-in-domain-task-fraction",
    why="not a prediction of the theorem, whose cover condition is sufficient",
)
med_len = {
    a: {l: float(np.median(v)) for l, v in err_len[a].items()}
    for a in prof.alphas_length
}
long_enough = [(a, l) for a in prof.alphas_length for l in med_len[a] if l >= 1 / a]
worst = max(long_enough, key=lambda p: med_len[p[0]][p[1]] - bar_len[p[0]])
claims.check(
    "Thm 1 (2)",
    "every $(\\alpha, l_{tr} \\ge 1/\\alpha)$ reaches $\\epsilon$ + floor on unseen tasks "
    "(median seed)",
    f"closest to its bar: $\\alpha$ = {worst[0]}, $l_{{tr}}$ = {worst[1]}: "
    f"{med_len[worst[0]][worst[1]]:.3f} (bar {bar_len[worst[0]]:.3f})",
    all(med_len[a][l] <= bar_len[a] for a, l in long_enough),
    figure="fig-in-domain-prompt-length",
)
too_short = [(a, l) for a in prof.alphas_length for l in med_len[a] if l <= 1 / (2 * a)]
claims.check(
    "Thm 1 (2)",
    "prompts much shorter than $1/\\alpha$ ($l_{tr} \\le 1/(2\\alpha)$) do not reach it within "
    "the budget "
    "(not a claim of the theorem, whose condition is sufficient)",
    ", ".join(
        f"$\\alpha$ = {a}, $l_{{tr}}$ = {l}: {stats.fmt_error(med_len[a][l])}"
        for a, l in too_short
    )
    if too_short
    else "no such point in the grid",
    bool(too_short) and all(med_len[a][l] > bar_len[a] for a, l in too_short),
    required=False,
    figure="fig-in-domain-prompt-length",
    why="the points that reached the bar learned from prompts shorter than $1/(2\\alpha)$: "
    "Theorem 1's $l_{tr} \\ge \\Omega(1/\\alpha)$ is sufficient, not necessary, and is not "
    "contradicted",
)
claims.check(
    "Thm 1 (3)",
    "the iterations needed grow as $\\alpha$ decreases (the whole 90% interval of the exponent "
    "is below 0)",
    f"fitted exponent {fit}",
    fit.hi < 0,
    figure="fig-in-domain-iterations",
)
claims.check(
    "Thm 1 (3)",
    "the exponent $-2/3$ of $T = \\Theta(\\alpha^{-2/3})$ lies in the 90% interval of the "
    "fitted exponent",
    f"fitted exponent {fit}",
    fit.contains(-2 / 3),
    required=False,
    figure="fig-in-domain-iterations",
    why="the iterations fall about as $1/\\alpha$, faster in $\\alpha$ than the theorem's "
    "$\\alpha^{-2/3}$; the reason is not established here (the theorem's regime "
    "$B \\ge \\epsilon^{-2}$ and its constants are candidates)",
)
attn_final = np.median(attn_pattern[:, -1])
claims.check(
    "Prop 1",
    "after training the query's attention is on the columns with its IDR pattern: at least "
    f"{1 - ATTN_TOL:.2f} there, at most {ATTN_TOL:.2f} on the other columns (median seed)",
    f"same IDR pattern {np.median(attn_pattern[:, 0]):.3f} -> {attn_final:.3f}; other columns "
    f"{attn_end['attn_other']:.3f}",
    attn_final >= 1 - ATTN_TOL,
    figure="fig-in-domain-attention",
)
claims.check(
    "Prop 1",
    "most of it lands on the same-pattern context columns, the ones that carry labels "
    "(more than half of the whole attention)",
    f"same-pattern contexts {attn_end['attn_same']:.2f}, the query itself {attn_end['attn_query']:.2f}",
    attn_end["attn_same"] > 0.5,
    required=False,
    figure="fig-in-domain-attention",
)
qk = {
    k: np.median(X.stack(runs, k), axis=0)
    for k in ("q_norm", "q_along", "k_norm", "k_along")
}
for m in "qk":  # the component orthogonal to mu_j
    qk[f"{m}_perp"] = np.sqrt(
        np.maximum(qk[f"{m}_norm"] ** 2 - qk[f"{m}_along"] ** 2, 0)
    )
grow = {
    (m, part): qk[f"{m}_{part}"][-1] - qk[f"{m}_{part}"][0]
    for m in "qk"
    for part in ("along", "perp")
}
claims.check(
    "Prop 1",
    "$W_Q p_{query}$ and $W_K p_i$ grow along the query's IDR pattern $\\mu_j$: for each, the "
    "component along $\\mu_j$ grows more than the component orthogonal to it (median seed)",
    f"$W_Q p_{{query}}$: along {qk['q_along'][0]:.2f} -> {qk['q_along'][-1]:.2f}, orthogonal "
    f"{qk['q_perp'][0]:.2f} -> {qk['q_perp'][-1]:.2f}; $W_K p_i$: along "
    f"{qk['k_along'][0]:.2f} -> "
    f"{qk['k_along'][-1]:.2f}, orthogonal {qk['k_perp'][0]:.2f} -> {qk['k_perp'][-1]:.2f}",
    all(grow[m, "along"] > grow[m, "perp"] for m in "qk"),
    figure="fig-in-domain-attention",
)
fa = np.median(r0["feat_angle"][-1][big])
la_pos, la_neg = (
    np.median(r0["label_angle"][-1][big & pos]),
    np.median(r0["label_angle"][-1][big & ~pos]),
)
claims.check(
    "Prop 2",
    "label parts of large $W_O W_V$ rows point to $+q$ for $a_i > 0$ and $-q$ for $a_i < 0$ "
    "(within 20 degrees)",
    f"median angles: $a_i > 0$ {la_pos:.0f}, $a_i < 0$ {la_neg:.0f} degrees",
    la_pos <= 20 and la_neg >= 160,
    figure="fig-in-domain-perceptron",
)
claims.check(
    "Prop 2",
    "feature parts of large $W_O W_V$ rows align with $\\bar\\mu$ (median angle < 45 degrees)",
    f"median angle {fa:.0f} degrees",
    fa < 45,
    figure="fig-in-domain-perceptron",
)
claims.report()

# %% [markdown]
# (against-source-01_in_domain)=
# ## Against the source
#
# Each figure and statement of the paper that this chapter reproduces, what the source
# shows (from its description), what we measure, and whether the two agree. The verdict
# is not typed: a row agrees exactly when the claims above that state the source's
# result hold, and a row that differs gives the reason found. The scoreboard's
# disagreement box lists the rows that differ.

# %% tags=["hide-input"]
claims.against_source(
    "A-8",
    "the norms of $W_Q p_{query}$ and $W_K p_i$ grow over training, along the query's IDR "
    "pattern",
    f"along $\\mu_j$ {qk['q_along'][0]:.2f} -> {qk['q_along'][-1]:.2f} and {qk['k_along'][0]:.2f} "
    f"-> {qk['k_along'][-1]:.2f}; orthogonal to it {qk['q_perp'][0]:.2f} -> "
    f"{qk['q_perp'][-1]:.2f} and {qk['k_perp'][0]:.2f} -> {qk['k_perp'][-1]:.2f}",
    claims.find("Prop 1", "grow along"),
    figure="fig-in-domain-attention",
)
claims.against_source(
    "A-9",
    "the attention on the columns with the query's IDR pattern rises to about 1, on the others "
    "falls to about 0",
    f"{attn_final:.3f} on the query's pattern (contexts {attn_end['attn_same']:.2f}, the query "
    f"itself {attn_end['attn_query']:.2f}), {attn_end['attn_other']:.3f} on the others",
    claims.find("Prop 1", "query's attention is on"),
    figure="fig-in-domain-attention",
)
claims.against_source(
    "A-10",
    "the feature parts of the large $W_O W_V$ rows turn towards $\\bar\\mu$ as they grow",
    f"median angle {fa:.0f} degrees at the end (bar 45)",
    claims.find("Prop 2", "feature parts"),
    figure="fig-in-domain-perceptron",
)
claims.against_source(
    "A-11",
    "the label parts point to $+q$ for $a_i > 0$ and to $-q$ for $a_i < 0$",
    f"median angles: $a_i > 0$ {la_pos:.0f}, $a_i < 0$ {la_neg:.0f} degrees",
    claims.find("Prop 2", "label parts"),
    figure="fig-in-domain-perceptron",
)
claims.against_source(
    "Thm 1 (1)",
    "a fraction $(M_1-1)^{-1/2}$ of the tasks, covering the patterns, suffices for unseen tasks",
    ", ".join(
        f"fraction {f:.2f}: {e:.3f}"
        for f, e in zip(realized[above, 0], med_frac[above])
    ),
    claims.find("Thm 1 (1)", "uniform covers with"),
    figure="fig-in-domain-task-fraction",
)
claims.against_source(
    "Thm 1 (2)",
    "training prompts of length $\\Omega(1/\\alpha)$ suffice",
    f"every $(\\alpha, l_{{tr}} \\ge 1/\\alpha)$ reaches its bar; closest $\\alpha$ = "
    f"{worst[0]}, $l_{{tr}}$ = {worst[1]}: {med_len[worst[0]][worst[1]]:.3f}",
    claims.find("Thm 1 (2)", "every $"),
    figure="fig-in-domain-prompt-length",
)
claims.against_source(
    "Thm 1 (3)",
    "$T = \\Theta(\\alpha^{-2/3})$ iterations suffice",
    f"the iterations needed grow as $\\alpha^b$, $b$ = {fit}",
    claims.find("Thm 1 (3)"),
    figure="fig-in-domain-iterations",
)
_ = claims.source_table()

# %% [markdown]
# ## Threats to validity
#
# What could make a verdict above wrong, and what we did about it:
#
# - **A small world.** $M_1=6$, $M_2=12$, $d_{\mathcal X}=20$, $m=40$. Theorem 1 hides
#   constants in $O(\cdot)$ and $\Omega(\cdot)$; the sweeps test the direction of each
#   condition, not its constants.
# - **Learning rate 10.** The paper does not publish one. A run that has not learned keeps
#   moving chaotically at this rate, so its error is not reproducible across machines in the
#   first digit: the printouts write it as `>0.1`, and every claim is about medians of runs
#   that learned or about bars far from where the non-learned runs sit.
# - **Initialization scale.** $W_Q$, $W_K$, $W_V$ start at a small multiple of the identity
#   and $W_O$ small and random; a different scale changes how long the initial plateau
#   lasts, hence the iteration counts of condition 3 (not their trend).
# - **Quantised grids.** Prompt lengths, task fractions and $\alpha$ are coarse grids, and the
#   error is recorded every few iterations: a "needed length" or "needed iterations" is
#   resolved only to the grid's spacing.
# - **Few seeds.** 5 (quick) or 10 (paper) per point. Claims use the median seed or a count
#   of seeds; fitted exponents carry a bootstrap interval over seeds, which measures the
#   spread between trainings, not whether a power law is the right form.
# - **Finite test prompts.** A test prompt with no example of the query's pattern cannot be
#   answered, so every bar is $\epsilon$ plus that guessing floor; at small $\alpha'$ and
#   short $l_{ts}$ the floor, not the model, sets the error.

# %% [markdown]
# ## What we chose that the paper did not publish
#
# The paper publishes no dimensions, widths, learning rates, batch sizes, iteration
# counts or initialization scales. Our choices (all in `icl_utils.incontext.config`):
#
# - **Sizes**: $M_1=6$, $M_2=12$, $d_{\mathcal X}=20$ (two spare noise directions),
#   $d_{\mathcal Y}=4$, $\kappa=0.5$, $m=40$ neurons, $a_i=\pm1/m$ (half each), $l=20$,
#   $\alpha=\alpha'=0.6$, batch $B=128$: small enough that a whole chapter trains on a
#   laptop CPU in about a minute.
# - **Learning rate 10** (plain SGD). With $a_i=\pm1/m$ the initial output is tiny:
#   learning rate 1 never leaves the initial plateau in our budget, 50 diverges.
# - **Initialization** $W_Q=W_K=W_V=0.3\,I$, $W_O\sim\mathcal N(0,0.01^2)$. The
#   specification's starting point $0.1\,I$ works too, but its initial plateau lasts
#   550 to 900+ iterations and varies strongly by seed (one of eight seeds had not
#   left it after 2000); $0.3\,I$ shortens it to about 100 iterations with the same
#   end state.
# - **Training tasks**: $r$ random cyclic shifts $(i, i+s \bmod M_1)$, the simplest
#   family that covers every pattern and both labels uniformly; the reference run
#   rounds the fraction 0.5 up to $r=3$, i.e. 18 of 30 tasks.
#   To see where too few tasks fail, the task-fraction figure also trains on random task
#   sets (`task_split="random"`), which no cyclic construction can show: the smallest
#   cover, $r=1$, is already the fraction $1/(M_1-1)=0.2$.
# - **Measurement**: errors on 1000 fixed prompts per seed and task set (4000 at the
#   paper profile); prompts are drawn afresh at every SGD step (Eq. 8 with $N=BT$).
# - **Target error** $\epsilon=0.02$ at both profiles, tested as error $\le\epsilon$ +
#   the test prompts' guessing floor $\tfrac12(1-\alpha'/2)^{l_{ts}}$ (see *Training*).
# - **Sweeps**: the task-fraction and length sweeps train 800 iterations (2000 at the paper profile),
#   enough for every seed at the smallest $\alpha$ to leave the plateau (the length
#   sweep's discussion shows the experiment); claims use the median over seeds.
# - **Numerics**: everything runs in float64. In float32, SGD at learning rate 10 turns
#   last-bit differences between CPUs (vector width, math library, thread count) into
#   different errors for a seed near the edge of learning; in float64 the printed
#   numbers agree across them, at about 1.3 times the cost.
