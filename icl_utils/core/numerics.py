"""The book's numerics: every computation in float64.

SGD at learning rate 10 amplifies last-bit differences between CPUs (vector
width, math-library code paths, thread count) until a run near the edge of
generalizing lands elsewhere: in float32, one seed of chapter 1's task-fraction
sweep ended at unseen error 0.080, 0.107, 0.127 or 0.157 depending on the
machine's numerics.  In float64 the same runs agree to six digits under
``MKL_CBWR=COMPATIBLE``, ``ATEN_CPU_CAPABILITY=default`` and one thread, at
about 1.3x the time of float32 on a CPU.  Importing :mod:`icl_utils` sets
torch's default floating dtype to :data:`DTYPE`, so every tensor the package
or a chapter creates is float64; ``tests/test_numerics.py`` checks it.
"""

import torch

__all__ = ["DTYPE"]

DTYPE = torch.float64
torch.set_default_dtype(DTYPE)
