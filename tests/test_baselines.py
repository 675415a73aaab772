import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from icl_utils.incontext.baselines import LEARNERS, knn_predict, predict_prompts


def separable(n=20, l=8, d=5, seed=0):
    """Prompts whose label is the sign of the first coordinate, with a margin."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, l, d))
    y = np.where(np.arange(l) % 2 == 0, 1, -1)[None].repeat(n, 0)
    X[..., 0] = y * (2 + rng.random((n, l)))
    zq = np.where(rng.random(n) < 0.5, 1, -1)
    Xq = rng.normal(size=(n, d))
    Xq[:, 0] = zq * 2.5
    return X, y, Xq, zq


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_every_learner_is_perfect_on_separable_prompts(name):
    X, y, Xq, zq = separable()
    assert np.array_equal(predict_prompts(name, X, y, Xq), zq)


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_one_label_prompts_are_answered_with_that_label(name):
    X, _, Xq, _ = separable(n=4)
    y = np.ones(X.shape[:2], dtype=int)
    y[1] = -1
    assert predict_prompts(name, X, y, Xq).tolist() == [1, -1, 1, 1]


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_a_single_example_is_answered(name):
    X, y, Xq, _ = separable(n=3, l=1)
    assert predict_prompts(name, X, y, Xq).tolist() == y[:, 0].tolist()


@pytest.mark.parametrize("k", [1, 3])
def test_batched_knn_equals_scikit_learn(k):
    rng = np.random.default_rng(1)
    X, Xq = rng.normal(size=(50, 9, 6)), rng.normal(size=(50, 6))
    y = np.where(rng.random((50, 9)) < 0.5, -1, 1)
    ours = knn_predict(X, y, Xq, k)
    ref = [KNeighborsClassifier(n_neighbors=k).fit(X[i], y[i]).predict(Xq[i : i + 1])[0] for i in range(50)]
    assert np.array_equal(ours, ref)


def test_knn_with_fewer_examples_than_k_and_a_tie():
    X = np.array([[[0.0], [3.0]]])
    assert knn_predict(X, np.array([[1, -1]]), np.array([[0.5]]), 3).tolist() == [1]


def test_knn_ties_survive_last_bit_rounding():
    # Orthonormal patterns are equidistant from a query: the tie must go to the earlier example
    # whichever way another machine rounds the inputs' last bits.
    X = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    Xq = np.array([[0.0, 0.0, 1.0]])
    y = np.array([[1, -1]])
    eps = np.finfo(float).eps
    for bump in (0.0, eps, -eps, 4 * eps):
        Xb = X.copy()
        Xb[0, 1, 1] += bump
        assert knn_predict(Xb, y, Xq, 1).tolist() == [1]
        assert knn_predict(Xb[:, ::-1], y[:, ::-1], Xq, 1).tolist() == [-1]
    # distances that differ by more than the tie tolerance are not ties
    assert knn_predict(X * [[[1.0], [0.99]]], y, Xq, 1).tolist() == [-1]


def test_bad_input():
    X, y, Xq, _ = separable(n=2)
    with pytest.raises(ValueError, match="'learner'"):
        predict_prompts("random_forest", X, y, Xq)
    with pytest.raises(ValueError, match="'X_ctx'"):
        predict_prompts("1nn", X[0], y, Xq)
    with pytest.raises(ValueError, match="'k'"):
        knn_predict(X, y, Xq, 2)
