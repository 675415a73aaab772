import math

import numpy as np
import pytest

from icl_utils import experiments as X
from icl_utils.claims import Claims
from icl_utils.config import ICLConfig

SMALL = ICLConfig(T=20, record_every=10, n_eval=100, B=16, l_tr=6, l_ts=6)


def test_grid_order_and_seeds():
    cfgs = X.grid(SMALL, [0, 1], alpha=[0.2, 0.4], l_tr=[3])
    assert [(c.alpha, c.l_tr, c.seed) for c in cfgs] == [(0.2, 3, 0), (0.2, 3, 1), (0.4, 3, 0), (0.4, 3, 1)]


def test_train_runs_groups_shapes_and_keeps_order():
    cfgs = [SMALL.replace(l_tr=4), SMALL.replace(l_tr=6, seed=1), SMALL.replace(l_tr=4, seed=2)]
    runs = X.train_runs(cfgs, progress=False)
    assert [r["config"]["l_tr"] for r in runs] == [4, 6, 4]
    assert [r["config"]["seed"] for r in runs] == [0, 1, 2]


def test_train_runs_rejects_non_configs():
    with pytest.raises(ValueError, match="configs"):
        X.train_runs([SMALL, "alpha=0.5"])


def test_iterations_to_target():
    r = {"iters": np.array([0, 10, 20, 30]), "err_unseen": np.array([0.5, 0.2, 0.04, 0.01])}
    assert X.iterations_to_target(r, 0.05) == 20
    assert math.isnan(X.iterations_to_target(r, 0.001))


def test_fit_power_law_recovers_exponent():
    x = np.array([0.2, 0.4, 0.8, 1.0])
    slope, c = X.fit_power_law(x, 3.0 * x ** (-2 / 3))
    assert abs(slope + 2 / 3) < 1e-9 and abs(np.exp(c) - 3) < 1e-9
    slope, _ = X.fit_power_law([1.0, 2.0, 4.0], [np.nan, 1.0, 2.0])
    assert abs(slope - 1) < 1e-9
    assert math.isnan(X.fit_power_law([1.0], [1.0])[0])


def test_stack():
    assert X.stack([{"a": [1, 2]}, {"a": [3, 4]}], "a").shape == (2, 2)


def test_claims_report(capsys):
    c = Claims()
    c.check("Thm", "holds", "1.0", True)
    c.check("Thm", "informational", "2.0", False, required=False)
    c.report()
    out = capsys.readouterr().out
    assert "holds: yes" in out and "informational: no (reported, not required)" in out
    c.check("Thm", "required but false", "3.0", False)
    with pytest.raises(AssertionError, match="required but false"):
        c.report()


def test_max_ensemble_splits_groups(monkeypatch):
    sizes = []
    real = X.train_ensemble

    def spy(configs, *a, **k):
        sizes.append(len(configs))
        return real(configs, *a, **k)

    monkeypatch.setattr(X, "train_ensemble", spy)
    runs = X.train_runs([SMALL.replace(seed=s) for s in range(5)], progress=False, max_ensemble=2)
    assert sizes == [2, 2, 1] and [r["config"]["seed"] for r in runs] == list(range(5))
    with pytest.raises(ValueError, match="'max_ensemble'"):
        X.train_runs([SMALL], max_ensemble=0)
