import numpy as np
import pytest
import torch

from icl_utils.incontext.config import ICLConfig
from icl_utils.incontext.training import get_device, train_ensemble

SMALL = ICLConfig(T=40, record_every=10, n_eval=200, B=32, l_tr=8, l_ts=8)

PER_MEMBER = ["loss", "err_seen", "err_unseen", "attn_same", "q_norm", "k_along", "feat_angle", "label_norm"]


def test_ensemble_equals_models_trained_one_at_a_time():
    cfgs = [
        SMALL.replace(seed=0),
        SMALL.replace(seed=1, alpha=0.8, alpha_test=0.8),
        SMALL.replace(seed=2, task_fraction=0.2, lr=5.0, kappa=0.3),
    ]
    together = train_ensemble(cfgs, progress=False)
    for cfg, t in zip(cfgs, together):
        alone = train_ensemble([cfg], progress=False)[0]
        for k in PER_MEMBER:
            np.testing.assert_allclose(t[k], alone[k], rtol=1e-9, atol=1e-12, err_msg=k)
        for k, w in t["weights"].items():
            np.testing.assert_allclose(w, alone["weights"][k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_training_is_deterministic_and_seeds_differ():
    a = train_ensemble([SMALL], progress=False)[0]
    b = train_ensemble([SMALL], progress=False)[0]
    c = train_ensemble([SMALL.replace(seed=5)], progress=False)[0]
    assert np.array_equal(a["loss"], b["loss"]) and np.array_equal(a["weights"]["W_O"], b["weights"]["W_O"])
    assert not np.array_equal(a["loss"], c["loss"])


def test_result_shapes():
    r = train_ensemble([SMALL], progress=False)[0]
    R = len(range(0, SMALL.T + 1, SMALL.record_every))
    assert r["iters"].tolist() == list(range(0, SMALL.T + 1, SMALL.record_every))
    assert r["loss"].shape == (SMALL.T,)
    for k in ("err_seen", "err_unseen", "loss_seen", "attn_same", "attn_other", "attn_query", "q_norm"):
        assert r[k].shape == (R,), k
    assert r["feat_angle"].shape == (R, SMALL.m)
    assert r["weights"]["W_O"].shape == (SMALL.m, SMALL.d)
    np.testing.assert_allclose(r["attn_same"] + r["attn_other"] + r["attn_query"], 1.0, rtol=1e-5)
    assert r["n_train_tasks"] + r["n_unseen_tasks"] == SMALL.M1 * (SMALL.M1 - 1)


def test_last_record_is_at_T_even_off_the_grid():
    r = train_ensemble([SMALL.replace(T=25)], progress=False)[0]
    assert r["iters"].tolist() == [0, 10, 20, 25]


def test_no_unseen_tasks_gives_nan():
    r = train_ensemble([SMALL.replace(task_fraction=1.0)], progress=False)[0]
    assert np.isnan(r["err_unseen"]).all() and np.isfinite(r["err_seen"]).all()


def test_noise_option_runs_and_changes_the_data():
    a = train_ensemble([SMALL.replace(T=5)], progress=False)[0]
    b = train_ensemble([SMALL.replace(T=5, noise_std=0.1)], progress=False)[0]
    assert not np.array_equal(a["loss"], b["loss"])


def test_training_learns_the_reference_task():
    """The reference configuration learns: unseen-task error far below chance within 300 steps."""
    r = train_ensemble([ICLConfig(T=300, record_every=300, n_eval=500)], progress=False)[0]
    assert r["err_unseen"][0] > 0.3
    assert r["err_unseen"][-1] < 0.05
    assert r["attn_same"][-1] > 2 * r["attn_same"][0]


def test_incompatible_configs_are_rejected():
    with pytest.raises(ValueError, match="'l_tr'"):
        train_ensemble([SMALL, SMALL.replace(l_tr=9)])
    with pytest.raises(ValueError, match="configs"):
        train_ensemble([])
    with pytest.raises(ValueError, match="configs"):
        train_ensemble([{"alpha": 0.5}])


def test_device_selection():
    assert get_device("cpu").type == "cpu"
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    cpu = train_ensemble([SMALL], device="cpu", progress=False)[0]
    gpu = train_ensemble([SMALL], device="cuda", progress=False)[0]
    np.testing.assert_allclose(cpu["loss"], gpu["loss"], rtol=1e-3, atol=1e-4)


def test_error_only_recording_gives_the_same_errors_and_weights():
    cfgs = [SMALL.replace(seed=0), SMALL.replace(seed=3, noise_std=0.05)]
    full = train_ensemble(cfgs, progress=False)
    light = train_ensemble(cfgs, progress=False, probes=False)
    for f, g in zip(full, light):
        assert set(g) >= {"err_seen", "err_unseen", "loss_seen", "loss_unseen", "weights", "iters"}
        assert "attn_same" not in g and "feat_angle" not in g
        np.testing.assert_array_equal(f["loss"], g["loss"])
        for k in ("err_seen", "err_unseen"):
            np.testing.assert_array_equal(f[k], g[k], err_msg=k)
        np.testing.assert_allclose(f["loss_unseen"], g["loss_unseen"], rtol=1e-12)
