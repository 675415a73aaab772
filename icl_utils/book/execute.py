"""Executing a chapter for the book (``python -m icl_utils.book SRC DST --profile quick``).

:func:`execute_chapter` runs a chapter notebook with papermill at a parameter profile and writes
the executed copy that Jupyter Book renders.  The cell papermill injects with the parameters is
hidden from the page (tag ``remove-cell``), the run's profile, device, time and provenance are
stored in the notebook's metadata under ``icl_book``, and a header under the title says how the
page was made and how to rerun it.  :func:`store_reference_outputs` executes a chapter in place
at the quick profile: the outputs nbval compares (``make sync``).
"""

from __future__ import annotations
import argparse
import datetime
import os
import re
import time
from html.parser import HTMLParser

from .profiles import PROFILE_NAMES

__all__ = ['HEADER_TAG', 'header_markdown', 'alt_text', 'provenance', 'execute_chapter', 'store_reference_outputs']


HEADER_TAG = "icl-header"


def header_markdown(name: str, meta: dict, data_files=()) -> str:
    """The note under a chapter's title: profile, seeds, time, device, rerun command, sources, data."""
    seeds = f", {meta['n_seeds']} seeds" if meta.get("n_seeds") else ""
    data = ""
    if data_files:
        links = ", ".join(f'<a href="../results/{name}/{f}" download>{f}</a>' for f in data_files)
        data = f"\nMeasured curves and claims of this run: {links}.\n"
    # the command is a code block, which scrolls on a phone (inline code would not wrap)
    return (
        f"````{{note}}\n"
        f"Executed with the **{meta['profile']}** profile{seeds} in {meta['seconds']:.0f} s on "
        f"{meta['device']} ({meta['date']}).\n"
        f"Rerun this chapter alone, with any parameter changed:\n\n"
        f"```bash\n.venv/bin/papermill notebooks/{name}.ipynb out.ipynb -p profile {meta['profile']} -p n_seeds 5\n```\n\n"
        f'Sources: <a href="../{name}.py" download>{name}.py</a> (Jupytext) and '
        f'<a href="../{name}.ipynb" download>{name}.ipynb</a>.\n'
        f"{data}"
        f"````"
    )


def alt_text(caption: str, limit: int = 250) -> str:
    """A figure's alt text from its caption: the first sentence (up to ``limit`` characters),
    with the math written as plain text (``$l_{ts}=8$`` -> ``l_ts=8``)."""
    text = re.sub(r"\$([^$]*)\$", lambda m: m.group(1), caption)
    text = re.sub(r"\\(mathcal|mathrm|mathbf|bar|tfrac|frac)\s*", "", text)
    text = re.sub(r"_\{([^}]*)\}", r"_\1", text)
    text = text.replace("\\", "").replace("{", "").replace("}", "")
    # the first sentence: a full stop after a word, not after "Eq." or "Fig." or "e.g."
    first = re.split(r"(?<=[a-z0-9)\]])(?<!Eq)(?<!Fig)(?<!e\.g)(?<!i\.e)\.\s", text, maxsplit=1)[0]
    first = first.strip().rstrip(".")
    return first if len(first) <= limit else first[: limit - 3].rsplit(" ", 1)[0] + "..."


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
        figure = cell.metadata.get("mystnb", {}).get("figure", {})
        if figure.get("caption"):  # the figure's image says what it shows to a screen reader
            image = cell.metadata["mystnb"].setdefault("image", {})
            image.setdefault("alt", alt_text(figure["caption"]))
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
