"""The executable book around the science: what a chapter calls, and what ``make book`` runs.

Used by the chapters:

* :mod:`~icl_utils.book.chapter` -- ``start_chapter``: parameters, seeds, theme, profile, device;
* :mod:`~icl_utils.book.profiles` -- each chapter's quick profile (defaults) and the paper diff, with reasons;
* :mod:`~icl_utils.book.claims` -- a chapter's claims table (required and reported verdicts);
* :mod:`~icl_utils.book.plotting` -- the book's figure theme and theory overlays;
* :mod:`~icl_utils.book.export` -- measured curves and claims as CSV/JSON beside the executed chapter.

Used by ``make book`` and ``make check-html``:

* :mod:`~icl_utils.book.execute` -- executing a chapter with papermill, its provenance and header;
* :mod:`~icl_utils.book.pages` -- the scoreboard and the status page;
* :mod:`~icl_utils.book.browser` -- every built page checked in headless Chromium;
* :mod:`~icl_utils.book.launch` -- the Sphinx extension behind the pages' launch buttons.
"""

import importlib

__all__ = ["chapter", "claims", "export", "plotting", "profiles"]


def __getattr__(name):  # PEP 562: the submodules load on first use, so `make book`'s executor,
    # which runs no chapter code itself, does not import the plotting libraries
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
