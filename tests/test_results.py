"""Results laid out by field name (icl_utils.core.results)."""

import numpy as np
import pytest

from icl_utils.core.results import Evaluation, Runs, labelled
from icl_utils.incontext.config import EvalConfig, ICLConfig


def fake_runs(fractions=(0.3, 0.1, 0.5), seeds=(2, 0)):
    """Results in the order a grid builds them (sweep outer, seeds inner), with a value that
    names its own coordinates, so a wrong layout cannot pass."""
    out = []
    for f in fractions:
        for s in seeds:
            cfg = ICLConfig(seed=s, task_fraction=f)
            out.append({"config": cfg.to_dict(), "iters": np.array([0, 5]), "err": np.array([0.5, 100 * f + s])})
    return Runs(out, ICLConfig)


def test_array_lays_values_out_by_field_and_keeps_the_sweep_order():
    runs = fake_runs()
    a = runs.array("err", "task_fraction", "seed")  # a key: the final recorded value
    assert a.dims == ("task_fraction", "seed")
    assert a.coords["task_fraction"].values.tolist() == [0.3, 0.1, 0.5]  # first appearance, not sorted
    assert a.coords["seed"].values.tolist() == [2, 0]
    np.testing.assert_array_equal(a.values, [[32, 30], [12, 10], [52, 50]])
    assert float(a.sel(task_fraction=0.1, seed=2)) == 12
    # the same values with the axes the other way round, or from a function of a result
    np.testing.assert_array_equal(runs.array(lambda r: r["err"][-1], "seed", "task_fraction").values, a.values.T)
    # equals the positional reshape the chapters used to do
    flat = np.array([r["err"][-1] for r in runs]).reshape(-1, 2)
    np.testing.assert_array_equal(a.values, flat)


def test_array_exports_a_long_table():
    df = fake_runs().array("err", "task_fraction", "seed").to_dataframe("err").reset_index()
    assert list(df.columns) == ["task_fraction", "seed", "err"]
    assert df.loc[(df.task_fraction == 0.5) & (df.seed == 0), "err"].item() == 50


def test_dims_that_do_not_tell_runs_apart_are_rejected():
    with pytest.raises(ValueError, match=r"differ in \['seed'\]"):
        fake_runs().array("err", "task_fraction")
    with pytest.raises(ValueError, match="'dims' names 'nope'"):
        fake_runs().array("err", "nope")
    with pytest.raises(ValueError, match="'value'"):
        fake_runs().array(3, "seed")


def test_missing_combinations_are_nan_and_configs_are_objects():
    runs = fake_runs()
    part = Runs([r for r in runs if not (r["config"]["seed"] == 0 and r["config"]["task_fraction"] == 0.1)], ICLConfig)
    a = part.array("err", "task_fraction", "seed")
    assert np.isnan(float(a.sel(task_fraction=0.1, seed=0)))
    assert all(isinstance(c, ICLConfig) for c in runs.configs)
    assert runs.configs[1] == ICLConfig(seed=0, task_fraction=0.3)
    assert len(runs.select(seed=2)) == 3 and isinstance(runs[:2], Runs)


def test_evaluation_labels_runs_and_tests_with_none_as_a_coordinate():
    runs = fake_runs(fractions=(0.5,), seeds=(0, 1))
    tests = [EvalConfig(S1=S1, l_ts=l) for S1 in (None, 0.9) for l in (4, 8, 2)]
    err = np.array([[100 * s + 10 * k + j for k in range(2) for j in range(3)] for s in range(2)], dtype=float)
    ev = Evaluation({"err": err}, [r["config"] for r in runs], tests)
    a = ev.array("err", "seed", "S1", "l_ts")
    assert a.shape == (2, 2, 3)
    assert a.coords["l_ts"].values.tolist() == [4, 8, 2]
    np.testing.assert_array_equal(a.values, err.reshape(2, 2, 3))
    assert float(a.sel(seed=1, S1=0.9, l_ts=2)) == 112
    assert float(a.sel(seed=0, l_ts=8).isel(S1=0)) == 1  # S1 = None: in domain
    np.testing.assert_array_equal(ev["err"], err)  # still the plain arrays by key
    with pytest.raises(ValueError, match="'key'"):
        ev.array("nope", "seed")


def test_labelled_checks_its_input():
    with pytest.raises(ValueError, match="'values'"):
        labelled([{"a": 1}], [1, 2], ["a"])
    with pytest.raises(ValueError, match="'dims'"):
        labelled([{"a": 1}], [1], ["a", "a"])
    with pytest.raises(ValueError, match="'labels'"):
        labelled([], [], ["a"])
    a = labelled([{"a": 1}, {"a": 2}], [[1, 2], [3, 4]], ["a"])  # trailing axes are kept
    assert a.dims == ("a", "axis_1") and a.shape == (2, 2)
