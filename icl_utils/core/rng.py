"""Seeded random streams: one ``torch.Generator`` per (seed, purpose), so that a run's patterns,
task split, initialization, training prompts and test prompts are fixed by its seed alone and
do not depend on what else is computed beside it.
"""

from __future__ import annotations

import numpy as np
import torch

from .checks import _fail, check_int

__all__ = ["STREAMS", "make_generator"]

# Independent random streams derived from one seed (numpy's SeedSequence).
STREAMS = {"world": 0, "split": 1, "init": 2, "train": 3, "eval": 4, "ood": 5, "probe": 6}


def make_generator(seed: int, stream: str | int = 0) -> torch.Generator:
    """A CPU ``torch.Generator`` for one named random stream of a seed.

    Streams (``"world"``, ``"split"``, ``"init"``, ``"train"``, ``"eval"``, ...)
    are statistically independent and do not depend on each other's use, so
    a model's data is the same whether it is trained alone or in an ensemble.
    ``seed``: an integer >= 0; ``stream``: one of :data:`STREAMS` or an integer >= 0.
    """
    seed = check_int("seed", seed, 0, allowed="integers >= 0")
    if isinstance(stream, str):
        if stream not in STREAMS:
            _fail("stream", stream, f"one of {list(STREAMS)} or an integer >= 0")
        key = STREAMS[stream]
    else:
        key = check_int("stream", stream, 0, allowed=f"integers >= 0 or one of {list(STREAMS)}")
    state = np.random.SeedSequence([seed, key]).generate_state(2, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state[0] % (2**63 - 1)))
