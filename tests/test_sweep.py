"""Sweeps as Ray tasks (icl_utils.core.sweep): the switch, the errors, bit-identical results, retries."""

import os
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from icl_utils.core import sweep
from icl_utils.cot.config import CoTConfig
from icl_utils.cot.training import train_cot
from icl_utils.incontext import experiments as X
from icl_utils.incontext.config import ICLConfig
from icl_utils.incontext.gpt2 import GPT2RunConfig
from icl_utils.incontext.training import train_ensemble

BASE = ICLConfig(T=40, record_every=20, n_eval=30, B=16, l_ts=6, m=8)


@pytest.mark.parametrize(
    "value, address",
    [(None, None), ("", None), ("off", None), ("0", None), ("auto", "local"), ("AUTO", "local"),
     ("ray://head:10001", "ray://head:10001"), ("10.0.0.1:6379", "10.0.0.1:6379")],
)  # fmt: skip
def test_the_switch(monkeypatch, value, address):
    if value is None:
        monkeypatch.delenv(sweep.ENV, raising=False)
    else:
        monkeypatch.setenv(sweep.ENV, value)
    assert sweep.ray_address() == address


@pytest.mark.parametrize("raw", ["0", "1.5", "half", "-0.1"])
def test_a_bad_gpu_fraction_names_its_variable(monkeypatch, raw):
    monkeypatch.setenv(sweep.GPU_ENV, raw)
    with pytest.raises(ValueError, match=sweep.GPU_ENV):
        sweep.gpu_fraction()
    monkeypatch.setenv(sweep.GPU_ENV, "0.5")
    assert sweep.gpu_fraction() == 0.5


def test_ray_not_installed_stops_the_sweep_before_any_training(monkeypatch):
    monkeypatch.setenv(sweep.ENV, "auto")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    calls = []
    monkeypatch.setattr(X, "train_ensemble", lambda *a, **k: calls.append(1))
    with pytest.raises(RuntimeError, match=r"ICL_RAY = 'auto' asks for Ray, which is not installed.*\[ray\]"):
        X.train_runs([BASE], cache=False, progress=False)
    assert calls == []


@pytest.mark.parametrize("value", ["127.0.0.1:1", "ray://127.0.0.1:1", "nonsense"])
def test_an_unreachable_cluster_is_one_clear_error(monkeypatch, value):
    pytest.importorskip("ray")
    monkeypatch.setenv(sweep.ENV, value)
    calls = []
    monkeypatch.setattr(X, "train_ensemble", lambda *a, **k: calls.append(1))
    with pytest.raises(RuntimeError, match="ICL_RAY"):
        X.train_runs([BASE], cache=False, progress=False)
    assert calls == []


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def assert_same(a, b):
    """Every array of every result exactly equal (NaN where NaN)."""
    assert len(a) == len(b)
    for r, s in zip(a, b):
        assert r.keys() == s.keys()
        for k in r:
            if k == "config":
                assert r[k] == s[k]
            elif isinstance(r[k], dict):
                for w in r[k]:
                    np.testing.assert_array_equal(r[k][w], s[k][w])
            else:
                np.testing.assert_array_equal(r[k], s[k])


def test_results_through_ray_are_bit_identical(local_ray, monkeypatch):
    icl = X.grid(BASE, [0, 1], l_tr=[4, 6])  # two groups: two tasks
    gpt = [GPT2RunConfig(T=20, record_every=10, n_eval=20, B=8, l_tr=6, l_ts=6, seed=s) for s in (0, 1)]
    cot = [CoTConfig(T=40, record_every=20, n_eval=20, B=16, seed=s) for s in (0, 1)]
    monkeypatch.delenv(sweep.ENV, raising=False)
    here = (X.train_runs(icl, cache=False, progress=False), X.train_runs(gpt, cache=False, progress=False))
    here += (train_cot(cot, cache=False),)
    monkeypatch.setenv(sweep.ENV, "auto")
    there = (X.train_runs(icl, cache=False, progress=False), X.train_runs(gpt, cache=False, progress=False))
    there += (train_cot(cot, cache=False),)
    for a, b in zip(here, there):
        assert_same(a, b)
        assert all(r["loss"].flags.writeable for r in b)  # as in process (Ray returns read-only views)


def flaky_train(group, device, progress, label, flags=None):
    """The Eq. 7 trainer, whose worker dies (the process exits) the first time it trains group 2."""
    flags = Path(flags)
    (flags / f"call-{label.split('[')[-1].split('/')[0]}-{uuid.uuid4().hex}").touch()
    if label.endswith("[2/3]") and not (flags / "killed").exists():
        (flags / "killed").touch()
        os._exit(1)
    return train_ensemble(group, device, False, label)


def test_a_killed_worker_costs_only_its_task(local_ray, monkeypatch, tmp_path):
    local_ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setenv(sweep.ENV, "auto")
    groups = [[BASE.replace(l_tr=l, seed=s) for s in (0, 1)] for l in (3, 4, 5)]
    stored = {}
    sweep.run_groups(groups, flaky_train, lambda k, r: stored.setdefault(k, []).append(r), "t", False, "cpu",
                     flags=str(tmp_path))  # fmt: skip
    assert (tmp_path / "killed").exists()  # the worker of group 2 died once ...
    calls = sorted(p.name.split("-")[1] for p in tmp_path.glob("call-*"))
    assert calls == ["1", "2", "2", "3"]  # ... Ray retried that task alone
    assert sorted(stored) == [0, 1, 2] and all(len(v) == 1 for v in stored.values())  # each stored once
    for k, group in enumerate(groups):
        assert_same(stored[k][0], train_ensemble(group, "cpu", False))
