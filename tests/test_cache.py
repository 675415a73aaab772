"""The result cache: hits, misses, atomic writes, corruption, and resuming a killed sweep."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from icl_utils import cot
from icl_utils.core import cache
from icl_utils.incontext import experiments
from icl_utils.incontext.config import ICLConfig

TINY = ICLConfig(T=10, record_every=5, n_eval=50, B=8, l_tr=4, l_ts=4)


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def count_trained(monkeypatch):
    """Counts the models the trainer really trains."""
    counter = {"models": 0}
    real = experiments.train_ensemble

    def counting(configs, *args, **kwargs):
        counter["models"] += len(configs)
        return real(configs, *args, **kwargs)

    monkeypatch.setattr(experiments, "train_ensemble", counting)
    return counter


def entries(root):
    return sorted(Path(root).rglob("*.pkl"))


def test_cache_dir_switches(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.ENV, "off")
    assert cache.cache_dir() is None
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    assert cache.cache_dir() == tmp_path


def test_second_run_trains_nothing_and_returns_the_same(cache_root, count_trained):
    cfgs = [TINY.replace(seed=s) for s in range(3)]
    first = experiments.train_runs(cfgs, progress=False)
    assert count_trained["models"] == 3 and len(entries(cache_root)) == 3
    second = experiments.train_runs(cfgs, progress=False)
    assert count_trained["models"] == 3
    for a, b in zip(first, second):
        assert np.array_equal(a["err_unseen"], b["err_unseen"]) and np.array_equal(a["loss"], b["loss"])


def test_changed_parameter_misses(cache_root, count_trained):
    experiments.train_runs([TINY], progress=False)
    experiments.train_runs([TINY.replace(alpha=0.5)], progress=False)
    assert count_trained["models"] == 2
    experiments.train_runs([TINY, TINY.replace(alpha=0.5)], progress=False)
    assert count_trained["models"] == 2


def test_cache_off_always_trains(monkeypatch, count_trained):
    monkeypatch.setenv(cache.ENV, "off")
    experiments.train_runs([TINY], progress=False)
    experiments.train_runs([TINY], progress=False)
    assert count_trained["models"] == 2


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupt_entry_is_reported_and_recomputed(cache_root, count_trained, damage):
    first = experiments.train_runs([TINY], progress=False)[0]
    (path,) = entries(cache_root)
    blob = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "flip":
        path.write_bytes(blob[:-10] + bytes([blob[-10] ^ 0xFF]) + blob[-9:])
    else:
        path.write_bytes(b"not a cache entry")
    with pytest.warns(cache.CacheWarning, match="recomputing"):
        again = experiments.train_runs([TINY], progress=False)[0]
    assert count_trained["models"] == 2
    assert np.array_equal(first["loss"], again["loss"])
    assert cache.load("train_runs", TINY.to_dict()) is not None  # rewritten, valid


def test_partial_temporary_files_are_never_read(cache_root):
    experiments.train_runs([TINY], progress=False)
    (path,) = entries(cache_root)
    (path.parent / ".tmp-abandoned.part").write_bytes(path.read_bytes()[:100])
    assert cache.load("train_runs", TINY.to_dict()) is not None
    assert cache.load("train_runs", TINY.replace(seed=9).to_dict()) is None


SWEEP = textwrap.dedent(
    """
    import sys
    from icl_utils.incontext import experiments
    from icl_utils.incontext.config import ICLConfig
    base = ICLConfig(T=400, record_every=400, n_eval=50, B=32, l_ts=4)
    cfgs = [base.replace(l_tr=l, seed=s) for l in (2, 3, 4, 5, 6, 7) for s in (0, 1)]
    experiments.train_runs(cfgs, progress=False)
    print("done", flush=True)
    """
)


def sweep_configs():
    base = ICLConfig(T=400, record_every=400, n_eval=50, B=32, l_ts=4)
    return [base.replace(l_tr=l, seed=s) for l in (2, 3, 4, 5, 6, 7) for s in (0, 1)]


def test_killed_sweep_resumes_with_only_the_missing_part(cache_root, count_trained):
    env = dict(os.environ, **{cache.ENV: str(cache_root), "TQDM_DISABLE": "1"})
    proc = subprocess.Popen([sys.executable, "-c", SWEEP], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while len(entries(cache_root)) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(entries(cache_root))
    total = len(sweep_configs())
    assert 2 <= done < total, f"the kill should land mid-sweep ({done} of {total} stored)"
    results = experiments.train_runs(sweep_configs(), progress=False)
    assert count_trained["models"] == total - done
    assert len(entries(cache_root)) == total
    assert [r["config"]["l_tr"] for r in results] == [c.l_tr for c in sweep_configs()]


def test_clear_removes_only_cache_files(cache_root):
    experiments.train_runs([TINY], progress=False)
    (cache_root / "train_runs" / "keep.txt").write_text("not ours")
    assert cache.clear() == 1
    assert not entries(cache_root) and (cache_root / "train_runs" / "keep.txt").exists()


# --- Part II: train_cot and evaluate_cot are cached like train_runs -----------------------------------

TINY_COT_CFG = dict(T=20, record_every=10, n_eval=20, B=8, l_tr=4)


@pytest.fixture
def count_cot(monkeypatch):
    """Counts the Eq. 11 models really trained and the models really tested."""

    counter = {"trained": 0, "tested": 0}
    real_train, real_test = cot.training._train_cot_ensemble, cot.inference.eval_errors

    def train(configs, *args):
        counter["trained"] += len(configs)
        return real_train(configs, *args)

    def test(params, *args, **kwargs):
        counter["tested"] += params.E
        return real_test(params, *args, **kwargs)

    monkeypatch.setattr(cot.training, "_train_cot_ensemble", train)
    monkeypatch.setattr(cot.inference, "eval_errors", test)
    return counter


def test_cot_training_and_testing_hit_the_cache(cache_root, count_cot):

    cfgs = [cot.config.CoTConfig(seed=s, **TINY_COT_CFG) for s in range(3)]
    first = cot.training.train_cot(cfgs[:2])
    both = cot.training.train_cot(cfgs)  # two hits, one model trained
    assert count_cot["trained"] == 3
    for a, b in zip(first, both):
        np.testing.assert_array_equal(a["loss"], b["loss"])
        np.testing.assert_array_equal(a["weights"]["W_V"], b["weights"]["W_V"])
    world = cot.inference.eval_world(cot.data.make_cot_world(4, 2, 8), 0.3)
    steps, A = cot.inference.eval_tasks(2, 2, 4, 0.8, True, seed=1)
    e1 = cot.inference.evaluate_cot(both[:2], world, steps, A, 0.8, 6, 5)
    e2 = cot.inference.evaluate_cot(both, world, steps, A, 0.8, 6, 5)  # two hits, one model tested
    assert count_cot["tested"] == 3
    np.testing.assert_array_equal(e1["cot"], e2["cot"][:2])
    # the same numbers as eval_errors with each model's own seed, uncached
    direct = cot.inference.eval_errors(
        cot.model.CoTParams.from_results(both), world, steps, A, 0.8, 6, 5, seed=[0, 1, 2]
    )
    np.testing.assert_array_equal(direct["cot"], e2["cot"])
    np.testing.assert_array_equal(direct["icl"], e2["icl"])
    # another test world, length or transition matrix is another entry
    cot.inference.evaluate_cot(both[:1], world, steps, A, 0.8, 7, 5)
    cot.inference.evaluate_cot(both[:1], world, steps, np.asarray(A)[:, :, ::-1].copy(), 0.8, 6, 5)
    assert count_cot["tested"] == 3 + 1 + 1 + 3


def test_cot_cache_off_always_trains(monkeypatch, count_cot):

    monkeypatch.setenv(cache.ENV, "off")
    cfg = [cot.config.CoTConfig(**TINY_COT_CFG)]
    cot.training.train_cot(cfg)
    cot.training.train_cot(cfg, cache=True)
    cot.training.train_cot(cfg, cache=False)
    assert count_cot["trained"] == 3


def test_array_digest_names_dtype_shape_and_bytes():
    import torch

    a = np.arange(6.0)
    assert cache.array_digest(a) == cache.array_digest(torch.arange(6.0, dtype=torch.float64))
    assert cache.array_digest(a) != cache.array_digest(a.reshape(2, 3))
    assert cache.array_digest(a) != cache.array_digest(a.astype(np.float32))
    assert cache.array_digest(a) != cache.array_digest(a + 1e-12)
    assert cache.array_digest(a, a) != cache.array_digest(a)


def _hold_lock_script(folder: Path, seconds: float) -> str:
    return textwrap.dedent(
        f"""
        import os, sys, time
        os.environ[{cache.ENV!r}] = {str(folder)!r}
        from icl_utils.core import cache

        @cache.computing
        def compute():
            print("holding", flush=True)
            time.sleep({seconds})

        compute()
        """
    )


def test_computing_entry_points_of_two_processes_take_turns(cache_root):
    """An entry point waits while another process computes in the same cache folder (chapters
    built side by side never train at once), and entry points nest within one process."""
    other = subprocess.Popen(
        [sys.executable, "-c", _hold_lock_script(cache_root, 2.0)], stdout=subprocess.PIPE, text=True
    )
    assert other.stdout.readline().strip() == "holding"  # the other process holds the lock now
    start = time.perf_counter()

    @cache.computing
    def outer():
        return inner() + 1

    @cache.computing
    def inner():
        return 1

    assert outer() == 2  # nested: no deadlock on its own lock
    waited = time.perf_counter() - start
    other.wait(timeout=30)
    assert waited > 1.0, f"did not wait for the other process ({waited:.2f} s)"
    assert (cache_root / cache.LOCK_NAME).exists()


def test_computing_without_a_cache_takes_no_lock(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.ENV, "off")
    monkeypatch.chdir(tmp_path)
    assert cache.computing(lambda: 3)() == 3
    assert not list(tmp_path.rglob(cache.LOCK_NAME))


def test_the_entry_points_hold_the_lock():
    from icl_utils.incontext import gpt2

    for fn in (
        experiments.train_runs,
        experiments.evaluate_runs,
        experiments.baseline_errors,
        gpt2.evaluate,
        cot.training.train_cot,
        cot.inference.evaluate_cot,
    ):
        assert fn.__wrapped__ is not None and fn.__code__.co_name == "wrapper", fn
