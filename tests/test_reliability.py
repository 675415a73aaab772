"""Failures that must never pass as results (issue #27): a loss that explodes but stays finite,
an evaluation served from the cache for other weights, a Ray address that never answers."""

import copy
import socket
import threading
import time

import numpy as np
import pytest
import torch

from icl_utils import cot
from icl_utils.core import cache, sweep
from icl_utils.core.sgd import EXPLOSION_FACTOR, DivergenceError, sgd_loop
from icl_utils.incontext import experiments, gpt2
from icl_utils.incontext.config import EvalConfig, ICLConfig

GPT2_TINY = gpt2.GPT2RunConfig(
    n_layer=2, n_head=2, n_embd=16, n_positions=12, l_tr=8, l_ts=8, B=8, T=30, record_every=10, n_eval=20
)


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


# ---- 1, 2: a loss that grows far beyond its start stops the run, finite or not ----------------


def scripted_loop(losses, T):
    """sgd_loop over a scripted (T, E) loss table (weights untouched)."""
    w = torch.zeros(losses.shape[1], 1, requires_grad=True)
    table = torch.as_tensor(losses, dtype=torch.float64)
    t = [0]

    def loss_at(s):
        out = table[t[0]] + 0 * w[:, 0]
        t[0] += 1
        return out

    return sgd_loop([w], torch.zeros(losses.shape[1], 1), T, T, 5, lambda: None, loss_at, lambda: None)


def test_a_loss_beyond_the_explosion_bound_stops_the_loop_at_its_iteration():
    T = 20
    losses = np.ones((T, 3))
    losses[:, 1] = 0.01  # a first loss below 1: the bound is EXPLOSION_FACTOR itself
    losses[13:, 2] = 1.01 * EXPLOSION_FACTOR  # finite, just past the bound
    with pytest.raises(DivergenceError, match=r"at iteration 13 of T = 20: a loss grew beyond 100") as err:
        scripted_loop(losses, T)
    assert err.value.members == [2] and err.value.iteration == 13


def test_a_loss_within_the_bound_is_no_divergence():
    T = 20
    losses = np.ones((T, 2))
    losses[:, 0] = np.linspace(1, 0.99 * EXPLOSION_FACTOR, T)  # grows, but stays under the bound
    losses[:, 1] = np.linspace(0.01, 0.99 * EXPLOSION_FACTOR, T)  # small start: bound 100, not 1
    iters, hist = scripted_loop(losses, T)
    assert hist.shape == (T, 2)


def test_an_exploding_but_finite_part_i_run_is_stopped_and_not_cached(cache_root):
    """ICLConfig(lr=1e6, T=20, B=16) ended at loss 1.6e169, returned and cached (issue #27, item 1)."""
    cfg = ICLConfig(lr=1e6, T=20, B=16, n_eval=50, record_every=10)
    with pytest.raises(DivergenceError, match=r"lr = 1000000\.0.*loss 1 -> ") as err:
        experiments.train_runs([cfg], progress=False)
    assert "lower the learning rate 'lr'" in str(err.value) and err.value.iteration < 20
    assert not list(cache_root.rglob("*.pkl"))


def test_chapter_one_lr_1e3_stops_in_its_first_training():
    cfg = ICLConfig(lr=1e3, T=60, n_eval=50, record_every=20)
    with pytest.raises(DivergenceError, match=r"lr = 1000\.0"):
        experiments.train_runs([cfg], progress=False, cache=False)


def test_an_exploding_gpt2_run_is_stopped_naming_lr(cache_root):
    """GPT-2 at lr = 1e6 went from 1.1 to 4.1e12 with no error (issue #27, item 2)."""
    with pytest.raises(DivergenceError, match=r"seed = 0, lr = 1000000\.0"):
        experiments.train_runs([GPT2_TINY.replace(lr=1e6)], progress=False)
    assert not list(cache_root.rglob("*.pkl"))


def test_an_exploding_part_ii_run_is_stopped():
    cfg = cot.config.CoTConfig(T=50, record_every=50, n_eval=4, B=8, l_tr=2, lr=1e6)
    with pytest.raises(DivergenceError, match=r"lr = 1000000\.0"):
        cot.training.train_cot([cfg], cache=False)


# ---- 3: evaluations are keyed on the weights they evaluate ----------------------------------


def flipped(results, names):
    out = copy.deepcopy(results)
    for r in out:
        for k in names:
            r["weights"][k] = -np.asarray(r["weights"][k])
    return out


def test_part_i_evaluation_of_other_weights_is_recomputed(cache_root):
    runs = experiments.train_runs(
        [ICLConfig(T=40, n_eval=50, B=16, record_every=20, seed=s) for s in range(2)], progress=False
    )
    test = [EvalConfig(n_eval=201)]
    good = experiments.evaluate_runs(runs, test)["err"]
    bad = experiments.evaluate_runs(flipped(runs, ["W_O"]), test)["err"]
    fresh = experiments.evaluate_runs(flipped(runs, ["W_O"]), test, cache=False)["err"]
    np.testing.assert_array_equal(bad, fresh)
    assert not np.array_equal(good, bad)
    np.testing.assert_array_equal(experiments.evaluate_runs(runs, test)["err"], good)  # a hit again


def test_part_ii_evaluation_of_other_weights_is_recomputed(cache_root):
    cfgs = [cot.config.CoTConfig(T=20, record_every=10, n_eval=4, B=8, l_tr=2, seed=s) for s in range(2)]
    runs = cot.training.train_cot(cfgs)
    world = cot.inference.eval_world(cot.data.make_cot_world(4, 2, 8), 0.3)
    steps, A = cot.inference.eval_tasks(2, 2, 4, 0.8, True, seed=1)
    good = cot.inference.evaluate_cot(runs, world, steps, A, 0.8, 6, 20)
    other = flipped(runs, ["W_V"])
    bad = cot.inference.evaluate_cot(other, world, steps, A, 0.8, 6, 20)
    fresh = cot.inference.evaluate_cot(other, world, steps, A, 0.8, 6, 20, cache=False)
    np.testing.assert_array_equal(bad["cot"], fresh["cot"])
    assert not np.array_equal(good["cot"], bad["cot"])


def test_gpt2_evaluation_of_other_weights_is_recomputed(cache_root):
    runs = experiments.train_runs([GPT2_TINY], progress=False)
    test = [EvalConfig(l_ts=8, n_eval=101)]  # odd: the flipped model's error 1 - err differs from err
    good = gpt2.evaluate(runs, test)["err"]
    other = flipped(runs, ["read_out.weight", "read_out.bias"])  # the same config, the opposite answers
    bad = gpt2.evaluate(other, test)["err"]
    np.testing.assert_array_equal(bad, gpt2.evaluate(other, test, cache=False)["err"])
    np.testing.assert_allclose(bad, 1 - good)


def test_the_weights_digest_tells_weights_and_snapshots_apart():
    r = {"weights": {"a": np.zeros(3), "b": np.ones(2)}, "snapshots": {"a": np.zeros((2, 3))}}
    d = cache.weights_digest(r)
    assert d == cache.weights_digest(copy.deepcopy(r))
    s = copy.deepcopy(r)
    s["weights"]["b"][0] = 2.0
    assert cache.weights_digest(s) != d
    assert cache.weights_digest(r, at=0) != d
    s = copy.deepcopy(r)
    s["snapshots"]["a"][1, 0] = 1.0
    assert cache.weights_digest(s, at=0) == cache.weights_digest(r, at=0)  # snapshot 1 is not read at 0
    assert cache.weights_digest(s, snapshots=True) != cache.weights_digest(r, snapshots=True)
    with pytest.raises(ValueError, match="'results'"):
        cache.weights_digest({"config": {}})
    with pytest.raises(ValueError, match="snapshots"):
        cache.weights_digest({"weights": {"a": np.zeros(1)}}, at=0)


def test_evaluate_cot_rejects_one_layer_results():
    runs = experiments.train_runs([ICLConfig(T=2, record_every=1, n_eval=8, B=2)], progress=False, cache=False)
    world = cot.inference.eval_world(cot.data.make_cot_world(4, 2, 8), 0.3)
    steps, A = cot.inference.eval_tasks(2, 2, 4, 0.8, True, seed=1)
    with pytest.raises(ValueError, match="'results'.*train_cot"):
        cot.inference.evaluate_cot(runs, world, steps, A, 0.8, 6, 5, cache=False)


# ---- 4: a Ray address where some other service listens fails within a bound -----------------


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never speaks (like a service that is not Ray)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns = []
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    yield srv.getsockname()[1]
    stop.set()
    th.join()
    for c in conns:
        c.close()
    srv.close()


@pytest.fixture
def http_server():
    """A TCP port that answers like an HTTP/1 server (not gRPC)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c = srv.accept()[0]
            except OSError:
                continue
            try:
                c.recv(1024)
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            finally:
                c.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    yield srv.getsockname()[1]
    stop.set()
    th.join()
    srv.close()


@pytest.mark.parametrize("scheme", ["", "ray://"])
@pytest.mark.parametrize("server", ["silent_server", "http_server"])
def test_a_port_that_is_not_ray_fails_within_the_bound(request, monkeypatch, scheme, server):
    pytest.importorskip("ray")
    port = request.getfixturevalue(server)
    monkeypatch.setenv(sweep.ENV, f"{scheme}127.0.0.1:{port}")
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="ICL_RAY.*not a Ray"):
        sweep.connect(sweep.ray_address())
    assert time.monotonic() - start < sweep.PROBE_TIMEOUT + 5


# ---- 5, 6: parameters that do what they say, values rejected before training ---------------


def test_seed_moves_every_chapters_seeds():
    import icl_utils as icl
    from icl_utils.book.profiles import _CLASSES

    for chapter in _CLASSES:
        for profile in ("quick", "paper"):
            prof = icl.get_profile(chapter, profile, seed=5, n_seeds=3)
            assert prof.seeds == (5, 6, 7), chapter


def test_gpt2_chapter_overrides_change_the_one_layer_model_too():
    import icl_utils as icl

    prof = icl.get_profile("05_gpt2", alpha=0.3, kappa=0.4)
    assert prof.base.alpha == prof.one_layer.alpha == 0.3 and prof.one_layer.kappa == 0.4
    assert prof.one_layer.T == icl.get_profile("05_gpt2").one_layer.T  # only the shared data fields
    assert icl.get_profile("05_gpt2", lr=2e-3).one_layer.lr == icl.get_profile("05_gpt2").one_layer.lr
    with pytest.raises(ValueError, match="'alpha'.*one-layer"):
        icl.get_profile("05_gpt2", one_layer=icl.get_profile("05_gpt2").one_layer.replace(alpha=0.3))


@pytest.mark.parametrize(
    "chapter, overrides, name",
    [
        ("03_pruning", {"rates": (0.0, 0.99)}, "'rates'"),
        ("03_pruning", {"rates": (0.1, 0.1)}, "'rates'"),
        ("04_cot_vs_icl", {"alphas_train": (0.6, 0.6)}, "'alphas_train'"),
        ("01_in_domain", {"lengths": (8, 8, 12)}, "'lengths'"),
        ("06_multi_concept", {"noise_levels": (0.05, 0.05)}, "'noise_levels'"),
        ("01_in_domain", {"noise_std": 1e300}, "'noise_std'"),
    ],
)
def test_values_that_would_fail_after_training_are_rejected_first(chapter, overrides, name):
    import icl_utils as icl

    with pytest.raises(ValueError, match=name):
        icl.get_profile(chapter, **overrides)


def test_noise_beyond_the_bound_is_rejected_naming_it():
    with pytest.raises(ValueError, match="'noise_std'"):
        ICLConfig(noise_std=1e300)
    assert ICLConfig(noise_std=0.5).noise_std == 0.5


# ---- 7: unclear or silent answers ------------------------------------------------------------


def test_runs_array_of_an_unknown_key_names_it():
    runs = experiments.train_runs([ICLConfig(T=2, record_every=1, n_eval=8, B=2)], progress=False, cache=False)
    with pytest.raises(ValueError, match="'nope' is not a key.*err_unseen"):
        runs.array("nope", "seed")


def test_one_sign_mask_rejects_a_bad_mask_or_sign():
    from icl_utils.incontext import model, pruning

    g = [torch.Generator().manual_seed(s) for s in range(2)]
    params = model.init_params(24, 4, 0.3, 0.01, g)
    good = torch.ones(2, 4, dtype=torch.bool)
    assert pruning.one_sign_mask(params, good, sign=1).sum() == 4  # two neurons of each sign per member
    with pytest.raises(ValueError, match="'large'"):
        pruning.one_sign_mask(params, torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="'sign'"):
        pruning.one_sign_mask(params, good, sign=0)


def test_bootstrap_fits_need_a_resample():
    from icl_utils.core import stats

    x, y = np.array([1.0, 2.0, 4.0]), np.array([[1.0, 1.1], [0.5, 0.6], [0.25, 0.3]])
    for fit in (stats.fit_power_law_ci, stats.fit_linear_ci):
        with pytest.raises(ValueError, match="'n_boot'"):
            fit(x, y, n_boot=0)
    assert np.isfinite(stats.fit_power_law_ci(x, y, n_boot=10).lo)


# ---- 8: Ray client mode, as the README promises -----------------------------------------------


def test_the_pinned_install_has_what_ray_client_mode_needs():
    pytest.importorskip("ray")
    import grpc  # noqa: F401 - ray[client]'s dependency
    from ray.util.client import ray as client  # noqa: F401


# ---- more values that did nothing, or did harm, found by a sweep of 1,798 bad inputs ---------


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: ICLConfig(qkv_init=0.0), "'qkv_init'"),  # a fixed point: W_Q, W_K, W_V never move
        (lambda: ICLConfig(o_init_std=0.0), "'o_init_std'"),
        (lambda: ICLConfig(qkv_init=1e300), "'qkv_init'"),  # overflowed at iteration 0, blamed on lr
        (lambda: ICLConfig(lr=1e300), "'lr'"),
        (lambda: cot.config.CoTConfig(qk_init=0.0), "'qk_init'"),
        (lambda: cot.config.CoTConfig(v_std=1e300), "'v_std'"),
        (lambda: cot.config.CoTConfig(lr=1e300), "'lr'"),
        (lambda: gpt2.GPT2RunConfig(lr=1e300), "'lr'"),
        (lambda: gpt2.GPT2RunConfig(S1_probe=1e300), "'S1_probe'"),
        (lambda: EvalConfig(S1=1e300), "'S1'"),
        (lambda: EvalConfig(S1=1.0, tasks="seen"), "'tasks'"),  # was ignored
        (lambda: EvalConfig(kappa_ood=0.1), "'kappa_ood'"),  # was ignored in domain
        (lambda: EvalConfig(group_size=3), "'group_size'"),  # was ignored in domain
    ],
)
def test_configs_reject_values_that_did_nothing_or_overflowed(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_concept_config_rejects_a_zero_attention_initialization():
    from icl_utils.concepts import ConceptConfig

    with pytest.raises(ValueError, match="'attn_init'"):
        ConceptConfig(attn_init=0.0)
    with pytest.raises(ValueError, match="'w_std'"):
        ConceptConfig(w_std=1e300)


@pytest.mark.parametrize(
    "chapter, overrides, name",
    [
        ("01_in_domain", {"n_seeds": 10**12}, "'n_seeds'"),
        ("02_out_of_domain", {"S1s": (1e300,)}, "'S1s'"),
        ("05_gpt2", {"S1_alpha": 1e300}, "'S1_alpha'"),
        ("03_pruning", {"S1": 1e300}, "'S1'"),
        ("03_pruning", {"grown_factor": 1e300}, "'grown_factor'"),
        ("05_gpt2", {"n_snapshots": 1000}, "'n_snapshots'"),
        ("06_multi_concept", {"floor_count": 5000}, "'floor_count'"),
        ("01_in_domain", {"record_every_speed": 1000}, "'record_every_speed'"),
        ("02_out_of_domain", {"record_every_mech": 5000}, "'record_every_mech'"),
    ],
)
def test_profiles_reject_values_the_chapter_cannot_use(chapter, overrides, name):
    import icl_utils as icl

    with pytest.raises(ValueError, match=name):
        icl.get_profile(chapter, **overrides)


def test_grid_rejects_repeated_values():
    base = ICLConfig()
    with pytest.raises(ValueError, match="'seeds'.*distinct"):
        experiments.grid(base, [0, 0])
    with pytest.raises(ValueError, match="'alpha'.*distinct"):
        experiments.grid(base, [0], alpha=[0.5, 0.5])
    assert len(experiments.grid(base, [0, 1], alpha=[0.5, 0.6])) == 4


def test_runs_select_rejects_an_unknown_field():
    runs = experiments.train_runs([ICLConfig(T=2, record_every=1, n_eval=8, B=2)], progress=False, cache=False)
    with pytest.raises(ValueError, match="'alpah' is not a field of ICLConfig"):
        runs.select(alpah=0.6)
    assert len(runs.select(alpha=0.6)) == 1


def test_pruning_rejects_repeated_and_boolean_indices_and_float_masks():
    from icl_utils.incontext import model, pruning

    params = model.init_params(24, 8, 0.3, 0.01, [torch.Generator().manual_seed(0)])
    with pytest.raises(ValueError, match="'remove'.*twice"):
        pruning.prune_rows(params, torch.tensor([[0, 0]]))
    with pytest.raises(ValueError, match="'remove'"):
        pruning.prune_rows(params, torch.tensor([[True, False]]))
    assert pruning.prune_rows(params, torch.tensor([[0, 3]])).W_O.shape == (1, 6, 24)
    terms, z = torch.ones(1, 5, 8), torch.ones(1, 5)
    with pytest.raises(ValueError, match="'remove'.*boolean"):
        pruning.pruned_metrics(terms, z, torch.full((1, 8), 0.5))


def test_stats_name_their_bad_parameters():
    from icl_utils.core import stats

    x, y = np.array([1.0, 2.0, 4.0]), np.array([[1.0, 1.1], [0.5, 0.6], [0.25, 0.3]])
    for kwargs, name in (({"level": "0.9"}, "'level'"), ({"seed": -1}, "'seed'"), ({"n_boot": 10**12}, "'n_boot'")):
        for fit in (stats.fit_power_law_ci, stats.fit_linear_ci):
            with pytest.raises(ValueError, match=name):
                fit(x, y, **kwargs)
    for kwargs, name in (({"err": -0.5}, "'err'"), ({"err": 5.0}, "'err'"), ({"err": 0.01, "digits": 2.7}, "'digits'")):
        with pytest.raises(ValueError, match=name):
            stats.fmt_error(**kwargs)
    with pytest.raises(ValueError, match="'above'"):
        stats.fmt_error(0.5, above=float("nan"))
    assert stats.fmt_error(0.0123) == "0.012" and stats.fmt_error(0.5) == ">0.1"


def test_evaluate_cot_rejects_a_world_of_another_size():
    cfgs = [cot.config.CoTConfig(T=2, record_every=1, n_eval=4, B=2, l_tr=2)]
    runs = cot.training.train_cot(cfgs, cache=False)
    steps, A = cot.inference.eval_tasks(3, 2, 4, 0.8, True, seed=1)
    with pytest.raises(ValueError, match="'world'.*M = 5"):
        cot.inference.evaluate_cot(runs, cot.data.make_cot_world(5, 2, 8), steps, A, 0.8, 6, 5, cache=False)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: experiments.train_runs([ICLConfig(d_Y=10**12)], cache=False), "'d_Y'"),
        (lambda: experiments.train_runs([gpt2.GPT2RunConfig(n_layer=10**12)], cache=False), "'n_layer'"),
        (lambda: experiments.train_runs([gpt2.GPT2RunConfig(n_positions=10**12)], cache=False), "'n_positions'"),
    ],
)
def test_a_run_too_large_for_memory_names_the_field_that_makes_it_so(make, name):
    with pytest.raises(ValueError, match=name + ".*fit in memory"):
        make()


def test_multi_concept_run_too_large_names_m():
    from icl_utils.concepts import ConceptConfig
    from icl_utils.concepts import experiments as cX

    with pytest.raises(ValueError, match="'m'.*fit in memory"):
        cX.train_concepts([ConceptConfig(m=10**12)], cache=False)


def test_baselines_reject_another_trainers_results_before_any_job():
    runs = cot.training.train_cot([cot.config.CoTConfig(T=2, record_every=1, n_eval=4, B=2, l_tr=2)], cache=False)
    with pytest.raises(ValueError, match="'results'.*ICLConfig"):
        experiments.baseline_errors(runs, EvalConfig(n_eval=20, l_ts=5), cache=False)
    one = experiments.train_runs([ICLConfig(T=2, record_every=1, n_eval=8, B=2)], progress=False, cache=False)
    with pytest.raises(ValueError, match="'learners'.*distinct"):
        experiments.baseline_errors(one, EvalConfig(n_eval=20, l_ts=5), learners=["1nn", "1nn"], cache=False)


@pytest.mark.parametrize(
    "chapter, field",
    [
        ("01_in_domain", "T_length"),
        ("02_out_of_domain", "n_eval"),
        ("03_pruning", "n_timing"),
        ("04_cot_vs_icl", "M_contrast"),
        ("04_cot_vs_icl", "n_per_task"),
        ("05_gpt2", "n_eval"),
    ],
)
def test_profile_counts_beyond_any_use_are_rejected_by_the_profile(chapter, field):
    """10**12 prompts or steps used to pass the profile and fail later, naming a run-config field."""
    import icl_utils as icl

    with pytest.raises(ValueError, match=f"'{field}'"):
        icl.get_profile(chapter, **{field: 10**12})


def test_n_snapshots_counts_the_last_iteration_recorded_off_the_grid():
    import icl_utils as icl

    # T = 100, record_every = 30: iterations 0, 30, 60, 90 and 100 are recorded
    assert icl.get_profile("05_gpt2", T=100, record_every=30, n_snapshots=5).n_snapshots == 5
    with pytest.raises(ValueError, match="'n_snapshots'"):
        icl.get_profile("05_gpt2", T=100, record_every=30, n_snapshots=6)


def test_a_none_one_layer_keeps_the_shared_data_in_step():
    import icl_utils as icl

    prof = icl.get_profile("05_gpt2", alpha=0.3, one_layer=None)  # None: the profile's value, as elsewhere
    assert prof.one_layer.alpha == 0.3


def test_a_finite_explosion_then_an_overflow_in_one_chunk_reads_as_an_explosion():
    T = 10
    losses = np.ones((T, 1))
    losses[3, 0] = 2 * EXPLOSION_FACTOR
    losses[4:, 0] = np.inf
    with pytest.raises(DivergenceError, match="at iteration 3 of T = 10: a loss grew beyond"):
        scripted_loop(losses, T)
    losses[3, 0] = np.nan
    with pytest.raises(DivergenceError, match="at iteration 3 of T = 10: non-finite loss"):
        scripted_loop(losses, T)
