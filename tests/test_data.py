import math

import pytest
import torch

from icl_utils import core
from icl_utils.core.rng import make_generator
from icl_utils.incontext.data import (
    World,
    all_tasks,
    covers_patterns,
    embed,
    make_ood_world,
    make_world,
    sample_prompt_indices,
    split_tasks,
)


def world(seed=0, M1=6, M2=12, d_X=20, d_Y=4, kappa=0.5):
    return make_world(M1, M2, d_X, d_Y, kappa, make_generator(seed, "world"))


def test_patterns_orthonormal_and_orthogonal():
    w = world()
    assert w.mu.shape == (6, 20) and w.nu.shape == (12, 20) and w.q.shape == (4,)
    torch.testing.assert_close(w.mu @ w.mu.T, torch.eye(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(w.nu @ w.nu.T, torch.eye(12), atol=1e-5, rtol=0)
    assert (w.mu @ w.nu.T).abs().max() < 1e-5
    assert abs(float(w.q.norm()) - 1) < 1e-6


def test_world_is_deterministic_by_seed():
    torch.testing.assert_close(world(3).mu, world(3).mu, rtol=0, atol=0)
    assert not torch.allclose(world(3).mu, world(4).mu)


def test_generator_streams_are_independent_and_reproducible():
    a = torch.rand(5, generator=make_generator(1, "train"))
    b = torch.rand(5, generator=make_generator(1, "train"))
    c = torch.rand(5, generator=make_generator(1, "eval"))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_all_tasks():
    t = all_tasks(6)
    assert t.shape == (30, 2)
    assert (t[:, 0] != t[:, 1]).all()
    assert len({tuple(x) for x in t.tolist()}) == 30


@pytest.mark.parametrize("M1, frac, r", [(6, 0.5, 3), (6, 0.2, 1), (6, 1.0, 5), (10, 1 / 3, 3), (6, 0.05, 1)])
def test_split_covers_patterns_and_labels_uniformly(M1, frac, r):
    tr, un = split_tasks(M1, frac, make_generator(0, "split"))
    assert tr.shape[0] == r * M1
    assert tr.shape[0] + un.shape[0] == M1 * (M1 - 1)
    assert torch.equal(torch.bincount(tr[:, 0], minlength=M1), torch.full((M1,), r))
    assert torch.equal(torch.bincount(tr[:, 1], minlength=M1), torch.full((M1,), r))
    assert not ({tuple(x) for x in tr.tolist()} & {tuple(x) for x in un.tolist()})
    assert tr.shape[0] / (M1 * (M1 - 1)) >= frac - 1e-9


@pytest.mark.parametrize("M1, frac, n", [(6, 0.1, 3), (6, 0.4, 12), (6, 1.0, 30), (4, 0.01, 1)])
def test_random_split_draws_the_fraction_of_tasks_without_a_cover(M1, frac, n):
    tr, un = split_tasks(M1, frac, make_generator(0, "split"), "random")
    assert tr.shape == (n, 2) and tr.shape[0] + un.shape[0] == M1 * (M1 - 1)
    assert len({tuple(x) for x in tr.tolist()}) == n  # without replacement
    assert not ({tuple(x) for x in tr.tolist()} & {tuple(x) for x in un.tolist()})
    again, _ = split_tasks(M1, frac, make_generator(0, "split"), "random")
    assert torch.equal(tr, again)  # the seed fixes the draw
    other, _ = split_tasks(M1, frac, make_generator(1, "split"), "random")
    assert n == M1 * (M1 - 1) or not torch.equal(tr, other)


def test_random_splits_cover_the_patterns_only_sometimes():
    """Below 1/(M1 - 1) no set covers every pattern as both labels; a cyclic split always does."""
    small = [covers_patterns(split_tasks(6, 0.1, make_generator(s, "split"), "random")[0], 6) for s in range(20)]
    large = [covers_patterns(split_tasks(6, 0.6, make_generator(s, "split"), "random")[0], 6) for s in range(20)]
    assert not any(small) and any(large)
    assert all(covers_patterns(split_tasks(6, f, make_generator(0, "split"))[0], 6) for f in (0.2, 0.5, 1.0))


def test_covers_patterns_against_a_literal_check():
    tasks = torch.tensor([[0, 1], [1, 2], [2, 0]])  # each of 0, 1, 2 once as "+1" and once as "-1"
    assert covers_patterns(tasks, 3)
    assert not covers_patterns(tasks[:2], 3)  # 2 never "+1", 0 never "-1"
    assert not covers_patterns(tasks, 4)  # pattern 3 never appears


def test_split_rejects_an_unknown_split():
    with pytest.raises(ValueError, match="'split'"):
        split_tasks(6, 0.5, make_generator(0, "split"), "uniform")


@pytest.mark.parametrize("alpha", [0.2, 0.6, 1.0])
def test_fraction_of_relevant_examples_matches_alpha(alpha):
    tasks = all_tasks(6)
    n, l = 4000, 20
    idx = sample_prompt_indices(tasks, alpha, l, n, 6, 12, make_generator(0, "train"))
    assert idx.pattern.shape == (n, l + 1) and idx.label.shape == (n, l + 1)
    # Recover each prompt's task from the query: the relevant patterns are a and b.
    ctx, lab = idx.pattern[:, :-1], idx.label[:, :-1]
    # Examples of the task's patterns are exactly those with a deterministic label:
    # pattern a <-> +1 and pattern b <-> -1 consistently within a prompt.
    qpat, z = idx.pattern[:, -1], idx.z
    same = ctx == qpat[:, None]
    # same-pattern examples carry the query's label
    assert torch.equal(lab[same], z[:, None].expand_as(lab)[same])
    frac_same = same.float().mean().item()
    assert abs(frac_same - alpha / 2) < 0.01
    # the other task pattern: examples with label -z that are not the query's pattern
    # appear with frequency alpha/2 too; with random labels of other patterns at (1-alpha)/2
    opposite = (~same) & (lab == -z[:, None])
    assert abs(opposite.float().mean().item() - (alpha / 2 + (1 - alpha) / 2)) < 0.015
    assert set(z.tolist()) <= {-1.0, 1.0}
    assert abs(z.mean().item()) < 0.05


def test_query_pattern_belongs_to_task():
    tasks = torch.tensor([[0, 1]])
    idx = sample_prompt_indices(tasks, 0.5, 10, 500, 6, 12, make_generator(0))
    q = idx.pattern[:, -1]
    assert set(q.tolist()) == {0, 1}
    assert torch.equal(idx.z, torch.where(q == 0, 1.0, -1.0))
    others = idx.pattern[:, :-1][(idx.pattern[:, :-1] != 0) & (idx.pattern[:, :-1] != 1)]
    assert set(others.tolist()) == {2, 3, 4, 5}


def test_sampling_is_deterministic():
    a = sample_prompt_indices(all_tasks(6), 0.6, 5, 10, 6, 12, make_generator(7, "train"))
    b = sample_prompt_indices(all_tasks(6), 0.6, 5, 10, 6, 12, make_generator(7, "train"))
    assert torch.equal(a.pattern, b.pattern) and torch.equal(a.label, b.label)


def test_sampling_validates():
    with pytest.raises(ValueError, match="'alpha'"):
        sample_prompt_indices(all_tasks(6), 1.2, 5, 10, 6, 12, make_generator(0))
    with pytest.raises(ValueError, match="'l'"):
        sample_prompt_indices(all_tasks(6), 0.5, 0, 10, 6, 12, make_generator(0))
    with pytest.raises(ValueError, match="'tasks'"):
        sample_prompt_indices(torch.zeros(0, 2, dtype=torch.long), 0.5, 5, 10, 6, 12, make_generator(0))


def test_embed_builds_eq6_columns():
    w = world()
    idx = sample_prompt_indices(all_tasks(6), 0.6, 4, 3, 6, 12, make_generator(0))
    P = embed(World.stack([w]), idx[None])
    assert P.shape == (1, 3, 5, 24)
    for n in range(3):
        for i in range(5):
            x = w.mu[idx.pattern[n, i]] + 0.5 * w.nu[idx.irrelevant[n, i]]
            y = idx.label[n, i] * w.q if i < 4 else torch.zeros(4)
            torch.testing.assert_close(P[0, n, i], torch.cat([x, y]))


@pytest.mark.parametrize("S1", [0.5, 1.0, 1.3])
def test_ood_coefficients_sum_to_S1_and_odi_in_idi_span(S1):
    w = world()
    o = make_ood_world(w, S1, group_size=2, generator=make_generator(0, "ood"))
    assert o.M1 == 3
    coef = o.mu @ w.mu.T  # c_ji, since the IDR patterns are orthonormal
    torch.testing.assert_close(coef.sum(1), torch.full((3,), S1), atol=1e-5, rtol=0)
    # ODR patterns live in the IDR span and are mutually orthogonal (disjoint groups)
    torch.testing.assert_close(coef @ w.mu, o.mu, atol=1e-5, rtol=0)
    off = o.mu @ o.mu.T - torch.diag(torch.diagonal(o.mu @ o.mu.T))
    assert off.abs().max() < 1e-5
    # ODI patterns: orthonormal, in the IDI span, orthogonal to every IDR pattern
    torch.testing.assert_close(o.nu @ o.nu.T, torch.eye(12), atol=1e-5, rtol=0)
    torch.testing.assert_close((o.nu @ w.nu.T) @ w.nu, o.nu, atol=1e-5, rtol=0)
    assert (o.nu @ w.mu.T).abs().max() < 1e-5


def test_ood_validation():
    w = world()
    for bad in (-1.0, 0.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="'S1'"):
            make_ood_world(w, bad)
    with pytest.raises(ValueError, match="'group_size'"):
        make_ood_world(w, 1.0, group_size=4)


def test_make_world_validates():
    with pytest.raises(ValueError, match="'d_X'"):
        make_world(6, 12, 10, 4, 0.5, make_generator(0))
    with pytest.raises(ValueError, match="'kappa'"):
        make_world(6, 12, 20, 4, 1.5, make_generator(0))


def test_streams_table_has_unique_ids():
    assert len(set(core.rng.STREAMS.values())) == len(core.rng.STREAMS)


@pytest.mark.parametrize("alpha_test", [0.6, 1.0])
def test_ood_prompts_have_the_requested_fraction_and_stay_out_of_the_idi_span(alpha_test):
    w = world()
    o = make_ood_world(w, 1.1, group_size=2, generator=make_generator(0, "ood"))
    assert (o.mu @ w.nu.T).abs().max() < 1e-5  # ODR patterns are orthogonal to the IDI span
    idx = sample_prompt_indices(all_tasks(o.M1), alpha_test, 20, 4000, o.M1, o.M2, make_generator(0, "probe"))
    same = (idx.pattern[:, :-1] == idx.pattern[:, -1:]).float().mean().item()
    assert abs(same - alpha_test / 2) < 0.01
    assert int(idx.pattern.max()) < o.M1 and int(idx.irrelevant.max()) < o.M2


def test_guess_floor_is_half_the_probability_of_no_same_pattern_example():
    from icl_utils.incontext.data import guess_floor

    alpha, l = 0.3, 6
    tasks = torch.tensor([[0, 1], [2, 3]])
    idx = sample_prompt_indices(tasks, alpha, l, 20000, 6, 12, make_generator(3, "probe"))
    none = (idx.pattern[:, :-1] != idx.pattern[:, -1:]).all(1).double().mean().item()
    assert abs(none / 2 - guess_floor(alpha, l)) < 0.01
    assert guess_floor(1.0, 1) == 0.25
    with pytest.raises(ValueError, match="'alpha_test'"):
        guess_floor(0.0, 5)
