"""The book's generated pages (``python -m icl_utils.book pages BOOK_DIR``, run by ``make book``).

The scoreboard gathers every claim of every executed chapter, read from the chapters' claims
outputs, with a per-chapter tally and the disagreements with the papers; the status page lists,
per chapter, the profile, seeds, time, device, commit and library versions of the run, and
each profile's values.
"""

from __future__ import annotations
import argparse
import datetime
import os
import re
import time
from html.parser import HTMLParser

from .claims import claims_table, md_cell
from .claims import table_cell as _cell
from .profiles import describe as describe_profiles
from .claims import MIME
from .claims import SOURCE_MIME

__all__ = ['source_label', 'write_pages']


def _chapters(book_dir: str):
    import glob

    import nbformat

    for path in sorted(glob.glob(os.path.join(book_dir, "[0-9]*.ipynb"))):
        if path.endswith((".partial.ipynb", ".failed.ipynb")):
            continue
        yield os.path.basename(path).removesuffix(".ipynb"), nbformat.read(path, as_version=4)


def _short_title(nb) -> str:
    """A chapter's title cut to its first words (the tally's narrow column)."""
    words = _title(nb).split()
    return " ".join(words[:3]) + (" ..." if len(words) > 3 else "")


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
            return cell.source.lstrip()[2:].splitlines()[0].strip()
    return "untitled"


def _displayed(nb, mime: str) -> list:
    """The items a chapter displayed under ``mime`` (its claims, its source rows), in order."""
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "display_data" and mime in o.get("data", {}):
                out.extend(o["data"][mime])
    return out


def source_label(name: str) -> str:
    """The label of chapter ``name``'s "against the source" section (the chapter sets it)."""
    return f"against-source-{name}"


def _data_links(book_dir: str, name: str) -> list[str]:
    folder = os.path.join(book_dir, "_extra", "results", name)
    files = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    if not files:
        return []
    links = ", ".join(f'<a href="../results/{name}/{f}" download>{f}</a>' for f in files)
    return [f"Data (CSV/JSON) of this run: {links}.", ""]


def write_pages(book_dir: str = "book") -> list[str]:
    """Write ``scoreboard.md`` and ``status.md`` into ``book_dir`` from the executed chapters."""
    os.makedirs(os.path.join(book_dir, "_extra", "results"), exist_ok=True)  # published by html_extra_path
    chapters = list(_chapters(book_dir))
    profiles = sorted({nb.metadata.get("icl_book", {}).get("profile", "?") for _, nb in chapters})
    body = []
    n_yes = n_all = 0
    # three narrow columns, so that the tally fits a phone screen
    tally = [
        "| chapter | required claims | reported claims |",
        "| --- | --- | --- |",
    ]
    disagree, other = [], []
    for name, nb in chapters:
        claims = _displayed(nb, MIME)
        meta = nb.metadata.get("icl_book", {})
        counts = [
            sum(c["required"] == req and c["holds"] == ok for c in claims)
            for req in (True, False)
            for ok in (True, False)
        ]
        number = name.split("_", 1)[0].lstrip("0") or "0"

        def verb(n, word):  # "1 holds", "8 hold"
            return f"{n} {word}s" if n == 1 else f"{n} {word}"

        tally.append(
            f"| {{doc}}`{number}. {_cell(_short_title(nb))} <{name}>` "
            f"| ✔ {verb(counts[0], 'hold')}, ✘ {verb(counts[1], 'fail')} "
            f"| ✔ {verb(counts[2], 'hold')}, ✘ {verb(counts[3], 'fail')} |"
        )
        rows = _displayed(nb, SOURCE_MIME)
        covered = {s for r in rows if not r["agrees"] for s in r["claims"]}
        for r in rows:
            if not r["agrees"]:
                figure = f" ({{numref}}`Fig. {{number}} <{r['figure']}>`)" if r.get("figure") else ""
                disagree.append(
                    f"- {{doc}}`{name}` ({{ref}}`table <{source_label(name)}>`), **{_cell(r['source'])}**{figure}: "
                    f"the source shows {md_cell(r['shows'])}; we measure {md_cell(r['measured'])}. "
                    f"*Why:* {md_cell(r['why'])}"
                )
        for c in claims:  # a failing claim that no differing row of the table explains
            if not c["holds"] and c["statement"] not in covered:
                figure = f" ({{numref}}`Fig. {{number}} <{c['figure']}>`)" if c.get("figure") else ""
                why = f" *Why:* {md_cell(c['why'])}" if c.get("why") else ""
                other.append(
                    f"- {{doc}}`{name}`, {_cell(c['theorem'])}{figure}: {md_cell(c['statement'])} "
                    f"-- measured {md_cell(c['measured'])}.{why}"
                )
        body += [
            f"## {_title(nb)}",
            "",
            f"Profile **{meta.get('profile', '?')}**; details and figures: {{doc}}`{name}` (section *Claims*).",
            "",
            *_data_links(book_dir, name),
            claims_table(claims),
        ]
        n_all += len(claims)
        n_yes += sum(bool(c["holds"]) for c in claims)
        if not claims:
            body.append("| | | no claims found in this chapter's outputs | |")
        body.append("")
    lines = [
        "# Scoreboard",
        "",
        f"**{n_yes} of {n_all} claims hold** (profile: **{', '.join(profiles) or 'none'}**). "
        "*Required* claims are what a chapter's text relies on: the chapter fails to build if one "
        "does not hold. *Reported* claims are shown whatever their verdict, and the chapter discusses "
        "them. Every row is generated from the executed chapters, and nothing is typed by hand.",
        "",
        *tally,
        "",
        "```{admonition} Where this reproduction disagrees with the papers",
        ":class: warning",
        "The rows marked *differ* in the chapters' *Against the source* tables, with the reason found:",
        "",
        *(disagree or ["None: every figure and statement of the papers compared here agrees in this build."]),
        "```",
        "",
        *(
            [
                "Reported claims that do not hold and are not a difference with the papers "
                "(each chapter discusses them):",
                "",
                *other,
                "",
            ]
            if other
            else []
        ),
        *body,
    ]
    status = [
        "# Execution status",
        "",
        "How each chapter of this build was executed (read from the executed notebooks): the parameter "
        "profile, the number of seeds per sweep point, the time, the machine and the code.",
        "",
    ]
    if "quick" in profiles:
        status += [
            "```{important}",
            "This book was built at the **quick** profile: few seeds, short training and coarse sweeps, "
            "so that every chapter runs in a minute or two on a laptop CPU. The paper-scale numbers come "
            "from `make book PROFILE=paper`.",
            "```",
            "",
        ]
    status += [
        "| chapter | profile | seeds | time (s) | device | threads | commit | torch | NumPy | executed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    total = 0.0
    cpus = set()
    for name, nb in chapters:
        meta = nb.metadata.get("icl_book", {})
        total += float(meta.get("seconds", 0.0))
        cpus.add(meta.get("cpu", "?"))
        status.append(
            "| "
            + " | ".join(
                [f"{{doc}}`{name}`"]
                + [_cell(meta.get(k, "?")) for k in ("profile", "n_seeds", "seconds", "device", "threads")]
                + [f"`{_cell(meta.get('commit', '?'))}`"]
                + [_cell(meta.get(k, "?")) for k in ("torch", "numpy", "date")]
            )
            + " |"
        )
    status += [
        "",
        f"Total execution time: {total:.0f} s. CPU: {', '.join(sorted(cpus)) or '?'}. "
        "Every chapter computes in float64, so that its printed numbers are the same on other CPUs.",
        "",
        "## The two profiles",
        "",
        "The quick profile is every chapter's defaults (`icl_utils/profiles.py`); the paper profile "
        "changes only these values, each for the reason given. Any of them can be overridden for one "
        "run: `papermill ... -p NAME VALUE`.",
        "",
        "| chapter | parameter | quick | paper | why |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {{doc}}`{chapter}` | `{name}` | {_cell(quick)} | {_cell(paper)} | {md_cell(why)} |"
            for chapter, name, quick, paper, why in describe_profiles()
        ),
    ]
    written = []
    for fname, text in (("scoreboard.md", lines), ("status.md", status)):
        path = os.path.join(book_dir, fname)
        with open(path, "w") as f:
            f.write("\n".join(text) + "\n")
        written.append(path)
    return written
