"""Noisy reasoning examples of Part II ([LLCCW25]): step-wise transition matrices.

A K-step task is f = f_K o ... o f_1, each step f_k a permutation of the M'
testing patterns (``steps[k][i]`` is the pattern step k maps pattern i to).
In testing, an example's step k goes from pattern i to pattern j with
probability ``A[k][i, j]`` (rows are stochastic; the correct step is the most
probable).  From the matrices:

* :func:`k_step_matrix` -- B^f = A_1 ... A_K;
* :func:`tau_f` -- the min-max trajectory transition probability: the smallest,
  over starting patterns, probability of the correct K-step trajectory;
* :func:`tau_o_f` -- the min-max input-label transition probability: the
  smallest, over starting patterns, largest entry of the row of B^f;
* :func:`condition_1` -- for every start, the correct final output is the most
  probable final output under B^f.

The paper's worked example (K = 2, M' = 2) gives tau^f = 0.36, tau_o^f = 0.56 and
Condition 1 failing; ``tests/test_transitions.py`` checks exactly that.
:func:`build_transitions` makes matrices with a requested tau^f with Condition 1
holding or failing.  Chapter 4 (chain-of-thought versus ICL) uses them.
"""

from __future__ import annotations

import numpy as np

from ..core.checks import check_bool, check_float, check_int

__all__ = [
    "check_steps",
    "check_transitions",
    "k_step_matrix",
    "correct_paths",
    "tau_f",
    "tau_o_f",
    "condition_1",
    "build_transitions",
]


def _array(name, value, dtype=None) -> np.ndarray:
    try:
        return np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"parameter {name!r} is not a numeric array ({err})") from None


def check_steps(steps, name: str = "steps") -> np.ndarray:
    """Validate K step maps on M patterns: a (K, M) integer array whose rows are permutations."""
    steps = _array(name, steps)
    if steps.ndim != 2 or steps.shape[0] < 1 or steps.shape[1] < 1:
        raise ValueError(f"parameter {name!r} has shape {steps.shape}: allowed (K, M) with K >= 1")
    M = steps.shape[1]
    for k, row in enumerate(steps):
        if sorted(row.tolist()) != list(range(M)):
            raise ValueError(f"parameter {name!r}: step {k + 1} = {row.tolist()} is not a permutation of 0..{M - 1}")
    return steps.astype(np.int64)


def check_transitions(A, tol: float = 1e-9, name: str = "A") -> np.ndarray:
    """Validate K row-stochastic M x M matrices, as a (K, M, M) array."""
    A = _array(name, A, np.float64)
    if A.ndim != 3 or A.shape[1] != A.shape[2] or A.shape[0] < 1:
        raise ValueError(f"parameter {name!r} has shape {A.shape}: allowed (K, M, M) with K >= 1")
    if not np.all(np.isfinite(A)) or (A < -tol).any():
        raise ValueError(f"parameter {name!r} is not row-stochastic: entries must be finite and >= 0")
    sums = A.sum(-1)
    if not np.allclose(sums, 1.0, atol=1e-6):
        bad = np.argwhere(~np.isclose(sums, 1.0, atol=1e-6))[0]
        raise ValueError(
            f"parameter {name!r} is not row-stochastic: row {bad[1]} of step {bad[0] + 1} "
            f"sums to {sums[tuple(bad)]:.6f}"
        )
    return A


def k_step_matrix(A) -> np.ndarray:
    """B^f = A_1 A_2 ... A_K (row i: the distribution of the final output from start i)."""
    A = check_transitions(A)
    B = A[0]
    for Ak in A[1:]:
        B = B @ Ak
    return B


def correct_paths(steps) -> np.ndarray:
    """(M, K + 1) array: the correct trajectory z_0 -> z_1 -> ... -> z_K from every start z_0."""
    steps = check_steps(steps)
    K, M = steps.shape
    paths = np.zeros((M, K + 1), dtype=np.int64)
    paths[:, 0] = np.arange(M)
    for k in range(K):
        paths[:, k + 1] = steps[k][paths[:, k]]
    return paths


def _check_pair(A, steps):
    A, steps = check_transitions(A), check_steps(steps)
    if A.shape[0] != steps.shape[0] or A.shape[1] != steps.shape[1]:
        raise ValueError(f"parameters 'A' {A.shape} and 'steps' {steps.shape} disagree on K or M")
    return A, steps


def tau_f(A, steps) -> float:
    """Min over starts of the probability of the correct K-step trajectory."""
    A, steps = _check_pair(A, steps)
    paths = correct_paths(steps)
    probs = np.ones(steps.shape[1])
    for k in range(steps.shape[0]):
        probs *= A[k][paths[:, k], paths[:, k + 1]]
    return float(probs.min())


def tau_o_f(A) -> float:
    """Min over starts of the largest entry of that start's row of B^f."""
    return float(k_step_matrix(A).max(1).min())


def condition_1(A, steps) -> bool:
    """True when, from every start, the correct final output is the unique most probable one under B^f."""
    A, steps = _check_pair(A, steps)
    B = k_step_matrix(A)
    final = correct_paths(steps)[:, -1]
    rows = np.arange(B.shape[0])
    correct = B[rows, final]
    others = B.copy()
    others[rows, final] = -np.inf
    return bool(np.all(correct > others.max(1)))


def build_transitions(steps, tau: float, condition1: bool = True) -> np.ndarray:
    """Step matrices with tau^f = ``tau`` (exactly) and Condition 1 holding or failing.

    Every step keeps its correct output with probability p = tau^(1/K).
    With ``condition1=True`` the remaining 1 - p is spread uniformly over the
    other patterns.  With ``condition1=False`` it all goes to one wrong
    output, chosen so that every trajectory that leaves the correct one joins
    a single wrong track ending at one wrong final pattern: with sigma_0 the
    shift i -> i + 1 and sigma_k = f_k sigma_{k-1} f_k^-1, step k sends its
    wrong mass from pattern i to sigma_k(f_k(i)).  That track collects about
    K p^(K-1) (1 - p) against p^K for the correct output, so Condition 1 fails
    once p < K / (K + 1) (and never for M = 2).
    Raises a ValueError naming ``tau`` when the request cannot be met for
    this K and M: the correct step must stay the most probable (p > 1/M),
    and the requested Condition 1 must come out.
    """
    steps = check_steps(steps)
    K, M = steps.shape
    check_int("M", M, 2, allowed="integers >= 2")
    tau = check_float("tau", tau, 0.0, 1.0, lo_open=True)
    condition1 = check_bool("condition1", condition1)
    p = tau ** (1.0 / K)
    if condition1:
        if p <= 1.0 / M and M > 1:
            raise ValueError(
                f"parameter 'tau' = {tau} cannot be reached with K = {K}, M = {M}: the correct step must "
                f"keep probability p = tau^(1/K) > 1/M = {1 / M:.3f}; allowed tau > {M**-K:.4g}"
            )
        A = np.full((K, M, M), (1 - p) / (M - 1))
        for k in range(K):
            A[k, np.arange(M), steps[k]] = p
    else:
        if p <= 0.5:
            raise ValueError(
                f"parameter 'tau' = {tau} cannot be reached with K = {K}: the correct step must keep "
                f"probability p = tau^(1/K) > 1/2 when the wrong mass goes to one output; allowed tau > {0.5**K:.4g}"
            )
        A = np.zeros((K, M, M))
        sigma = (np.arange(M) + 1) % M
        for k in range(K):
            inverse = np.argsort(steps[k])
            sigma = steps[k][sigma[inverse]]  # f_k o sigma_{k-1} o f_k^-1
            A[k, np.arange(M), steps[k]] = p
            A[k, np.arange(M), sigma[steps[k]]] += 1 - p
    A = check_transitions(A)
    if condition_1(A, steps) != condition1:
        raise ValueError(
            f"parameter 'tau' = {tau}: with K = {K}, M = {M} these matrices "
            f"{'fail' if condition1 else 'satisfy'} Condition 1; choose a "
            f"{'larger' if condition1 else 'smaller'} tau"
        )
    return A
