"""The browser check of the built book (``make check-html``).

Every page of ``_build/html`` is opened in headless Chromium, driven by Playwright (Debian's
Chromium, no browser download), at desktop and phone widths; a page fails on a console error,
a broken local link or image, raw TeX that MathJax did not typeset, a figure without a
meaningful alt text, a figure shown smaller than it was drawn (its text then falls below the
body text's size) or, on the desktop, wider than its column, or content wider than the phone
screen outside something that scrolls.
"""

from __future__ import annotations
import argparse
import datetime
import os
import re
import time
from html.parser import HTMLParser

__all__ = ['CHROMIUM_FLAGS', 'VIEWPORTS', 'page_problems', 'alt_problems', 'figure_problems', 'check_html']


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
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


#: The widths every page is opened at: a desktop window and a phone.
VIEWPORTS = (("desktop", 1280), ("phone", 390))

#: JavaScript run in a rendered page: the elements that stick out to the right of the viewport
#: without being inside something that scrolls (a wide table or figure that scrolls is fine).
_OVERFLOW_JS = """() => {
  const w = document.documentElement.clientWidth, out = [];
  const scrolls = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  };
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= w + 1 || getComputedStyle(el).position === 'fixed') continue;
    if (el.offsetParent === null && getComputedStyle(el).position !== 'sticky') continue;  // hidden
    if (scrolls(el)) continue;
    out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
             (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
             ' (' + Math.round(r.right) + ' px)');
    if (out.length >= 3) break;
  }
  return {page: document.documentElement.scrollWidth, view: w, out};
}"""

#: JavaScript: the content images (figures, outputs) with their alt text.
_IMAGES_JS = """() => Array.from(document.querySelectorAll('main img, article img')).map(
  (i) => ({src: i.getAttribute('src') || '', alt: (i.getAttribute('alt') || '').trim()}))"""


#: JavaScript: every content image's drawn width (the CSS width the page gives it, else its own
#: pixels), the width it is shown at, and whether the box it scrolls in must scroll to show it.
_FIGURES_JS = """() => Array.from(document.querySelectorAll('main img, article img')).map((i) => {
  let box = null;
  for (let p = i.parentElement; p && !box; p = p.parentElement)
    if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX)) box = p;
  return {src: i.getAttribute('src') || '', drawn: parseFloat(i.style.width) || i.naturalWidth,
          shown: i.getBoundingClientRect().width,
          scrolls: box !== null && box.scrollWidth > box.clientWidth + 1};
})"""


def figure_problems(figures: list, width: int, desktop: bool) -> list[str]:
    """Figures shown smaller than drawn (below 98 %: their text, drawn at the body text's size,
    shrinks with them) and, on the ``desktop``, figures that must scroll sideways to be seen.
    ``figures``: dicts with ``src``, ``drawn`` and ``shown`` widths in CSS px, and ``scrolls``."""
    bad = []
    for f in figures:
        name = os.path.basename(f["src"]) or f["src"]
        if f["drawn"] and f["shown"] < 0.98 * f["drawn"]:
            pct = 100 * f["shown"] / f["drawn"]
            bad.append(f"figure shrunk to {pct:.0f} % of its drawn size at {width} px (text below body size): {name}")
        if desktop and f["scrolls"]:
            bad.append(f"figure wider than its column at {width} px (it scrolls): {name}")
    return bad


def alt_problems(images: list) -> list[str]:
    """Content images whose alt text says nothing: missing, shorter than a few words, or just the
    image's file name (what Sphinx writes when no alt is given)."""
    bad = []
    for im in images:
        alt, src = im["alt"], im["src"]
        name = os.path.basename(src)
        if len(alt) < 12 or alt == src or os.path.basename(alt) == name or re.search(r"\.(png|svg|jpe?g)$", alt):
            bad.append(f"figure without a meaningful alt text: {name or src} (alt {alt!r})")
    return bad


def check_html(
    root: str = "_build/html", shots: str | None = None, chromium: str | None = None, repo: str | None = None
) -> dict:
    """Open every page of the built book in headless Chromium at desktop and phone width
    (:data:`VIEWPORTS`), check it, and save a screenshot at each width.

    A page fails on: a console error or uncaught script error; raw TeX, missing figures, broken
    links, error tracebacks (:func:`page_problems`); a figure whose alt text says nothing
    (:func:`alt_problems`); a figure shrunk below its drawn size, or wider than its column on the
    desktop (:func:`figure_problems`); content wider than the phone screen outside something
    that scrolls.
    Returns {page: [problems]}; screenshots go to ``shots`` (default: ``screenshots`` beside
    ``root``); launch links are checked against the files git tracks in ``repo`` (default: the
    current directory).  Raises if Chromium cannot be found.
    """
    import glob
    import shutil
    import subprocess

    from playwright.sync_api import sync_playwright

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
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            for page in pages:
                report[os.path.relpath(page, root)] = _check_page(browser, page, root, shots, tracked)
        finally:
            browser.close()
    return report


def _check_page(browser, page: str, root: str, shots: str, tracked) -> list[str]:
    rel = os.path.relpath(page, root)
    with open(page, encoding="utf-8", errors="replace") as f:
        raw = f.read()
    redirect = re.search(r'http-equiv="refresh"[^>]*url=([^"]+)"', raw, flags=re.I)
    if redirect:  # a redirect stub (the book's index.html): its target must exist
        target = _local_target(page, redirect.group(1), root)
        return [] if target is None or os.path.exists(target) else [f"redirect to a missing page: {target}"]
    problems = []
    for name, width in VIEWPORTS:
        tab = browser.new_page(viewport={"width": width, "height": 900})
        errors = []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        try:
            tab.goto("file://" + page, wait_until="load", timeout=60_000)
            # MathJax typesets after load: wait for it (a page without MathJax returns at once)
            tab.evaluate(
                "() => (window.MathJax && MathJax.startup && MathJax.startup.promise) ? "
                "MathJax.startup.promise.then(() => true) : true"
            )
            tab.wait_for_timeout(200)
            problems += figure_problems(tab.evaluate(_FIGURES_JS), width, desktop=name == "desktop")
            if name == "desktop":
                problems += page_problems(page, tab.content(), root, tracked)
                problems += alt_problems(tab.evaluate(_IMAGES_JS))
            else:
                wide = tab.evaluate(_OVERFLOW_JS)
                if wide["out"]:
                    problems.append(
                        f"wider than the {width} px {name} screen ({wide['page']} px): " + ", ".join(wide["out"])
                    )
            png = os.path.join(shots, rel.replace(os.sep, "__").removesuffix(".html") + f"-{name}.png")
            tab.screenshot(path=png, full_page=name == "desktop")
        except Exception as exc:  # noqa: BLE001 -- a page that does not load is a problem of the page
            problems.append(f"the page did not render at {width} px: {exc}")
        finally:
            tab.close()
        problems += [f"console error at {width} px: {e}" for e in dict.fromkeys(errors)]
    return problems
