"""The classroom edition: assignments from chapters 00 and 01, graded per student.

These tests start Jupyter kernels (grading executes every submission in the sandbox of
otcompanion.sandbox); they take a few minutes on two cores. Chapter 00 runs at tiny sizes, chapter 01 at its classroom parameters.
"""

import copy
import csv
import json
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


@pytest.fixture
def class00(course00):
    """A class set of chapter 00 for alice (seed 11), bob (seed 12) and carol (seed 13),
    solutions executed (tests/conftest.py)."""
    return course00


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
    assert set(manifest["students"]) == {"alice", "bob", "carol"}
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
def test_solution_scores_full_marks_and_untouched_student_does_not(class00, class01, require_sandbox):
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
def test_solution_for_another_seed_fails_a_check(class01, tmp_path, require_sandbox):
    # carol hands in dave's solution notebook: made for dave's seed, graded for carol's
    submitted = write_variant(class01 / "solution" / "dave" / "01_attention_tracing.ipynb",
                              tmp_path / "carol.ipynb", lambda notebook: None)
    report = classroom.grade(submitted, class01 / "autograder", timeout=TIMEOUT)
    assert report.student == "carol"
    assert report.score < report.possible
    assert any("generated for student 'dave'" in flag for flag in report.flags)
    assert any("seed = 22 (assigned 21)" in problem for problem in report.problems)


@pytest.mark.slow
def test_broken_submissions_are_graded_without_crashing(class00, tmp_path, capsys, require_sandbox):
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
    # the garbage file could not be graded: the command says so and exits with status 1
    assert main(["grade", str(submissions), "-a", str(class00 / "autograder"),
                 "--timeout", str(TIMEOUT), "--csv", str(scores)]) == 1
    error = capsys.readouterr().err
    assert "1 of 4 notebook(s) could not be graded" in error
    assert "garbage/alice.ipynb (alice): not a readable notebook" in error
    header = next(csv.reader(scores.open()))
    assert header == ["student", "notebook", "score", "possible", "data_equal_difficulty",
                      "data_standardized_limit", "problems", "graded", "feedback", "flags"]
    rows = {row["notebook"].split("/")[-2] if row["notebook"] else row["student"]: row
            for row in csv.DictReader(scores.open())}
    # bob and carol handed in nothing: their rows say so
    assert (rows.pop("bob")["problems"], rows["raises"]["graded"]) == ("no submission", "yes")
    assert rows.pop("carol")["problems"] == "no submission"
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
    assert {name: row["graded"] for name, row in rows.items()} == {
        "raises": "yes", "loops": "yes", "tampers": "yes", "garbage": "no"}
    # the failed checks' messages are in the CSV, not only on screen
    assert "AssertionError" in rows["tampers"]["feedback"]
    assert rows["tampers"]["feedback"].startswith("data-")


@pytest.mark.slow
def test_grade_with_relative_paths(class00, monkeypatch, capsys, require_sandbox):
    # relative SUBMISSION, -a and --csv work
    monkeypatch.chdir(class00)
    assert main(["grade", "solution/alice/00_data.ipynb", "-a", "autograder",
                 "--timeout", str(TIMEOUT), "--csv", "relative.csv"]) == 0
    assert capsys.readouterr().out.startswith("score: 2 / 2")
    row = next(csv.DictReader((class00 / "relative.csv").open()))
    assert (row["student"], row["score"], row["graded"]) == ("alice", "2.0", "yes")


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
    ("id,seed\nalice,1\nalice,2\n", "line 3: id 'alice' repeats (line 2)"),
    ("id,seed\nal ice,1\n", "line 2: id 'al ice' has a character other than"),
    ("id,seed\nalice,one\n", "line 2: seed 'one' is not an integer"),
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


# --------------------------------------------------------------------------------------------
# Class lists as spreadsheets export them (no kernel)
# --------------------------------------------------------------------------------------------

def class_list(folder, text, encoding="utf-8"):
    path = folder / "ids.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_class_list_with_byte_order_mark_and_semicolons(tmp_path):
    # Excel's "CSV UTF-8" where the decimal separator is a comma: a BOM and semicolons
    path = class_list(tmp_path, "ID;Seed;Name;Email;LMS_ID\r\nalice;11;Alice A.;a@x.org;17\r\n"
                                "bob;;Bob, B.;b@x.org;18\r\n;;;;\r\n", "utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert classroom._read_students(path) == {
        "alice": {"seed": 11, "name": "Alice A.", "email": "a@x.org", "lms_id": "17"},
        "bob": {"seed": None, "name": "Bob, B.", "email": "b@x.org", "lms_id": "18"}}


def test_class_list_with_commas_keeps_only_the_columns_it_has(tmp_path):
    path = class_list(tmp_path, 'id,seed,name,notes\nalice,1,"Doe; Alice",x\nbob,2,Bob,y\n')
    assert classroom._read_students(path) == {"alice": {"seed": 1, "name": "Doe; Alice"},
                                              "bob": {"seed": 2, "name": "Bob"}}


def test_class_list_with_unicode_ids(tmp_path):
    decomposed = "Zoe\u0308"  # as some systems write "Zoë": e and a combining diaeresis
    path = class_list(tmp_path, f"id\njosé\n{decomposed}\nяна\n李华\nanne-marie_2.b\n")
    assert list(classroom._read_students(path)) == ["josé", "Zoë", "яна", "李华",
                                                    "anne-marie_2.b"]


@pytest.mark.parametrize("content, message", [
    ("name;seed\nalice;1\n", "found the columns ['name', 'seed'] separated by semicolons"),
    ("id,seed\nalice,7\nbob,8\ncarol,7\n",
     "line 4: seed 7 of 'carol' is also the seed of 'alice' (line 2)"),
    ("id,seed\nalice,-3\n", "line 2: seed -3 is negative"),
    ("id\nAlice\nbob\nalice\n", "line 4: id 'alice' differs only in case from 'Alice' (line 2)"),
    ("id\nalice\n\n.hidden\n", "line 4: id '.hidden' starts with '.'"),
    ("id\n-rf\n", "line 2: id '-rf' starts with '-'"),
    ("id\na/b\n", "line 2: id 'a/b' has a character other than a letter"),
    ("id,seed\n,4\n", "line 2: id '' is empty"),
    ("id,ID\nalice,bob\n", "repeats the column(s) ['id']"),
])
def test_class_list_refusals_name_the_line_and_the_rule(tmp_path, content, message):
    path = class_list(tmp_path, content)
    with pytest.raises(classroom.AssignmentError) as error:
        classroom._read_students(path)
    assert f"--students: {path}" in str(error.value)
    assert message in str(error.value)


def test_class_list_that_is_not_utf8_is_refused(tmp_path):
    path = class_list(tmp_path, "id\njosé\n", "latin-1")
    with pytest.raises(classroom.AssignmentError, match="is not UTF-8.*CSV UTF-8"):
        classroom._read_students(path)


def test_explicit_seed_equal_to_a_derived_one_is_refused(tmp_path, capsys):
    derived = classroom.student_seed("alice", 5)
    path = class_list(tmp_path, f"id,seed\nalice,\nbob,{derived}\n")
    assert main(["assignment", "00", "-o", str(tmp_path / "hw"), "--students", str(path),
                 "--seed", "5"]) == 2
    assert f"'alice' and 'bob' get the same seed {derived}" in capsys.readouterr().err
    assert not (tmp_path / "hw").exists()


def test_manifest_keeps_the_class_list_columns(tmp_path):
    path = class_list(tmp_path, "id;seed;name;lms_id\njosé;4;José G.;901\n", "utf-8-sig")
    classroom.make_assignment("01", tmp_path / "hw", students=path, execute_solution=False,
                              echo=None)
    manifest = json.loads((tmp_path / "hw" / "autograder" / classroom.MANIFEST).read_text(
        encoding="utf-8"))
    assert manifest["students"]["josé"]["parameters"]["seed"] == 4
    assert (manifest["students"]["josé"]["name"], manifest["students"]["josé"]["lms_id"]) == \
        ("José G.", "901")
    assert (tmp_path / "hw" / "student" / "josé" / "01_attention_tracing.ipynb").is_file()


def fake_autograder(folder):
    """An autograder folder with a manifest and an (empty) zip: enough to refuse bad files."""
    folder.mkdir()
    manifest = {"chapter": "00_data", "points": 1, "students": {"alice": {"parameters": {}}},
                "questions": {"q": {"label": "data-q", "points": 1, "answers": ["x"]}}}
    (folder / classroom.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    (folder / "00_data-autograder_1.zip").write_bytes(b"")
    return folder


def test_grade_exits_1_and_names_a_notebook_it_could_not_grade(tmp_path, monkeypatch, capsys):
    fake_autograder(tmp_path / "autograder")
    (tmp_path / "alice.ipynb").write_text("not a notebook")
    monkeypatch.chdir(tmp_path)
    assert main(["grade", "alice.ipynb", "-a", "autograder", "--csv", "scores.csv"]) == 1
    error = capsys.readouterr().err
    assert "1 of 1 notebook(s) could not be graded" in error
    assert f"{(tmp_path / 'alice.ipynb').resolve()} (alice): not a readable notebook" in error
    row = next(csv.DictReader((tmp_path / "scores.csv").open()))
    assert (row["student"], row["score"], row["graded"]) == ("alice", "0", "no")
    assert "not a readable notebook" in row["problems"]
    assert row["feedback"] == "data-q: not graded"
