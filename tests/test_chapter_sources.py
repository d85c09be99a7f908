"""Chapters read as prose that calls the package: rules on the chapter sources (notebooks/*.py).

Code used to build results lives in the package, where it is tested; a chapter glues through
:mod:`otcompanion.chapter`, defines no long function and has no long code cell. The exercise
check functions (``def check_...``) are the classroom's format and are exempt.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
#: Longest function a chapter may define (lines of its body, blank lines and comments included).
MAX_FUNCTION_LINES = 10
#: Longest code cell (non-blank lines that are not comments).
MAX_CELL_LINES = 30


def code_cells(text):
    """The code cells of a py:percent chapter (markdown cells left out)."""
    cells = re.split(r"^# %%.*$", text, flags=re.M)[1:]
    headers = re.findall(r"^# %%.*$", text, flags=re.M)
    return [cell for header, cell in zip(headers, cells) if "[markdown]" not in header]


def long_functions(source, limit=MAX_FUNCTION_LINES):
    """Names and lengths of the functions of ``source`` longer than ``limit`` lines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.body[0].lineno + 1
            if length > limit and not node.name.startswith("check_"):
                found.append((node.name, length))
    return found


def test_there_are_chapters():
    assert len(CHAPTERS) >= 7


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_a_chapter_glues_through_the_chapter_module(path):
    text = path.read_text()
    assert "myst_nb" not in text, f"{path.name} uses myst_nb directly: use otcompanion.chapter"
    assert "plots.glue_" not in text, f"{path.name} uses plots.glue_*: use otcompanion.chapter"
    assert "chapter.begin(" in text and "chapter.provenance(" in text


def uncited_figures(text):
    """The ``:name:`` of every glued figure of a chapter that its prose never cites by number
    (``{numref}`name```)."""
    names = re.findall(r"^# ```\{glue:figure\}.*\n# :name: (\S+)", text, flags=re.M)
    return [name for name in names if f"{{numref}}`{name}`" not in text]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_every_figure_of_a_chapter_is_cited_by_number(path):
    assert uncited_figures(path.read_text()) == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_a_chapter_defines_no_long_function(path):
    assert long_functions(path.read_text()) == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_a_chapter_has_no_long_code_cell(path):
    for number, cell in enumerate(code_cells(path.read_text()), start=1):
        lines = [line for line in cell.splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
        assert len(lines) <= MAX_CELL_LINES, f"{path.name}: code cell {number} has {len(lines)}"


def test_the_citation_rule_finds_an_uncited_figure():
    text = ("# ```{glue:figure} a\n# :name: fig-a\n# ```\n# ```{glue:figure} b\n"
            "# :name: fig-b\n# ```\n# As {numref}`fig-a` shows.\n")
    assert uncited_figures(text) == ["fig-b"]


def test_the_rules_catch_what_they_forbid():
    source = "def helper(x):\n" + "".join(f"    x += {i}\n" for i in range(11)) + "    return x\n"
    assert long_functions(source) == [("helper", 12)]
    assert long_functions(source.replace("def helper", "def check_helper")) == []
    chapter = "# %% [markdown]\n# text\n# %%\n" + "x = 1\n" * 31
    assert [len(cell.strip().splitlines()) for cell in code_cells(chapter)] == [31]


def untagged_glue_cells(text):
    """The first lines of the code cells that glue numbers for the prose (``chapter.glue``)
    but show their code: such a cell is plumbing, tagged ``remove-input`` (or ``hide-input``,
    a collapsed "show code", when it also displays a result) or ``remove-cell``."""
    headers = re.findall(r"^# %%.*$", text, flags=re.M)
    cells = re.split(r"^# %%.*$", text, flags=re.M)[1:]
    return [cell.strip().splitlines()[0] for header, cell in zip(headers, cells)
            if "[markdown]" not in header and "[raw]" not in header
            and "chapter.glue" in cell
            and not re.search(r"remove-input|hide-input|remove-cell", header)]


def test_untagged_glue_cells_are_found():
    text = ('# %%\nx = 1\nchapter.glue("a", x)\n\n# %% tags=["remove-input"]\n'
            'chapter.glue("b", 2)\n\n# %% [markdown]\n# chapter.glue in prose\n')
    assert untagged_glue_cells(text) == ["x = 1"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_cells_that_glue_for_the_prose_hide_their_code(path):
    assert untagged_glue_cells(path.read_text()) == []
