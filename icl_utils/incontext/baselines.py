"""Classical learners fitted on a prompt's context examples (figures A-27, A-28 of [LWLCC24]).

Each learner sees what the transformer sees: the context inputs x_i (the
feature rows of the prompt) with their labels +-1, and is asked the label of
the query.  One interface for all of them: :func:`predict_prompts` answers a
batch of prompts, one fit per prompt, with scikit-learn estimators.

A context whose examples all carry one label is a normal case, not an error:
every learner then answers that label (scikit-learn refuses to fit a single
class).  A context with no example of the query's pattern is answered like
any other: the learner predicts whatever its fit says.  Chapter 2 compares
these learners with in-context learning.
"""

from __future__ import annotations

import numpy as np

from ..core.checks import check_int

__all__ = ["LEARNERS", "make_learner", "predict_prompts", "knn_predict"]


def _logreg():
    from sklearn.linear_model import LogisticRegression

    # liblinear: the fastest exact solver for a few samples; L2 penalty, C = 1 (scikit-learn's default).
    return LogisticRegression(C=1.0, solver="liblinear")


def _svm(kernel):
    def make():
        from sklearn.svm import SVC

        return SVC(kernel=kernel, C=1.0, gamma="scale")

    return make


def _knn(k):
    def make():
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=k)

    return make


#: Learner name -> (label for figures, estimator factory).  Hyper-parameters are scikit-learn's defaults.
LEARNERS = {
    "logistic": ("logistic regression", _logreg),
    "svm_rbf": ("SVM, Gaussian kernel", _svm("rbf")),
    "svm_linear": ("SVM, linear kernel", _svm("linear")),
    "1nn": ("1-NN", _knn(1)),
    "3nn": ("3-NN", _knn(3)),
}


def make_learner(name: str):
    """A fresh scikit-learn estimator for learner ``name`` (see :data:`LEARNERS`)."""
    if not isinstance(name, str) or name not in LEARNERS:
        raise ValueError(f"parameter 'learner' = {name!r} is invalid: allowed one of {sorted(LEARNERS)}")
    return LEARNERS[name][1]()


#: Decimal places the fitted (non-k-NN) learners' inputs are rounded to (see :func:`predict_prompts`).
INPUT_DECIMALS = 10


def predict_prompts(name: str, X_ctx, y_ctx, X_query) -> np.ndarray:
    """Fit learner ``name`` on each prompt's context and predict its query.

    ``X_ctx`` (n, l, d_X), ``y_ctx`` (n, l) in {-1, +1}, ``X_query`` (n, d_X).
    Returns predictions (n,) in {-1, +1}.  A k-NN learner with fewer than k
    examples uses them all.
    """
    make_learner(name)  # validates the name
    X_ctx, y_ctx, X_query = _check_prompts(X_ctx, y_ctx, X_query)
    if name in ("1nn", "3nn"):
        return knn_predict(X_ctx, y_ctx, X_query, int(name[0]))
    # The inputs come from float64 products whose last bits differ between CPUs (MKL's code paths);
    # a learner fitted on a few examples then flips a prompt or two (the linear SVM's error in
    # chapter 2 moved from 0.0341 to 0.0347 under MKL_CBWR=COMPATIBLE).  Rounded to INPUT_DECIMALS
    # places, the fitted learners see the same inputs on every machine.
    X_ctx, X_query = np.round(X_ctx, INPUT_DECIMALS), np.round(X_query, INPUT_DECIMALS)
    n = X_ctx.shape[0]
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        labels = y_ctx[i]
        if np.all(labels == labels[0]):
            out[i] = labels[0]
            continue
        est = make_learner(name)
        est.fit(X_ctx[i], labels)
        out[i] = est.predict(X_query[i : i + 1])[0]
    return out


def _check_prompts(X_ctx, y_ctx, X_query):
    """The context inputs, labels and queries of a batch of prompts, as arrays: finite inputs of
    shapes (n, l, d), (n, l), (n, d) with l >= 1 and labels in {-1, +1}."""
    try:
        X_ctx = np.asarray(X_ctx, dtype=np.float64)
        y_ctx = np.asarray(y_ctx)
        X_query = np.asarray(X_query, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"parameters 'X_ctx', 'y_ctx', 'X_query' are not numeric arrays ({err})") from None
    if X_ctx.ndim != 3 or y_ctx.shape != X_ctx.shape[:2] or X_query.shape != (X_ctx.shape[0], X_ctx.shape[2]):
        raise ValueError(
            f"parameters 'X_ctx', 'y_ctx', 'X_query' have shapes {X_ctx.shape}, {y_ctx.shape}, {X_query.shape}: "
            "allowed (n, l, d), (n, l), (n, d)"
        )
    if X_ctx.shape[1] < 1:
        raise ValueError("parameter 'X_ctx' has no context examples: allowed at least 1 per prompt")
    for name, X in (("X_ctx", X_ctx), ("X_query", X_query)):
        if not np.isfinite(X).all():
            raise ValueError(f"parameter {name!r} holds non-finite values: allowed finite inputs")
    if y_ctx.dtype == bool or (y_ctx.size and not np.isin(y_ctx, (-1, 1)).all()):
        raise ValueError(f"parameter 'y_ctx' holds labels {np.unique(y_ctx)[:6].tolist()}: allowed -1 and +1")
    return X_ctx, y_ctx, X_query


def knn_predict(X_ctx, y_ctx, X_query, k: int) -> np.ndarray:
    """k-nearest-neighbour majority vote (Euclidean), for all prompts at once.

    The same rule as scikit-learn's ``KNeighborsClassifier(n_neighbors=k)``
    fitted per prompt (the tests check it), vectorized over prompts because
    scikit-learn has no batched form; distance ties (equal to 1e-9 of the
    prompt's largest distance) go to the earlier context example, and with
    fewer than k examples all of them vote.  ``k`` must be odd; with fewer
    than k (an even number of) examples a tied vote goes to the nearest
    example.
    """
    check_int("k", k, 1, allowed="odd integers >= 1")
    if k % 2 == 0:
        raise ValueError(f"parameter 'k' = {k!r} is invalid: allowed odd integers >= 1")
    _check_prompts(X_ctx, y_ctx, X_query)
    X_ctx, X_query = np.asarray(X_ctx), np.asarray(X_query)  # their own dtype, as given
    d2 = ((X_ctx - X_query[:, None, :]) ** 2).sum(-1)  # (n, l)
    # Distances equal to 1e-9 of the prompt's largest are ties.  The data model makes exact ties
    # common (orthonormal patterns are equidistant), and rounding -- which differs between
    # machines -- must not decide them.
    scale = d2.max(1, keepdims=True)
    d2 = np.round(d2 / np.where(scale > 0, scale, 1.0), 9)
    k = min(k, d2.shape[1])
    nearest = np.argsort(d2, axis=1, kind="stable")[:, :k]
    labels = np.take_along_axis(np.asarray(y_ctx), nearest, axis=1)
    votes = labels.sum(1)
    return np.where(votes > 0, 1, np.where(votes < 0, -1, labels[:, 0]))  # a tie (l < k, l even): the nearest
