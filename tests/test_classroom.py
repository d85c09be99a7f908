"""The classroom edition: assignments from chapters 00 and 01, graded by otter per student.

These tests start Jupyter kernels (otter run executes every submission); they take a few
minutes on two cores. Chapter 00 runs at tiny sizes, chapter 01 at its classroom parameters.
"""

import copy
import csv
import re

import nbformat
import pytest

from otcompanion import book, classroom
from otcompanion.cli import main

pytest.importorskip("otter", reason="the classroom extra (otter-grader) is not installed")

TINY_00 = {"n_instances": 6, "n_tokens": 3, "levels": [1]}
TIMEOUT = 30.0  # seconds per cell while grading; every cell of these notebooks takes far less


def code_cell_index(notebook, text):
    return next(i for i, cell in enumerate(notebook.cells)
                if cell.cell_type == "code" and text in cell.source)


def write_variant(source, target, edit):
    """Copy the notebook ``source`` to ``target`` after ``edit(notebook)``."""
    notebook = copy.deepcopy(nbformat.read(source, as_version=4))
    edit(notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target


def students_file(folder, rows):
    path = folder / "ids.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "seed"])
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def class00(tmp_path_factory):
    """A class set of chapter 00 for alice (seed 11) and bob (seed 12), solutions executed."""
    folder = tmp_path_factory.mktemp("class00")
    roster = students_file(folder, [["alice", 11], ["bob", 12]])
    classroom.make_assignment("00", folder / "hw", students=roster, parameters=TINY_00,
                              echo=None)
    return folder / "hw"


@pytest.fixture(scope="module")
def class01(tmp_path_factory):
    """A class set of chapter 01 for two students, solutions not executed (grading executes)."""
    folder = tmp_path_factory.mktemp("class01")
    roster = students_file(folder, [["carol", 21], ["dave", 22]])
    classroom.make_assignment("01", folder / "hw", students=roster, execute_solution=False,
                              echo=None)
    return folder / "hw"


def test_every_chapter_has_two_graded_exercises_with_computed_checks():
    # Chapters 00-05 (issue "Classroom edition"); chapter 06 came later and has ungraded
    # exercises only, whose runs would be too slow to execute at grading time.
    for chapter in book.list_chapters():
        if chapter.name >= "06":
            continue
        graded = classroom.graded_exercises(chapter)
        assert len(graded) >= 2, chapter.name
        for exercise in graded.values():
            assert exercise.answers, (chapter.name, exercise.label)
            for check in exercise.checks:
                # every check asks the package for the student's parameters and compares
                # through assert_close, with a stated tolerance
                assert "from otcompanion import" in check, (chapter.name, exercise.label)
                assert "classroom.assert_close" in check, (chapter.name, exercise.label)


@pytest.mark.slow
def test_class_set_layout(class00):
    manifest = classroom._read_manifest(class00 / "autograder")[0]
    assert set(manifest["students"]) == {"alice", "bob"}
    assert manifest["students"]["alice"]["parameters"]["seed"] == 11
    assert manifest["students"]["bob"]["parameters"]["n_tokens"] == 3
    assert manifest["points"] == 2
    for student in ("alice", "bob"):
        notebook = nbformat.read(class00 / "student" / student / "00_data.ipynb", as_version=4)
        assert notebook.metadata["otcompanion"]["student"] == student
        solution = nbformat.read(class00 / "solution" / student / "00_data.ipynb", as_version=4)
        assert any(cell.get("outputs") for cell in solution.cells if cell.cell_type == "code")
    assert list((class00 / "autograder").glob("00_data-autograder_*.zip"))
    assert (class00 / "autograder" / "tests" / "data_standardized_limit.py").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("chapter, fixture", [("00", "class00"), ("01", "class01")])
def test_student_notebook_has_no_solution_code(request, chapter, fixture):
    folder = request.getfixturevalue(fixture)
    exercises = classroom.graded_exercises(chapter)
    for path in (folder / "student").rglob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
        text = "\n".join(cell.source for cell in notebook.cells)
        assert "def check_" not in code and "BEGIN SOLUTION" not in code
        assert "**Solution.**" not in text
        for exercise in exercises.values():
            for name in exercise.answers:
                # the only assignment of an answer is the placeholder
                assignments = re.findall(rf"^\s*{name}\s*=\s*(.*)$", code, re.MULTILINE)
                assert assignments == ["..."], (path, name, assignments)
            for cell in exercise.solution_code:
                assert cell.source.strip() not in code


@pytest.mark.slow
def test_solution_scores_full_marks_and_untouched_student_does_not(class00, class01):
    for folder, student, chapter in ((class00, "alice", "00_data"),
                                     (class01, "carol", "01_attention_tracing")):
        solution = classroom.grade(folder / "solution" / student / f"{chapter}.ipynb",
                                   folder / "autograder", timeout=TIMEOUT)
        assert (solution.student, solution.score) == (student, solution.possible), \
            solution.text()
        assert solution.possible >= 2 and not solution.problems, solution.text()
        assert solution.text().splitlines()[0] == f"score: {solution.possible:g} / " \
                                                  f"{solution.possible:g}"
        untouched = classroom.grade(folder / "student" / student / f"{chapter}.ipynb",
                                    folder / "autograder", timeout=TIMEOUT)
        assert untouched.score < untouched.possible
        assert "not answered yet" in untouched.text()


@pytest.mark.slow
def test_solution_for_another_seed_fails_a_check(class01, tmp_path):
    # carol hands in dave's solution notebook: made for dave's seed, graded for carol's
    submitted = write_variant(class01 / "solution" / "dave" / "01_attention_tracing.ipynb",
                              tmp_path / "carol.ipynb", lambda notebook: None)
    report = classroom.grade(submitted, class01 / "autograder", timeout=TIMEOUT)
    assert report.student == "carol"
    assert report.score < report.possible
    assert any("generated for student 'dave'" in problem for problem in report.problems)
    assert any("seed = 22 (assigned 21)" in problem for problem in report.problems)


@pytest.mark.slow
def test_broken_submissions_are_graded_without_crashing(class00, tmp_path):
    solution = class00 / "solution" / "alice" / "00_data.ipynb"
    submissions = tmp_path / "submissions"

    def raises(notebook):
        cell = notebook.cells[code_cell_index(notebook, "equal_difficulty = pd.DataFrame")]
        cell.source = "1 / 0\n" + cell.source

    def loops(notebook):
        notebook.cells[code_cell_index(notebook, "rows = []")].source = "while True:\n    pass"

    def tampers(notebook):
        cell = notebook.cells[code_cell_index(notebook, "# Parameters")]
        cell.source = cell.source.replace("seed = 11", "seed = 12")

    for name, edit in (("raises", raises), ("loops", loops), ("tampers", tampers)):
        write_variant(solution, submissions / name / "alice.ipynb", edit)
    (submissions / "garbage").mkdir()
    (submissions / "garbage" / "alice.ipynb").write_text("this is not a notebook")
    scores = tmp_path / "scores.csv"
    assert main(["grade", str(submissions), "-a", str(class00 / "autograder"),
                 "--timeout", str(TIMEOUT), "--csv", str(scores)]) == 0
    rows = {row["notebook"].split("/")[-2]: row for row in csv.DictReader(scores.open())}
    assert set(rows) == {"raises", "loops", "tampers", "garbage"}
    assert all(row["student"] == "alice" for row in rows.values())
    assert (rows["raises"]["score"], rows["raises"]["data_standardized_limit"]) == ("1.0", "1.0")
    assert "raised ZeroDivisionError" in rows["raises"]["problems"]
    assert (rows["loops"]["score"], rows["loops"]["data_equal_difficulty"]) == ("1.0", "1.0")
    assert f"time limit of {TIMEOUT:g} s" in rows["loops"]["problems"]
    assert float(rows["tampers"]["score"]) < 2  # the sampled means are for another seed
    assert "parameters edited in the notebook: seed = 12 (assigned 11)" in \
        rows["tampers"]["problems"]
    assert rows["garbage"]["score"] == "0" and "not a readable notebook" in \
        rows["garbage"]["problems"]


def test_all_exercises_adds_ungraded_placeholders(tmp_path):
    manifest = classroom.make_assignment("01", tmp_path / "hw", seed=3, all_exercises=True,
                                         execute_solution=False, echo=None)
    assert set(manifest["questions"]) == {"tracing_layernorm_points",
                                          "tracing_untrained_attention"}
    notebook = nbformat.read(tmp_path / "hw" / "student" / "01_attention_tracing.ipynb",
                             as_version=4)
    text = "\n".join(cell.source for cell in notebook.cells)
    assert "`tracing-blocks`, not graded" in text
    assert "other_blocks" not in text and "with_noise" not in text  # its solution code


@pytest.mark.parametrize("arguments, message", [
    (["assignment", "00", "--seed", "-1"], "seed must be at least 0"),
    (["assignment", "00", "--students", "missing.csv"], "--students: no file"),
    (["assignment", "00", "-p", "sed", "3"], "no parameter 'sed'. Did you mean 'seed'?"),
    (["assignment", "00", "-p", "seed", "3"], "'seed' is set per student; use --seed"),
    (["assignment", "00", "-p", "n_tokens", "many"], "parameter 'n_tokens' of chapter 00_data"),
    (["assignment", "zz"], "no chapter 'zz'"),
    (["grade", "{tmp}", "-a", "{tmp}"], "-a/--autograder"),
    (["grade", "{tmp}/none.ipynb", "-a", "{tmp}"], "SUBMISSION: no notebook or folder"),
])
def test_bad_command_line_input_names_the_option(tmp_path, capsys, arguments, message):
    arguments = [argument.format(tmp=tmp_path) for argument in arguments]
    if arguments[0] == "assignment":
        arguments += ["-o", str(tmp_path / "hw")]
    assert main(arguments) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "hw").exists()


@pytest.mark.parametrize("content, message", [
    ("name,seed\nalice,1\n", "column 'id'"),
    ("id,seed\nalice,1\nalice,2\n", "id 'alice' repeats"),
    ("id,seed\nal ice,1\n", "id 'al ice' must be letters"),
    ("id,seed\nalice,one\n", "seed 'one' is not an integer"),
])
def test_bad_students_file_is_reported(tmp_path, capsys, content, message):
    roster = tmp_path / "ids.csv"
    roster.write_text(content)
    assert main(["assignment", "00", "-o", str(tmp_path / "hw"), "--students",
                 str(roster)]) == 2
    error = capsys.readouterr().err
    assert "--students" in error and message in error


@pytest.mark.slow
def test_grade_timeout_must_be_positive(class00, capsys):
    notebook = class00 / "student" / "alice" / "00_data.ipynb"
    assert main(["grade", str(notebook), "-a", str(class00 / "autograder"),
                 "--timeout", "0"]) == 2
    assert "timeout must be a finite number in (0.0, inf)" in capsys.readouterr().err
