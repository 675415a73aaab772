"""Executing the book's chapters and writing its generated pages (used by ``make book``).

``python -m icl_utils.book SRC DST --profile quick`` runs a chapter notebook
with papermill at a parameter profile and writes the executed copy that
Jupyter Book renders.  The cell papermill injects with the parameters is
hidden from the page (tag ``remove-cell``), the run's profile, device and
execution time are stored in the notebook's metadata under ``icl_book``, and
a header under the title says how the page was made and how to rerun it.

``python -m icl_utils.book pages BOOK_DIR`` writes the scoreboard (every claim
of every executed chapter, read from the chapters' claims outputs) and the
execution status page.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import time
from html.parser import HTMLParser

from .claims import MIME, SOURCE_MIME
from .claims import table_cell as _cell
from .plotting import FIGURE_FORMAT_ENV
from .profiles import PROFILE_NAMES
from .profiles import describe as describe_profiles

__all__ = [
    "execute_chapter",
    "store_reference_outputs",
    "write_pages",
    "header_markdown",
    "page_problems",
    "check_html",
]

HEADER_TAG = "icl-header"


def header_markdown(name: str, meta: dict, data_files=()) -> str:
    """The note under a chapter's title: profile, seeds, time, device, rerun command, sources, data."""
    seeds = f", {meta['n_seeds']} seeds" if meta.get("n_seeds") else ""
    data = ""
    if data_files:
        links = ", ".join(f'<a href="../results/{name}/{f}" download>{f}</a>' for f in data_files)
        data = f"\nMeasured curves and claims of this run: {links}.\n"
    return (
        f"```{{note}}\n"
        f"Executed with the **{meta['profile']}** profile{seeds} in {meta['seconds']:.0f} s on "
        f"{meta['device']} ({meta['date']}).\n"
        f"Rerun this chapter alone, with any parameter changed:\n"
        f"`.venv/bin/papermill notebooks/{name}.ipynb out.ipynb -p profile {meta['profile']} -p n_seeds 5`\n\n"
        f'Sources: <a href="../{name}.py" download>{name}.py</a> (Jupytext) and '
        f'<a href="../{name}.ipynb" download>{name}.ipynb</a>.\n'
        f"{data}"
        f"```"
    )


def _git_commit() -> str:
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance() -> dict:
    """Where a result was computed: CPU model, thread count, torch and NumPy builds, dtype."""
    import platform

    import numpy as np
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "dtype": str(torch.get_default_dtype()).removeprefix("torch."),
        "python": platform.python_version(),
    }


def execute_chapter(src: str, dst: str, profile: str = "quick", parameters: dict | None = None) -> float:
    """Execute ``src`` into ``dst`` with papermill (``profile`` plus ``parameters``); return seconds."""
    import nbformat
    import papermill as pm
    import torch

    if profile not in PROFILE_NAMES:
        raise ValueError(f"parameter 'profile' = {profile!r} is invalid: allowed one of {list(PROFILE_NAMES)}")
    import shutil

    from .export import DATA_ENV
    from .profiles import get_profile

    params = {"profile": profile, **(parameters or {})}
    name = os.path.basename(src).removesuffix(".ipynb")
    os.environ.setdefault("TQDM_DISABLE", "1")
    data = os.path.join(os.path.dirname(os.path.abspath(dst)), "_extra", "results", name)
    shutil.rmtree(data, ignore_errors=True)  # no file of an earlier run (another profile) survives
    os.makedirs(data)
    start = time.perf_counter()
    tmp = dst.removesuffix(".ipynb") + ".partial.ipynb"
    old = os.environ.get(DATA_ENV)
    os.environ[DATA_ENV] = data  # the kernel inherits it: the chapter writes its CSV/JSON there
    try:
        pm.execute_notebook(src, tmp, parameters=params, kernel_name="python3", progress_bar=False, log_output=False)
    except BaseException:
        if os.path.exists(tmp):
            os.replace(tmp, dst.removesuffix(".ipynb") + ".failed.ipynb")
        raise
    finally:
        if old is None:
            os.environ.pop(DATA_ENV, None)
        else:
            os.environ[DATA_ENV] = old
    seconds = time.perf_counter() - start
    nb = nbformat.read(tmp, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    meta = {
        "profile": profile,
        "parameters": params,
        "seconds": round(seconds, 1),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git_commit(),
        **provenance(),
    }
    try:
        overrides = {k: v for k, v in params.items() if k != "profile"}
        meta["n_seeds"] = get_profile(name, profile, **overrides).n_seeds
    except ValueError:  # not one of the book's chapters (a test notebook)
        pass
    nb.metadata["icl_book"] = meta
    header = nbformat.v4.new_markdown_cell(header_markdown(name, meta, sorted(os.listdir(data))))
    header.metadata["tags"] = [HEADER_TAG]
    nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0, header)
    nbformat.write(nb, tmp)
    os.replace(tmp, dst)  # atomic: an interrupted run never leaves a half-written chapter
    return seconds


def store_reference_outputs(path: str) -> None:
    """Execute a paired chapter notebook in place at its default (quick) parameters.

    These are the outputs nbval compares against (``make sync``).  No timing or
    other volatile metadata is kept.
    """
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    folder = os.path.dirname(os.path.abspath(path))
    nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=1800, record_timing=False, resources={"metadata": {"path": folder}}
    ).execute()
    nb.metadata["icl_reference"] = {
        "what": "quick-profile outputs that nbval compares against (make sync)",
        **provenance(),
        "MKL_CBWR": os.environ.get("MKL_CBWR", ""),
        "ATEN_CPU_CAPABILITY": os.environ.get("ATEN_CPU_CAPABILITY", ""),
    }
    nbformat.write(nb, path)


def _chapters(book_dir: str):
    import glob

    import nbformat

    for path in sorted(glob.glob(os.path.join(book_dir, "[0-9]*.ipynb"))):
        if path.endswith((".partial.ipynb", ".failed.ipynb")):
            continue
        yield os.path.basename(path).removesuffix(".ipynb"), nbformat.read(path, as_version=4)


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
    tally = [
        "| chapter | required: hold | required: fail | reported: hold | reported: fail |",
        "| --- | --- | --- | --- | --- |",
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
        tally.append(f"| {{doc}}`{name}` | " + " | ".join(str(n) for n in counts) + " |")
        rows = _displayed(nb, SOURCE_MIME)
        covered = {s for r in rows if not r["agrees"] for s in r["claims"]}
        for r in rows:
            if not r["agrees"]:
                figure = f" ({{numref}}`Fig. {{number}} <{r['figure']}>`)" if r.get("figure") else ""
                disagree.append(
                    f"- {{doc}}`{name}` ({{ref}}`table <{source_label(name)}>`), **{_cell(r['source'])}**{figure}: "
                    f"the source shows {_cell(r['shows'])}; we measure {_cell(r['measured'])}. "
                    f"*Why:* {_cell(r['why'])}"
                )
        for c in claims:  # a failing claim that no differing row of the table explains
            if not c["holds"] and c["statement"] not in covered:
                figure = f" ({{numref}}`Fig. {{number}} <{c['figure']}>`)" if c.get("figure") else ""
                why = f" *Why:* {_cell(c['why'])}" if c.get("why") else ""
                other.append(
                    f"- {{doc}}`{name}`, {_cell(c['theorem'])}{figure}: {_cell(c['statement'])} "
                    f"-- measured {_cell(c['measured'])}.{why}"
                )
        body += [
            f"## {_title(nb)}",
            "",
            f"Profile **{meta.get('profile', '?')}**; details and figures: {{doc}}`{name}` (section *Claims*).",
            "",
            *_data_links(book_dir, name),
            "| holds | theorem | claim | measured | kind | figure |",  # the verdict first: seen on a phone
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for c in claims:
            n_all += 1
            n_yes += bool(c["holds"])
            verdict = "✔ yes" if c["holds"] else "✘ **no**"
            kind = "required" if c["required"] else "reported"
            figure = f"{{numref}}`Fig. {{number}} <{c['figure']}>`" if c.get("figure") else ""
            body.append(
                f"| {verdict} | {_cell(c['theorem'])} | {_cell(c['statement'])} | {_cell(c['measured'])} | {kind} "
                f"| {figure} |"
            )
        if not claims:
            body.append("| | no claims found in this chapter's outputs | | | | |")
        body.append("")
    lines = [
        "# Scoreboard",
        "",
        "Every claim the chapters check, with the value measured when the book was built "
        f"(profile: **{', '.join(profiles) or 'none'}**). The table is generated from the "
        "executed chapters' claims cells; nothing in it is typed by hand. *Required* claims are "
        "statements the chapter's text relies on (the chapter fails to build if one does not hold); "
        "the others are reported either way and discussed in the chapter.",
        "",
        f"**{n_yes} of {n_all} claims hold.**",
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
            f"| {{doc}}`{chapter}` | `{name}` | {_cell(quick)} | {_cell(paper)} | {_cell(why)} |"
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


# ---------------------------------------------------------------------------------------------
# Browser check of the built book (make check-html).

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=15000",
]


class _PageParser(HTMLParser):
    """Collects what the checks need from a rendered page."""

    SKIP = {"script", "style", "pre", "code", "textarea"}

    def __init__(self):
        super().__init__()
        self.images, self.links, self.text = [], [], []
        self.math_containers = self.math_spans = self.tracebacks = 0
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag in self.SKIP:
            self._skip += 1
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "mjx-container":
            self.math_containers += 1
        if "math" in classes:
            self.math_spans += 1
        if "traceback" in classes:
            self.tracebacks += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def _local_target(page: str, ref: str, root: str) -> str | None:
    """The file a relative reference points to, or None for external/fragment-only references."""
    from urllib.parse import unquote, urlparse

    u = urlparse(ref)
    if u.scheme in ("http", "https", "mailto", "data", "javascript") or u.netloc:
        return None
    if u.scheme == "file":
        return unquote(u.path)
    if not u.path:
        return None
    base = root if u.path.startswith("/") else os.path.dirname(page)
    return os.path.normpath(os.path.join(base, unquote(u.path).lstrip("/")))


def _launch_target(href: str) -> str | None:
    """The repository file a Binder launch link opens (``...?urlpath=lab/tree/PATH``), else None."""
    from urllib.parse import parse_qs, unquote, urlparse

    u = urlparse(href)
    if "/v2/" not in u.path or not u.netloc:
        return None
    urlpath = parse_qs(u.query).get("urlpath", [""])[0]
    m = re.match(r"(?:lab/tree|tree)/(.+)$", unquote(urlpath))
    return m.group(1) if m else None


def page_problems(page: str, dom: str, root: str, tracked: set | None = None) -> list[str]:
    """What is wrong with one rendered page: raw TeX, missing figures, broken internal links,
    a cell that failed to execute, a launch link to a file that is not in the repository
    (``tracked``: the repository's files; None skips that check).  ``dom`` is the page
    after its scripts ran."""
    p = _PageParser()
    p.feed(dom)
    problems = []
    text = " ".join(p.text)
    for mark in ("\\(", "\\[", "$$"):
        if mark in text:
            problems.append(f"raw TeX left untypeset (found {mark!r})")
    if p.math_spans and not p.math_containers:
        problems.append(f"{p.math_spans} math elements but no typeset math (MathJax did not run)")
    for src in p.images:
        target = _local_target(page, src, root)
        if target is not None and (not os.path.isfile(target) or os.path.getsize(target) == 0):
            problems.append(f"figure does not load: {src}")
    for href in p.links:
        target = _local_target(page, href, root)
        if target is not None and not os.path.exists(target):
            problems.append(f"broken internal link: {href}")
        launched = _launch_target(href) if tracked is not None else None
        if launched is not None and launched not in tracked:
            problems.append(f"launch link opens a file that is not in the repository: {launched}")
    if p.tracebacks:
        problems.append(f"{p.tracebacks} cell output(s) show an error traceback")
    return problems


def check_html(
    root: str = "_build/html", shots: str | None = None, chromium: str | None = None, repo: str | None = None
) -> dict:
    """Open every page of the built book in headless Chromium, check it, and save a screenshot.

    Returns {page: [problems]}; screenshots go to ``shots`` (default: ``screenshots`` beside
    ``root``); launch links are checked against the files git tracks in ``repo`` (default: the
    current directory).  Raises if Chromium cannot be found.
    """
    import glob
    import shutil
    import subprocess
    import tempfile

    chromium = chromium or shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        raise RuntimeError("Chromium not found: install Debian's 'chromium' package (make check-html does)")
    root = os.path.abspath(root)
    shots = os.path.abspath(shots or os.path.join(os.path.dirname(root), "screenshots"))
    os.makedirs(shots, exist_ok=True)
    pages = sorted(p for p in glob.glob(os.path.join(root, "**", "*.html"), recursive=True) if "/_static/" not in p)
    listed = subprocess.run(["git", "ls-files"], cwd=repo or ".", capture_output=True, text=True)
    tracked = set(listed.stdout.split("\n")) if listed.returncode == 0 else None
    report = {}
    for page in pages:
        rel = os.path.relpath(page, root)
        with open(page, encoding="utf-8", errors="replace") as f:
            raw = f.read()
        redirect = re.search(r'http-equiv="refresh"[^>]*url=([^"]+)"', raw, flags=re.I)
        if redirect:  # a redirect stub (the book's index.html): its target must exist
            target = _local_target(page, redirect.group(1), root)
            report[rel] = [] if target is None or os.path.exists(target) else [f"redirect to a missing page: {target}"]
            continue
        with tempfile.TemporaryDirectory() as profile_dir:
            flags = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}"]
            url = "file://" + page
            dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
            png = os.path.join(shots, rel.replace(os.sep, "__").removesuffix(".html") + ".png")
            subprocess.run(
                [*flags, f"--screenshot={png}", "--window-size=1280,2000", url], capture_output=True, timeout=180
            )
        problems = page_problems(page, dom, root, tracked) if dom.strip() else ["the page did not render"]
        if not os.path.isfile(png):
            problems.append("no screenshot could be taken")
        report[rel] = problems
    return report


def main(argv=None) -> None:
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["pages"]:
        for path in write_pages(argv[1] if len(argv) > 1 else "book"):
            print(f"wrote {path}")
        return
    if argv[:1] == ["check"]:
        report = check_html(argv[1] if len(argv) > 1 else "_build/html")
        bad = {k: v for k, v in report.items() if v}
        for page, problems in report.items():
            print(f"{'FAIL' if problems else 'ok  '} {page}" + "".join(f"\n     - {p}" for p in problems))
        print(f"{len(report) - len(bad)} pages ok, {len(bad)} with problems")
        sys.exit(1 if bad else 0)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dst", nargs="?", help="omit with --reference")
    ap.add_argument("--profile", default="quick", choices=PROFILE_NAMES)
    ap.add_argument("--reference", action="store_true", help="execute SRC in place for nbval (make sync)")
    args = ap.parse_args(argv)
    if args.reference:
        store_reference_outputs(args.src)
        print(f"stored reference outputs of {args.src}")
        return
    if args.dst is None:
        ap.error("DST is required unless --reference is given")
    # The book's figures are drawn at twice the pixels (sharp on high-DPI screens, shown at the
    # same size); the reference notebooks in git keep plain PNGs (nbval does not compare images).
    os.environ.setdefault(FIGURE_FORMAT_ENV, "retina")
    seconds = execute_chapter(args.src, args.dst, args.profile)
    print(f"executed {args.src} ({args.profile}) in {seconds:.1f} s -> {args.dst}")


if __name__ == "__main__":
    main()
