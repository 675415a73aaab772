"""``python -m icl_utils.book``: execute a chapter, store its reference outputs, write the generated pages, check the built site.

``python -m icl_utils.book SRC DST --profile quick`` runs a chapter notebook with papermill at a
parameter profile and writes the executed copy that Jupyter Book renders
(:func:`icl_utils.book.execute.execute_chapter`); ``SRC --reference`` executes it in place
for nbval (``make sync``); ``pages BOOK_DIR`` writes the scoreboard and the status page
(:mod:`icl_utils.book.pages`); ``check HTML_DIR`` checks every built page in a browser
(:mod:`icl_utils.book.browser`).
"""

from __future__ import annotations
import argparse
import datetime
import os
import re
import time
from html.parser import HTMLParser

from .profiles import PROFILE_NAMES


def main(argv=None) -> None:
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["pages"]:
        from .pages import write_pages

        for path in write_pages(argv[1] if len(argv) > 1 else "book"):
            print(f"wrote {path}")
        return
    if argv[:1] == ["check"]:
        from .browser import check_html

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
        from .execute import store_reference_outputs

        store_reference_outputs(args.src)
        print(f"stored reference outputs of {args.src}")
        return
    if args.dst is None:
        ap.error("DST is required unless --reference is given")
    # The book's figures are drawn at twice the pixels (sharp on high-DPI screens, shown at the
    # same size); the reference notebooks in git keep plain PNGs (nbval does not compare images).
    from .execute import execute_chapter

    os.environ.setdefault("ICL_FIGURE_FORMAT", "retina")  # plotting.FIGURE_FORMAT_ENV (not imported here)
    seconds = execute_chapter(args.src, args.dst, args.profile)
    print(f"executed {args.src} ({args.profile}) in {seconds:.1f} s -> {args.dst}")


if __name__ == "__main__":
    main()
