"""Progress bars for long runs (tqdm), shown where ``ICL_PROGRESS`` says: the terminal that
started ``make book``, the notebook, or nowhere.
"""

from __future__ import annotations

import os

__all__ = ["progress_bar"]

_TERMINAL = None


def _terminal_stream():
    """The process's real stderr.  Inside a Jupyter kernel, ``sys.stderr.fileno()``
    is the descriptor the kernel inherited (the terminal of ``make book``), which
    ipykernel does not forward to the notebook."""
    global _TERMINAL
    if _TERMINAL is None:
        import sys

        try:
            fd = sys.stderr.fileno()
        except (AttributeError, OSError, ValueError):
            fd = 2
        _TERMINAL = open(os.dup(fd), "w", buffering=1, closefd=True)  # noqa: SIM115 - kept for the process
    return _TERMINAL


def progress_bar(total, desc, enabled):
    """A progress bar, or None.

    ``ICL_PROGRESS`` chooses where it goes: ``terminal`` -- the terminal of the
    process that started the kernel (``make book`` sets it: the bar is seen
    while chapters execute, and never reaches a notebook's outputs);
    ``off``; unset -- tqdm's default (the notebook, in Jupyter).  ``TQDM_DISABLE``
    and ``enabled=False`` turn it off too.
    """
    mode = os.environ.get("ICL_PROGRESS", "auto").lower()
    if enabled is False or mode == "off" or os.environ.get("TQDM_DISABLE"):
        return None
    if mode == "terminal":
        from tqdm import tqdm

        stream = _terminal_stream()
        tty = stream.isatty()
        return tqdm(total=total, desc=desc, leave=False, file=stream, mininterval=0.5 if tty else 15.0)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, mininterval=0.5)
