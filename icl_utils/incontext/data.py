"""Prompt generators for Part I (binary classification, Eq. 6 of [LWLCC24]).

A prompt (Eq. 6) is stored in two forms:

* as *indices* (:class:`PromptIndices`): for every column the relevant pattern, the irrelevant
  pattern and the label; cheap to draw, and what the probes need to know which context columns
  share the query's pattern;
* as *embeddings* (:func:`embed`): the (l + 1) columns p_i = [x_i; y_i] stacked as rows of a
  tensor of shape (..., l + 1, d_X + d_Y), query last with y = 0.

In-domain and out-of-domain data share both forms: an out-of-domain :class:`World` simply has
other pattern tables (ODR patterns built from IDR patterns with coefficient sum S1, ODI patterns
in the IDI span), see :func:`make_ood_world`.  Chapter 1 explains the in-domain data, chapter 2
the out-of-domain data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..core.checks import (
    check_choice,
    check_float,
    check_generator,
    check_instance,
    check_int,
    check_memory,
    check_tensor,
    largest,
)
from ..core.tensors import Tensors

#: How :func:`split_tasks` picks the training tasks.
TASK_SPLITS = ("cyclic", "random")

__all__ = [
    "World",
    "make_world",
    "make_ood_world",
    "all_tasks",
    "split_tasks",
    "covers_patterns",
    "TASK_SPLITS",
    "PromptIndices",
    "sample_prompt_indices",
    "embed",
    "guess_floor",
]


@dataclass(frozen=True)
class World(Tensors):
    """The pattern tables of one data model (the data model of [LWLCC24]).

    ``mu`` (M1, d_X): relevant patterns as rows (IDR in-domain, ODR out of
    domain); ``nu`` (M2, d_X): irrelevant patterns (IDI / ODI); ``q`` (d_Y,):
    the unit label embedding; ``kappa``: the weight of the irrelevant pattern.

    The worlds of an ensemble's members are one stacked World, ``World.stack(worlds)``:
    ``mu`` (E, M1, d_X), ``nu`` (E, M2, d_X), ``q`` (E, d_Y), ``kappa`` (E,); it is what
    :func:`embed` and :func:`icl_utils.incontext.model.forward_indexed` take.  The
    properties below describe a single world.
    """

    mu: torch.Tensor
    nu: torch.Tensor
    q: torch.Tensor
    kappa: float

    @property
    def M1(self) -> int:
        return self.mu.shape[0]

    @property
    def M2(self) -> int:
        return self.nu.shape[0]

    @property
    def d_X(self) -> int:
        return self.mu.shape[1]

    @property
    def d_Y(self) -> int:
        return self.q.shape[0]

    @property
    def mu_bar(self) -> torch.Tensor:
        """The average relevant pattern (Proposition 2's target direction)."""
        return self.mu.mean(0)


def make_world(M1: int, M2: int, d_X: int, d_Y: int, kappa: float, generator: torch.Generator) -> World:
    """Random orthonormal IDR patterns mu_1..mu_M1 and IDI patterns nu_1..nu_M2.

    All M1 + M2 patterns are rows of one random orthogonal matrix (QR of a
    Gaussian matrix), so IDR patterns are orthonormal, IDI patterns are
    orthonormal, and every IDR pattern is orthogonal to every IDI pattern.
    The d_X - M1 - M2 remaining directions carry only optional noise.  The
    label embedding q is a uniformly random unit vector of R^d_Y.
    """
    check_int("M1", M1, 2, allowed="integers >= 2")
    check_int("M2", M2, 1, allowed="integers >= 1")
    check_int("d_X", d_X, M1 + M2, allowed=f"integers >= M1 + M2 = {M1 + M2}")
    check_int("d_Y", d_Y, 1, allowed="integers >= 1")
    check_float("kappa", kappa, 0.0, 1.0, hi_open=True)
    check_generator("generator", generator)
    check_memory([("d_X", d_X, 3 * 8 * d_X * d_X), ("d_Y", d_Y, 3 * 8 * d_Y)], "the patterns")
    g = torch.randn(d_X, d_X, generator=generator, dtype=torch.float64)
    Q, R = torch.linalg.qr(g)
    Q = Q * torch.sign(torch.diagonal(R))
    basis = Q.T  # rows orthonormal
    q = torch.randn(d_Y, generator=generator, dtype=torch.float64)
    q = q / q.norm()
    return World(
        mu=basis[:M1].to(torch.get_default_dtype()).contiguous(),
        nu=basis[M1 : M1 + M2].to(torch.get_default_dtype()).contiguous(),
        q=q.to(torch.get_default_dtype()),
        kappa=float(kappa),
    )


def make_ood_world(
    world: World,
    S1: float,
    group_size: int = 2,
    M2_ood: int | None = None,
    kappa_ood: float | None = None,
    generator: torch.Generator | None = None,
) -> World:
    """Out-of-domain patterns (Theorem 2 of [LWLCC24]).

    ODR pattern j is ``mu'_j = sum_i c_ji mu_i`` with ``c_ji = S1 / group_size``
    on its own group of ``group_size`` IDR patterns (groups are disjoint, so
    distinct ODR patterns stay distinguishable by attention and are
    orthogonal) and 0 elsewhere: every row of coefficients sums to ``S1``.
    There are ``M1 // group_size`` ODR patterns.

    ODI patterns are ``M2_ood`` (default M2) orthonormal vectors in the span
    of the IDI patterns: a random rotation of that span.  ``kappa_ood``
    defaults to the in-domain kappa.
    """
    check_instance("world", world, World)
    S1 = check_float("S1", S1, 0.0, lo_open=True, allowed="finite numbers > 0")
    check_generator("generator", generator)
    check_int("group_size", group_size, 1, world.M1 // 2, allowed=f"integers in [1, M1 // 2 = {world.M1 // 2}]")
    M1_ood = world.M1 // group_size
    M2_ood = world.M2 if M2_ood is None else M2_ood
    check_int("M2_ood", M2_ood, 1, world.M2, allowed=f"integers in [1, M2 = {world.M2}]")
    kappa_ood = world.kappa if kappa_ood is None else check_float("kappa_ood", kappa_ood, 0.0, 1.0, hi_open=True)
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    C = torch.zeros(M1_ood, world.M1)
    for j in range(M1_ood):
        C[j, j * group_size : (j + 1) * group_size] = S1 / group_size
    g = torch.randn(world.M2, world.M2, generator=generator, dtype=torch.float64)
    Qr, R = torch.linalg.qr(g)
    Qr = (Qr * torch.sign(torch.diagonal(R))).to(torch.get_default_dtype())
    return World(mu=C @ world.mu, nu=Qr[:M2_ood] @ world.nu, q=world.q.clone(), kappa=float(kappa_ood))


def all_tasks(M1: int) -> torch.Tensor:
    """All M1 (M1 - 1) tasks (a, b), a != b, as a (|T|, 2) long tensor."""
    check_int("M1", M1, 2, allowed="integers >= 2")
    check_memory([("M1", M1, 200 * M1 * M1)], "the list of tasks")
    return torch.tensor([(a, b) for a in range(M1) for b in range(M1) if a != b], dtype=torch.long)


def split_tasks(
    M1: int, task_fraction: float, generator: torch.Generator, split: str = "cyclic"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Training tasks T_tr and unseen tasks (Theorem 1, condition 1).

    ``split="cyclic"`` (Theorem 1's condition): T_tr covers every IDR pattern and
    both labels uniformly: each pattern is the "+1" pattern a of the same number r
    of training tasks and the "-1" pattern b of r training tasks.  We take r random
    shifts s of {1, ..., M1 - 1} and the tasks (i, i + s mod M1) for every i, so
    |T_tr| = r M1 and |T_tr| / |T| = r / (M1 - 1).  r is the smallest integer with
    r / (M1 - 1) >= ``task_fraction``.

    ``split="random"`` (no cover promised): the smallest number n of tasks with
    n / |T| >= ``task_fraction``, drawn uniformly without replacement; below
    |T_tr| / |T| = 1 / (M1 - 1) no such set can cover every pattern as both labels.

    Returns ``(train_tasks, unseen_tasks)``; the second is empty when every task trains.
    """
    check_int("M1", M1, 2, allowed="integers >= 2")
    check_float("task_fraction", task_fraction, 0.0, 1.0, lo_open=True)
    check_generator("generator", generator)
    check_choice("split", split, TASK_SPLITS)
    check_memory([("M1", M1, 200 * M1 * M1)], "the list of tasks")
    everything = [tuple(t) for t in all_tasks(M1).tolist()]
    if split == "cyclic":
        r = max(1, math.ceil(task_fraction * (M1 - 1) - 1e-9))
        shifts = (torch.randperm(M1 - 1, generator=generator)[:r] + 1).tolist()
        train = {(i, (i + s) % M1) for s in shifts for i in range(M1)}
    else:
        n = max(1, math.ceil(task_fraction * len(everything) - 1e-9))
        train = {everything[i] for i in torch.randperm(len(everything), generator=generator)[:n].tolist()}
    tr = torch.tensor(sorted(train), dtype=torch.long)
    rest = [t for t in everything if t not in train]
    unseen = torch.tensor(rest, dtype=torch.long).reshape(-1, 2)
    return tr, unseen


def covers_patterns(train_tasks: torch.Tensor, M1: int) -> bool:
    """Whether the tasks ``train_tasks`` (n, 2) hold every IDR pattern 0..M1-1 both as a
    "+1" pattern (first column) and as a "-1" pattern (second column)."""
    check_tensor("train_tasks", train_tasks, ndim=2)
    check_int("M1", M1, 2, allowed="integers >= 2")
    return all(set(train_tasks[:, k].tolist()) >= set(range(M1)) for k in (0, 1))


@dataclass
class PromptIndices(Tensors):
    """A batch of prompts as indices, columns last-is-query.

    ``pattern`` (n, l + 1): index of each column's relevant pattern;
    ``irrelevant`` (n, l + 1): index of its irrelevant pattern; ``label``
    (n, l + 1) float +-1: the context labels and, in the last column, the
    query's label z (which is *not* embedded: the query's y is 0).
    """

    pattern: torch.Tensor
    irrelevant: torch.Tensor
    label: torch.Tensor

    @property
    def z(self) -> torch.Tensor:
        return self.label[..., -1]


_ORDER_CACHE: dict = {}


def _task_order(tasks: torch.Tensor, M1: int) -> torch.Tensor:
    """(n_tasks, M1) table: task t's patterns a, b, then the other M1 - 2 in increasing order."""
    key = (tasks.data_ptr(), tuple(tasks.shape), M1)
    hit = _ORDER_CACHE.get(key)
    if hit is not None and torch.equal(hit[0], tasks):
        return hit[1]
    if (
        tasks.dtype != torch.long
        or int(tasks.min()) < 0
        or int(tasks.max()) >= M1
        or bool((tasks[:, 0] == tasks[:, 1]).any())
    ):
        raise ValueError(
            f"parameter 'tasks' is invalid: allowed int64 pairs (a, b) of distinct patterns in [0, M1 = {M1}), "
            f"got {tasks.tolist()[:8]}{' ...' if tasks.shape[0] > 8 else ''}"
        )
    a, b = tasks[:, :1], tasks[:, 1:]
    rest = torch.arange(M1).expand(tasks.shape[0], M1)
    rest = rest[(rest != a) & (rest != b)].view(tasks.shape[0], M1 - 2)
    order = torch.cat([a, b, rest], 1)
    if len(_ORDER_CACHE) > 256:
        _ORDER_CACHE.clear()
    _ORDER_CACHE[key] = (tasks.clone(), order)
    return order


def sample_prompt_indices(
    tasks: torch.Tensor,
    alpha: float,
    l: int,
    n: int,
    M1: int,
    M2: int,
    generator: torch.Generator,
    out: PromptIndices | None = None,
) -> PromptIndices:
    """Draw ``n`` prompts of ``l`` context examples (Eq. 6 of [LWLCC24]).

    Each prompt draws a task (a, b) uniformly from ``tasks``.  Each context
    example has pattern a with probability alpha/2 (label +1), b with
    probability alpha/2 (label -1), otherwise a uniformly drawn other pattern
    with a fair random label.  The query has pattern a or b (1/2 each) and
    label z = f(x_query).  Irrelevant patterns are uniform over the M2.
    ``out``: contiguous (n, l + 1) tensors (int64, int64, float32) to write the
    prompts into (the ensemble trainer passes one member's slice of its chunk).
    """
    check_float("alpha", alpha, 0.0, 1.0, lo_open=True)
    check_int("l", l, 1, allowed="integers >= 1")
    check_int("n", n, 1, allowed="integers >= 1")
    M1 = check_int("M1", M1, 2, allowed="integers >= 2")
    M2 = check_int("M2", M2, 1, allowed="integers >= 1")
    if not isinstance(tasks, torch.Tensor) or tasks.ndim != 2 or tasks.shape[1] != 2 or tasks.shape[0] == 0:
        shape = tuple(tasks.shape) if isinstance(tasks, torch.Tensor) else type(tasks).__name__
        raise ValueError(f"parameter 'tasks' has shape {shape}: allowed a non-empty (n_tasks, 2) tensor")
    if M1 == 2 and alpha < 1:
        raise ValueError(f"parameter 'alpha' = {alpha} is invalid: allowed 1.0 when M1 = 2")
    check_generator("generator", generator)
    g = generator
    if out is None:
        check_memory([largest(3 * 8 * n * (l + 1), n=n, l=l), ("M1", M1, 3 * 8 * tasks.shape[0] * M1)], "the prompts")
        out = PromptIndices(
            pattern=torch.empty(n, l + 1, dtype=torch.long),
            irrelevant=torch.empty(n, l + 1, dtype=torch.long),
            label=torch.empty(n, l + 1),
        )
    order = _task_order(tasks, M1)  # order[t] = (a, b, the other M1 - 2 patterns)
    t = torch.randint(tasks.shape[0], (n,), generator=g)
    u = torch.rand(n, l, generator=g)
    if M1 > 2:
        # One draw gives both the other pattern (r >> 1) and its fair random label (r & 1).
        r = torch.randint(2 * (M1 - 2), (n, l), generator=g)
        cat = torch.where(u < alpha, (u >= alpha / 2).long(), 2 + (r >> 1))  # 0: a, 1: b, 2..: others
        coin = (r & 1).to(torch.get_default_dtype()) * 2 - 1
    else:  # alpha == 1: every example carries a or b
        cat = (u >= alpha / 2).long()
        coin = torch.zeros(n, l)
    rows = order[t]
    torch.gather(rows, 1, cat, out=out.pattern[:, :l])
    torch.where(cat < 2, 1.0 - 2.0 * cat, coin, out=out.label[:, :l])
    which = torch.randint(2, (n, 1), generator=g)  # 1: the query has pattern a (label +1)
    torch.gather(rows, 1, 1 - which, out=out.pattern[:, l:])
    torch.mul(which, 2, out=out.label[:, l:]).sub_(1)
    torch.randint(M2, (n, l + 1), generator=g, out=out.irrelevant)
    return out


def embed(world: World, idx: PromptIndices, noise: torch.Tensor | None = None) -> torch.Tensor:
    """Columns p_i = [x_i; y_i] of Eq. 6, stacked as rows: shape (E, n, l + 1, d_X + d_Y).

    ``world`` is a stacked World (one per ensemble member, see :class:`World`); ``idx``
    has index tensors of shape (E, n, l + 1).  x_i = mu[pattern_i] + kappa nu[irrelevant_i]
    (+ noise), y_i = label_i q, and the query's y is 0.
    """
    check_instance("world", world, World)
    check_instance("idx", idx, PromptIndices)
    mu, nu, q, kappa = world.mu, world.nu, world.q, world.kappa
    check_tensor("world.mu", mu)
    if mu.ndim != 3:
        raise ValueError(
            f"parameter 'world' holds patterns of shape {tuple(mu.shape)}: allowed a stacked World "
            "(World.stack([...]), patterns of shape (E, M1, d_X))"
        )
    for name, t in (("world.nu", nu), ("world.q", q), ("world.kappa", kappa)):
        check_tensor(name, t)
    E = mu.shape[0]
    e = torch.arange(E, device=mu.device).view(E, 1, 1)
    x = mu[e, idx.pattern] + kappa.view(E, 1, 1, 1) * nu[e, idx.irrelevant]
    if noise is not None:
        x = x + noise
    y = idx.label[..., None] * q.view(E, 1, 1, -1)
    y = torch.cat([y[..., :-1, :], torch.zeros_like(y[..., -1:, :])], dim=-2)
    return torch.cat([x, y], dim=-1)


def guess_floor(alpha_test: float, l_ts: int) -> float:
    """The error no model can avoid on Part I test prompts: (1 - alpha'/2)^l_ts / 2.

    Each context example shares the query's relevant pattern with probability
    alpha'/2 (the query carries mu_a or mu_b, and each of those has probability
    alpha'/2), so with probability (1 - alpha'/2)^l_ts no example does; the
    other examples' labels are fair coins independent of z, and the best a
    model can do on such a prompt is guess (error 1/2).  Theorem 1's l_ts >= 1/alpha'
    keeps this floor bounded; chapters test "error O(eps)" as error <= eps + floor.
    """
    check_float("alpha_test", alpha_test, 0.0, 1.0, lo_open=True)
    check_int("l_ts", l_ts, 1, allowed="integers >= 1")
    return 0.5 * (1.0 - alpha_test / 2.0) ** l_ts
