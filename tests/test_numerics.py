import torch

import icl_utils as icl


def test_the_package_computes_in_float64():
    assert torch.get_default_dtype() == torch.float64 == icl.core.numerics.DTYPE
    cfg = icl.ICLConfig(T=3, B=4, n_eval=5, record_every=3, m=4)
    r = icl.incontext.experiments.train_runs([cfg], cache=False, progress=False)[0]
    assert all(v.dtype.name == "float64" for v in r["weights"].values())
    assert r["loss"].dtype.name == "float64"
    member = icl.incontext.training.setup_member(cfg)
    assert member.world.mu.dtype == torch.float64 and member.world.q.dtype == torch.float64
    w = icl.cot.data.make_cot_world(4, 2, 8, generator=icl.core.rng.make_generator(0, "world"))
    assert w.patterns.dtype == torch.float64
