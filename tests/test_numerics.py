import torch

import icl_utils as icl


def test_the_package_computes_in_float64():
    assert torch.get_default_dtype() == torch.float64 == icl.numerics.DTYPE
    cfg = icl.ICLConfig(T=3, B=4, n_eval=5, record_every=3, m=4)
    r = icl.experiments.train_runs([cfg], cache=False, progress=False)[0]
    assert all(v.dtype.name == "float64" for v in r["weights"].values())
    assert r["loss"].dtype.name == "float64"
    member = icl.training.setup_member(cfg)
    assert member.world.mu.dtype == torch.float64 and member.world.q.dtype == torch.float64
    w = icl.cot.make_cot_world(4, 2, 8, generator=icl.data.make_generator(0, "world"))
    assert w.patterns.dtype == torch.float64
