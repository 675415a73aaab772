"""What both papers' code shares.

* :mod:`~icl_utils.core.checks` -- parameter validators (a ValueError naming the parameter) and memory checks;
* :mod:`~icl_utils.core.fields` -- the base class of every frozen configuration (``replace``, ``to_dict``);
* :mod:`~icl_utils.core.device` -- the validated compute device;
* :mod:`~icl_utils.core.rng` -- one named random stream per seed and purpose;
* :mod:`~icl_utils.core.numerics` -- float64 everywhere (importing the package sets torch's default dtype);
* :mod:`~icl_utils.core.sgd` -- the training loop every trainer runs, over an ensemble of models;
* :mod:`~icl_utils.core.progress` -- progress bars for long runs;
* :mod:`~icl_utils.core.cache` -- the on-disk result cache behind the experiment entry points;
* :mod:`~icl_utils.core.stats` -- power-law and linear fits with bootstrap intervals over seeds.
"""

from . import cache, checks, device, fields, numerics, progress, rng, sgd, stats

__all__ = ["cache", "checks", "device", "fields", "numerics", "progress", "rng", "sgd", "stats"]
