"""Launch buttons (Binder) for the book's chapters, once the repository is public.

A Sphinx extension, loaded from ``_config.yml`` (``sphinx.extra_extensions``).
The theme (sphinx-book-theme) builds a Binder link from ``repository_url`` and
the page's path; two things here make that link correct and never broken:

* the repository URL is not typed into ``_config.yml``: it is read at build
  time from ``ICL_REPOSITORY_URL`` (and ``ICL_REPOSITORY_BRANCH``), else from
  ``git remote get-url origin`` when that is a GitHub repository.  With
  neither (an offline clone, CI) the book has no launch button at all rather
  than a link to a repository that does not exist;
* the executed chapters the book renders (``book/NAME.ipynb``) are build
  output, not in git; the links are pointed at the paired notebooks that are
  (``notebooks/NAME.ipynb``), which Binder opens with the environment in
  ``binder/``.
"""

from __future__ import annotations

import os
import re
import subprocess

__all__ = ["github_repository", "repository_settings", "launch_path", "unique_scripts", "setup"]

_GITHUB = re.compile(
    r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)([\w.-]+)/([\w.-]+?)(?:\.git)?/?$"
)


def github_repository(url: str | None) -> str | None:
    """``https://github.com/ORG/REPO`` for a GitHub remote (https or ssh form), else None."""
    m = _GITHUB.match((url or "").strip())
    return f"https://github.com/{m.group(1)}/{m.group(2)}" if m else None


def _git(*args: str, cwd: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def repository_settings(root: str, env: dict | None = None) -> dict:
    """Theme options for the repository: ``{}`` when no public repository is known.

    ``ICL_REPOSITORY_URL`` wins over the git remote; a URL that is not a GitHub
    repository is refused with an error naming the variable (Binder links need one).
    """
    env = os.environ if env is None else env
    given = env.get("ICL_REPOSITORY_URL", "").strip()
    if given:
        url = github_repository(given)
        if url is None:
            raise ValueError(
                f"ICL_REPOSITORY_URL = {given!r} is invalid: expected https://github.com/ORG/REPO "
                "(launch buttons need a GitHub repository)"
            )
    else:
        url = github_repository(_git("remote", "get-url", "origin", cwd=root))
        if url is None:
            return {}
    branch = env.get("ICL_REPOSITORY_BRANCH", "").strip() or _git("rev-parse", "--abbrev-ref", "HEAD", cwd=root)
    if not branch or branch == "HEAD":
        branch = "main"
    return {"repository_url": url, "repository_branch": branch}


def launch_path(url: str, executed_dir: str = "book", source_dir: str = "notebooks") -> str:
    """Point a launch link at the notebook in git: ``.../book/NAME.ipynb`` -> ``.../notebooks/NAME.ipynb``."""
    return re.sub(rf"(^|[/=]){re.escape(executed_dir)}/(\d\w*\.ipynb)", rf"\1{source_dir}/\2", url)


def _config_inited(app, config) -> None:
    settings = repository_settings(app.srcdir)
    options = dict(config.html_theme_options or {})
    # pydata-sphinx-theme >= 0.16 adds a search box in a page header of its own unless told not to;
    # sphinx-book-theme already has one in the sidebar, so the book showed two.
    options.setdefault("navbar_persistent", [])
    if settings:
        options.update(settings)
    else:  # no public repository known: no launch button, and no link to a placeholder repository
        options.pop("repository_url", None)
        options["launch_buttons"] = {}
    config.html_theme_options = options
    # without a default colour mode every page logged "Got invalid theme mode" as a console error
    config.html_context = {"default_mode": "auto", **(config.html_context or {})}


def unique_scripts(scripts: list) -> list:
    """``scripts`` without repeats.  sphinx-thebe adds its configuration script (``const
    THEBE_JS_URL = ...``) once per build pass, and Jupyter Book's build runs two: every page
    declared the constant twice and logged a SyntaxError (Sphinx's own de-duplication misses
    them: one copy has the file name None, the other "")."""
    seen, out = set(), []
    for js in scripts:
        # an inline script is registered with filename None or "" depending on when it was added
        key = (str(getattr(js, "filename", js) or ""), repr(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            out.append(js)
    return out


def _page_context(app, pagename, templatename, context, doctree) -> None:
    if context.get("script_files"):
        context["script_files"] = unique_scripts(context["script_files"])
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            for button in group.get("buttons", []):
                if "url" in button:
                    button["url"] = launch_path(button["url"])


def setup(app):
    app.connect("config-inited", _config_inited)
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", _page_context, priority=510)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
