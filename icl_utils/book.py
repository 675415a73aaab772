"""Executing the book's chapters (used by ``make book``).

``python -m icl_utils.book SRC DST --profile quick`` runs a chapter notebook
with papermill at a parameter profile and writes the executed copy that
Jupyter Book renders.  The cell papermill injects with the parameters is
hidden from the page (tag ``remove-cell``), and the run's profile, device and
execution time are stored in the notebook's metadata under ``icl_book``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import time

from .config import PROFILE_NAMES

__all__ = ["execute_chapter", "store_reference_outputs"]


def execute_chapter(src: str, dst: str, profile: str = "quick", parameters: dict | None = None) -> float:
    """Execute ``src`` into ``dst`` with papermill (``profile`` plus ``parameters``); return seconds."""
    import nbformat
    import papermill as pm
    import torch

    if profile not in PROFILE_NAMES:
        raise ValueError(f"parameter 'profile' = {profile!r} is invalid: allowed one of {list(PROFILE_NAMES)}")
    params = {"profile": profile, **(parameters or {})}
    os.environ.setdefault("TQDM_DISABLE", "1")
    start = time.perf_counter()
    tmp = dst.removesuffix(".ipynb") + ".partial.ipynb"
    try:
        pm.execute_notebook(src, tmp, parameters=params, kernel_name="python3", progress_bar=False, log_output=False)
    except BaseException:
        if os.path.exists(tmp):
            os.replace(tmp, dst.removesuffix(".ipynb") + ".failed.ipynb")
        raise
    seconds = time.perf_counter() - start
    nb = nbformat.read(tmp, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    nb.metadata["icl_book"] = {
        "profile": profile,
        "parameters": params,
        "seconds": round(seconds, 1),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
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
    nbformat.write(nb, path)


def main(argv=None) -> None:
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
    seconds = execute_chapter(args.src, args.dst, args.profile)
    print(f"executed {args.src} ({args.profile}) in {seconds:.1f} s -> {args.dst}")


if __name__ == "__main__":
    main()
