"""Results indexed by name -- sweep value and seed -- not by position.

The experiment entry points return every trained model's results in input order (a list of
dicts, one per configuration).  :class:`Runs` is that list, carrying the configuration
objects, and :meth:`Runs.array` lays any measured value out as an ``xarray.DataArray`` over
named configuration fields (``runs.array(final_error, "task_fraction", "seed")``): its axes and
coordinates come from the configurations, so a chapter never reshapes by the order a sweep was
built in, selects by value (``.sel(task_fraction=0.2)``), and exports a long table
(``.to_dataframe(name)``).  :class:`Evaluation` does the same for tests of trained runs: one
value per (run, test), labelled by the run's fields and the test's fields.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .checks import check_list

__all__ = ["labelled", "Runs", "Evaluation"]


def _unique(values: list) -> list:
    """The distinct values in order of first appearance (None, numbers and strings alike)."""
    out: list = []
    for v in values:
        if not any(_same(v, u) for u in out):
            out.append(v)
    return out


def labelled(labels: list[dict], values, dims, name: str | None = None):
    """``values[i]`` (a number or an array, the same shape for every item) of the item described
    by ``labels[i]`` (a dict of field values), as an ``xarray.DataArray`` over ``dims`` (field
    names): one coordinate per distinct value of each field, in order of first appearance.

    Trailing axes of the values are kept (named ``axis_1``, ``axis_2``, ...).  Two items at the same
    coordinates raise a ValueError naming the fields they differ in (pass them among ``dims``); a
    combination no item has is NaN.
    """
    import xarray as xr

    labels = check_list("labels", labels, what="a non-empty list of dicts of field values")
    values = [np.asarray(v, dtype=float) for v in values]
    if len(values) != len(labels):
        raise ValueError(f"parameter 'values' has {len(values)} items: allowed one per label ({len(labels)})")
    dims = list(dims)
    if not dims or not all(isinstance(d, str) for d in dims) or len(set(dims)) != len(dims):
        raise ValueError(f"parameter 'dims' = {dims!r} is invalid: allowed distinct field names")
    for d in dims:
        missing = [i for i, lab in enumerate(labels) if d not in lab]
        if missing:
            raise ValueError(
                f"parameter 'dims' names {d!r}, which item {missing[0]} lacks: allowed {sorted(labels[missing[0]])}"
            )
    shape = values[0].shape
    if any(v.shape != shape for v in values):
        raise ValueError("parameter 'values' holds arrays of different shapes: allowed one shape for every item")
    coords = {d: _unique([lab[d] for lab in labels]) for d in dims}
    out = np.full([len(coords[d]) for d in dims] + list(shape), np.nan)
    seen: dict = {}
    for i, (lab, v) in enumerate(zip(labels, values)):
        pos = tuple(next(k for k, u in enumerate(coords[d]) if _same(u, lab[d])) for d in dims)
        if pos in seen:
            j = seen[pos]
            differ = sorted(k for k in lab if k in labels[j] and not _same(lab[k], labels[j][k]))
            raise ValueError(
                f"parameter 'dims' = {dims!r} does not tell items {j} and {i} apart: they differ in {differ}; "
                "add the field(s) to the dims"
            )
        seen[pos] = i
        out[pos] = v
    extra = [f"axis_{k + 1}" for k in range(len(shape))]
    return xr.DataArray(
        out,
        dims=[*dims, *extra],
        coords={d: np.array(coords[d], dtype=object if None in coords[d] else None) for d in dims},
        name=name,
    )


def _same(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and a == b)


def _value_of(value, name: str = "value"):
    """A function of one result: ``value`` itself, or, for a key, the result's entry (its last
    recorded value when it is a record over iterations)."""
    if callable(value):
        return value
    if isinstance(value, str):
        return lambda r: np.asarray(r[value])[-1] if np.ndim(r[value]) >= 1 and "iters" in r else r[value]
    raise ValueError(f"parameter {name!r} = {value!r} is invalid: allowed a result key or a function of a result")


class Runs(list):
    """Trained runs in input order -- each a dict with its ``"config"`` -- with their configurations
    as objects (:attr:`configs`) and measured values laid out by field name (:meth:`array`)."""

    def __init__(self, results, config_type):
        super().__init__(results)
        self.config_type = config_type

    @property
    def configs(self) -> list:
        """Each run's configuration, as the configuration class it was trained from."""
        return [self.config_type(**r["config"]) for r in self]

    def array(self, value, *dims):
        """``value`` of every run (a result key -- its final recorded value -- or a function of a
        result) as an ``xarray.DataArray`` over the configuration fields ``dims``, e.g.
        ``runs.array("err_unseen", "task_fraction", "seed")``."""
        f = _value_of(value)
        if isinstance(value, str):
            missing = [i for i, r in enumerate(self) if value not in r]
            if missing:
                keys = sorted(k for k in self[missing[0]] if k != "config") if len(self) else []
                raise ValueError(f"parameter 'value' = {value!r} is not a key of run {missing[0]}: allowed {keys}")
        return labelled(
            [r["config"] for r in self], [f(r) for r in self], dims, value if isinstance(value, str) else None
        )

    def select(self, **fields) -> Runs:
        """The runs whose configuration has the given field values (``runs.select(alpha=0.6)``)."""
        known = (
            {f.name for f in dataclasses.fields(self.config_type)}
            if dataclasses.is_dataclass(self.config_type)
            else None
        )
        unknown = sorted(set(fields) - known) if known is not None else []
        if unknown:
            raise ValueError(
                f"parameter {unknown[0]!r} is not a field of {self.config_type.__name__}: allowed {sorted(known)}"
            )
        return Runs([r for r in self if all(_same(r["config"].get(k), v) for k, v in fields.items())], self.config_type)

    def __getitem__(self, index):
        out = super().__getitem__(index)
        return Runs(out, self.config_type) if isinstance(index, slice) else out


class Evaluation(dict):
    """Arrays of shape (runs, tests) by key (``"err"``, ...), with the runs' configurations and the
    tests, laid out by field name with :meth:`array`."""

    def __init__(self, arrays: dict, runs: list[dict], tests: list):
        super().__init__(arrays)
        self.runs = runs
        self.tests = tests

    def array(self, key: str, *dims):
        """``self[key]`` as an ``xarray.DataArray`` over ``dims``: fields of the runs' configurations
        (``"seed"``, ...) and of the tests (``"S1"``, ``"l_ts"``, ...; a test's field shadows the
        run's field of the same name), e.g. ``ev.array("err", "seed", "S1", "l_ts")``."""
        if key not in self:
            raise ValueError(f"parameter 'key' = {key!r} is invalid: allowed {sorted(self)}")
        labels, values = [], []
        for i, run in enumerate(self.runs):
            for j, test in enumerate(self.tests):
                labels.append({**run, **test.to_dict()})
                values.append(self[key][i, j])
        return labelled(labels, values, dims, key)
