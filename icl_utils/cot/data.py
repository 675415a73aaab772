"""K-step reasoning prompts of [LLCCW25] (Part II).

M orthonormal patterns (rows of ``world.patterns``) and K orthonormal positional codes
c_0..c_{K-1} orthogonal to them (``world.codes``), all in R^d.  A K-step task is K permutations
f_1..f_K of the patterns.  A context example is the chain x -> y_1 -> ... -> y_K written as K
columns [y_{j-1}; y_j] (y_0 = x) of height 2d.  The query for step k is the columns
[z_{j-1}; z_j], j < k, and the query column [z_{k-1}; 0]; its label is z_k.

Layout (our choice; the papers publish none).  So that every step k of a batch has the same
shape, a prompt always has l K + K columns: the l examples, then K - 1 slots for the query's
history (the unused ones masked out of the attention), then the query column, always last.
The periodic positional encoding p~_i = p_i + [c_{i mod K}; 0] is added to the *input* half of
every column, so a column's code names its step: example column j and query column j both
carry c_{j-1}.  Chapter 4 explains the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.checks import check_bool, check_float, check_generator, check_instance, check_int, check_memory, largest
from ..core.tensors import Tensors

__all__ = [
    "CoTWorld",
    "make_cot_world",
    "sample_steps",
    "CoTPrompts",
    "sample_cot_prompts",
    "sample_counted_prompts",
    "embed_cot",
]


@dataclass(frozen=True)
class CoTWorld:
    """Patterns (M, d) and positional codes (K, d), all orthonormal."""

    patterns: torch.Tensor
    codes: torch.Tensor

    @property
    def M(self) -> int:
        return self.patterns.shape[0]

    @property
    def K(self) -> int:
        return self.codes.shape[0]

    @property
    def d(self) -> int:
        return self.patterns.shape[1]


def make_cot_world(M: int, K: int, d: int | None = None, basis: bool = True, generator=None) -> CoTWorld:
    """M patterns and K positional codes in R^d (default d = M + K).

    ``basis=True``: distinct standard basis vectors (our measured starting point);
    otherwise rows of a random orthogonal matrix drawn from ``generator``.
    """
    check_int("M", M, 2, allowed="integers >= 2")
    check_int("K", K, 1, allowed="integers >= 1")
    d = M + K if d is None else d
    check_int("d", d, M + K, allowed=f"integers >= M + K = {M + K}")
    check_memory([("d", d, 3 * 8 * d * d)], "the patterns")
    if not check_bool("basis", basis):
        check_generator("generator", generator)
    if basis:
        Q = torch.eye(d)
    else:
        g = torch.randn(d, d, generator=generator, dtype=torch.float64)
        Q, R = torch.linalg.qr(g)
        Q = (Q * torch.sign(torch.diagonal(R))).T.to(torch.get_default_dtype())
    return CoTWorld(patterns=Q[:M].contiguous(), codes=Q[M : M + K].contiguous())


def sample_steps(n: int, K: int, M: int, generator) -> torch.Tensor:
    """``n`` tasks of K random step permutations each: (n, K, M), ``steps[t, k, i] = f_{k+1}(i)``."""
    check_int("n", n, 1, allowed="integers >= 1")
    check_int("K", K, 1, allowed="integers >= 1")
    check_int("M", M, 2, allowed="integers >= 2")
    check_generator("generator", generator)
    check_memory([largest(4 * 8 * n * K * M, n=n, K=K, M=M)], "the tasks")
    return torch.argsort(torch.rand(n, K, M, generator=generator), dim=-1)


@dataclass
class CoTPrompts(Tensors):
    """A batch of prompts as indices.

    ``inp``, ``out`` (n, l K + K): pattern index of each column's input and
    output half (-1: a zero half); ``valid`` (n, l K + K): False for the
    masked query-history slots; ``k`` (n,): the step each query asks for;
    ``z`` (n, K + 1): the query's correct chain z_0..z_K; ``label`` (n,): z_k.
    """

    inp: torch.Tensor
    out: torch.Tensor
    valid: torch.Tensor
    k: torch.Tensor
    z: torch.Tensor

    @property
    def label(self) -> torch.Tensor:
        return self.z.gather(-1, self.k[..., None])[..., 0]


def sample_cot_prompts(
    steps: torch.Tensor, alpha: float, l: int, k, generator, transitions=None, out: CoTPrompts | None = None
) -> CoTPrompts:
    """Prompts for the tasks ``steps`` (n, K, M), one per task, asking for step(s) ``k``.

    Each of the ``l`` examples starts from the query's pattern z_0 with
    probability ``alpha`` (alpha' in testing) and from a uniformly drawn other
    pattern otherwise.  Clean examples follow the steps.  With ``transitions``
    (K, M, M) row-stochastic matrices -- row i of ``transitions[j]`` is the
    distribution of the output of step j + 1 given input pattern i, built for
    one task (:func:`icl_utils.cot.transitions.build_transitions`), so use them with
    prompts of that task -- each step of an example is drawn from them instead:
    noisy testing examples.  The query's chain z is always the correct one.
    ``k`` is an int in 1..K or a (n,) tensor of steps.  ``out``: tensors of the
    right shapes to write the prompts into (any integer dtype that holds -1..M-1,
    e.g. one member's slice of an ensemble's int16 chunk; ``k`` and ``z`` int64),
    instead of new ones.
    """
    alpha, k = _check_prompt_args(steps, alpha, l, k, generator, transitions)
    n, K, M = steps.shape
    g = generator
    z0 = torch.randint(M, (n,), generator=g)
    other = z0[:, None] + 1 + torch.randint(M - 1, (n, l), generator=g)
    other = torch.where(other >= M, other - M, other)  # (z0 + 1 + r) mod M
    x = torch.where(torch.rand(n, l, generator=g) < alpha, z0[:, None], other)
    return _assemble(steps, x, z0, k, out, transitions, g)


def _check_prompt_args(steps, alpha, l, k, generator=None, transitions=None) -> tuple[float, torch.Tensor]:
    """Validated ``alpha`` and ``k`` (as an (n,) tensor) of a prompt sampler; ``steps`` must be
    an integer (n, K, M) tensor of permutations, ``transitions`` None or (K, M, M) row-stochastic."""
    if not isinstance(steps, torch.Tensor) or steps.ndim != 3 or steps.is_floating_point() or 0 in steps.shape:
        shape = tuple(steps.shape) if isinstance(steps, torch.Tensor) else type(steps).__name__
        raise ValueError(f"parameter 'steps' has shape {shape}: allowed an integer (n, K, M) tensor of permutations")
    n, K, M = steps.shape
    if not torch.equal(torch.sort(steps, dim=-1).values, torch.arange(M).expand(n, K, M)):
        raise ValueError(f"parameter 'steps' is invalid: allowed permutations of 0..{M - 1} (every step of every task)")
    alpha = check_float("alpha", alpha, 0.0, 1.0, lo_open=True)
    check_int("l", l, 1, allowed="integers >= 1")
    check_generator("generator", generator)
    check_memory([("l", l, 8 * 8 * n * (l + 1) * K)], "the prompts")
    if isinstance(k, torch.Tensor):
        if k.shape != (n,) or k.is_floating_point():
            raise ValueError(
                f"parameter 'k' has shape {tuple(k.shape)}: allowed an integer or an integer (n = {n},) tensor"
            )
    else:
        k = torch.full((n,), check_int("k", k, 1, K, allowed=f"integers in [1, K = {K}]"), dtype=torch.long)
    if k.min() < 1 or k.max() > K:
        raise ValueError(f"parameter 'k' has values outside [1, K = {K}]")
    if transitions is not None:
        from .transitions import check_transitions

        A = check_transitions(transitions, name="transitions")
        if A.shape != (K, M, M):
            raise ValueError(f"parameter 'transitions' has shape {A.shape}: allowed (K, M, M) = {(K, M, M)}")
    return alpha, k


def _assemble(steps, x, z0, k, out, transitions=None, g=None) -> CoTPrompts:
    """Write prompts whose examples start at ``x`` (n, l) into ``out`` (new tensors if None)."""
    n, K, M = steps.shape
    l = x.shape[1]
    L = l * K + K
    if out is None:
        out = CoTPrompts(
            inp=torch.empty(n, L, dtype=torch.long),
            out=torch.empty(n, L, dtype=torch.long),
            valid=torch.empty(n, L, dtype=torch.bool),
            k=torch.empty(n, dtype=torch.long),
            z=torch.empty(n, K + 1, dtype=torch.long),
        )
    # Examples are written in place, example-major: column (i, j) is [y_{j-1}; y_j] of example i.
    ex_in = out.inp[:, : l * K].view(n, l, K)
    ex_out = out.out[:, : l * K].view(n, l, K)
    z = out.z
    z[:, 0] = z0
    prev = x
    for j in range(K):
        f = steps[:, j]  # (n, M)
        z[:, j + 1] = f.gather(1, z[:, j : j + 1])[:, 0]
        if transitions is None:
            nxt = f.gather(1, prev)
        else:
            # inverse CDF: the first output whose cumulative probability exceeds a uniform draw
            cdf = torch.as_tensor(transitions[j], dtype=torch.get_default_dtype()).cumsum(-1)[prev]  # (n, l, M)
            u = torch.rand(n, l, 1, generator=g)
            nxt = (u >= cdf[..., :-1]).sum(-1)
        ex_in[..., j] = prev
        ex_out[..., j] = nxt
        prev = nxt
    # Query part: K - 1 history slots then the query column [z_{k-1}; 0].
    hist_valid = torch.arange(1, K)[None, :] < k[:, None]  # history column j holds [z_{j-1}; z_j], used when j < k
    out.inp[:, l * K : L - 1] = z[:, : K - 1]
    out.out[:, l * K : L - 1] = torch.where(hist_valid, z[:, 1:K], -1)
    out.inp[:, -1] = z.gather(1, (k - 1)[:, None])[:, 0]
    out.out[:, -1] = -1
    out.valid[:, : l * K] = True
    out.valid[:, l * K : L - 1] = hist_valid
    out.valid[:, -1] = True
    out.k[:] = k
    return out


def sample_counted_prompts(
    steps: torch.Tensor, alpha: float, l: int, k, generator, out: CoTPrompts | None = None, mult=None
) -> tuple[CoTPrompts, torch.Tensor]:
    """Clean training prompts of :func:`sample_cot_prompts`, with repeated examples counted.

    A clean example is fixed by its first pattern (the steps do the rest), so a prompt
    of ``l`` clean examples holds at most M distinct ones.  Here every prompt lists the
    M possible examples once (example x starts at pattern x) and ``mult`` (n, M K + K)
    says how often each column occurs: the number of examples starting at x, drawn
    directly from the distribution :func:`sample_cot_prompts` samples them from --
    Binomial(l, alpha) for the query's z_0, the rest shared uniformly by the other
    M - 1 patterns (conditional binomials) -- and 1 for the query part.  Softmax
    attention over repeated columns equals attention over the distinct ones with
    scores shifted by log(count), so ``forward_indexed(params, world, prompts, mult)``
    is Eq. 11 on the full prompt, at a cost independent of ``l`` (chapter 4 trains
    with it).  ``out``/``mult``: tensors to write into, as for :func:`sample_cot_prompts`.
    """
    alpha, k = _check_prompt_args(steps, alpha, l, k, generator)
    n, K, M = steps.shape
    g = generator
    z0 = torch.randint(M, (n,), generator=g)
    counts = torch.empty(n, M)
    left = torch.full((n,), float(l))
    first = torch.binomial(left, torch.full((n,), alpha), generator=g)
    counts.scatter_(1, z0[:, None], first[:, None])
    left = left - first
    for i in range(1, M):  # the other patterns z0 + i (mod M) share what is left, uniformly
        c = left if i == M - 1 else torch.binomial(left, torch.full((n,), 1.0 / (M - i)), generator=g)
        counts.scatter_(1, ((z0 + i) % M)[:, None], c[:, None])
        left = left - c
    x = torch.arange(M).expand(n, M)
    out = _assemble(steps, x, z0, k, out)
    if mult is None:
        mult = torch.empty(n, M * K + K)
    mult[:, : M * K] = counts.repeat_interleave(K, dim=1)
    mult[:, M * K :] = 1.0
    return out, mult


def embed_cot(world: CoTWorld, prompts: CoTPrompts) -> torch.Tensor:
    """Columns p~_i = [x_i + c_{i mod K}; y_i] as rows: (n, l K + K, 2d).

    The query's history slot j and query column carry c_{j-1} and c_{k-1}: the
    code of the step they stand for (history slots sit at positions whose
    index mod K is already j - 1; the query column gets c_{k-1} explicitly).
    """
    check_instance("world", world, CoTWorld)
    check_instance("prompts", prompts, CoTPrompts)
    n, L = prompts.inp.shape
    K, d = world.K, world.d
    zero = torch.zeros(1, d)
    table = torch.cat([world.patterns, zero])  # index -1 -> zero vector
    x = table[prompts.inp]
    y = table[prompts.out]
    pos = torch.arange(L) % K
    code = world.codes[pos].expand(n, L, d).clone()
    code[:, -1] = world.codes[prompts.k - 1]
    x = (x + code) * prompts.valid[..., None]
    y = y * prompts.valid[..., None]
    return torch.cat([x, y], dim=-1)
