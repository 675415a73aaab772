"""Executing a chapter for the book: parameters injected, the injected cell hidden, run metadata stored."""

import nbformat
import pytest

from icl_utils.book.execute import execute_chapter


def test_execute_chapter(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('profile = "quick"\nn_seeds = None')
    params.metadata["tags"] = ["parameters", "remove-cell"]
    nb.cells = [params, nbformat.v4.new_code_cell("print(profile, n_seeds)")]
    src, dst = tmp_path / "ch.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    seconds = execute_chapter(str(src), str(dst), "paper", {"n_seeds": 7})
    out = nbformat.read(dst, 4)
    injected = [c for c in out.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata["tags"]
    assert out.cells[-1].outputs[0]["text"].strip() == "paper 7"
    meta = out.metadata["icl_book"]
    assert meta["profile"] == "paper" and meta["device"] in ("cpu", "cuda") and seconds > 0
    assert not list(tmp_path.glob("*.partial.ipynb"))


def test_execute_chapter_rejects_unknown_profile(tmp_path):
    with pytest.raises(ValueError, match="'profile'"):
        execute_chapter("x.ipynb", str(tmp_path / "y.ipynb"), "huge")


# --- the browser check ------------------------------------------------------------------------

import os  # noqa: E402
import shutil  # noqa: E402

from icl_utils.book.browser import check_html, page_problems  # noqa: E402

GOOD = """<html><body><h1>t</h1><span class="math"><mjx-container>x</mjx-container></span>
<img src="fig.png"><a href="other.html#sec">o</a><a href="https://example.org">e</a><a href="#top">t</a>
<pre>code with \\\\( is fine</pre></body></html>"""


def site(tmp_path):
    (tmp_path / "fig.png").write_bytes(b"\\x89PNG...")
    (tmp_path / "other.html").write_text("<html><body>other</body></html>")
    return tmp_path


def test_good_page_has_no_problems(tmp_path):
    root = site(tmp_path)
    assert page_problems(str(root / "page.html"), GOOD, str(root)) == []


def test_missing_figure_is_reported(tmp_path):
    root = site(tmp_path)
    os.remove(root / "fig.png")
    assert page_problems(str(root / "page.html"), GOOD, str(root)) == ["figure does not load: fig.png"]


def test_broken_link_raw_tex_untypeset_math_and_tracebacks_are_reported(tmp_path):
    root = site(tmp_path)
    dom = (
        '<html><body><span class="math">\\\\(x^2\\\\)</span><a href="gone.html">g</a>'
        '<div class="output traceback">Error</div></body></html>'
    )
    problems = page_problems(str(root / "page.html"), dom, str(root))
    assert any("raw TeX" in p for p in problems)
    assert any("no typeset math" in p for p in problems)
    assert "broken internal link: gone.html" in problems
    assert any("traceback" in p for p in problems)


@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium")
def test_check_html_in_a_real_browser(tmp_path):
    root = tmp_path / "html"
    root.mkdir()
    site(root)
    (root / "page.html").write_text(GOOD.replace("<mjx-container>x</mjx-container>", ""))  # math never typeset
    (root / "index.html").write_text('<meta http-equiv="refresh" content="0; url=page.html" />')
    fine = '<main><img src="fig.png" alt="Error against the prompt length, one curve per S1">'
    fine += '<div style="overflow-x: auto"><table style="width: 2000px"><tr><td>wide</td></tr></table></div></main>'
    (root / "fine.html").write_text(f"<html><body>{fine}</body></html>")
    bad = '<main><img src="fig.png" alt="fig.png"><div style="width: 900px">too wide</div>'
    # drawn 2000 px wide, squeezed into the page: its text shrinks with it
    bad += '<img src="fig.png" alt="A figure drawn too wide for any column" style="width: 2000px; max-width: 100%">'
    # fits a phone only by scrolling, and needs to scroll on the desktop too
    bad += '<div style="overflow-x: auto; width: 300px"><img src="fig.png" alt="A figure in a narrow scrolling box"'
    bad += ' style="width: 500px"></div></main>'
    bad += '<script>console.error("boom")</script>'
    (root / "bad.html").write_text(f"<html><body>{bad}</body></html>")
    report = check_html(str(root), str(tmp_path / "shots"))
    assert report["index.html"] == []
    assert any("no typeset math" in p for p in report["page.html"])
    # a table that scrolls in its own box and a described figure are fine, at both widths
    assert report["fine.html"] == []
    problems = report["bad.html"]
    assert any(p.startswith("console error at 1280 px: boom") for p in problems), problems
    assert any(p.startswith("wider than the 390 px phone screen") and "div" in p for p in problems), problems
    assert any(p.startswith("figure without a meaningful alt text: fig.png") for p in problems), problems
    for width in (1280, 390):
        assert any(p.startswith("figure shrunk to ") and f"at {width} px" in p for p in problems), problems
    assert any(p.startswith("figure wider than its column at 1280 px") for p in problems), problems
    assert not any(p.startswith("figure wider than its column at 390 px") for p in problems), problems
    assert (tmp_path / "shots" / "page-desktop.png").exists() and (tmp_path / "shots" / "page-phone.png").exists()


def test_figure_problems_shrunk_or_scrolling_on_the_desktop():
    from icl_utils.book.browser import figure_problems

    fits = {"src": "a/fig.png", "drawn": 600, "shown": 600, "scrolls": False}
    shrunk = dict(fits, shown=400)
    scrolls = dict(fits, scrolls=True)
    assert figure_problems([fits], 1280, desktop=True) == []
    assert figure_problems([dict(fits, shown=590)], 1280, desktop=True) == []  # within 2 %
    (msg,) = figure_problems([shrunk], 390, desktop=False)
    assert msg.startswith("figure shrunk to 67 % of its drawn size at 390 px") and msg.endswith("fig.png")
    assert figure_problems([scrolls], 390, desktop=False) == []  # a phone may scroll a figure
    assert figure_problems([scrolls], 1280, desktop=True) == [
        "figure wider than its column at 1280 px (it scrolls): fig.png"
    ]


def test_alt_text_must_say_something():
    from icl_utils.book.browser import alt_problems

    assert alt_problems([{"src": "../_images/ab12.png", "alt": "Unseen-task error against the task fraction"}]) == []
    for alt in ("", "figure", "../_images/ab12.png", "ab12.png"):
        assert alt_problems([{"src": "../_images/ab12.png", "alt": alt}]), alt


def test_launch_link_to_a_file_not_in_git_is_reported(tmp_path):
    root = site(tmp_path)
    link = '<a href="https://mybinder.org/v2/gh/org/repo/main?urlpath=lab/tree/{}">b</a>'
    dom = GOOD.replace("</body>", link.format("notebooks/01_x.ipynb") + link.format("book/01_x.ipynb") + "</body>")
    tracked = {"notebooks/01_x.ipynb", "notebooks/01_x.py"}
    problems = page_problems(str(root / "page.html"), dom, str(root), tracked)
    assert problems == ["launch link opens a file that is not in the repository: book/01_x.ipynb"]
    assert page_problems(str(root / "page.html"), dom, str(root)) == []  # no file list: not checked


# --- scoreboard and figure captions -----------------------------------------------------------

import glob  # noqa: E402
import re  # noqa: E402

import nbformat  # noqa: E402,F811

from icl_utils.book.claims import MIME, SOURCE_MIME, Claims  # noqa: E402
from icl_utils.book.pages import write_pages  # noqa: E402


def test_scoreboard_is_filled_from_the_claims_outputs(tmp_path):
    claims = Claims()
    claims.check("Thm 9", "error falls", "0.010", True, figure="fig-x-error")
    slope = claims.check("Thm 9", "slope matches", "-1.0", False, required=False, why="too few seeds")
    claims.check("Thm 9", "a side remark", "7", False, required=False)
    claims.against_source("Z-1", "a slope of -1", "-1.5", [slope], figure="fig-x-error")
    nb = nbformat.v4.new_notebook()
    nb.metadata["icl_book"] = {
        "profile": "quick",
        "seconds": 12.3,
        "device": "cpu",
        "date": "today",
        "n_seeds": 5,
        "threads": 2,
        "commit": "abc123",
        "torch": "2.13.0",
        "numpy": "2.4.6",
        "cpu": "Some CPU",
    }
    cell = nbformat.v4.new_code_cell("claims.report()")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={MIME: claims.to_json()}),
        nbformat.v4.new_output("display_data", data={SOURCE_MIME: [r.to_json() for r in claims.rows]}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"), cell]
    nbformat.write(nb, tmp_path / "09_x.ipynb")
    write_pages(str(tmp_path))
    board = (tmp_path / "scoreboard.md").read_text()
    assert "**1 of 3 claims hold** (profile: **quick**)" in board
    assert "| ✔ holds | Thm 9, {numref}`Fig. {number} <fig-x-error>` | error falls | 0.010 |" in board
    assert "| ✘ **fails** (reported) | Thm 9 | slope matches *Why it fails:* too few seeds | -1.0 |" in board
    # the tally (required hold/fail, reported hold/fail) and the disagreement box
    assert "| {doc}`9. A chapter <09_x>` | ✔ 1 holds, ✘ 0 fail | ✔ 0 hold, ✘ 2 fail |" in board
    # the box lists the differing rows of the chapter's source table, linked to it, with their reason;
    # a failing claim that no differing row explains is listed below the box
    box, after = board.split("Where this reproduction disagrees with the papers")[1].split("```", 1)
    assert (
        "{doc}`09_x` ({ref}`table <against-source-09_x>`), **Z-1** ({numref}`Fig. {number} <fig-x-error>`): "
        "the source shows a slope of -1; we measure -1.5. *Why:* too few seeds" in box
    )
    assert "error falls" not in box and "a side remark" not in box
    assert "a side remark -- measured 7." in after.split("## A chapter")[0]
    status = (tmp_path / "status.md").read_text()
    assert "| {doc}`09_x` | quick | 5 | 12.3 | cpu | 2 | `abc123` | 2.13.0 | 2.4.6 | today |" in status
    assert "built at the **quick** profile" in status and "CPU: Some CPU" in status
    (tmp_path / "_extra" / "results" / "09_x").mkdir(parents=True)
    (tmp_path / "_extra" / "results" / "09_x" / "claims.json").write_text("[]")
    write_pages(str(tmp_path))
    assert '<a href="../results/09_x/claims.json" download>claims.json</a>' in (tmp_path / "scoreboard.md").read_text()


def test_claim_figure_names_are_validated():
    with pytest.raises(ValueError, match="'figure'"):
        Claims().check("Thm", "x", "1", True, figure="Figure 3")


def test_every_chapter_figure_has_a_caption_and_a_unique_name_and_claims_link_to_them():
    names = set()
    for path in sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "notebooks", "[0-9]*.ipynb"))):
        nb = nbformat.read(path, 4)
        linked = set()
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            linked.update(re.findall(r'figure="(fig-[a-z0-9-]+)"', cell.source))
            if "plt.show()" in cell.source:
                fig = cell.metadata.get("mystnb", {}).get("figure", {})
                where = f"{os.path.basename(path)}: {cell.source.splitlines()[0]}"
                assert len(fig.get("caption", "")) > 40, f"figure without a caption that says what to look at: {where}"
                assert fig.get("name", "").startswith("fig-") and fig["name"] not in names, where
                names.add(fig["name"])
        assert linked and linked <= names, f"{path}: claims link to missing figures {linked - names}"


def test_a_claims_reason_is_printed_only_when_it_fails(capsys):
    claims = Claims()
    claims.check("Thm 9", "holds", "1", True, required=False, why="not printed")
    claims.check("Thm 9", "fails", "2", False, required=False, why="the scale")
    claims.report()
    out = capsys.readouterr().out
    assert "why: the scale" in out and "not printed" not in out
    bare = Claims()
    bare.check("Thm 9", "no reason", "3", True)
    assert "why" not in bare.to_json()[0] and all("why" in d for d in claims.to_json())
    with pytest.raises(ValueError, match="'why'"):
        claims.check("Thm 9", "x", "y", True, why="  ")


def test_source_rows_agree_exactly_when_their_claims_hold():
    claims = Claims()
    a = claims.check("Prop 1", "attention >= 0.95", "0.99", True)
    b = claims.check("Thm 2", "plateau", "0.0", False, required=False, why="the model is one layer")
    agree = claims.against_source("A-9", "attention near 1", "0.99", [a])
    differ = claims.against_source("A-12", "a plateau", "no plateau", [a, b])
    assert agree.agrees and not differ.agrees
    assert differ.why() == "the model is one layer"  # the failing claim's reason ...
    own = claims.against_source("A-13", "x", "y", [b], reason="scale")
    assert own.why() == "scale"  # ... unless the row gives its own
    assert claims.find("Thm 2") == [b] and claims.find("Prop 1", ">=") == [a]
    with pytest.raises(ValueError, match="no claim of 'Prop 1'"):
        claims.find("Prop 1", "plateau")
    table = claims.source_table()
    assert "| agree | A-9 | attention near 1 | 0.99 |  |" in table
    assert "| **differ** | A-12 | a plateau | no plateau | the model is one layer |" in table
    assert [r["agrees"] for r in (r.to_json() for r in claims.rows)] == [True, False, False]


def test_source_rows_reject_unexplained_differences_and_foreign_claims():
    claims = Claims()
    bad = claims.check("Thm", "x", "1", False, required=False)
    with pytest.raises(ValueError, match="no reason"):
        claims.against_source("A-1", "x", "1", [bad])
    with pytest.raises(ValueError, match="'claims'"):
        claims.against_source("A-1", "x", "1", [Claims().check("Thm", "x", "1", True)])
    with pytest.raises(ValueError, match="'claims'"):
        claims.against_source("A-1", "x", "1", [])
    with pytest.raises(ValueError, match="'shows'"):
        claims.against_source("A-1", " ", "1", [bad], reason="r")
    with pytest.raises(ValueError, match="'figure'"):
        claims.against_source("A-1", "x", "1", [bad], figure="Figure 1", reason="r")


def test_printed_claims_fit_the_output_column(capsys):
    from icl_utils.book.claims import WIDTH

    claims = Claims()
    long = "a statement " * 20
    claims.check("Thm 9", long, "0.1, " * 30, False, required=False, why="a reason " * 15)
    claims.report()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 3 and all(len(line) <= WIDTH for line in lines)
    assert lines[0].startswith("no   [Thm 9] a statement") and lines[1].startswith(" " * 9 + "statement")
    assert " ".join(line.strip() for line in lines).count("a statement") == 20  # nothing lost


def test_chapter_claims_render_as_a_markdown_table_with_plain_text_beside(monkeypatch):
    """In a notebook, report() displays one table (the page renders it; math stays MyST) with the
    plain text beside it for nbval, and hands the claims to the scoreboard."""
    import IPython

    from icl_utils.book import claims as C

    shown = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    monkeypatch.setattr("icl_utils.book.export.save_json", lambda *a, **k: None)
    claims = C.Claims()
    claims.check("Thm 1 (1)", "fractions $\\ge (M_1-1)^{-1/2}$ generalize", "0.000", True, figure="fig-a-b")
    claims.check("Thm 1 (3)", "exponent $-2/3$ inside", "[-1.2, -0.9]", False, required=False, why="a reason")
    claims.report()
    assert shown[0] == {C.MIME: claims.to_json()}
    table, text = shown[1]["text/markdown"], shown[1]["text/plain"]
    assert table.splitlines()[0] == "| verdict | theorem | claim | measured |"
    assert (
        "| ✔ holds | Thm 1 (1), {numref}`Fig. {number} <fig-a-b>` "
        "| fractions $\\ge (M_1-1)^{-1/2}$ generalize | 0.000 |" in table
    )
    assert (
        "| ✘ **fails** (reported) | Thm 1 (3) | exponent $-2/3$ inside *Why it fails:* a reason | [-1.2, -0.9] |"
        in table
    )
    assert text == claims.text() and text.startswith("yes  [Thm 1 (1)]")


def test_typeset_turns_the_ascii_symbols_into_math_and_leaves_math_and_code_alone():
    from icl_utils.book.claims import md_cell, typeset

    assert typeset("S1 >= 1: error at l_ts = 20 below eps") == "$S_1$ ≥ 1: error at $l_{ts}$ = 20 below $\\epsilon$"
    assert typeset("grows with (alpha' tau^f)^-2") == "grows with $(\\alpha'\\tau^f)^{-2}$"
    assert typeset("fractions >= (M1-1)^-1/2") == "fractions ≥ $(M_1-1)^{-1/2}$"
    assert typeset("rows point to +q for a_i > 0 and -q") == "rows point to $+q$ for $a_i$ > 0 and $-q$"
    assert typeset("0.35 -> 0.99") == "0.35 → 0.99"
    # already typeset or code: unchanged; words that merely contain a symbol's spelling: unchanged
    assert typeset("$\\alpha$ and `alpha` and epsilon, seps, S10, -quick") == (
        "$\\alpha$ and `alpha` and epsilon, seps, S10, -quick"
    )
    assert md_cell("a | b\nc") == "a \\| b c"


def test_alt_text_is_the_captions_first_sentence_in_plain_text():
    from icl_utils.book.execute import alt_text

    assert alt_text("One prompt $P$ of Eq. 6, e.g. with $l_{ts}=8$. Look at it.") == (
        "One prompt P of Eq. 6, e.g. with l_ts=8"
    )
    assert alt_text("Fraction $|\\mathcal T_{tr}|/|\\mathcal T|$ of tasks. More.") == "Fraction |T_tr|/|T| of tasks"
    assert len(alt_text("word " * 200)) <= 250


def test_repeated_script_tags_are_dropped():
    from sphinx.builders.html._assets import _JavaScript

    from icl_utils.book.launch import unique_scripts

    config = _JavaScript(None, body='const THEBE_JS_URL = "x"')
    again = _JavaScript("", body='const THEBE_JS_URL = "x"')  # the same script, registered later
    scripts = [_JavaScript("a.js"), config, _JavaScript("b.js", **{"async": "async"}), again, _JavaScript("a.js")]
    assert unique_scripts(scripts) == [scripts[0], config, scripts[2]]


def test_chapter_header_puts_the_rerun_command_in_a_code_block():
    from icl_utils.book.execute import header_markdown

    meta = {"profile": "quick", "seconds": 12.0, "device": "cpu", "date": "2026-11-24 00:00 UTC", "n_seeds": 5}
    text = header_markdown("04_cot_vs_icl", meta, ["claims.json"])
    assert text.startswith("````{note}") and text.endswith("````")
    assert "```bash\n.venv/bin/papermill notebooks/04_cot_vs_icl.ipynb out.ipynb -p profile quick" in text


def test_a_chapter_without_claims_gets_one_row_of_the_tables_width(tmp_path):
    import nbformat

    from icl_utils.book.pages import write_pages

    nb = nbformat.v4.new_notebook()
    nb.metadata["icl_book"] = {"profile": "quick"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Empty")]
    nbformat.write(nb, tmp_path / "09_empty.ipynb")
    write_pages(str(tmp_path))
    row = next(line for line in (tmp_path / "scoreboard.md").read_text().splitlines() if "no claims found" in line)
    assert row.count("|") == "| verdict | theorem | claim | measured |".count("|")
