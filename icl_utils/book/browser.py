"""The browser check of the built book (``make check-html``).

Every page of ``_build/html`` is opened in headless Chromium (Playwright) at desktop and phone
widths; a page fails on a console error, a broken local link or image, raw TeX that MathJax
did not typeset, or content wider than the screen.
"""

from __future__ import annotations
import argparse
import datetime
import os
import re
import time
from html.parser import HTMLParser

__all__ = ['CHROMIUM_FLAGS', 'page_problems', 'check_html']


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
