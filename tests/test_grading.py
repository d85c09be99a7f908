"""Grading a class (otcompanion.grading): attacks on the grader, identity from the class list,
the files for the teacher and the LMS.

The attack tests grade real submissions of chapter 00 through the real sandbox (bubblewrap);
each tampered answer must score zero and be flagged while the honest answer beside it keeps its
point, and nothing may leak or survive outside. Where bubblewrap is missing they skip, and with
CI set they fail (tests/conftest.py: require_sandbox).
"""

import copy
import csv
import json
import os

import nbformat
import pytest

from otcompanion import classroom, grading, sandbox
from otcompanion.cli import main

pytest.importorskip("otter", reason="the classroom extra (otter-grader) is not installed")

TIMEOUT = 20.0
CHAPTER = "00_data.ipynb"
QUESTIONS = ("data_equal_difficulty", "data_standardized_limit")


@pytest.fixture
def course(course00):
    """Chapter 00 for alice, bob and carol (Canvas user ids 101, 102, 10232), solutions run
    (tests/conftest.py)."""
    return course00


def variant(source, target, edit=None):
    notebook = copy.deepcopy(nbformat.read(source, as_version=4))
    if edit:
        edit(notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target


def cell_index(notebook, text):
    return next(i for i, cell in enumerate(notebook.cells)
                if cell.cell_type == "code" and text in cell.source)


def insert(text, before=None):
    def edit(notebook):
        index = len(notebook.cells) if before is None else cell_index(notebook, before)
        notebook.cells.insert(index, nbformat.v4.new_code_cell(text))
    return edit


def scores(report):
    return tuple(check["score"] for check in report.checks)


def flagged(report, what):
    return any(what in flag for flag in report.flags)


@pytest.mark.slow
def test_attacks_score_zero_and_are_flagged_honest_answers_keep_their_points(
        course, tmp_path, require_sandbox):
    solution = course / "solution" / "alice" / CHAPTER
    blank = course / "student" / "alice" / CHAPTER
    submissions = tmp_path / "submissions"
    outside = tmp_path / "escaped.txt"
    bob_parameters = classroom._read_manifest(course / "autograder")[0]["students"]["bob"][
        "parameters"]
    variant(solution, submissions / "honest" / "alice.ipynb")
    # 1. both answers blank, the checks' helpers patched in the kernel
    variant(blank, submissions / "patched" / "alice.ipynb", insert(
        "from otcompanion import classroom\nclassroom.assert_close = lambda *a, **k: None\n"
        "classroom.answer_column = lambda *a, **k: None"))
    # 2. bob's notebook and numbers, with the grader's variable set to bob's parameters
    variant(course / "solution" / "bob" / CHAPTER, submissions / "forged" / "alice.ipynb",
            insert("import os, json\nos.environ['OTCOMPANION_ASSIGNED_PARAMETERS'] = "
                   f"json.dumps({bob_parameters!r})", before="import numpy"))
    # 3. read the autograder, the solutions and the other submissions; write outside
    targets = [course / "autograder" / "tests" / f"{QUESTIONS[0]}.py", course / "solution",
               submissions, course / "solution" / "bob" / CHAPTER]
    variant(solution, submissions / "snoops" / "alice.ipynb", insert(
        f"import os\nfor path in {[str(t) for t in targets]!r}:\n"
        "    try:\n        print(os.listdir(path) if os.path.isdir(path) else open(path).read())\n"
        "    except OSError as error:\n        print('blocked', type(error).__name__)\n"
        f"open({str(outside)!r}, 'w').write('escaped')", before="rows = []"))
    # 4. a cell that ignores SIGALRM and SIGINT and loops, before the second answer
    variant(solution, submissions / "alarm" / "alice.ipynb", insert(
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\nsignal.setitimer(signal.ITIMER_REAL, 0)\n"
        "while True:\n    pass", before="rows = []"))
    # 5. a fork bomb and a memory hog after honest answers
    variant(solution, submissions / "bomb" / "alice.ipynb", insert(
        "import subprocess\nchildren = []\ntry:\n    while True:\n"
        "        children.append(subprocess.Popen(['sleep', '600']))\nexcept OSError:\n"
        "    pass\nhog = bytearray(64 * 2**30)"))
    reports = grading.grade_folder(submissions, course / "autograder", timeout=TIMEOUT,
                                   jobs=2, echo=None, output=tmp_path / "graded")
    by = {report.notebook.parent.name: report for report in reports}
    assert all(report.student == "alice" and not report.failure for report in reports)
    assert scores(by["honest"]) == (1, 1)
    assert not [f for f in by["honest"].flags if "suspicious" in f or "copy" in f]
    assert scores(by["patched"]) == (0, 0) and flagged(by["patched"], "replaces grading code")
    assert scores(by["forged"]) == (0, 0)  # both answers depend on the seed: bob's score zero
    assert flagged(by["forged"], "names a variable of the grader")
    assert flagged(by["forged"], "generated for student 'bob'")
    assert any("seed = 12 (assigned 11)" in p for p in by["forged"].problems)
    assert scores(by["snoops"]) == (1, 1) and flagged(by["snoops"], "outside its folder")
    assert any("escaped.txt" in p for p in by["snoops"].problems), by["snoops"].problems
    assert not outside.exists()
    snooped = "\n".join(str(o) for cell in nbformat.read(by["snoops"].graded_notebook, 4).cells
                        for o in cell.get("outputs", []))
    assert snooped.count("blocked FileNotFoundError") == 4 and "def check_" not in snooped
    assert scores(by["alarm"]) == (1, 0) and flagged(by["alarm"], "changes signal handling")
    assert any("time limit of 20 s" in p for p in by["alarm"].problems)
    assert scores(by["bomb"]) == (1, 1) and flagged(by["bomb"], "starts, signals or limits")
    assert any("MemoryError" in p for p in by["bomb"].problems)
    assert not sandbox.leftover_processes(wait=10)
    assert all(flagged(report, "has 6 submissions") for report in reports)


@pytest.mark.slow
def test_canvas_names_relative_paths_and_lms_files(course, tmp_path, monkeypatch, capsys,
                                                   require_sandbox):
    canvas = tmp_path / "canvas"
    variant(course / "solution" / "carol" / CHAPTER, canvas / f"carolking_10232_554302_{CHAPTER}")
    # bob hands in a copy of alice's notebook under his own Canvas name
    variant(course / "solution" / "alice" / CHAPTER, canvas / f"jonesbob_LATE_102_554310_{CHAPTER}")
    variant(course / "solution" / "alice" / CHAPTER, canvas / f"stranger_999_554311_{CHAPTER}")
    monkeypatch.chdir(tmp_path)
    os.symlink(course / "autograder", tmp_path / "autograder")
    assert main(["grade", "canvas", "-a", "autograder", "-o", "graded", "--csv", "scores.csv",
                 "--timeout", str(TIMEOUT), "--jobs", "2", "--assignment-name",
                 "Homework 0 (4711)"]) == 1
    captured = capsys.readouterr()
    assert "1 of 3 notebook(s) could not be graded" in captured.err
    assert "Canvas user id 999 is in no row" in captured.err
    assert "no submission from 1 student(s): alice" in captured.out
    rows = {row["student"]: row for row in csv.DictReader(open("scores.csv"))}
    assert (rows["carol"]["score"], rows["bob"]["data_standardized_limit"]) == ("2.0", "0.0")
    assert "generated for student 'alice'" in rows["bob"]["flags"]
    assert rows["alice"]["problems"] == "no submission" and rows["alice"]["graded"] == "no"
    canvas_rows = list(csv.reader(open("graded/canvas.csv")))
    assert canvas_rows[0] == ["Student", "ID", "SIS User ID", "Section", "Homework 0 (4711)"]
    assert canvas_rows[1] == ["Points Possible", "", "", "", "2"]
    assert canvas_rows[2:] == [["Alice Smith", "101", "alice", "", ""],
                               ["Bob Jones", "102", "bob", "", "0"],
                               ["Carol King", "10232", "carol", "", "2"]]
    assert list(csv.reader(open("graded/moodle.csv")))[1:] == [
        ["alice@uni.edu", "alice", ""], ["bob@uni.edu", "bob", "0"],
        ["carol@uni.edu", "carol", "2"]]
    questions = list(csv.DictReader(open("graded/questions.csv")))
    assert len(questions) == 6 and {q["question"] for q in questions} == set(QUESTIONS)
    feedback = (tmp_path / "graded" / "feedback" / "bob.md").read_text()
    assert "Score: 0 / 2" in feedback and "AssertionError" in feedback and "a copy?" in feedback
    assert (tmp_path / "graded" / "graded" / f"carolking_10232_554302_{CHAPTER}").is_file()


def manifest_folder(tmp_path, students):
    autograder = tmp_path / "autograder"
    (autograder / "tests").mkdir(parents=True)
    (autograder / "00_data-autograder_x.zip").write_bytes(b"")
    manifest = {"chapter": "00_data", "points": 1, "students": students,
                "questions": {"q": {"label": "q-label", "points": 1, "answers": ["x"]}}}
    (autograder / classroom.MANIFEST).write_text(json.dumps(manifest))
    return autograder, manifest


STUDENTS = {"alice": {"parameters": {"seed": 1}, "lms_id": "101", "email": "a@x"},
            "bob": {"parameters": {"seed": 2}, "lms_id": "102", "email": "b@x"}}


@pytest.mark.parametrize("name, student", [
    ("alice.ipynb", "alice"), ("alice/00_data.ipynb", "alice"),
    ("smithalice_101_5_00_data.ipynb", "alice"), ("jonesbob_LATE_102_9_00_data.ipynb", "bob"),
    ("mapped.ipynb", "bob"), ("sub/other.ipynb", "alice"), ("unknown.ipynb", None)])
def test_identity_from_the_file_name_and_the_mapping(tmp_path, name, student):
    mapping_file = tmp_path / "map.csv"
    mapping_file.write_text("file,id\nmapped.ipynb,bob\nsub/other.ipynb,alice\n")
    mapping = grading.read_mapping(mapping_file)
    found, reason = grading.identify(tmp_path / name, {"students": STUDENTS}, folder=tmp_path,
                                     mapping=mapping)
    assert found == student
    assert (reason is None) == (student is not None)


def test_notebook_metadata_never_decides_identity(tmp_path):
    notebook = nbformat.v4.new_notebook(metadata={"otcompanion": {"student": "alice"}})
    path = tmp_path / "carolking_999_1_00_data.ipynb"
    nbformat.write(notebook, path)
    assert grading.identify(path, {"students": STUDENTS})[0] is None


@pytest.mark.parametrize("content, message", [
    ("name,student\na,b\n", "columns 'file' and 'id'"),
    ("file,id\na.ipynb,alice\na.ipynb,bob\n", "line 3: 'a.ipynb' is listed twice")])
def test_bad_mapping_is_refused(tmp_path, content, message):
    path = tmp_path / "map.csv"
    path.write_text(content)
    with pytest.raises(classroom.AssignmentError, match=message):
        grading.read_mapping(path)


def test_no_sandbox_refuses_without_unsafe(tmp_path, monkeypatch, capsys):
    autograder, _ = manifest_folder(tmp_path, STUDENTS)
    (tmp_path / "subs").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "subs" / "alice.ipynb")
    monkeypatch.setattr(sandbox, "sandbox_problem", lambda: "bubblewrap is not installed")
    with pytest.raises(classroom.AssignmentError, match="no sandbox here: bubblewrap is not "
                                                        "installed .*--unsafe"):
        grading.grade(tmp_path / "subs" / "alice.ipynb", autograder)
    assert main(["grade", str(tmp_path / "subs"), "-a", str(autograder)]) == 2
    assert "runs the students' code" in capsys.readouterr().err


def test_duplicates_and_exports(tmp_path):
    autograder, manifest = manifest_folder(tmp_path, STUDENTS)
    folder = tmp_path / "subs"
    paths = [folder / "a" / "alice.ipynb", folder / "b" / "alice.ipynb", folder / "bob.ipynb"]
    identities = grading._identified(paths, folder, manifest, None)
    assert all("has 2 submissions" in identities[p][1][0] for p in paths[:2])
    assert identities[paths[2]] == ("bob", [])
    check = {"name": "q", "label": "q-label", "score": 0.0, "possible": 1.0,
             "feedback": ["AssertionError: x: got 1, expected 2"]}
    reports = [grading.GradeReport(p, s, c["score"], 1.0, [dict(c)], [], flags=f)
               for p, (s, f), c in zip(paths, (identities[p] for p in paths),
                                       [check, check, {**check, "score": 1.0, "feedback": []}])]
    grading.write_exports(reports, autograder, tmp_path / "out", folder=folder)
    feedback = sorted(p.name for p in (tmp_path / "out" / "feedback").iterdir())
    assert feedback == ["alice__a__alice.md", "alice__b__alice.md", "bob.md"]
    text = (tmp_path / "out" / "feedback" / "alice__b__alice.md").read_text()
    assert "expected 2" in text and "has 2 submissions" in text
    moodle = list(csv.reader(open(tmp_path / "out" / "moodle.csv")))
    assert moodle == [["email", "id", "grade"], ["a@x", "alice", ""], ["b@x", "bob", "1"]]


def test_a_sandbox_that_produced_nothing_is_a_failure_not_a_zero(tmp_path, monkeypatch):
    autograder, _ = manifest_folder(tmp_path, STUDENTS)
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "alice.ipynb")
    monkeypatch.setattr(sandbox, "sandbox_problem", lambda: None)
    monkeypatch.setattr(sandbox, "execute", lambda notebook, work, **options: sandbox.Execution(
        None, None, "bwrap: setting up uid map: Permission denied"))
    report = grading.grade(tmp_path / "alice.ipynb", autograder)
    assert report.failure and "Permission denied" in report.failure
    assert report.score == 0 and report.checks[0]["feedback"] == ["not graded"]


def test_suspicious_code_spares_the_chapters_own_calls():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("engine.check_scheduler(s)\nx = 1"),
                      nbformat.v4.new_code_cell("check_instance_w2(globals(), 1)")]
    assert grading.suspicious_code(notebook) == [
        "suspicious code (calls a check): `check_instance_w2(globals(), 1)`"]
