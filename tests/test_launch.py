"""Launch buttons: the repository URL is found or refused, and links open the notebooks in git."""

import subprocess

import pytest

from icl_utils.book.launch import github_repository, launch_path, repository_settings


@pytest.mark.parametrize(
    "remote",
    [
        "https://github.com/org/provable-icl",
        "https://github.com/org/provable-icl.git",
        "git@github.com:org/provable-icl.git",
        "ssh://git@github.com/org/provable-icl.git",
    ],
)
def test_github_remotes_are_normalized(remote):
    assert github_repository(remote) == "https://github.com/org/provable-icl"


@pytest.mark.parametrize("remote", [None, "", "/tmp/clone", "https://gitlab.example.org/a/b", "file:///x/y"])
def test_other_remotes_give_no_repository(remote):
    assert github_repository(remote) is None


def git_repo(path, origin=None):
    subprocess.run(["git", "init", "-q", "-b", "work", str(path)], check=True)
    if origin:
        subprocess.run(["git", "-C", str(path), "remote", "add", "origin", origin], check=True)
    return str(path)


def test_no_public_repository_means_no_launch_settings(tmp_path):
    assert repository_settings(git_repo(tmp_path, "/some/local/clone"), env={}) == {}
    assert repository_settings(str(tmp_path / "not-a-repo"), env={}) == {}


def test_origin_on_github_gives_url_and_branch(tmp_path):
    root = git_repo(tmp_path, "git@github.com:org/book.git")
    assert repository_settings(root, env={}) == {
        "repository_url": "https://github.com/org/book",
        "repository_branch": "main",  # an unborn branch: HEAD cannot be resolved, main is assumed
    }


def test_environment_wins_and_bad_url_names_the_variable(tmp_path):
    root = git_repo(tmp_path, "git@github.com:org/book.git")
    env = {"ICL_REPOSITORY_URL": "https://github.com/other/repo", "ICL_REPOSITORY_BRANCH": "gh"}
    assert repository_settings(root, env) == {
        "repository_url": "https://github.com/other/repo",
        "repository_branch": "gh",
    }
    with pytest.raises(ValueError, match="ICL_REPOSITORY_URL"):
        repository_settings(root, {"ICL_REPOSITORY_URL": "https://example.org/x"})


def test_launch_links_point_at_the_paired_notebooks():
    url = "https://mybinder.org/v2/gh/org/repo/main?urlpath=lab/tree/book/01_in_domain.ipynb"
    assert launch_path(url) == "https://mybinder.org/v2/gh/org/repo/main?urlpath=lab/tree/notebooks/01_in_domain.ipynb"
    colab = "https://colab.research.google.com/github/org/repo/blob/main/book/04_cot_vs_icl.ipynb"
    assert launch_path(colab).endswith("/blob/main/notebooks/04_cot_vs_icl.ipynb")
    assert launch_path("https://mybinder.org/v2/gh/org/repo/main?urlpath=lab/tree/book/intro.md").endswith(
        "book/intro.md"
    )
