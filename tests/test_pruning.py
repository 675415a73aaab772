import pytest
import torch

from icl_utils import pruning as PR
from icl_utils.model import Params, forward


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
