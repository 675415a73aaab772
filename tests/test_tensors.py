"""The shared base of weights, prompts and worlds (icl_utils.core.tensors)."""

import numpy as np
import pytest
import torch

from icl_utils.core.rng import make_generator
from icl_utils.cot.model import CoTParams
from icl_utils.incontext.data import PromptIndices, World, make_world
from icl_utils.incontext.model import Params, init_params


def test_stack_index_cat_and_move_field_by_field():
    w = [make_world(4, 3, 8, 2, k, make_generator(s, "world")) for s, k in ((0, 0.5), (1, 0.25))]
    world = World.stack(w)
    assert world.mu.shape == (2, 4, 8) and world.kappa.dtype == torch.float64
    assert world.kappa.tolist() == [0.5, 0.25]
    one = world[1]
    assert torch.equal(one.mu, w[1].mu) and float(one.kappa) == 0.25
    assert torch.equal(World.cat([world[:1], world[1:]]).nu, world.nu)
    assert world.to("cpu").q.device.type == "cpu"
    idx = PromptIndices(torch.zeros(3, 5, dtype=torch.long), torch.ones(3, 5, dtype=torch.long), torch.ones(3, 5))
    assert PromptIndices.stack([idx, idx]).pattern.shape == (2, 3, 5)
    assert idx[1:].label.shape == (2, 5) and idx.z.shape == (3,)


def test_weights_select_detach_and_trained():
    p = Params.cat(init_params(6, 4, 0.3, 0.01, [make_generator(s, "init")]) for s in range(3))
    assert p.E == 3 and p.m == 4
    assert p.select(1).W_O.shape == (1, 4, 6) and p.select([0, 2]).E == 2
    assert [n for n in Params.TRAINED] == ["W_Q", "W_K", "W_V", "W_O"] and len(p.trained()) == 4
    d = p.detach()
    d.W_O.add_(1)
    assert not torch.equal(d.W_O, p.W_O)  # a copy


def results_of(p: Params, snapshots: bool = False) -> list[dict]:
    out = []
    for e in range(p.E):
        w = {k: v[0].numpy() for k, v in p.select(e).state().items()}
        r = {"weights": w, "iters": np.array([0, 10])}
        if snapshots:
            r["snapshots"] = {k: np.stack([np.zeros_like(w[k]), w[k]]) for k in Params.TRAINED}
        out.append(r)
    return out


def test_from_results_rebuilds_the_ensemble_final_or_at_a_snapshot():
    p = Params.cat(init_params(6, 4, 0.3, 0.01, [make_generator(s, "init")]) for s in range(2))
    back = Params.from_results(results_of(p))
    for k in ("W_Q", "W_K", "W_V", "W_O", "a"):
        assert torch.equal(getattr(back, k), getattr(p, k))
    first = Params.from_results(results_of(p, snapshots=True), at=0)
    assert float(first.W_O.abs().sum()) == 0 and torch.equal(first.a, p.a)  # a is not trained: its final value
    cot = CoTParams(torch.ones(2, 4, 4), torch.ones(2, 4, 4), torch.ones(2, 2, 4))
    cres = [{"weights": {k: v[0].numpy() for k, v in cot.select(e).state().items()}} for e in range(2)]
    assert torch.equal(CoTParams.from_results(cres).W_V, cot.W_V)


@pytest.mark.parametrize(
    "results, at, name",
    [
        ([], None, "results"),
        (["run"], None, "results"),
        ([{"weights": {"W_Q": 1}}], None, "results"),
        ("results", None, "results"),
    ],
)
def test_from_results_rejects_what_is_not_a_trained_run(results, at, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        Params.from_results(results, at)


def test_from_results_rejects_a_bad_snapshot_index_and_diverged_weights():
    p = Params.cat(init_params(6, 4, 0.3, 0.01, [make_generator(0, "init")]) for _ in range(1))
    with pytest.raises(ValueError, match="'at'"):
        Params.from_results(results_of(p), at=0)  # no snapshots
    with pytest.raises(ValueError, match="'at'"):
        Params.from_results(results_of(p, snapshots=True), at=5)
    bad = results_of(p)
    bad[0]["weights"]["W_O"][0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        Params.from_results(bad)
