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
# # Out-of-domain generalization
#
# **The question.** A transformer trained on prompts built from some patterns and
# tasks is shown prompts built from *other* patterns. When does in-context learning
# still work, and how long must the prompt be? And is the trained transformer any
# better than simply fitting a classical learner to the same context examples?
#
# This chapter reproduces Theorem 2 of {cite:t}`li2024nonlinear` for the model of
# {doc}`01_in_domain`, trained exactly as there, and compares it with
# scikit-learn's learners on the same prompts (figures ).
#
# ```{admonition} What to take away
# :class: tip
# - Tested on patterns it never saw -- combinations of the training patterns whose
#   coefficients sum to $S_1\ge 1$ -- the trained model reaches its in-domain error
#   (Theorem 2), and its attention selects the contexts that share the query's new pattern.
# - With $S_1<1$ nothing is guaranteed: the error is larger, most at short prompts. On this
#   one-layer model the $S_1<1$ curves close to 1 catch up as prompts grow, unlike the
#   source's GPT-2 figure; {doc}`05_gpt2` shows the difference is the model's.
# - A larger fraction $\alpha'$ of relevant examples needs shorter prompts.
# - ICL beats logistic regression, the RBF-SVM and 3-NN fitted on the same context examples;
#   against 1-NN and the linear SVM the gap is a few test prompts (*Claims* says whether it
#   is resolved at this build's profile).
# ```
#
# ```{admonition} Theorem 2 (out-of-domain generalization)
# Train as in Theorem 1. Test on **out-of-domain-relevant** (ODR) patterns
# $\mu'_j=\sum_i c_{ji}\mu_i$, linear combinations of the IDR patterns with
# coefficient sum $S_1=\sum_i c_{ji}\ge 1$, and **out-of-domain-irrelevant** (ODI)
# patterns $\nu'_k$ in the span of the IDI patterns. If the test prompts have
# $l_{ts}\ge 1/\alpha'$ examples, the generalization error on OOD tasks is
# $O(\epsilon)$. For $S_1<1$ it is not guaranteed.
# ```

# %% tags=["parameters", "remove-cell"]
# Parameters (papermill -p NAME VALUE): the profile, the device, and any field of the chapter's
# profile or of its run config (e.g. -p alpha 0.3); an unknown name stops the chapter with an
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
from icl_utils.book import export, plotting
from icl_utils.book.claims import Claims
from icl_utils.incontext import baselines, data, probes, training
from icl_utils.incontext import experiments as X
from icl_utils.incontext.config import EvalConfig

prof, dev = icl.start_chapter("02_out_of_domain", **icl.chapter_parameters(globals()))
base, seeds = prof.base, prof.seeds

# %%
print(f"profile: {prof.name}, {len(seeds)} seeds, device: {dev.type}")
print(
    f"trained as chapter 1: alpha={base.alpha} l_tr={base.l_tr} T={base.T} lr={base.lr}"
)
print(f"S1 values: {list(prof.S1s)}; {prof.n_eval} test prompts per model and point")

# %% [markdown]
# ## Out-of-domain data
#
# We train the reference model of chapter 1 (same seeds, so the book reuses its
# cached runs) and build test patterns from each model's own IDR and IDI patterns.
# Each ODR pattern averages its own group of two IDR patterns with weight $S_1/2$
# each, so its coefficients sum to $S_1$, distinct ODR patterns are orthogonal, and
# $S_1$ is the one knob; its norm is $S_1/\sqrt 2$. The ODI patterns are a random
# rotation of the IDI patterns. OOD tasks are pairs of ODR patterns, built exactly
# like in-domain tasks, and none of them was seen in training. Below, the
# coefficients $c_{ji}=\mu'_j\cdot\mu_i$ of the three ODR patterns for $S_1=1.1$ and
# one OOD prompt.

# %% tags=["hide-input"]
runs = X.train_runs(X.grid(base, seeds), device=dev, desc="reference runs")
example = EvalConfig(S1=1.1, alpha_test=base.alpha, l_ts=12, n_eval=1)
world, idx = X.eval_prompts(runs[0]["config"], example)
member = training.setup_member(icl.ICLConfig(**runs[0]["config"]))
coef = np.round((world.mu @ member.world.mu.T).numpy(), 2) + 0.0  # no "-0."
print("ODR coefficients c_ji (rows: ODR patterns, columns: IDR patterns):")
print(np.array2string(coef, precision=2, suppress_small=True))
print("coefficient sums S1:", ", ".join(f"{v:.2f}" for v in coef.sum(1)))
print(
    "ODI patterns inside the IDI span:",
    bool(
        np.allclose(
            (world.nu @ member.world.nu.T) @ member.world.nu, world.nu, atol=1e-5
        )
    ),
)
print("OOD prompt, column ODR pattern j':", idx.pattern[0].tolist())
print(
    "OOD prompt, column label        :",
    [int(v) for v in idx.label[0, :-1]],
    "| query label z =",
    int(idx.z[0]),
)

# %% [markdown]
# ## Figure A-12: OOD error against test length, for several $S_1$
#
# Each trained model is tested on OOD prompts with the training fraction
# $\alpha'=\alpha$ at every length $l_{ts}$ and every $S_1$. Errors are plotted on a
# log scale: a point at the bottom edge means no error on any of the test prompts
# (below the resolution $1/n$ marked by the dotted line).
#
# The source's A-12 was measured on GPT-2, not on this one-layer model: there the
# $S_1<1$ curves stay visibly above the $S_1\ge1$ curves at every length up to 20.
# *Against the source* (end of the chapter) says whether that holds here, and
# {doc}`05_gpt2` trains GPT-2 and draws this figure for it beside this model's, on the
# same prompts.

# %%
tests_S1 = [
    EvalConfig(S1=S1, alpha_test=base.alpha, l_ts=l, n_eval=prof.n_eval)
    for S1 in prof.S1s
    for l in prof.lengths
]
# errors laid out over (seed, S1, l_ts), read off the runs' configs and the tests
err_S1_da = X.evaluate_runs(runs, tests_S1, device=dev).array(
    "err", "seed", "S1", "l_ts"
)
err_S1 = err_S1_da.values
tests_id = [
    EvalConfig(alpha_test=base.alpha, l_ts=l, n_eval=prof.n_eval) for l in prof.lengths
]
err_id_da = X.evaluate_runs(runs, tests_id, device=dev).array("err", "seed", "l_ts")
err_id = err_id_da.values

# %% mystnb={"figure": {"caption": "A-12: error on OOD prompts against the test prompt length $l_{ts}$, one curve per scale $S_1$ of the ODR patterns (dashed: $S_1<1$), beside the in-domain error; dotted: the resolution $1/n$ of the test set. Look at $S_1\\ge1$ following the in-domain curve, and at $S_1<1$ staying above it (Theorem 2).", "name": "fig-ood-length"}} tags=["hide-input"]
floor = 1 / (prof.n_eval * len(seeds))
fig, ax = plt.subplots(figsize=(plotting.WIDTH, 4.2))
colors = plt.cm.viridis(np.linspace(0, 0.9, len(prof.S1s)))
for k, S1 in enumerate(prof.S1s):
    plotting.mean_band(
        ax,
        prof.lengths,
        np.maximum(err_S1[:, k], floor),
        color=colors[k],
        marker="o",
        ms=4,
        label=f"$S_1$ = {S1}",
        ls="-" if S1 >= 1 else "--",
    )
plotting.mean_band(
    ax,
    prof.lengths,
    np.maximum(err_id, floor),
    color="0.5",
    marker="s",
    ms=3,
    label="in domain",
)
ax.axhline(floor, color=plotting.THEORY_COLOR, ls=":", lw=1, label="resolution $1/n$")
ax.set(
    xscale="log",
    yscale="log",
    xlabel="test prompt length $l_{ts}$",
    ylabel="error on OOD tasks",
    title="A-12: OOD error vs $l_{ts}$ (dashed: $S_1<1$)",
)
plotting.plain_log_ticks(ax, prof.lengths)
fig.tight_layout()
plotting.legend_below(ax, ncol=3)
plt.show()
print(f"OOD error, median over {len(seeds)} seeds:")
for k, S1 in enumerate(prof.S1s):
    print(
        f"S1 = {S1}: "
        + ", ".join(
            f"l={l}: {e:.3f}" for l, e in zip(prof.lengths, np.median(err_S1[:, k], 0))
        )
    )
_ = export.save_table(
    "ood-error-vs-length", err_S1_da.to_dataframe("err").reset_index()
)
_ = export.save_table(
    "in-domain-error-vs-length", err_id_da.to_dataframe("err").reset_index()
)
# %% [markdown]
# The error falls with the test length for every $S_1$, but not at the same rate.
# From $S_1\approx 1$ on, OOD prompts are as easy as in-domain ones; below 1 the
# model needs much longer prompts, and at $S_1=0.5$ it is still far from the
# in-domain error at the longest prompts. Why: the trained attention scores a
# context column by its relevant pattern against the query's, and for ODR patterns
# that score scales with $S_1^2$ -- below 1, attention concentrates less on the
# examples that share the query's pattern, and the random labels of the others leak
# into the average the perceptron reads (see the mechanism section below). The
# transition is smooth rather than a cliff at exactly 1: the theorem's condition
# guarantees the in-domain behaviour, and below it the guarantee, not the
# mechanism, disappears.
#
# ## Figure A-13: error against test length for several $\alpha'$
#
# Theorem 2, like Theorem 1, asks for $l_{ts}\ge 1/\alpha'$. We test in domain
# (unseen tasks) and out of domain ($S_1$ printed below) with several fractions
# $\alpha'$ of relevant examples; dashed verticals mark $l_{ts}=1/\alpha'$.

# %%
tests_a = [
    EvalConfig(S1=S1, alpha_test=a, l_ts=l, n_eval=prof.n_eval)
    for S1 in (None, prof.S1_alpha)
    for a in prof.alphas_test
    for l in prof.lengths
]
err_a_da = X.evaluate_runs(runs, tests_a, device=dev).array(
    "err", "seed", "S1", "alpha_test", "l_ts"
)  # S1 = None: in domain
err_a = err_a_da.values

# %% mystnb={"figure": {"caption": "A-13: error against $l_{ts}$ for several fractions $\\alpha'$ of relevant test examples, in domain (left) and out of domain (right); dashed lines at $l_{ts}=1/\\alpha'$ (one relevant example on average), dotted: the resolution $1/n$ of the test set. Look at the curves shifting left as $\\alpha'$ grows -- more informative prompts need fewer examples -- and at the error still falling well past $1/\\alpha'$: a low error needs several relevant examples.", "name": "fig-ood-alpha"}} tags=["hide-input", "full-width"]
fig, axes = plt.subplots(1, 2, figsize=(plotting.WIDE, 4), sharey=True)
colors = plt.cm.plasma(np.linspace(0, 0.8, len(prof.alphas_test)))
for d, (ax, title) in enumerate(
    zip(axes, ["in domain (unseen tasks)", f"out of domain, $S_1$ = {prof.S1_alpha}"])
):
    for k, a in enumerate(prof.alphas_test):
        plotting.mean_band(
            ax,
            prof.lengths,
            np.maximum(err_a[:, d, k], floor),
            color=colors[k],
            marker="o",
            ms=4,
            label=f"$\\alpha'$ = {a}",
        )
        ax.axvline(1 / a, color=colors[k], ls="--", lw=1)
    ax.axhline(floor, color=plotting.THEORY_COLOR, ls=":", lw=1)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="test prompt length $l_{ts}$",
        title=f"A-13: {title}",
    )
    plotting.plain_log_ticks(ax, prof.lengths)
axes[0].set_ylabel("error")
fig.tight_layout()
# one legend under both panels: inside, it covered the slowest curve
plotting.legend_below(fig, ncol=5, handles=axes[0].get_legend_handles_labels()[0])
plt.show()
need = {}
for d, where in enumerate(["in domain", f"OOD S1={prof.S1_alpha}"]):
    for k, a in enumerate(prof.alphas_test):
        m = np.median(err_a[:, d, k], 0)
        hit = [l for l, e in zip(prof.lengths, m) if e <= prof.target_error]
        need[where, a] = hit[0] if hit else None
        print(
            f"{where}, alpha'={a}: shortest l_ts with median error <= {prof.target_error}: {need[where, a]}"
        )
table = err_a_da.to_dataframe("err").reset_index()
table["S1"] = ["in domain" if pd.isna(s) else s for s in table["S1"]]
_ = export.save_table("error-vs-length-by-alpha-test", table)
# %% [markdown]
# More informative prompts need fewer examples: the length at which the error
# reaches the target shrinks as $\alpha'$ grows, in domain and out of domain alike.
# The threshold $l_{ts}=1/\alpha'$ itself is short here (between 1 and 2 examples):
# it is the length at which a prompt holds one relevant example *on average*, and a
# low error needs several times that, because a prompt with no example of the
# query's pattern leaves the model to guess -- that happens with probability
# $(1-\alpha'/2)^{l_{ts}}$.
#
# ## The mechanism carries over (Proposition 1 on ODR prompts)
#
# Why do ODR patterns work at all? The attention of Proposition 1 matches patterns
# through $W_K^\top W_Q$, which training made large on the span of the IDR
# patterns, and every ODR pattern lies in that span. We follow the attention the
# query puts on context examples with its own ODR pattern over training, for each
# $S_1$ (prompts of length printed below, weights saved during training).

# %%
mech_runs = X.train_runs(
    X.grid(base.replace(record_every=prof.record_every_mech), seeds),
    device=dev,
    desc="snapshots",
    snapshots=True,
)
it = mech_runs[0]["iters"]
tests_m = [
    EvalConfig(S1=S1, alpha_test=base.alpha, l_ts=prof.l_mech, n_eval=prof.n_eval)
    for S1 in (*prof.S1s, None)
]
mech_eval = [
    X.evaluate_runs(mech_runs, tests_m, at=k, device=dev) for k in range(len(it))
]
# Proposition 1's quantity, as in chapter 1: the attention on every column with the query's
# ODR pattern, the query's own column included (its share alone is kept to split it).
attn_m = np.stack([e["attn_same"] + e["attn_query"] for e in mech_eval], axis=-1)
attn_q = np.stack(
    [e["attn_query"] for e in mech_eval], axis=-1
)  # (seeds, tests, iterations)

# %% mystnb={"figure": {"caption": "Attention of the query on the columns with its ODR pattern (the same-pattern contexts and the query itself, Proposition 1's quantity), over training, one curve per $S_1$ (median and range over seeds), beside the in-domain (IDR) concentration (thick dotted); thin dotted: uniform attention. Look at the order of the curves: concentration grows with $S_1$ and saturates, close to the in-domain level from $S_1=1$ on and at it from $S_1\\approx\\sqrt2$ (Proposition 1 out of domain).", "name": "fig-ood-attention"}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(plotting.WIDTH, 4))
colors = plt.cm.viridis(np.linspace(0, 0.9, len(prof.S1s)))
for k, S1 in enumerate(prof.S1s):
    plotting.mean_band(
        ax,
        it,
        attn_m[:, k],
        color=colors[k],
        center="median",
        label=f"ODR, $S_1$ = {S1}",
        ls="-" if S1 >= 1 else "--",
    )
plotting.mean_band(
    ax,
    it,
    attn_m[:, -1],
    color="k",
    center="median",
    lw=2.5,
    ls=":",
    label="IDR (in domain)",
)
uniform_share = probes.uniform_pattern_share(base.alpha, prof.l_mech)
ATTN_TOL = probes.ATTN_TOL  # as in chapter 1
ax.axhline(
    uniform_share,
    color=plotting.THEORY_COLOR,
    ls=":",
    lw=1,
    label="uniform attention",
)
ax.set(
    xlabel="training iteration $t$",
    ylabel="attention on the query's pattern",
    ylim=(0, 1),
    title=f"Attention concentration on ODR prompts ($l_{{ts}}$ = {prof.l_mech})",
)
fig.tight_layout()
plotting.legend_below(ax, ncol=3)  # off the curves
plt.show()
final_attn = np.median(attn_m[:, :, -1], axis=0)
print(
    "final attention on the columns with the query's pattern, query included (median seed): "
    + ", ".join(f"S1={S1}: {a:.2f}" for S1, a in zip((*prof.S1s, "IDR"), final_attn))
)
print(
    "  of which on the query itself: "
    + ", ".join(
        f"S1={S1}: {a:.2f}"
        for S1, a in zip((*prof.S1s, "IDR"), np.median(attn_q[:, :, -1], axis=0))
    )
)
_ = export.save_table(
    "attention-over-training",
    export.long_table(
        {"attn_pattern": attn_m, "attn_query": attn_q},
        seed=[c.seed for c in runs.configs],
        test=[*map(str, prof.S1s), "IDR"],
        iteration=it,
    ),
)
# %% [markdown]
# Training on IDR prompts alone makes the attention concentrate on matching ODR
# patterns too, and the more so the larger $S_1$: the score of a matching column
# grows with $\|\mu'_j\|^2 = S_1^2/2$ (here an ODR pattern combines two IDR patterns with
# coefficient $S_1/2$ each), against 1 for an IDR pattern. So at the same training time
# the concentration reaches the in-domain level only from $S_1=\sqrt2$ on; between 1 and
# $\sqrt2$ it is a little lower (printed above), and that costs nothing: Theorem 2's
# guarantee is on the error, which is at the in-domain level for every $S_1\ge1$. Below 1
# the concentration falls short further, which is what the error curves above show. Above
# $\sqrt2$ it saturates: once almost all the attention sits on the query's pattern, a larger
# $S_1$ has nothing left to move, so the claim below asks that the concentration never
# *fall* as $S_1$ grows, with ties within 0.01 allowed.
#
# ## Figures: ICL against classical learners
#
# Is the transformer better than fitting a learner to the context? For every test
# prompt we fit scikit-learn's logistic regression, SVMs with a Gaussian and a linear
# kernel, 1-NN and 3-NN on the context examples $(x_i, \pm1)$ and ask for the query's
# label; the transformer answers the *same* prompts in context. Prompts are
# in-domain prompts of unseen tasks, 6 to 20 examples, $\alpha'\in\{0.8, 0.6\}$.

# %%
learner_names = list(baselines.LEARNERS)
cmp = {}
for a in prof.alphas_baseline:
    tests_b = [
        EvalConfig(alpha_test=a, l_ts=l, n_eval=prof.n_eval_baseline)
        for l in prof.lengths_baseline
    ]
    cmp[a, "ICL"] = X.evaluate_runs(runs, tests_b, device=dev)[
        "err"
    ]  # (seeds, lengths)
    per_len = [X.baseline_errors(runs, t, learner_names) for t in tests_b]
    for name in learner_names:
        cmp[a, name] = np.stack([p[name] for p in per_len], axis=1)

# %% mystnb={"figure": {"caption": "A-27, A-28: error of the trained transformer (ICL, black) and of scikit-learn learners fitted on each prompt's context examples, against the number of context examples, one panel per $\\alpha'$; mean over seeds, range shaded, log scale; dotted: one wrong prompt in all seeds' prompts (a zero error is drawn there). Look at ICL against each learner: below logistic regression, the RBF-SVM and 3-NN, and close to 1-NN and the linear SVM (explained below).", "name": "fig-ood-baselines"}} tags=["hide-input", "full-width"]
floor_b = 1 / (prof.n_eval_baseline * len(seeds))
styles_b = dict(
    zip(
        learner_names,
        [
            ("tab:blue", "s"),
            ("tab:orange", "^"),
            ("tab:green", "v"),
            ("tab:purple", "D"),
            ("tab:brown", "P"),
        ],
    )
)
fig, axes = plt.subplots(
    1, len(prof.alphas_baseline), figsize=(plotting.WIDE, 4.2), sharey=True
)
for ax, a in zip(np.atleast_1d(axes), prof.alphas_baseline):
    plotting.mean_band(
        ax,
        prof.lengths_baseline,
        np.maximum(cmp[a, "ICL"], floor_b),
        color="k",
        lw=2.5,
        marker="o",
        label="ICL (trained transformer)",
    )
    for name in learner_names:
        color, marker = styles_b[name]
        plotting.mean_band(
            ax,
            prof.lengths_baseline,
            np.maximum(cmp[a, name], floor_b),
            color=color,
            marker=marker,
            ms=5,
            lw=1.2,
            label=baselines.LEARNERS[name][0],
        )
    ax.axhline(floor_b, color=plotting.THEORY_COLOR, ls=":", lw=1)
    ax.set_yscale("log")
    ax.set(xlabel="context examples $l_{ts}$", title=f"$\\alpha'$ = {a}")
np.atleast_1d(axes)[0].set_ylabel("error on unseen tasks (log)")
np.atleast_1d(axes)[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1))
fig.suptitle("A-27, A-28: in-context learning vs learners fitted on the context")
fig.tight_layout()
plt.show()
for a in prof.alphas_baseline:
    print(
        f"alpha'={a}: mean error over lengths and seeds: "
        + ", ".join(f"{k}: {cmp[a, k].mean():.3f}" for k in ["ICL", *learner_names])
    )
run_seeds = [c.seed for c in runs.configs]
_ = export.save_table(
    "icl-vs-learners",
    pd.concat(
        export.long_table(
            {"err": cmp[a, k]}, seed=run_seeds, l_ts=prof.lengths_baseline
        ).assign(alpha_test=a, learner=k)
        for a in prof.alphas_baseline
        for k in ["ICL", *learner_names]
    ),
)
# %% [markdown]
# The transformer beats logistic regression, the Gaussian-kernel SVM and 3-NN at
# every length. Against 1-NN and the linear SVM the difference is small: the quick
# profile's test prompts do not resolve it, the paper profile's (500 per point and
# length) do -- the claims below say, for this build, whether ICL is ahead of them by
# more than one test prompt. This data model is kind
# to nearest neighbours: inputs with the query's relevant pattern are exactly the
# nearest context examples (the irrelevant patterns and the other relevant
# patterns are orthogonal), and they always carry the query's label -- so 1-NN
# implements the same "match and copy" as the trained attention. The learners fit
# a new model per prompt; the transformer answers with one forward pass and no
# weight update. The source paper reports ICL ahead of all five; at our scale the
# advantage over 1-NN and the linear SVM is real but a few thousandths.
#
# ## Claims

# %% tags=["hide-input"]
claims = Claims()
i20 = list(prof.lengths).index(20) if 20 in prof.lengths else -1
l20 = prof.lengths[i20]
at_l = {S1: np.median(err_S1[:, k, i20]) for k, S1 in enumerate(prof.S1s)}
bar20 = prof.target_error + data.guess_floor(base.alpha, l20)
id20 = np.median(err_id[:, i20])
big = [S1 for S1 in prof.S1s if S1 >= 1]
small = [S1 for S1 in prof.S1s if S1 < 1]
claims.check(
    "Thm 2",
    f"S1 >= 1: OOD error at l_ts = {l20} is at most eps + guessing floor = {bar20:.3f} (median seed)",
    ", ".join(f"S1={S1}: {at_l[S1]:.3f}" for S1 in big),
    all(at_l[S1] <= bar20 for S1 in big),
    figure="fig-ood-length",
)
claims.check(
    "Thm 2",
    f"S1 >= 1: OOD error within 0.01 of the in-domain error at l_ts = {l20} (median seed)",
    f"in domain {id20:.3f}",
    all(abs(at_l[S1] - id20) <= 0.01 for S1 in big),
    figure="fig-ood-length",
)
claims.check(
    "Thm 2",
    f"S1 < 1 is not guaranteed: the smallest S1 has a larger error at l_ts = {l20} than every S1 >= 1",
    f"S1={min(small)}: {at_l[min(small)]:.3f}",
    at_l[min(small)] > max(at_l[S1] for S1 in big),
    figure="fig-ood-length",
)
claims.check(
    "Thm 2",
    f"the OOD error at l_ts = {prof.lengths[-1]} falls monotonically as S1 grows (median seed, ties within 0.001)",
    ", ".join(
        f"S1={S1}: {e:.3f}" for S1, e in zip(prof.S1s, np.median(err_S1[:, :, -1], 0))
    ),
    bool(np.all(np.diff(np.median(err_S1[:, :, -1], 0)) <= 1e-3)),
    required=False,
    figure="fig-ood-length",
)
one_prompt = 1 / prof.n_eval  # one test prompt of one model
claims.check(
    "A-12",
    f"as on the source's figure, every S1 < 1 has a visibly larger error than every S1 >= 1 at "
    f"l_ts = {l20}, the longest length it shows (at least twice as large, and by more than two "
    "test prompts; median seed)",
    ", ".join(f"S1={S1}: {at_l[S1]:.4f}" for S1 in small)
    + f"; S1 >= 1 at most {max(at_l[S1] for S1 in big):.4f} (one prompt {one_prompt:.5f})",
    min(at_l[S1] for S1 in small) > 2 * max(at_l[S1] for S1 in big)
    and min(at_l[S1] for S1 in small) > max(at_l[S1] for S1 in big) + 2 * one_prompt,
    required=False,
    figure="fig-ood-length",
    why="the source's A-12 was measured on GPT-2, a multi-layer model; on the one-layer model "
    "of Eq. 7 the S1 < 1 curves close to 1 keep falling with the prompt length towards the S1 "
    ">= 1 ones. Chapter 5 trains GPT-2 and tests it on these very prompts",
)
for where in ["in domain", f"OOD S1={prof.S1_alpha}"]:
    ls = [need[where, a] for a in prof.alphas_test]
    claims.check(
        "Thm 1-2",
        f"{where}: the length needed to reach the target shrinks (weakly) as alpha' grows",
        ", ".join(f"alpha'={a}: {n}" for a, n in zip(prof.alphas_test, ls)),
        None not in ls and all(x >= y for x, y in zip(ls, ls[1:])),
        figure="fig-ood-alpha",
    )
claims.check(
    "Prop 1 (OOD)",
    "after training, for S1 >= 1 the query's attention is on the columns with its ODR pattern: "
    f"at least {1 - ATTN_TOL:.2f} there, as in domain (chapter 1's tolerance; median seed)",
    ", ".join(f"S1={S1}: {a:.3f}" for S1, a in zip(prof.S1s, final_attn) if S1 >= 1)
    + f"; in domain {final_attn[-1]:.3f} (uniform {uniform_share:.2f})",
    all(a >= 1 - ATTN_TOL for S1, a in zip(prof.S1s, final_attn) if S1 >= 1),
    required=False,
    figure="fig-ood-attention",
    why="an ODR pattern here has norm S1/sqrt(2) (two IDR patterns, coefficient S1/2 each), so "
    "its matching score is S1^2/2 of the in-domain one: below S1 = sqrt(2) the attention "
    "concentrates less than in domain after the same training; Theorem 2 guarantees the error, "
    "which is at the in-domain level (claims above)",
)
claims.check(
    "Prop 1 (OOD)",
    "after training, for S1 >= 1 most of the query's attention is on the columns with its ODR "
    "pattern (more than twice the uniform share)",
    ", ".join(f"S1={S1}: {a:.2f}" for S1, a in zip(prof.S1s, final_attn) if S1 >= 1)
    + f" (uniform {uniform_share:.2f})",
    all(a > 2 * uniform_share for S1, a in zip(prof.S1s, final_attn) if S1 >= 1),
    figure="fig-ood-attention",
)
claims.check(
    "Prop 1 (OOD)",
    "attention concentration does not fall as S1 grows (it saturates: ties within 0.01 allowed)",
    ", ".join(f"S1={S1}: {a:.2f}" for S1, a in zip(prof.S1s, final_attn[:-1])),
    bool(np.all(np.diff(final_attn[:-1]) >= -0.01)),
    figure="fig-ood-attention",
)
resolution = 1 / prof.n_eval_baseline  # one test prompt of one model
for a in prof.alphas_baseline:
    beaten = [
        n for n in learner_names if cmp[a, "ICL"].mean() < cmp[a, n].mean() - resolution
    ]
    claims.check(
        "A-27/28",
        f"alpha'={a}: ICL has a lower mean error than logistic regression, RBF-SVM and 3-NN "
        f"(by more than one test prompt, {resolution:.3f})",
        f"ICL {cmp[a, 'ICL'].mean():.3f}; "
        + ", ".join(
            f"{n} {cmp[a, n].mean():.3f}" for n in ("logistic", "svm_rbf", "3nn")
        ),
        all(n in beaten for n in ("logistic", "svm_rbf", "3nn")),
        figure="fig-ood-baselines",
    )
    claims.check(
        "A-27/28",
        f"alpha'={a}: ICL beats every learner by more than {resolution:.3f}, 1-NN and the linear SVM "
        "included (the paper's claim)",
        f"ICL {cmp[a, 'ICL'].mean():.3f}; 1nn {cmp[a, '1nn'].mean():.3f}; svm_linear {cmp[a, 'svm_linear'].mean():.3f}",
        len(beaten) == len(learner_names),
        required=False,
        figure="fig-ood-baselines",
        why="ICL, 1-NN and the linear SVM all sit within a few test prompts of 0 here: the test "
        f"prompts ({prof.n_eval_baseline} per model) do not resolve the difference; the paper "
        "profile's 500 do",
    )
claims.report()

# %% [markdown]
# (against-source-02_out_of_domain)=
# ## Against the source
#
# Each figure and statement of the paper that this chapter reproduces, what the source
# shows (from its description), what we measure, and whether the two agree: a row agrees
# exactly when the claims above that state the source's result hold, and a row that
# differs gives the reason found.

# %% tags=["hide-input"]
claims.against_source(
    "A-12",
    f"(on GPT-2) S1 >= 1 reaches the in-domain error; the S1 < 1 curves stay visibly above "
    f"the S1 >= 1 curves at every length up to {l20}",
    f"S1 >= 1 at l_ts = {l20}: at most {max(at_l[S1] for S1 in big):.4f} (in domain {id20:.4f}); "
    + ", ".join(f"S1={S1}: {at_l[S1]:.4f}" for S1 in small),
    claims.find("Thm 2", "S1 >= 1") + claims.find("A-12"),
    figure="fig-ood-length",
)
claims.against_source(
    "A-13",
    "(on GPT-2) in domain and out of domain, a larger alpha' needs shorter prompts",
    "shortest length reaching the target: "
    + "; ".join(
        f"{where}: "
        + ", ".join(f"alpha'={a}: {need[where, a]}" for a in prof.alphas_test)
        for where in ["in domain", f"OOD S1={prof.S1_alpha}"]
    ),
    claims.find("Thm 1-2"),
    figure="fig-ood-alpha",
)
claims.against_source(
    "Prop 1 (OOD)",
    "the attention concentrates on the contexts with the query's ODR pattern, as in domain",
    ", ".join(f"S1={S1}: {a:.3f}" for S1, a in zip(prof.S1s, final_attn) if S1 >= 1)
    + f"; in domain {final_attn[-1]:.3f}",
    claims.find("Prop 1 (OOD)", "at least"),
    figure="fig-ood-attention",
)
claims.against_source(
    "A-27, A-28",
    "ICL has a lower error than logistic regression, both SVMs, 1-NN and 3-NN fitted on the "
    "same context examples",
    "; ".join(
        f"alpha'={a}: ICL {cmp[a, 'ICL'].mean():.3f}, best learner "
        + min(
            (f"{n} {cmp[a, n].mean():.3f}" for n in learner_names),
            key=lambda t: float(t.split()[1]),
        )
        for a in prof.alphas_baseline
    ),
    claims.find("A-27/28", "beats every learner"),
    figure="fig-ood-baselines",
)
_ = claims.source_table()

# %% [markdown]
# ## Threats to validity
#
# - **One family of ODR patterns.** Each ODR pattern combines two IDR patterns with equal
#   coefficients $S_1/2$; Theorem 2 allows any linear combination with coefficient sum
#   $S_1$. Other combinations have other norms, and the norm sets how strongly the
#   attention matches (the $S_1^2/2$ above).
# - **Untuned baselines.** The classical learners use scikit-learn's defaults ($C=1$,
#   `gamma="scale"`); a learner tuned per prompt length might close some of the gap to
#   ICL. The comparison is the paper's: each learner sees only the prompt's context.
# - **Test resolution.** Differences smaller than one test prompt per model are not
#   claimed; at the quick profile that hides the gap between ICL, 1-NN and the linear SVM.
# - **The same small world, learning rate and seeds as chapter 1**, with the same
#   consequences (see its threats to validity).

# %% [markdown]
# ## What we chose that the paper did not publish
#
# - **ODR patterns**: each averages its own pair of IDR patterns with equal weights
#   $S_1/2$ (three ODR patterns from six IDR patterns), so that distinct ODR
#   patterns are orthogonal and $S_1$ is the only knob. Unequal weights with the same
#   sum would change the norm of $\mu'_j$ and with it the attention scores.
# - **ODI patterns**: a random rotation of the IDI span (all $M_2$ of them), with
#   the training weight $\kappa$.
# - **Test prompts**: $\alpha'=\alpha=0.6$ for A-12, 1000 prompts per model and point
#   (4000 at the paper profile), drawn from one random stream per model so that all
#   tests and learners see the same draws.
# - **Bars**: "error $O(\epsilon)$" is tested as error at most $\epsilon=0.02$ plus the test
#   prompts' guessing floor $\tfrac12(1-\alpha'/2)^{l_{ts}}$ (chapter 1 explains it), with
#   the same $\epsilon$ at both profiles; errors are medians over seeds.
# - **Learners**: scikit-learn defaults ($C=1$, `gamma="scale"`), logistic regression
#   with the `liblinear` solver; a context with a single label is answered with that
#   label. k-NN is computed for all prompts at once with the same rule as
#   `KNeighborsClassifier` (the tests check they agree).
# - **Model**: the one-layer model of Eq. 7; the source shows on a small
#   GPT-2 model, which {doc}`05_gpt2` trains (see *Against the source* here and there).
