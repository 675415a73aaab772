"""The claims cell of a chapter: a theorem's checkable statements, each with its
measured value and a printed verdict (STYLE.md, "A chapter", item 5).

:meth:`Claims.report` also emits the claims as a hidden JSON output
(:data:`MIME`), from which the book's scoreboard page is built
(:func:`icl_utils.book.write_scoreboard`), so no verdict is ever typed by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Claim", "Claims", "MIME"]

#: Output type that carries a chapter's claims to the scoreboard (not rendered on the page).
MIME = "application/vnd.icl-claims+json"


@dataclass
class Claim:
    theorem: str
    statement: str
    measured: str
    holds: bool
    required: bool = True
    figure: str | None = None
    why: str | None = None

    @property
    def verdict(self) -> str:
        return "yes" if self.holds else "no"


@dataclass
class Claims:
    """Collects claims; :meth:`report` prints them and fails if a required one does not hold.

    ``required=False`` marks a statement the chapter reports without relying on
    it (for instance a measured exponent that the text discusses either way).
    ``figure`` names the figure that shows the claim (the ``name`` of a figure
    cell's ``mystnb.figure`` metadata); the scoreboard links to it.  ``why`` is the
    reason the chapter found for a claim that does not hold (a regime, the scale, a
    measurement choice); the scoreboard's disagreement box shows it next to the claim.
    """

    items: list = field(default_factory=list)

    def check(
        self,
        theorem: str,
        statement: str,
        measured: str,
        holds,
        required: bool = True,
        figure: str | None = None,
        why: str | None = None,
    ) -> Claim:
        if figure is not None and not re.fullmatch(r"fig-[a-z0-9-]+", figure):
            raise ValueError(
                f"parameter 'figure' = {figure!r} is invalid: expected a figure name like 'fig-chapter-what'"
            )
        if why is not None and not (isinstance(why, str) and why.strip()):
            raise ValueError(f"parameter 'why' = {why!r} is invalid: allowed a non-empty string or None")
        c = Claim(theorem, statement, measured, bool(holds), required, figure, why)
        self.items.append(c)
        return c

    def to_json(self) -> list:
        out = []
        for c in self.items:
            d = {
                "theorem": c.theorem,
                "statement": c.statement,
                "measured": c.measured,
                "holds": c.holds,
                "required": c.required,
                "figure": c.figure,
            }
            if c.why is not None:  # only where a chapter gives one
                d["why"] = c.why
            out.append(d)
        return out

    def report(self) -> None:
        try:  # hand the claims to the scoreboard when running in a notebook
            from IPython import get_ipython
            from IPython.display import display

            if get_ipython() is not None:
                display({MIME: self.to_json()}, raw=True)
        except ImportError:  # pragma: no cover
            pass
        from .export import save_json

        save_json("claims", self.to_json())
        for c in self.items:  # the verdict first, so that it is seen in a narrow output column
            tag = "" if c.required else " (reported, not required)"
            print(f"{c.verdict:<3}  [{c.theorem}] {c.statement}{tag}\n     measured: {c.measured}")
            if c.why is not None and not c.holds:
                print(f"     why: {c.why}")
        failed = [c for c in self.items if c.required and not c.holds]
        if failed:
            raise AssertionError(
                "claims that the chapter's text relies on do not hold: " + "; ".join(c.statement for c in failed)
            )
