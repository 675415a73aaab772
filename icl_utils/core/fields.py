"""The base class of every frozen configuration of the package (:class:`~icl_utils.incontext.config.ICLConfig`,
:class:`~icl_utils.cot.config.CoTConfig`, the chapter profiles ...): ``replace`` with validation
and ``to_dict``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import fields

__all__ = ["Fields"]


class Fields:
    """``replace`` and ``to_dict`` of the package's frozen configuration dataclasses."""

    def replace(self, **changes):
        """A copy with some fields changed (and validated)."""
        names = [f.name for f in fields(self)]
        unknown = set(changes) - set(names)
        if unknown:
            raise ValueError(f"unknown {type(self).__name__} parameter(s) {sorted(unknown)}: allowed {names}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def _check(self, name, check, *args, **kwargs):
        """Validate field ``name`` with ``check`` and store the value it returns (an ``int`` for
        a NumPy integer, a ``float`` for an integer given to a real field), so that equal
        configurations have equal dictionaries and cache keys."""
        value = check(name, getattr(self, name), *args, **kwargs)
        object.__setattr__(self, name, value)
        return value
