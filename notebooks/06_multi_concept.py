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
# # Multi-concept word semantics
#
# **The question.** Words in a language model are (close to) sums of *concept*
# directions, and one word carries several concepts. A prompt's demonstrations say
# which concept decides the label. Does a transformer trained by SGD learn to read
# the right concept from the demonstrations, how fast does its error fall, and does
# it keep working on prompts unlike its training prompts?
#
# This chapter tests the claims of {cite:t}`bu2024multiconcept`.
#
# ```{warning}
# **A reconstruction, not the authors' code.** The paper's body (its equations,
# constants and theorem statements) and its code could not be reached when this book was
# built. The data model and the model below are the book's reconstruction from the
# paper's stated setting: its abstract and the captions of its simulation figures. Every
# choice is listed in *What we chose, and why* at the end, and each claim tested here is a
# claim of the abstract or of a figure caption.
# ```
#
# ```{admonition} What to take away
# :class: tip
# - Trained by SGD on the logistic loss, the transformer's test 0-1 error falls from chance
#   to the data's Bayes error within a few hundred steps, with the label noise's flip rate
#   as its floor. The fall is fast, but it is not clearly exponential: a power law fits it
#   about as well (see *Claims* for the fitted rate and the comparison).
# - It learns by attention: the query's attention moves onto the demonstrations whose
#   semantic matches its own, and only the weights' products with the task concepts'
#   features grow; the irrelevant concepts' and the noise's stay at their initial scale.
# - Shorter and longer prompts and a skewed concept distribution leave the error near
#   its in-distribution value, and so do unseen tasks that combine two learned concepts
#   with coefficient sum of about 1 or more.
# - Switched semantics are different: trained with one fixed map from semantic to
#   label, the model learns the map itself and fails on switched prompts; trained on
#   prompts whose map varies, it follows the demonstrations and passes.
# - A concept never used as a task in training is not learned in context, and large
#   noise breaks ICL.
# ```
#
# ```{admonition} The claims of [BHH+24] tested here (from its abstract)
# A transformer of one softmax attention layer and a ReLU MLP, trained by SGD on the
# cross-entropy loss over prompts of multi-concept words (a low-noise sparse-coding
# model), has a **0-1 loss that converges exponentially fast** to the Bayes-optimal test
# error, despite the non-convexity, and it **generalizes out of distribution**: to other
# prompt lengths, other concept distributions, switched semantics and unseen tasks whose
# words combine concepts in new ways ("innovation"). Its assumptions include a good
# initialization of the attention, low noise and enough neurons.
# ```

# %% tags=["parameters", "remove-cell"]
# Parameters (papermill -p NAME VALUE): the profile, the device, and any field of the chapter's
# profile or of its run config (e.g. -p lr 2.5); an unknown name stops the chapter with an
# error naming it.  None keeps the profile's value.
profile = "quick"
n_seeds = None
device = None

# %% tags=["remove-cell"]
import icl_utils as icl
import matplotlib.pyplot as plt
import numpy as np
from icl_utils.book import export, plotting
from icl_utils.book.claims import Claims
from icl_utils.concepts import ConceptTest
from icl_utils.concepts import data as cdata
from icl_utils.concepts import experiments as X
from icl_utils.concepts import training as ctrain
from icl_utils.core import rng, stats

prof, dev = icl.start_chapter("06_multi_concept", **icl.chapter_parameters(globals()))
base, seeds = prof.base, prof.seeds

# %%
print(f"profile: {prof.name}, {len(seeds)} seeds, device: {dev.type}")
print(
    f"K={base.K} task + {base.K_irr} irrelevant concepts, d={base.d}, beta={base.beta}, "
    f"{base.n_other} other concepts per word, noise std {base.noise_std}; L={base.L} "
    f"demonstrations; m={base.m} neurons; SGD lr={base.lr}, B={base.B}, T={base.T}"
)

# %% [markdown]
# ## Words as sums of concepts
#
# Each of $K$ task concepts and $K_{irr}$ irrelevant concepts has two orthonormal
# directions in the word space $\mathbb R^d$: a shared direction $a_k$ and a semantic
# direction $b_k$. Its two opposing word features are
# $\mu_k^\pm=(a_k\pm\beta b_k)/\sqrt{1+\beta^2}$, so two features of one concept have
# cosine $(1-\beta^2)/(1+\beta^2)>0$ and features of different concepts are orthogonal.
# Task concepts also have label features $q_k^\pm$, built the same way from directions
# $c_k, e_k$ of a label space of their own.
#
# A prompt has a task concept $k^*$. Each of its words is a sparse code: the feature
# $\mu_{k^*}^{s}$ of its semantic $s=\pm1$, the features of $n_{other}$ other concepts
# with random semantics (a polysemous word), and Gaussian noise of standard deviation
# $\sigma$. Its label is $s$. The $L$ demonstrations are tokens $[x_i;\,q_{k^*}^{y_i}]$
# and the query is $[x_q;\,0]$, last. The task concept changes from prompt to prompt
# and every word carries other concepts too, so only the demonstrations say which
# concept to read.

# %%
D = cdata.make_dictionary(base)
cos = D.word[0, cdata.PLUS] @ D.word[0, cdata.MINUS]
print(
    f"within-concept cosine mu_0^+ . mu_0^- = {cos:.3f} "
    f"(1 - beta^2)/(1 + beta^2) = {(1 - base.beta**2) / (1 + base.beta**2):.3f}; "
    f"across concepts mu_0^+ . mu_1^+ = {D.word[0, 0] @ D.word[1, 0]:.3f}"
)
ex = cdata.sample_prompts(base, None, 1, rng.make_generator(0, "probe"))
coef = ex.P[0, :, : base.d] @ D.concept.T * np.sqrt(1 + base.beta**2)
print(
    f"one prompt, task concept k* = {int(ex.task[0])}; the concepts in its first 4 words:"
)
for i in range(4):
    present = [k for k in range(base.K + base.K_irr) if abs(float(coef[i, k])) > 0.5]
    print(f"  word {i}: concepts {present}, label {int(ex.sem[0, i]):+d}")

# %% [markdown]
# ## The model and its training
#
# One softmax attention layer reads the prompt at the query, and a ReLU MLP with a
# fixed read-out gives the prediction:
#
# $$f(\Psi;P)=\sum_{r=1}^m a_r\,\mathrm{ReLU}\Big(\Big\langle w_r,\sum_{i=1}^{L+1}
# \mathrm{attn}_i\,p_i\Big\rangle\Big),\qquad
# \mathrm{attn}_i=\mathrm{softmax}_i\big((W_Kp_i)^\top W_Q p_{query}\big),$$
#
# with $\Psi=\{W_Q,W_K,W_O\}$ (the rows of $W_O$ are the neurons $w_r$) and
# $a_r=\pm1/m$, half each, as in Eq. 7 of {cite:t}`li2024nonlinear`. The attention starts at
# $W_Q=W_K=0.5\,I$, a "good initialization" that already prefers words that share
# concepts with the query. Training is SGD on the logistic (cross-entropy) loss
# $\log(1+e^{-zf})$ with fresh prompts at every step. Every 10 steps we record, on fixed
# test prompts, the 0-1 error, the loss and the attention the query puts on the
# *correct* demonstrations (those whose semantic on the task concept is the query's), and
# the same on the step's training batch.
#
# Beside the main runs we train, with the same seeds: a copy with 10 % label noise (its
# Bayes error is the flip rate), one that never sees concept 3 as a task (held out), one
# whose training prompts have their semantics switched at random (half of them), and one
# per noise level of the last section.

# %%
main = X.train_concepts([base.replace(seed=s) for s in seeds], snapshots=True)
mixed = X.train_concepts(
    [base.replace(seed=s, switch_rate=prof.switch_rate) for s in seeds], snapshots=True
)
noisy = X.train_concepts(
    [base.replace(seed=s, label_noise=prof.label_noise) for s in seeds]
)
held = X.train_concepts([base.replace(seed=s, held_out=prof.held_out) for s in seeds])
by_noise = X.train_concepts(
    [base.replace(seed=s, noise_std=v) for v in prof.noise_levels for s in seeds]
)
it = main[0]["iters"]
err = main.array("test_err", "seed")  # final values; curves below
curves = {
    k: np.stack([r[k] for r in main])
    for k in ("test_err", "test_loss", "train_loss", "test_attn", "train_attn")
}
print(
    f"final test error: median {np.median(curves['test_err'][:, -1]):.4f} "
    f"(largest seed {curves['test_err'][:, -1].max():.4f}); with label noise "
    f"{prof.label_noise}: median {np.median(noisy.array('test_err', 'seed')):.4f}"
)
_ = export.save_table(
    "dynamics",
    export.long_table(
        {k: v for k, v in curves.items()}, seed=list(seeds), iteration=it
    ),
)

# %% [markdown]
# ### How fast the error falls
#
# The test 0-1 error starts at chance (0.5), stays there while the attention is still
# nearly uniform, then falls. We fit its fall on the range where the median over seeds
# lies below 0.8 times its starting value and above the resolution of the test set
# (5 wrong prompts): once as an exponential, $\log \mathrm{err} = -\rho\, t + c$, with a
# 90 % bootstrap interval of the rate $\rho$ over seeds, and once as a power law,
# $\log\mathrm{err}=-b\log t+c$. The exponential is the paper's claim; which of the two
# has the smaller residuals on the same points says which describes the curve. (Fitted
# seed by seed instead of pooled, the comparison comes out the same way in our runs.)

# %%
E_ = curves["test_err"]
med = np.median(E_, 0)
floor = prof.floor_count / base.n_eval
start = int(np.argmax(med < 0.8 * med[0]))
below = np.flatnonzero(med < floor)
stop = int(below[0]) if below.size else len(it)
window = slice(start, stop)
fit = stats.fit_decay(it[window], E_[:, window].T)
rate, rate_lo, rate_hi = fit.rate
print(
    f"fitted range: t = {it[start]} to {it[stop - 1]} ({stop - start} records; median error "
    f"{med[start]:.3f} to {med[stop - 1]:.4f})"
)
print(f"exponential rate {rate:.4f} per step (90 % CI {rate_lo:.4f} to {rate_hi:.4f})")
print(
    f"power law exponent {-fit.power.slope:.2f} (90 % CI {-fit.power.hi:.2f} to {-fit.power.lo:.2f})"
)
print(
    f"residual sum of squares in log error: exponential {fit.rss_exponential:.1f}, "
    f"power law {fit.rss_power:.1f}"
)

# %% mystnb={"figure": {"caption": "Learning dynamics of the main runs: left, the logistic loss on the training batch and on the test prompts; right, the test 0-1 error on a log axis (median over seeds, range shaded), with the exponential fit (a straight line on this axis) and the best power law over the fitted range (between the dotted lines). Look at which fit follows the fall of the error.", "name": "fig-mc-dynamics"}} tags=["hide-input", "full-width"]
fig, axes = plt.subplots(1, 2, figsize=(plotting.WIDE, 4))
plotting.mean_band(
    axes[0], it, curves["train_loss"], label="training batch", center="median"
)
plotting.mean_band(
    axes[0],
    it,
    curves["test_loss"],
    label="test prompts",
    center="median",
    linestyle="--",
)
axes[0].set(yscale="log", xlabel="iteration $t$", ylabel="logistic loss", title="loss")
# the seeds' range, shaded where some seed's error is above 0 (a log axis cannot show 0)
shown = np.where(E_ > 0, E_, np.inf)
lo, hi = shown.min(0), np.where(E_ > 0, E_, -np.inf).max(0)
some = np.isfinite(hi)
axes[1].plot(it, np.median(E_, 0), color="tab:blue", label="test 0-1 error (median)")
axes[1].fill_between(
    it,
    np.where(some, lo, np.nan),
    np.where(some, hi, np.nan),
    color="tab:blue",
    alpha=0.2,
    lw=0,
)
tt = it[window].astype(float)
axes[1].plot(
    tt,
    np.exp(fit.exponential.predict(tt)),
    color="tab:orange",
    lw=2,
    label=f"exponential, rate {rate:.3f}",
)
axes[1].plot(
    tt,
    fit.power.predict(tt),
    color=plotting.THEORY_COLOR,
    ls="--",
    lw=2,
    label=f"power law, $t^{{{fit.power.slope:.1f}}}$",
)
for x in (it[start], it[stop - 1]):
    axes[1].axvline(x, color="0.5", ls=":", lw=1)
axes[1].axhline(floor, color="0.5", lw=0.8)
axes[1].set(
    yscale="log",
    xlabel="iteration $t$",
    ylabel="test 0-1 error",
    title="0-1 error",
    ylim=(floor / 5, 1),
)
fig.tight_layout()
plotting.legend_below(axes[0])
plotting.legend_below(axes[1])
plt.show()

# %% [markdown]
# The grey line is the test set's resolution: below it, a curve counts fewer than 5
# wrong prompts, and a seed at 0 is not drawn on the log axis.
#
# ## The mechanism: attention on the correct demonstrations

# %% mystnb={"figure": {"caption": "The attention mass the query puts on the correct demonstrations (the same semantic on the task concept as its own), on the training batch and on the test prompts, over training (median over seeds, range shaded). At the start it is the share of such demonstrations among the L + 1 tokens; look at it rising towards 1 while the error falls.", "name": "fig-mc-attention"}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(plotting.WIDTH, 3.8))
plotting.mean_band(
    ax, it, curves["train_attn"], label="training batch", center="median"
)
plotting.mean_band(
    ax, it, curves["test_attn"], label="test prompts", center="median", linestyle="--"
)
ax.axhline(
    0.8, color=plotting.THEORY_COLOR, ls=":", lw=1, label="0.8 (the claim's bar)"
)
ax.set(
    xlabel="iteration $t$", ylabel="attention on correct demonstrations", ylim=(0, 1)
)
fig.tight_layout()
plotting.legend_below(ax, ncol=3)
plt.show()
a0, a1 = np.median(curves["test_attn"][:, 0]), np.median(curves["test_attn"][:, -1])
t0, t1 = np.median(curves["train_attn"][:, 0]), np.median(curves["train_attn"][:, -1])
print(
    f"attention on correct demonstrations (medians): test {a0:.3f} -> {a1:.3f}, training {t0:.3f} -> {t1:.3f}"
)

# %% [markdown]
# ### Which features the weights learn
#
# The attention score of a demonstration is $p_i^\top W p_{query}$ with
# $W=W_K^\top W_Q$. Its products with the features say what the attention rewards:
# $b_k^\top W b_k$ (a demonstration's word semantic against the query's),
# $[0;e_k]^\top W [b_k;0]$ (a demonstration's *label* semantic against the query's word
# semantic), the same for the irrelevant ("complement") concepts, $b_j^\top W b_j$,
# and for pairs of noise directions (the word space outside the dictionary). We plot
# the largest magnitude of each kind over concepts (and pairs). The first three start
# at $0.5^2=0.25$, the label-with-word one at 0.

# %%
attn_prod = np.stack([r["attn_prod"] for r in main])  # (seeds, R, 4)
mlp_prod = np.stack([r["mlp_prod"] for r in main])
norms = np.stack([r["mlp_norm"] for r in main])


def growth(prod, cols):
    """Per seed, the largest of the columns at the end over the largest of them at the start."""
    return prod[:, -1, cols].max(-1) / prod[:, 0, cols].max(-1)


g_attn = {
    "task": growth(attn_prod, [0, 1]),
    "complement": growth(attn_prod, [2]),
    "noise": growth(attn_prod, [3]),
}
g_mlp = {
    "task": growth(mlp_prod, [0, 1]),
    "complement": growth(mlp_prod, [2]),
    "noise": growth(mlp_prod, [3]),
}
for name, g in (("attention", g_attn), ("MLP", g_mlp)):
    print(
        f"{name}: growth over training (final / initial, median over seeds): "
        + ", ".join(f"{k} {np.median(v):.2f}" for k, v in g.items())
    )
print(
    "attention products at the end (medians): "
    + ", ".join(
        f"{n} {np.median(attn_prod[:, -1, c]):.2f}"
        for c, n in enumerate(ctrain.ATTN_PRODUCTS)
    )
)
_ = export.save_table(
    "weight-products",
    export.long_table(
        {"attention_product": attn_prod, "mlp_product": mlp_prod},
        seed=list(seeds),
        iteration=it,
        kind=[f"{a} | {m}" for a, m in zip(ctrain.ATTN_PRODUCTS, ctrain.MLP_PRODUCTS)],
    ),
)

# %% mystnb={"figure": {"caption": "The attention's products with the features over training (log axis; median over seeds, range shaded): with the task concepts' word and label features, with the irrelevant (complement) concepts' features and with noise directions. Look at the task products growing by orders of magnitude while the complement and noise products stay at their initial 0.25.", "name": "fig-mc-products"}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(plotting.WIDTH, 4))
for c, name in enumerate(ctrain.ATTN_PRODUCTS):
    vals = np.clip(
        attn_prod[:, :, c], 1e-3, None
    )  # the label-with-word product starts at 0
    plotting.mean_band(
        ax, it, vals, label=name, center="median", linestyle="-" if c < 2 else "--"
    )
ax.axhline(
    base.attn_init**2,
    color=plotting.THEORY_COLOR,
    ls=":",
    lw=1,
    label="initial scale $0.5^2$",
)
ax.set(
    yscale="log",
    xlabel="iteration $t$",
    ylabel="largest |product| with $W_K^\\top W_Q$",
)
fig.tight_layout()
plotting.legend_below(ax, ncol=2)
plt.show()

# %% [markdown]
# In the main runs the label-with-word product is the one that grows most: the query's
# word semantic is matched against the demonstrations' *labels*. That works because in
# training a word's label is its semantic, and it is what the switched-semantics test
# below undoes.
#
# ### The MLP
#
# Each neuron $w_r$ reads the attention's output. We plot, over neurons and task
# concepts, the largest $\mathrm{sign}(a_r)\langle w_r, [0;e_k]\rangle$ (the label
# semantic, with the sign the neuron's read-out gives it) and
# $\mathrm{sign}(a_r)\langle w_r,[b_k;0]\rangle$ (the word semantic); the largest
# $|\langle w_r, v\rangle|$ over the irrelevant concepts' semantic directions and over
# the noise directions; and the mean norm $\|w_r\|$.

# %% mystnb={"figure": {"caption": "The MLP over training (log axis; median over seeds, range shaded): its neurons' largest products with the task concepts' label and word semantics (signed by the neuron's read-out), with the irrelevant concepts' semantics and with noise directions, and the mean neuron norm. Look at the task products and the norm growing together while the others stay near their initial scale.", "name": "fig-mc-mlp"}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(plotting.WIDTH, 4))
for c, name in enumerate(ctrain.MLP_PRODUCTS):
    vals = np.clip(mlp_prod[:, :, c], 1e-3, None)
    plotting.mean_band(
        ax, it, vals, label=name, center="median", linestyle="-" if c < 2 else "--"
    )
plotting.mean_band(
    ax, it, norms, label="mean neuron norm", center="median", color="0.3", linestyle=":"
)
ax.set(yscale="log", xlabel="iteration $t$", ylabel="MLP products and norm")
fig.tight_layout()
plotting.legend_below(ax, ncol=2)
plt.show()

# %% [markdown]
# ## Out of distribution
#
# We test the trained models, at every recorded iteration, on prompts unlike the
# training ones: shorter ($L=8$) and longer ($L=64$) prompts, a skewed task
# distribution (concept 0 asked with probability 0.7), and switched semantics (a word
# of semantic $s$ is labelled $-s$, in the demonstrations and the query alike). The
# models trained with half their prompts switched are tested on switched prompts too.
# Beside it, the final error against the test length.

# %%
skewed = (prof.skew,) + ((1 - prof.skew) / (base.K - 1),) * (base.K - 1)
scenarios = {
    "in distribution": ConceptTest(L=base.L, n_eval=base.n_eval),
    f"shorter, L = {prof.L_short}": ConceptTest(L=prof.L_short, n_eval=base.n_eval),
    f"longer, L = {prof.L_long}": ConceptTest(L=prof.L_long, n_eval=base.n_eval),
    f"skewed, P(k* = 0) = {prof.skew}": ConceptTest(
        task_probs=skewed, n_eval=base.n_eval
    ),
    "switched semantics": ConceptTest(switched=True, n_eval=base.n_eval),
}
ood = X.evaluate_concepts(main, list(scenarios.values()), snapshots=True)
ood_err = ood["err"]  # (seeds, scenarios, R)
mixed_ev = X.evaluate_concepts(
    mixed,
    [scenarios["in distribution"], scenarios["switched semantics"]],
    snapshots=True,
)
len_tests = [ConceptTest(L=v, n_eval=base.n_eval) for v in prof.lengths]
by_len = X.evaluate_concepts(main, len_tests).array("err", "seed", "L")
final = {name: np.median(ood_err[:, j, -1]) for j, name in enumerate(scenarios)}
mixed_final = np.median(mixed_ev["err"][:, :, -1], 0)
for name, v in final.items():
    print(f"{name}: final error {v:.4f} (median)")
print(
    f"trained with {prof.switch_rate:.0%} switched prompts: in distribution {mixed_final[0]:.4f}, "
    f"switched {mixed_final[1]:.4f}"
)
_ = export.save_table("ood-length", by_len.to_dataframe("err").reset_index())

# %% mystnb={"figure": {"caption": "Out of distribution. Left: test 0-1 error against iterations for each test scenario (median over seeds), and (dotted) the runs trained with half their prompts switched, tested on switched prompts. Right: the final error against the number of demonstrations in the test prompt (median over seeds, range shaded), the training length marked. Look at every scenario following the in-distribution curve except switched semantics for the main runs.", "name": "fig-mc-ood"}} tags=["hide-input", "full-width"]
fig, axes = plt.subplots(1, 2, figsize=(plotting.WIDE, 4))
for j, name in enumerate(scenarios):
    axes[0].plot(
        it, np.median(ood_err[:, j], 0) + floor / 5, label=name, lw=2 if j == 0 else 1.5
    )
axes[0].plot(
    it,
    np.median(mixed_ev["err"][:, 1], 0) + floor / 5,
    ls=":",
    color="0.2",
    lw=2,
    label="switched, trained mixed",
)
axes[0].set(
    yscale="log",
    xlabel="iteration $t$",
    ylabel="test 0-1 error (+ floor/5)",
    title="scenarios",
)
vals = by_len.values
plotting.mean_band(
    axes[1], list(prof.lengths), vals + floor / 5, center="median", label="main runs"
)
axes[1].axvline(
    base.L, color=plotting.THEORY_COLOR, ls=":", lw=1, label=f"training L = {base.L}"
)
axes[1].set(
    xscale="log",
    yscale="log",
    xlabel="demonstrations in the test prompt",
    ylabel="final error (+ floor/5)",
    title="test length",
)
plotting.plain_log_ticks(axes[1], list(prof.lengths))
fig.tight_layout()
plotting.legend_below(axes[0], ncol=2)
plotting.legend_below(axes[1])
plt.show()

# %% [markdown]
# Errors are drawn with a fifth of the test set's resolution added, so that a curve at
# zero stays on the log axis.
#
# The switched test separates two ways of solving the training task. The main runs'
# attention matches the query's word semantic with the demonstrations' labels (the
# product that grew most above), and their MLP reads the word semantic as well: both
# hold only while the label *is* the semantic, so on switched prompts the model answers
# the training map and is wrong on most prompts. When half the training prompts are
# switched, the map must be read from the demonstrations, and the model then follows
# them on switched prompts.
#
# ## Innovation: new combinations, and a concept never seen as a task
#
# An unseen task whose relevant feature combines two learned concepts: every word
# carries $c\,(\mu_0^{s}+\mu_1^{s})/1$ with coefficients $c_0=c_1=S/2$, and the
# demonstrations' labels carry $c_0q_0+c_1q_1$; $S$ is the coefficient sum, swept as
# $S_1$ is in chapter 2. And the runs that never saw concept 3 as a task, tested on it.

# %%
comb_tests = [
    ConceptTest(combine=(s / 2, s / 2), n_eval=base.n_eval) for s in prof.combine_sums
]
comb = X.evaluate_concepts(main, comb_tests)["err"]  # (seeds, sums)
held_ev = X.evaluate_concepts(
    held, [ConceptTest(held_out=True, n_eval=base.n_eval), scenarios["in distribution"]]
)
held_err = np.median(held_ev["err"], 0)
comb_med = np.median(comb, 0)
print(
    "combined concepts 0 and 1, final error by coefficient sum S (median): "
    + ", ".join(f"{s}: {e:.3f}" for s, e in zip(prof.combine_sums, comb_med))
)
print(
    f"held-out concept {prof.held_out}: error {held_err[0]:.3f}; the same runs on their training concepts {held_err[1]:.4f}"
)
_ = export.save_table(
    "innovation",
    export.long_table({"err": comb.T}, S=list(prof.combine_sums), seed=list(seeds)),
)

# %% mystnb={"figure": {"caption": "Innovation: the final test error on an unseen task whose feature combines concepts 0 and 1 with coefficient sum S (median over seeds, range shaded), the in-distribution error (dashed), and the error on a concept held out of training (the runs that never saw it as a task). Look at the combined task reaching the in-distribution error from S of about 1 on, and at the held-out concept staying near chance.", "name": "fig-mc-innovation"}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(plotting.WIDTH, 4))
plotting.mean_band(
    ax,
    list(prof.combine_sums),
    comb + floor / 5,
    center="median",
    label="combined concepts 0 + 1",
)
ax.axhline(
    final["in distribution"] + floor / 5,
    color="tab:green",
    ls="--",
    label="in distribution",
)
ax.axhline(
    held_err[0] + floor / 5,
    color="tab:red",
    ls="-.",
    label=f"held-out concept {prof.held_out}",
)
ax.axvline(1.0, color=plotting.THEORY_COLOR, ls=":", lw=1, label="S = 1")
ax.set(yscale="log", xlabel="coefficient sum S", ylabel="final error (+ floor/5)")
fig.tight_layout()
plotting.legend_below(ax, ncol=2)
plt.show()

# %% [markdown]
# ## Where the guarantee stops: noise
#
# The paper's guarantee assumes low noise. We train and test at larger noise levels
# (the same seeds) until in-context learning breaks.

# %%
noise_err = by_noise.array("test_err", "noise_std", "seed")
noise_med = noise_err.median("seed").values
for v, e in zip(prof.noise_levels, noise_med):
    # above 0.05 a run has not learned and its last digits are chaotic across CPUs: printed as such
    print(f"noise std {v}: final error {stats.fmt_error(e, above=0.05)} (median)")
_ = export.save_table("noise", noise_err.to_dataframe("err").reset_index())

# %% mystnb={"figure": {"caption": "Where the guarantee stops: the final test error against the noise's standard deviation (training and test; median over seeds, range shaded), with the semantic component of a feature, beta / sqrt(1 + beta^2), marked. Look at the error leaving zero as the noise approaches the size of the semantic signal.", "name": "fig-mc-noise"}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(plotting.WIDTH, 4))
plotting.mean_band(
    ax,
    list(prof.noise_levels),
    noise_err.values.T + floor / 5,
    center="median",
    label="final test error",
)
sem = base.beta / np.sqrt(1 + base.beta**2)
ax.axvline(sem, color=plotting.THEORY_COLOR, ls=":", lw=1, label="semantic component")
ax.set(
    xscale="log",
    yscale="log",
    xlabel="noise std $\\sigma$",
    ylabel="final error (+ floor/5)",
)
plotting.plain_log_ticks(ax, list(prof.noise_levels))
fig.tight_layout()
plotting.legend_below(ax, ncol=2)
plt.show()

# %% [markdown]
# ## Claims
#
# The bars: the exponential claim requires the fitted rate's interval to exclude 0 and
# the exponential to fit better than a power law on the same points; the Bayes-error
# claim allows $\epsilon=0.01$ plus two binomial standard errors of the flip rate on the
# test prompts; attention concentrates when at least 0.8 of it is on the correct
# demonstrations; a product *grows* when it ends at least 10 times its initial value
# and *stays* when it ends within 10 times it; an OOD scenario holds when its median
# final error is within 0.02 of the in-distribution one.

# %%
claims = Claims()
claims.check(
    "0-1 convergence",
    "the test 0-1 error falls exponentially: the fitted rate's 90 % interval excludes 0",
    f"rate {rate:.4f} per step (CI {rate_lo:.4f} to {rate_hi:.4f}) over t = {it[start]}..{it[stop - 1]}",
    rate_lo > 0,
    figure="fig-mc-dynamics",
)
claims.check(
    "0-1 convergence",
    "over the fitted range the exponential fits the error better than a power law (residuals in log error)",
    f"exponential {fit.rss_exponential:.1f} vs power law {fit.rss_power:.1f}",
    fit.exponential_better,
    required=False,
    figure="fig-mc-dynamics",
    why="the error drops fast from chance and then more slowly, with the fluctuations of SGD at a constant "
    "learning rate, so the fall is concave on a log axis; a power law fits the fitted range about as well or "
    "better, pooled over seeds and seed by seed",
)
bayes_tol = prof.eps + 2 * np.sqrt(
    prof.label_noise * (1 - prof.label_noise) / base.n_eval
)
final_noisy = np.median(noisy.array("test_err", "seed"))
final_main = np.median(curves["test_err"][:, -1])
claims.check(
    "Bayes error",
    f"without label noise the final test error is at most eps = {prof.eps} (Bayes error 0; median)",
    f"{final_main:.4f}",
    final_main <= prof.eps,
    figure="fig-mc-dynamics",
)
claims.check(
    "Bayes error",
    f"with label noise {prof.label_noise} the final test error is within {bayes_tol:.3f} of the flip rate (median)",
    f"{final_noisy:.4f}",
    abs(final_noisy - prof.label_noise) <= bayes_tol,
)
claims.check(
    "attention",
    "the attention on the correct demonstrations rises to at least 0.8, on test and on training prompts (medians)",
    f"test {a0:.3f} -> {a1:.3f}, training {t0:.3f} -> {t1:.3f}",
    a1 >= 0.8 and t1 >= 0.8 and a1 > a0 and t1 > t0,
    figure="fig-mc-attention",
)
for name, g, fig_name in (
    ("attention", g_attn, "fig-mc-products"),
    ("MLP", g_mlp, "fig-mc-mlp"),
):
    claims.check(
        "features",
        f"{name}: the task-concept products grow {prof.growth:g}-fold while the complement and noise "
        f"products stay within {prof.growth:g}-fold of their start (every seed)",
        ", ".join(
            f"{k} x{np.min(v) if k == 'task' else np.max(v):.2f}" for k, v in g.items()
        )
        + " (task: smallest seed; others: largest)",
        (g["task"] >= prof.growth).all()
        and (g["complement"] <= prof.growth).all()
        and (g["noise"] <= prof.growth).all(),
        figure=fig_name,
    )
ref = final["in distribution"]
for name in list(scenarios)[1:4]:
    claims.check(
        "OOD",
        f"{name}: final error within {prof.ood_tolerance} of in distribution (medians)",
        f"{final[name]:.4f} vs {ref:.4f}",
        final[name] <= ref + prof.ood_tolerance,
        figure="fig-mc-ood",
    )
switched = final["switched semantics"]
claims.check(
    "OOD",
    f"switched semantics: final error within {prof.ood_tolerance} of in distribution (medians), "
    "for the main runs",
    f"{switched:.4f} vs {ref:.4f}",
    switched <= ref + prof.ood_tolerance,
    required=False,
    figure="fig-mc-ood",
    why="trained with one fixed map from semantic to label, the model learns the map (its attention matches "
    "the query's word with the demonstrations' labels, its MLP reads the word semantic) instead of reading it "
    "from the demonstrations",
)
claims.check(
    "OOD",
    f"trained with {prof.switch_rate:.0%} of its prompts switched, the model's switched-semantics error is "
    f"within {prof.ood_tolerance} of its in-distribution error (medians)",
    f"{mixed_final[1]:.4f} vs {mixed_final[0]:.4f}",
    mixed_final[1] <= mixed_final[0] + prof.ood_tolerance,
    figure="fig-mc-ood",
)
big = [e for s, e in zip(prof.combine_sums, comb_med) if s >= 1]
claims.check(
    "innovation",
    f"an unseen task combining concepts 0 and 1 with coefficient sum S >= 1 is within {prof.ood_tolerance} of "
    "in distribution (medians)",
    ", ".join(
        f"S = {s}: {e:.4f}" for s, e in zip(prof.combine_sums, comb_med) if s >= 1
    ),
    bool(big) and max(big) <= ref + prof.ood_tolerance,
    figure="fig-mc-innovation",
)
small = [e for s, e in zip(prof.combine_sums, comb_med) if s < 1]
claims.check(
    "innovation",
    f"with S < 1 the combined task is also within {prof.ood_tolerance} of in distribution (medians)",
    ", ".join(
        f"S = {s}: {e:.4f}" for s, e in zip(prof.combine_sums, comb_med) if s < 1
    ),
    bool(small) and max(small) <= ref + prof.ood_tolerance,
    required=False,
    figure="fig-mc-innovation",
    why="a combination with a small coefficient sum has a weak semantic signal, and the attention "
    "learned for sums of 1 does not concentrate on it",
)
claims.check(
    "innovation",
    f"a concept never asked as a task in training (concept {prof.held_out}) is learned in context "
    f"(error within {prof.ood_tolerance} of the same runs' training concepts)",
    f"{held_err[0]:.3f} vs {held_err[1]:.4f}",
    held_err[0] <= held_err[1] + prof.ood_tolerance,
    required=False,
    figure="fig-mc-innovation",
    why="the weights' products with a concept grow only when that concept decides labels in training; "
    "the held-out concept's stay at their initial scale, so nothing reads it",
)
claims.check(
    "low noise",
    f"ICL breaks at large noise: the final error at noise std {prof.noise_levels[-1]} exceeds 0.1 (median)",
    ", ".join(
        f"{v}: {stats.fmt_error(e, above=0.05)}"
        for v, e in zip(prof.noise_levels, noise_med)
    ),
    noise_med[-1] > 0.1,
    required=False,
    figure="fig-mc-noise",
)
claims.report()

# %% [markdown]
# (against-source-06_multi_concept)=
# ## Against the source
#
# One row per claim of the abstract and per caption of the paper's simulation figures
# (the only parts of the paper the book could read), what we measure, and whether the
# two agree: a row agrees exactly when the claims above that state it hold.

# %% tags=["hide-input"]
claims.against_source(
    "abstract: 0-1 loss",
    "the 0-1 loss converges exponentially fast, to the Bayes-optimal test error",
    f"rate {rate:.4f} per step (CI {rate_lo:.4f} to {rate_hi:.4f}); final error {final_main:.4f}, "
    f"{final_noisy:.4f} with label noise {prof.label_noise}",
    claims.find("0-1 convergence") + claims.find("Bayes error"),
    figure="fig-mc-dynamics",
)
claims.against_source(
    "Fig. (1): losses",
    "train and test loss fall over training",
    f"test loss {np.median(curves['test_loss'][:, 0]):.3f} -> {np.median(curves['test_loss'][:, -1]):.3f}",
    claims.find("Bayes error", "without label noise"),
    figure="fig-mc-dynamics",
)
claims.against_source(
    "Fig. (1): attention",
    "the attention weight on the correct demonstrations grows, on training and on test prompts",
    f"test {a0:.3f} -> {a1:.3f}, training {t0:.3f} -> {t1:.3f}",
    claims.find("attention"),
    figure="fig-mc-attention",
)
claims.against_source(
    "Fig. (1): products",
    "the largest products with the task concept's features grow; with complement concepts and noise they do not",
    "attention task x"
    + f"{np.median(g_attn['task']):.0f}, complement x{np.median(g_attn['complement']):.2f}, "
    f"noise x{np.median(g_attn['noise']):.2f} (medians)",
    claims.find("features", "attention"),
    figure="fig-mc-products",
)
claims.against_source(
    "Fig. (1): MLP",
    "the MLP weights over training",
    f"task x{np.median(g_mlp['task']):.0f}, complement x{np.median(g_mlp['complement']):.2f}, "
    f"noise x{np.median(g_mlp['noise']):.2f} (medians)",
    claims.find("features", "MLP"),
    figure="fig-mc-mlp",
)
claims.against_source(
    "Fig. (2): lengths, skew",
    "the same dynamics under shorter and longer test prompts and a skewed concept distribution",
    ", ".join(f"{n}: {final[n]:.4f}" for n in list(scenarios)[1:4]),
    claims.find("OOD", "shorter")
    + claims.find("OOD", "longer")
    + claims.find("OOD", "skewed"),
    figure="fig-mc-ood",
)
claims.against_source(
    "Fig. (2): switched",
    "the same dynamics under switched semantic features",
    f"main runs {switched:.4f}; trained with switched prompts {mixed_final[1]:.4f}",
    claims.find("OOD", "switched semantics: final")
    + claims.find("OOD", "switched, the model"),
    figure="fig-mc-ood",
)
claims.against_source(
    "abstract: innovation",
    "unseen tasks whose words combine concepts in new ways are learned in context",
    ", ".join(f"S = {s}: {e:.3f}" for s, e in zip(prof.combine_sums, comb_med)),
    claims.find("innovation", "S >= 1"),
    figure="fig-mc-innovation",
)
_ = claims.source_table()

# %% [markdown]
# ## Threats to validity
#
# - **A reconstruction.** The data model, the model and every constant are ours, built
#   from the abstract and the figure captions. A claim that holds here holds for this
#   model; the paper's own model may differ in ways that matter (the form of the label
#   features, whether the attention reads the labels, the read-out).
# - **Switched semantics.** What "switched" means is our reading of a caption. Our main
#   runs fail it for a reason we identify (the fixed training map), and pass it when
#   the map varies in training; the paper's training distribution may be of the second
#   kind.
# - **Exponential against power law.** The error is measured on a finite test set, so
#   the fitted range ends at 5 wrong prompts and holds a few dozen records; the
#   comparison is of two fits on the same points, not a proof of the rate. The paper's
#   rate is a statement about its own training (its learning rate, batch and scales are
#   unknown to us); with a constant learning rate the tail of our curves is shaped by
#   SGD's fluctuations, which a decaying rate or a larger batch might remove. We did not
#   test that.
# - **One size.** $K=4$ task concepts and $d=32$; a larger dictionary and more neurons
#   were not swept.

# %% [markdown]
# ## What we chose, and why
#
# - **Dictionary**: standard basis directions of $\mathbb R^{32}$ (the noise is isotropic
#   and the initialization rotation-invariant, so the basis does not matter), $K=4$ task
#   and $K_{irr}=4$ irrelevant concepts, $\beta=0.6$ (within-concept cosine 0.47). Label
#   features live in a label block of their own, so a token is $[x;y]\in\mathbb R^{64}$,
#   as in Eq. 6 of {cite:t}`li2024nonlinear`.
# - **Words**: the task concept plus $n_{other}=2$ other concepts (task or irrelevant),
#   each with coefficient 1 and a random semantic, and noise $\sigma=0.05$, a tenth of
#   the semantic component $\beta/\sqrt{1+\beta^2}=0.51$ (low noise).
# - **The model**: keys and queries read the whole token, as in Eq. 7; no value matrix
#   (it would only multiply $W_O$); $m=32$ neurons with a fixed read-out $\pm1/m$, as in
#   Eq. 7, so that the products with the features are those of $W_Q, W_K, W_O$ alone.
# - **Initialization**: $W_Q=W_K=0.5\,I$ (a "good initialization": scores already favour
#   words that share a concept), $W_O\sim\mathcal N(0,0.01^2)$.
# - **Training**: SGD, learning rate 5 (the read-out's $1/m$ makes the output small),
#   batch 32 of fresh prompts, $L=16$ demonstrations, $T=800$ steps (1200 at the paper
#   profile). The theory's step is small; we first used 10, and at 10 one seed of ten
#   (seed 4) left its error floor at $t\approx760$ (test error up to 0.05, the complement
#   product up 15-fold) and came back by $t=1200$: a step-size spike, outside the regime
#   the theory describes. At 5, no seed of ten spiked in 3200 steps, so the chapter uses 5
#   at both profiles.
# - **Switched semantics** are the label map $s\mapsto -s$ in a whole prompt; the
#   deciding runs switch half of their training prompts.
# - **Innovation**: concepts 0 and 1 combined with equal coefficients, in the words and in
#   the demonstrations' labels; the held-out concept (3) still appears in words as an
#   "other" concept, but never decides a label in training.
