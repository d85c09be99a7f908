"""Assignments with a teacher's private exercises, one student's notebook regenerated alone,
and student notebooks that run outside the book (install cell, figures, self-checks).

These tests start Jupyter kernels (the solutions are executed, one submission is graded).
"""

import hashlib
import zipfile

import nbformat
import pytest
from test_classroom import TIMEOUT, TINY_00, students_file
from test_exercises import PRIVATE

from otcompanion import __version__, classroom

pytest.importorskip("otter", reason="the classroom extra (otter-grader) is not installed")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def private00(tmp_path_factory):
    """Chapter 00 with the private exercise in place of the chapter's, for alice and bob."""
    folder = tmp_path_factory.mktemp("private00")
    (folder / "mine.py").write_text(PRIVATE, encoding="utf-8")
    roster = students_file(folder, [["alice", 11], ["bob", 12]])
    classroom.make_assignment("00", folder / "hw", students=roster, parameters=TINY_00,
                              exercises=folder / "mine.py", replace_exercises=True, echo=None)
    return folder


def fingerprint(folder):
    """Every file under ``folder`` with its content's hash."""
    return {path.relative_to(folder): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_private_exercises_replace_the_chapters(private00):
    manifest = classroom._read_manifest(private00 / "hw" / "autograder")[0]
    assert list(manifest["questions"]) == ["private_first_feature"]
    assert manifest["exercises_file"]["name"] == "mine.py" and manifest["replace_exercises"]
    notebook = nbformat.read(private00 / "hw" / "student" / "alice" / "00_data.ipynb",
                             as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "first_feature_mean = ..." in code and "equal_difficulty" not in code
    assert "X[..., 0].mean()" not in code and "float(data.thesis_split" not in code


def test_the_wheel_and_the_setup_cell(private00):
    (wheel,) = (private00 / "hw" / "wheel").glob("*.whl")
    assert wheel.name == f"otcompanion-{__version__}-py3-none-any.whl"
    assert "otcompanion/selfcheck.py" in zipfile.ZipFile(wheel).namelist()
    notebook = nbformat.read(private00 / "hw" / "student" / "bob" / "00_data.ipynb",
                             as_version=4)
    intro, setup = notebook.cells[:2]
    assert intro.cell_type == "markdown" and "pip install" in intro.source
    assert f'REQUIRED_VERSION = "{__version__}"' in setup.source
    assert "otcompanion.__version__ != REQUIRED_VERSION" in setup.source
    markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert "{glue" not in markdown and "```{" not in markdown
    assert "so 6\ninstances of 3 tokens" in markdown  # the glued sizes, quoted


def test_student_notebook_runs_shows_figures_and_self_checks(private00, tmp_path):
    source = private00 / "hw" / "student" / "alice" / "00_data.ipynb"
    notebook = nbformat.read(source, as_version=4)
    classroom._execute(notebook, tmp_path / "run.ipynb", timeout=120)
    executed = nbformat.read(tmp_path / "run.ipynb", as_version=4)
    outputs = [output for cell in executed.cells if cell.cell_type == "code"
               for output in cell.outputs]
    shown = [output for output in outputs if output.output_type == "display_data"
             and "image/png" in output.get("data", {})]
    assert len(shown) >= 3  # the glued figures, shown outside the book
    text = "".join(output.get("text", "") for output in outputs)
    assert f"otcompanion {__version__} is ready." in text
    assert "Self-check of private-first-feature: fix the form first" in text
    assert "first_feature_mean: not answered yet" in text
    assert "graded: first_feature_mean within rtol=1e-09" in text
    assert "expected" not in text.split("Self-check")[1]  # no expected value is shown


def test_solution_with_private_exercises_scores_full_marks(private00):
    report = classroom.grade(private00 / "hw" / "solution" / "alice" / "00_data.ipynb",
                             private00 / "hw" / "autograder", timeout=TIMEOUT)
    assert report.score == report.possible == 1, report.text()


def test_only_regenerates_one_student_and_keeps_the_autograder(private00):
    hw = private00 / "hw"
    autograder, alice = fingerprint(hw / "autograder"), fingerprint(hw / "student" / "alice")
    before = nbformat.read(hw / "student" / "bob" / "00_data.ipynb", as_version=4)
    (hw / "student" / "bob" / "00_data.ipynb").unlink()
    manifest = classroom.make_assignment("00", hw, only="bob", exercises=private00 / "mine.py",
                                         execute_solution=False, echo=None)
    assert fingerprint(hw / "autograder") == autograder
    assert fingerprint(hw / "student" / "alice") == alice
    after = nbformat.read(hw / "student" / "bob" / "00_data.ipynb", as_version=4)
    assert after.metadata["otcompanion"]["parameters"]["seed"] == 12
    assert manifest["students"]["bob"]["parameters"]["seed"] == 12
    assert [cell.source for cell in after.cells if cell.cell_type == "code"] == [
        cell.source for cell in before.cells if cell.cell_type == "code"]


@pytest.mark.parametrize(("only", "exercises", "message"), [
    ("carol", "mine.py", "no student 'carol'"),
    ("bob", None, "made with --exercises mine.py; give the same file"),
    ("bob", "changed.py", "is not the file the autograder was made with"),
])
def test_only_refuses_what_it_cannot_regenerate(private00, only, exercises, message):
    (private00 / "changed.py").write_text(PRIVATE.replace("rtol=1e-9", "rtol=1e-8"))
    with pytest.raises(classroom.AssignmentError, match=message):
        classroom.make_assignment("00", private00 / "hw", only=only, echo=None,
                                  exercises=exercises and private00 / exercises)


def test_only_refuses_another_chapter(private00):
    with pytest.raises(classroom.AssignmentError, match="is of chapter 00_data, not 01_attention_tracing"):
        classroom.make_assignment("01", private00 / "hw", only="bob", echo=None)


def test_a_shorter_class_list_does_not_replace_the_autograder(private00):
    hw = private00 / "hw"
    autograder = fingerprint(hw / "autograder")
    (private00 / "bob").mkdir(exist_ok=True)
    bob_only = students_file(private00 / "bob", [["bob", 12]])
    with pytest.raises(classroom.AssignmentError, match=r"1 of whom \(alice\) are not in the new"):
        classroom.make_assignment("00", hw, students=bob_only, parameters=TINY_00,
                                  exercises=private00 / "mine.py", echo=None)
    assert fingerprint(hw / "autograder") == autograder
