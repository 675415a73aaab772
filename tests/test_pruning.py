import math

import numpy as np
import pytest
import torch

from icl_utils.incontext import pruning as PR
from icl_utils.incontext.model import Params, forward, forward_indexed


def params(E=3, d=6, m=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64) * 0.5  # noqa: E731
    W_O = r(E, m, d) * torch.linspace(0.1, 2.0, m, dtype=torch.float64)[torch.randperm(m, generator=g)][:, None]
    a = torch.cat([torch.full((m // 2,), 1.0 / m), torch.full((m // 2,), -1.0 / m)]).double().expand(E, m).clone()
    return Params(W_Q=r(E, d, d), W_K=r(E, d, d), W_V=r(E, d, d), W_O=W_O, a=a)


def prompts(E=3, n=7, L=5, d=6):
    return torch.randn(E, n, L, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def test_rate_zero_changes_nothing():
    p, P = params(), prompts()
    for pruned in (PR.prune_by_magnitude(p, 0.0), PR.prune_random(p, 0.0, 3), PR.prune_largest(p, 0.0)):
        assert pruned.m == p.m
        torch.testing.assert_close(forward(pruned, P), forward(p, P))


def test_magnitude_pruning_removes_the_smallest_rows():
    p = params()
    pruned = PR.prune_by_magnitude(p, 0.3)
    assert pruned.m == 7 and pruned.W_O.shape == (3, 7, 6) and pruned.a.shape == (3, 7)
    mags = PR.neuron_magnitudes(p)
    for e in range(3):
        kept = set(torch.argsort(mags[e])[3:].tolist())
        expected = p.W_O[e][sorted(kept)]
        torch.testing.assert_close(pruned.W_O[e], expected)
        torch.testing.assert_close(pruned.a[e], p.a[e][sorted(kept)])
        assert PR.neuron_magnitudes(pruned)[e].min() >= mags[e].sort().values[3]


def test_largest_first_removes_the_largest_rows():
    p = params()
    pruned = PR.prune_largest(p, 0.2)
    mags = PR.neuron_magnitudes(p)
    for e in range(3):
        assert PR.neuron_magnitudes(pruned)[e].max() <= mags[e].sort().values[-3]


def test_random_pruning_is_reproducible_by_seed():
    p = params()
    a, b, c = PR.prune_random(p, 0.4, 7), PR.prune_random(p, 0.4, 7), PR.prune_random(p, 0.4, 8)
    assert torch.equal(a.W_O, b.W_O) and not torch.equal(a.W_O, c.W_O)
    assert a.m == 6


def test_pruned_model_equals_masked_model():
    p, P = params(), prompts()
    remove = torch.tensor([[0, 3, 4], [1, 2, 9], [5, 6, 7]])
    torch.testing.assert_close(forward(PR.prune_rows(p, remove), P), forward(PR.mask_neurons(p, remove), P))


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan"), 0.97])
def test_bad_rates(rate):
    with pytest.raises(ValueError, match="'rate'"):
        PR.prune_by_magnitude(params(), rate)


def test_unequal_removals_are_rejected():
    with pytest.raises(ValueError, match="'remove'"):
        PR.prune_rows(params(), torch.tensor([[0, 0], [1, 2], [3, 4]]))


def test_n_pruned_rounds():
    assert PR.n_pruned(40, 0.075) == 3 and PR.n_pruned(40, 0.4) == 16 and PR.n_pruned(40, 0.0) == 0


# Masks and scoring from the neurons' terms (chapter 3's sweeps).


def trained_like(config, E=2, seed=3):
    """Random weights of the shapes of ``config`` whose neurons have a spread of norms."""
    d, m = config.d_X + config.d_Y, config.m
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    scale = torch.cat([torch.full((m // 4,), 0.01), torch.linspace(0.5, 1.5, m - m // 4)])
    W_O = r(E, m, d) / d**0.5 * scale[torch.randperm(m, generator=g)][:, None]
    a = torch.cat([torch.full((m // 2,), 1.0 / m), torch.full((m // 2,), -1.0 / m)]).double()
    eye = torch.eye(d, dtype=torch.float64).expand(E, d, d)
    return Params(
        W_Q=eye + 0.3 * r(E, d, d), W_K=eye + 0.3 * r(E, d, d), W_V=eye.clone(), W_O=W_O, a=a.expand(E, m).clone()
    )


@pytest.fixture(scope="module")
def scored():
    from icl_utils.incontext.config import EvalConfig, ICLConfig
    from icl_utils.incontext.experiments import eval_batch

    configs = [ICLConfig(seed=s) for s in (0, 1)]
    p = trained_like(configs[0])
    batch = eval_batch(configs, EvalConfig(l_ts=6, n_eval=200), "cpu")
    return p, configs, batch, PR.neuron_outputs(p, batch), batch[1].label[..., -1]


def test_neuron_terms_sum_to_the_model_output(scored):
    p, _, batch, terms, _ = scored
    assert terms.shape == (2, 200, p.m)
    torch.testing.assert_close(terms.sum(-1), forward_indexed(p, *batch))


@pytest.mark.parametrize("method", ["magnitude", "largest", "random"])
def test_scoring_a_mask_equals_evaluating_the_pruned_model(scored, method):
    from icl_utils.incontext.experiments import evaluate_params

    p, configs, batch, terms, z = scored
    pruned = {"magnitude": PR.prune_by_magnitude, "largest": PR.prune_largest}.get(method)
    model = pruned(p, 0.3) if pruned else PR.prune_random(p, 0.3, 5)
    mask = PR.removal_mask(p, 0.3, method, seed=5)
    assert mask.sum(1).tolist() == [PR.n_pruned(p.m, 0.3)] * 2
    ref = evaluate_params(model, configs, batch=batch)
    got = PR.pruned_metrics(terms, z, mask)
    for k in ("err", "loss", "margin"):
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-6, atol=1e-6)


def test_sweep_at_rate_zero_is_the_unpruned_model_and_random_averages_draws(scored):
    p, _, _, terms, z = scored
    full = PR.pruned_metrics(terms, z, torch.zeros(2, p.m, dtype=torch.bool))
    c = PR.sweep(terms, z, p, (0.0, 0.2), "random", n_random=3)
    np.testing.assert_allclose(c["margin"][0], full["margin"])
    draws = [PR.pruned_metrics(terms, z, PR.removal_mask(p, 0.2, "random", s))["margin"] for s in range(3)]
    np.testing.assert_allclose(c["margin"][1], np.mean(draws, axis=0))
    with pytest.raises(ValueError, match="'method'"):
        PR.sweep(terms, z, p, (0.1,), "smallest")


def test_large_fraction_mask_takes_the_same_fraction_of_each_sign_largest_first():
    from icl_utils.incontext.config import ICLConfig

    p = trained_like(ICLConfig())
    large = PR.neuron_magnitudes(p) > 0.1
    mask, removed = PR.large_fraction_mask(p, large, 0.25)
    mags = PR.neuron_magnitudes(p)
    for e in range(p.E):
        assert not bool((mask[e] & ~large[e]).any())
        for sign in (1.0, -1.0):
            group = large[e] & (torch.sign(p.a[e]) == sign)
            gone = mask[e] & group
            assert int(gone.sum()) == math.ceil(0.25 * int(group.sum()) - 1e-9)
            assert mags[e][gone].min() >= mags[e][group & ~gone].max()
        assert removed[e] == pytest.approx(int(mask[e].sum()) / int(large[e].sum()))
    none, zero = PR.large_fraction_mask(p, large, 0.0)
    assert not bool(none.any()) and np.all(zero == 0)


def test_one_sign_mask_keeps_the_smallest_of_that_sign():
    from icl_utils.incontext.config import ICLConfig

    p = trained_like(ICLConfig())
    large = PR.neuron_magnitudes(p) > 0.1
    mask = PR.one_sign_mask(p, large, 1.0, keep=1)
    mags = PR.neuron_magnitudes(p)
    for e in range(p.E):
        pos = large[e] & (p.a[e] > 0)
        left = pos & ~mask[e]
        assert int(left.sum()) == 1 and mags[e][left].item() == mags[e][pos].min().item()
        assert not bool((mask[e] & (p.a[e] < 0)).any())
    assert bool((PR.one_sign_mask(p, large, 1.0, keep=0) == (large & (p.a > 0))).all())


def test_init_norm_is_the_mean_norm_of_a_gaussian_row_and_grown_neurons_exceed_it():
    g = torch.Generator().manual_seed(0)
    rows = 0.01 * torch.randn(200000, 24, generator=g, dtype=torch.float64)
    assert PR.init_norm(0.01, 24) == pytest.approx(rows.norm(dim=1).mean().item(), rel=2e-3)
    assert PR.init_norm(0.01, 24) == pytest.approx(0.01 * 24**0.5, rel=0.02)
    from icl_utils.incontext.config import ICLConfig

    p = trained_like(ICLConfig())
    grown = PR.grown_neurons(p, 0.01)
    assert bool((grown == (PR.neuron_magnitudes(p) > 2 * PR.init_norm(0.01, 24))).all())
    with pytest.raises(ValueError, match="'factor'"):
        PR.grown_neurons(p, 0.01, factor=1.0)


def test_cost_table_counts_fewer_flops_for_fewer_neurons():
    from icl_utils.incontext.config import ICLConfig

    p = trained_like(ICLConfig(), E=1)
    P = prompts(E=1, n=50, L=5, d=24)
    table = PR.cost_table(p, P, (0.0, 0.25, 0.5), repeats=1)
    assert list(table.columns) == ["rate", "m", "kflop", "flop_share", "time_share", "mlp_time_share"]
    assert table["m"].tolist() == [40, 30, 20]
    assert table["flop_share"].iloc[0] == 1.0 and table["kflop"].is_monotonic_decreasing
    with pytest.raises(ValueError, match="'params'"):
        PR.cost_table(trained_like(ICLConfig(), E=2), prompts(E=2, n=5, L=5, d=24), (0.0,))


def test_several_removals_are_scored_at_once_like_one_by_one(scored):
    p, _, _, terms, z = scored
    masks = torch.stack([PR.removal_mask(p, 0.4, "random", s) for s in range(4)])
    together = PR.pruned_metrics(terms, z, masks)
    for d in range(4):
        alone = PR.pruned_metrics(terms, z, masks[d])
        for k in ("err", "loss", "margin"):
            np.testing.assert_allclose(together[k][d], alone[k], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="'remove'"):
        PR.pruned_metrics(terms, z, masks[:, :1])


def test_neuron_terms_with_input_noise_sum_to_the_model_on_noisy_prompts(scored):
    from icl_utils.incontext.data import embed
    from icl_utils.incontext.model import forward

    p, _, batch, terms, _ = scored
    noisy = PR.neuron_outputs(p, batch, noise_std=0.5, seed=3)
    noise = PR.input_noise(batch, 0.5, seed=3)
    assert noise.shape == (*batch[1].pattern.shape, batch[0].mu.shape[-1])
    assert abs(float(noise.std()) - 0.5) < 0.01  # Gaussian of the asked scale
    torch.testing.assert_close(noisy.sum(-1), forward(p, embed(*batch, noise)))  # the literal model
    torch.testing.assert_close(PR.neuron_outputs(p, batch, noise_std=0.5, seed=3), noisy)  # deterministic
    assert not torch.equal(PR.neuron_outputs(p, batch, noise_std=0.5, seed=4), noisy)
    assert PR.input_noise(batch, 0.0) is None
    torch.testing.assert_close(PR.neuron_outputs(p, batch, noise_std=0.0), terms)
    with pytest.raises(ValueError, match="'noise_std'"):
        PR.neuron_outputs(p, batch, noise_std=-0.1)
    with pytest.raises(ValueError, match="'seed'"):
        PR.input_noise(batch, 0.1, seed=-1)
