"""The claims cell of a chapter: a theorem's checkable statements, each with its
measured value and a printed verdict (every chapter ends with one).

:meth:`Claims.report` also emits the claims as a hidden JSON output
(:data:`MIME`), from which the book's scoreboard page is built
(:func:`icl_utils.book.write_scoreboard`), so no verdict is ever typed by hand.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

__all__ = ["Claim", "Claims", "SourceRow", "MIME", "SOURCE_MIME", "claims_table", "verdict_badge", "typeset", "md_cell"]

#: Output type that carries a chapter's claims to the scoreboard (not rendered on the page).
MIME = "application/vnd.icl-claims+json"
#: Output type that carries a chapter's "against the source" rows to the scoreboard.
SOURCE_MIME = "application/vnd.icl-source+json"


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
class SourceRow:
    """One row of a chapter's "against the source" table: a figure (or statement) of the
    papers, what it shows, what we measure, and the claims that decide whether we agree."""

    source: str
    shows: str
    measured: str
    claims: list
    figure: str | None = None
    reason: str | None = None

    @property
    def agrees(self) -> bool:
        """The row agrees when every claim that expresses the source's statement holds."""
        return all(c.holds for c in self.claims)

    def why(self) -> str:
        """The reason for a difference: the row's own, else the failing claims' ``why``."""
        if self.reason:
            return self.reason
        return "; ".join(dict.fromkeys(c.why for c in self.claims if not c.holds and c.why))

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "shows": self.shows,
            "measured": self.measured,
            "figure": self.figure,
            "agrees": self.agrees,
            "why": None if self.agrees else self.why(),
            "claims": [c.statement for c in self.claims],
        }


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
    rows: list = field(default_factory=list)

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

    def find(self, theorem: str, contains: str = "") -> list:
        """The claims checked so far under ``theorem`` whose statement contains ``contains``;
        none found is an error (a renamed claim never drops silently out of a source row)."""
        found = [c for c in self.items if c.theorem == theorem and contains in c.statement]
        if not found:
            raise ValueError(f"no claim of {theorem!r} whose statement contains {contains!r}")
        return found

    def against_source(
        self,
        source: str,
        shows: str,
        measured: str,
        claims,
        figure: str | None = None,
        reason: str | None = None,
    ) -> SourceRow:
        """Add a row to the chapter's "against the source" table (:meth:`source_table`).

        ``source`` names the papers' figure or statement (``"A-9"``, ``"Thm 1 (3)"``),
        ``shows`` what it shows (from its description), ``measured`` what we measure,
        ``claims`` the checked claims (:meth:`check`'s return values) that state what the
        source shows: the row agrees exactly when they all hold.  ``reason`` is the reason
        found for a difference (a measurement choice, a regime, scale, the model); without
        one, the failing claims' ``why`` is used, and a difference with no reason at all is
        an error: the table never lists an unexplained difference.
        """
        for name, value in (("source", source), ("shows", shows), ("measured", measured)):
            if not (isinstance(value, str) and value.strip()):
                raise ValueError(f"parameter {name!r} = {value!r} is invalid: allowed a non-empty string")
        claims = list(claims) if isinstance(claims, (list, tuple)) else [claims]
        if not claims or not all(any(c is item for item in self.items) for c in claims):
            raise ValueError(
                "parameter 'claims' is invalid: allowed a non-empty list of claims made by this object's check()"
            )
        if figure is not None and not re.fullmatch(r"fig-[a-z0-9-]+", figure):
            raise ValueError(
                f"parameter 'figure' = {figure!r} is invalid: expected a figure name like 'fig-chapter-what'"
            )
        row = SourceRow(source, shows, measured, claims, figure, reason)
        if not row.agrees and not row.why():
            raise ValueError(
                f"row {source!r} differs from the source and has no reason: pass 'reason' (or a 'why' on its claims)"
            )
        self.rows.append(row)
        return row

    def source_table(self) -> str:
        """Show the "against the source" rows as a table (and hand them to the scoreboard);
        returns the table's Markdown."""
        lines = [
            "| verdict | source | what the source shows | what we measure | why they differ |",
            "| --- | --- | --- | --- | --- |",
        ]
        for r in self.rows:
            fig = f" ({{numref}}`Fig. {{number}} <{r.figure}>`)" if r.figure else ""
            verdict = "agree" if r.agrees else "**differ**"
            why = "" if r.agrees else r.why()
            lines.append(
                f"| {verdict} | {table_cell(r.source)}{fig} | {md_cell(r.shows)} "
                f"| {md_cell(r.measured)} | {md_cell(why)} |"
            )
        table = "\n".join(lines)
        try:
            from IPython import get_ipython
            from IPython.display import Markdown, display

            if get_ipython() is not None:
                display({SOURCE_MIME: [r.to_json() for r in self.rows]}, raw=True)
                display(Markdown(table))
        except ImportError:  # pragma: no cover
            pass
        from .export import save_json

        save_json("against-source", [r.to_json() for r in self.rows])
        return table

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

    def text(self) -> str:
        """The claims as plain text, the verdict first (for a terminal, and the notebook's text/plain)."""
        lines = []
        for c in self.items:
            tag = "" if c.required else " (reported, not required)"
            lines.append(_wrap(f"{c.verdict:<3}  [{c.theorem}] {c.statement}{tag}"))
            lines.append(_wrap(f"     measured: {c.measured}"))
            if c.why is not None and not c.holds:
                lines.append(_wrap(f"     why: {c.why}"))
        return "\n".join(lines)

    def report(self) -> None:
        """Show the claims -- in a notebook as a table with typeset math (:func:`claims_table`),
        elsewhere as text -- hand them to the scoreboard, and fail if a required one does not hold."""
        shown = False
        try:  # hand the claims to the scoreboard when running in a notebook
            from IPython import get_ipython
            from IPython.display import display

            if get_ipython() is not None:
                display({MIME: self.to_json()}, raw=True)
                # the page renders the Markdown table; nbval compares it and the plain text
                display({"text/markdown": claims_table(self.to_json()), "text/plain": self.text()}, raw=True)
                shown = True
        except ImportError:  # pragma: no cover
            pass
        from .export import save_json

        save_json("claims", self.to_json())
        if not shown:
            print(self.text())
        failed = [c for c in self.items if c.required and not c.holds]
        if failed:
            raise AssertionError(
                "claims that the chapter's text relies on do not hold: " + "; ".join(c.statement for c in failed)
            )


def verdict_badge(holds: bool) -> str:
    """A claim's verdict as a symbol and a word, readable without colour."""
    return "✔ holds" if holds else "✘ **fails**"


def claims_table(claims: list) -> str:
    """Claims (:meth:`Claims.to_json` items) as a MyST Markdown table of four columns, the verdict
    first so that a phone shows it: verdict (and *reported* for a claim the text does not rely
    on), theorem and figure, the statement (math typeset; a failing claim's reason after it),
    the measured value.  The chapters and the scoreboard show it."""
    lines = [
        "| verdict | theorem | claim | measured |",
        "| --- | --- | --- | --- |",
    ]
    for c in claims:
        verdict = verdict_badge(c["holds"]) + ("" if c["required"] else " (reported)")
        where = table_cell(c["theorem"])
        if c.get("figure"):
            where += f", {{numref}}`Fig. {{number}} <{c['figure']}>`"
        claim = md_cell(c["statement"])
        if c.get("why") and not c["holds"]:
            claim += f" *Why it fails:* {md_cell(c['why'])}"
        lines.append(f"| {verdict} | {where} | {claim} | {md_cell(c['measured'])} |")
    return "\n".join(lines)


#: Width of the printed claims: the book's output column shows about this many characters
#: of monospace text without a horizontal scroll bar.
WIDTH = 88


def _wrap(line: str) -> str:
    """``line`` wrapped at :data:`WIDTH`, continuation lines indented under the text."""
    return textwrap.fill(line, WIDTH, subsequent_indent=" " * 9, break_on_hyphens=False, break_long_words=False)


#: ASCII spellings of the papers' symbols in claims and source rows, and their typeset math
#: (:func:`typeset`), longest first.  The printed text keeps the ASCII (a terminal shows it).
_SYMBOLS = [
    (r"Omega\(\(alpha' tau\^f\)\^-2\)", r"$\Omega((\alpha'\tau^f)^{-2})$"),
    (r"\(\(alpha' tau\^f\)\^-2\)\^b", r"$((\alpha'\tau^f)^{-2})^b$"),
    (r"\(alpha' tau\^f\)\^-2", r"$(\alpha'\tau^f)^{-2}$"),
    (r"\(M1-1\)\^-1/2", r"$(M_1-1)^{-1/2}$"),
    (r"Theta\(alpha\^-2/3\)", r"$\Theta(\alpha^{-2/3})$"),
    (r"alpha\^\(-2/3\)|alpha\^-2/3", r"$\alpha^{-2/3}$"),
    (r"Omega\(1/alpha\)", r"$\Omega(1/\alpha)$"),
    (r"Omega\(R\)", r"$\Omega(R)$"),
    (r"l_tr >= 1/alpha", r"$l_{tr} \ge 1/\alpha$"),
    (r"1/\(2 alpha\)", r"$1/(2\alpha)$"),
    (r"1/alpha'", r"$1/\alpha'$"),
    (r"1/alpha", r"$1/\alpha$"),
    (r"alpha\^-2", r"$\alpha^{-2}$"),
    (r"alpha\^-1", r"$\alpha^{-1}$"),
    (r"alpha\^b", r"$\alpha^b$"),
    (r"eps\^-2", r"$\epsilon^{-2}$"),
    (r"S1\^2/2", r"$S_1^2/2$"),
    (r"S1/sqrt\(2\)", r"$S_1/\sqrt{2}$"),
    (r"sqrt\(2\)", r"$\sqrt{2}$"),
    (r"W_Q p_query", r"$W_Q p_{query}$"),
    (r"W_K p_i", r"$W_K p_i$"),
    (r"W_O W_V", r"$W_O W_V$"),
    (r"W_O", r"$W_O$"),
    (r"mu_bar", r"$\bar\mu$"),
    (r"mu_j", r"$\mu_j$"),
    (r"tau_o\^f", r"$\tau_o^f$"),
    (r"tau\^f", r"$\tau^f$"),
    (r"B\^f", r"$B^f$"),
    (r"alpha'", r"$\alpha'$"),
    (r"alpha", r"$\alpha$"),
    (r"eps", r"$\epsilon$"),
    (r"S1", r"$S_1$"),
    (r"M1", r"$M_1$"),
    (r"M2", r"$M_2$"),
    (r"l_ts", r"$l_{ts}$"),
    (r"l_tr", r"$l_{tr}$"),
    (r"a_i", r"$a_i$"),
    (r"zF", r"$zF$"),
    (r"1/M", r"$1/M$"),
    (r"[+-]q", None),  # the label embedding: "+q", "-q"
]
# one capturing group per symbol: the group that matched names its math
_SYMBOL_RE = re.compile("|".join(f"(?<![\\\\\\w$])({pat})(?![\\w])" for pat, _ in _SYMBOLS))


def _symbol(match) -> str:
    tex = _SYMBOLS[match.lastindex - 1][1]
    return tex if tex is not None else f"${match.group(0)}$"


def typeset(text) -> str:
    """``text`` for a Markdown page: the ASCII spellings of the papers' symbols (``S1``, ``alpha'``,
    ``tau^f``, ``(M1-1)^-1/2``, ...) as MyST math, ``>=``/``<=``/``->`` as symbols.  Text already
    inside ``$...$`` or backticks is left as it is."""
    parts = re.split(r"(\$[^$]*\$|`[^`]*`)", str(text))
    for i in range(0, len(parts), 2):  # the parts outside math and code
        p = _SYMBOL_RE.sub(_symbol, parts[i])
        parts[i] = p.replace(">=", "≥").replace("<=", "≤").replace("->", "→")
    return "".join(parts)


def md_cell(text) -> str:
    """``text`` typeset (:func:`typeset`) as one cell of a Markdown table."""
    return table_cell(typeset(text))


def table_cell(text) -> str:
    """``text`` as one cell of a Markdown table: pipes escaped, line breaks as spaces."""
    return str(text).replace("|", "\\|").replace("\n", " ")
