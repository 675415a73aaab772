import math

import numpy as np
import pytest

from icl_utils.book.claims import Claims
from icl_utils.incontext import experiments as X
from icl_utils.incontext.config import ICLConfig
from icl_utils.incontext.model import Params

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
    assert "yes  [Thm] holds\n" in out and "no   [Thm] informational (reported, not required)" in out
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


# --- evaluation on other distributions (chapter 2) ----------------------------------------

from icl_utils.incontext.config import EvalConfig  # noqa: E402

TRAINED = ICLConfig(T=150, record_every=50, n_eval=100, B=64)


@pytest.fixture(scope="module")
def trained_runs():
    return X.train_runs([TRAINED.replace(seed=s) for s in range(2)], progress=False, cache=False, snapshots=True)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"S1": -0.5}, "S1"),
        ({"S1": 0.0}, "S1"),
        ({"S1": float("inf")}, "S1"),
        ({"S1": float("nan")}, "S1"),
        ({"alpha_test": 0.0}, "alpha_test"),
        ({"alpha_test": 1.2}, "alpha_test"),
        ({"l_ts": 0}, "l_ts"),
        ({"tasks": "train"}, "tasks"),
    ],
)
def test_test_config_validation(kwargs, name):
    with pytest.raises(ValueError, match=repr(name)):
        EvalConfig(**kwargs)


def test_test_prompts_in_domain_use_unseen_tasks(trained_runs):
    cfg = trained_runs[0]["config"]
    world, idx = X.eval_prompts(cfg, EvalConfig(alpha_test=1.0, l_ts=10, n_eval=300))
    from icl_utils.incontext.training import setup_member

    m = setup_member(ICLConfig(**cfg))
    unseen = {tuple(t) for t in m.unseen_tasks.tolist()}
    # with alpha' = 1 every context example carries a or b: recover each prompt's task
    checked = 0
    for p, lab in zip(idx.pattern.tolist(), idx.label.tolist()):
        a = {j for j, y in zip(p, lab) if y > 0}  # the query's own label is included
        b = {j for j, y in zip(p, lab) if y < 0}
        assert len(a) <= 1 and len(b) <= 1
        if a and b:
            assert (a.pop(), b.pop()) in unseen
            checked += 1
    assert checked > 250


def test_test_prompts_out_of_domain(trained_runs):
    world, idx = X.eval_prompts(trained_runs[0]["config"], EvalConfig(S1=0.8, l_ts=6, n_eval=50))
    assert world.M1 == 3 and int(idx.pattern.max()) < 3
    np.testing.assert_allclose(world.mu.norm(dim=1).numpy(), 0.8 / np.sqrt(2), rtol=1e-5)


def test_evaluate_runs_matches_direct_computation(trained_runs):
    test = EvalConfig(S1=1.2, l_ts=10, n_eval=200)
    ev = X.evaluate_runs(trained_runs, [test], cache=False)
    assert ev["err"].shape == (2, 1) and ev["attn_same"].shape == (2, 1)

    from icl_utils.incontext.data import World, embed
    from icl_utils.incontext.model import Params, forward

    for i, r in enumerate(trained_runs):
        world, idx = X.eval_prompts(r["config"], test)
        P = embed(World.stack([world]), idx[None])
        params = Params.from_results([r])
        out, attn = forward(params, P, return_attention=True)
        err = float((out * idx.label[None, :, -1] <= 0).float().mean())
        assert abs(ev["err"][i, 0] - err) < 1e-6
        own = idx.pattern[None] == idx.pattern[None, :, -1:]  # columns with the query's pattern
        on_pattern = float((attn * own).sum(-1).mean())
        assert abs(ev["attn_same"][i, 0] + ev["attn_query"][i, 0] - on_pattern) < 1e-9
        assert abs(ev["attn_query"][i, 0] - float(attn[..., -1].mean())) < 1e-9


def test_evaluate_runs_snapshots(trained_runs):
    test = EvalConfig(l_ts=10, n_eval=200)
    first = X.evaluate_runs(trained_runs, [test], at=0, cache=False)
    last = X.evaluate_runs(trained_runs, [test], at=-1, cache=False)
    final = X.evaluate_runs(trained_runs, [test], cache=False)
    np.testing.assert_allclose(last["err"], final["err"])
    assert (first["err"] > 0.3).all()
    assert trained_runs[0]["snapshots"]["W_O"].shape[0] == len(trained_runs[0]["iters"])
    with pytest.raises(ValueError, match="'tests'"):
        X.evaluate_runs(trained_runs, [{"S1": 1.0}])


def test_baseline_errors_use_the_same_prompts(trained_runs):
    test = EvalConfig(alpha_test=1.0, l_ts=8, n_eval=60)
    b = X.baseline_errors(trained_runs, test, ["1nn", "svm_linear"], cache=False)
    assert set(b) == {"1nn", "svm_linear"} and b["1nn"].shape == (2,)
    # alpha' = 1: a context example with the query's pattern is the nearest neighbour and carries its label,
    # so 1-NN errs only on prompts that hold no such example
    for i, r in enumerate(trained_runs):
        _, idx = X.eval_prompts(r["config"], test)
        none_same = float((idx.pattern[:, :-1] != idx.pattern[:, -1:]).all(1).float().mean())
        assert b["1nn"][i] <= none_same + 1e-9
    with pytest.raises(ValueError, match="'learner'"):
        X.baseline_errors(trained_runs, test, ["forest"])


def test_baseline_errors_do_not_depend_on_the_worker_count(trained_runs):
    test = EvalConfig(alpha_test=0.6, l_ts=8, n_eval=40)
    names = ["logistic", "svm_rbf", "3nn"]
    one = X.baseline_errors(trained_runs, test, names, cache=False, n_jobs=1)
    two = X.baseline_errors(trained_runs, test, names, cache=False, n_jobs=2)
    for n in names:
        np.testing.assert_array_equal(one[n], two[n])
    with pytest.raises(ValueError, match="'n_jobs'"):
        X.baseline_errors(trained_runs, test, names, cache=False, n_jobs=0)


def test_pruning_curve(trained_runs):
    params = Params.from_results(trained_runs)
    cfgs = [r["config"] for r in trained_runs]
    test = EvalConfig(l_ts=10, n_eval=100)
    mag = X.pruning_curve(params, cfgs, test, [0.0, 0.2], "magnitude")
    rnd = X.pruning_curve(params, cfgs, test, [0.0, 0.2], "random", n_random=3)
    assert mag["err"].shape == (2, 2)
    direct = X.evaluate_params(params, cfgs, test)
    for k in ("err", "loss", "margin"):
        np.testing.assert_allclose(mag[k][0], direct[k])
        np.testing.assert_allclose(rnd[k][0], direct[k])
    with pytest.raises(ValueError, match="'method'"):
        X.pruning_curve(params, cfgs, test, [0.1], "smallest")
    with pytest.raises(ValueError, match="'configs'"):
        X.evaluate_params(params, cfgs[:1], test)
