import numpy as np
import pytest

from icl_utils.cot.transitions import (
    build_transitions,
    check_transitions,
    condition_1,
    correct_paths,
    k_step_matrix,
    tau_f,
    tau_o_f,
)

# The paper's worked example: K = 2, M' = 2, correct paths 0 -> 0 -> 1 and 1 -> 1 -> 0.
STEPS = [[0, 1], [1, 0]]
A1 = [[0.6, 0.4], [0.4, 0.6]]
A2 = [[0.4, 0.6], [0.8, 0.2]]


def test_worked_example():
    A = [A1, A2]
    np.testing.assert_allclose(k_step_matrix(A), [[0.56, 0.44], [0.64, 0.36]])
    assert correct_paths(STEPS).tolist() == [[0, 0, 1], [1, 1, 0]]
    assert tau_f(A, STEPS) == pytest.approx(0.36)
    assert tau_o_f(A) == pytest.approx(0.56)
    assert condition_1(A, STEPS) is False


def test_condition_1_holds_when_the_correct_output_dominates():
    A = [[[0.9, 0.1], [0.1, 0.9]], [[0.1, 0.9], [0.9, 0.1]]]
    assert condition_1(A, STEPS) is True
    assert tau_f(A, STEPS) == pytest.approx(0.81)


@pytest.mark.parametrize("tau", [0.4, 0.5, 0.6, 0.7])
def test_build_with_condition_1(tau):
    rng = np.random.default_rng(0)
    steps = np.stack([rng.permutation(4) for _ in range(2)])
    A = build_transitions(steps, tau, condition1=True)
    assert tau_f(A, steps) == pytest.approx(tau)
    assert condition_1(A, steps)
    assert (A[np.arange(2)[:, None], np.arange(4)[None], steps] == A.max(-1)).all()  # correct step most probable


@pytest.mark.parametrize("K, tau", [(2, 0.36), (2, 0.3), (3, 0.3)])
def test_build_without_condition_1(K, tau):
    rng = np.random.default_rng(1)
    steps = np.stack([rng.permutation(5) for _ in range(K)])
    A = build_transitions(steps, tau, condition1=False)
    assert tau_f(A, steps) == pytest.approx(tau)
    assert not condition_1(A, steps)
    assert tau_o_f(A) > tau  # a wrong final output beats the correct one


@pytest.mark.parametrize(
    "A, fragment",
    [
        ([[[0.5, 0.4], [0.5, 0.5]]], "row-stochastic"),
        ([[[1.2, -0.2], [0.5, 0.5]]], "row-stochastic"),
        ([[[np.nan, 1.0], [0.5, 0.5]]], "row-stochastic"),
        ([[0.5, 0.5], [0.5, 0.5]], "shape"),
    ],
)
def test_bad_matrices(A, fragment):
    with pytest.raises(ValueError, match="'A'.*" + fragment):
        check_transitions(A)


def test_bad_requests():
    with pytest.raises(ValueError, match="'tau'"):
        build_transitions(STEPS, 0.0)
    with pytest.raises(ValueError, match="'tau'.*cannot be reached"):
        build_transitions([[0, 1, 2], [1, 2, 0]], 0.1)  # p = 0.32 < 1/3
    with pytest.raises(ValueError, match="'tau'"):
        build_transitions(STEPS, 0.36, condition1=False)  # M = 2: Condition 1 cannot fail this way
    with pytest.raises(ValueError, match="'steps'"):
        build_transitions([[0, 0], [1, 0]], 0.5)
    with pytest.raises(ValueError, match="disagree"):
        tau_f([A1], STEPS)
