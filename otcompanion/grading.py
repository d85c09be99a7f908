"""Grading a class: submissions run in a sandbox, checks run in the grader, identity from the roster.

A submission is untrusted code: it can patch any function in its kernel, set any environment
variable, read any file its process can see, ignore signals and fork. So grading is split in
two:

1. **The student's notebook runs only to produce its answers**, in a sandbox
   (:mod:`otcompanion.sandbox`: bubblewrap, an unprivileged user, no network, kernel-enforced
   memory, CPU-time, process and file-size limits, a wall-clock limit). The answer variables
   the checks read are written as JSON (numbers, strings, lists, dicts, numpy arrays, pandas
   tables; never pickles) and decoded here with their types checked (:func:`decode_answers`).
2. **The checks run in the grader's process**: otter's test files of the autograder
   (``autograder/tests/QUESTION.py``, read with otter's ``ExceptionTestFile``; one point per
   passing test case, otter's scoring), called with an environment the grader builds: the
   student's *assigned* parameters from ``assignment.json`` (never anything the notebook
   sets) and the decoded answers. Patching ``classroom.assert_close``, setting
   ``OTCOMPANION_ASSIGNED_PARAMETERS`` or editing a check in the notebook changes nothing;
   such code is also *flagged* (:func:`suspicious_code`) for the teacher to look at.

**Identity comes from the class list and the file name**, not from the notebook
(:func:`identify`): a file or folder named after a student id; Canvas's download names
(``name_LMSID_SUBMISSIONID_file.ipynb``, also with ``LATE``) through the ``lms_id`` column; or
an explicit mapping file (CSV with columns ``file`` and ``id``). The notebook's own metadata
only cross-checks: a notebook generated for another student is flagged (a copy). Two
submissions for one student are flagged and left out of the LMS files; students without a
submission are listed.

:func:`grade_folder` grades in parallel (``jobs``) and can keep, in an output folder, the
executed notebooks (``graded/``), a feedback file per submission (``feedback/``) and the CSV
files: ``scores.csv`` (:func:`write_scores`), ``questions.csv`` (one row per student and
question), ``canvas.csv`` (Canvas's gradebook import) and ``moodle.csv`` (email, id, grade;
Moodle's CSV grade import maps the columns).
"""

from __future__ import annotations

import copy
import csv
import os
import re
import tempfile
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd

from otcompanion import sandbox
from otcompanion._validation import check_int, check_positive
from otcompanion.classroom import AssignmentError, _declared_values, _read_manifest, _same

_CANVAS_NAME = re.compile(r"^(?P<name>[^_]+)_(?:LATE_)?(?P<lms>\d+)_(?P<submission>\d+)_"
                          r"(?P<file>.+)$")
_SUSPICIOUS = (
    (r"OTCOMPANION_\w+", "names a variable of the grader"),
    (r"\bos\s*\.\s*(environ|putenv|unsetenv)\b", "touches environment variables"),
    (r"\b(classroom|otter|otcompanion|assert_close|answer_column|assigned_parameters)\b"
     r"[\w.]*\s*=(?!=)", "replaces grading code"),
    (r"\bsetattr\s*\(|\bbuiltins\b|__builtins__", "replaces functions dynamically"),
    (r"\bsignal\s*\.\s*(signal|setitimer|alarm|pthread_sigmask)\b", "changes signal handling"),
    (r"\b(os\s*\.\s*(fork|kill|killpg|setuid|system|exec\w*)|subprocess|ctypes|resource)\b",
     "starts, signals or limits processes"),
    (r"\bautograder\b|\bsolution/|\.\./|/tmp\b|/root\b|/home\b|/etc\b",
     "refers to files outside its folder"),
    (r"(?<![\w.])check_\w+\s*\(", "calls a check"),
)
_MAX_DEPTH = 10


@dataclass
class GradeReport:
    """The result of grading one submission.

    Attributes
    ----------
    notebook : Path
    student : str or None
    score, possible : float
    checks : list of dict
        One per graded exercise: ``name``, ``label``, ``score``, ``possible``, ``feedback``.
    problems : list of str
        What went wrong besides failed checks (errors, time limits, edited parameters).
    failure : str or None
        Why the notebook could not be graded (it is not a notebook, its student is unknown,
        the sandbox could not run): its zero is then no judgement of the answers, and the
        reason is also the last of ``problems``. None when every check ran.
    flags : list of str
        What a teacher should look at: code that tampers with grading, a notebook generated
        for another student (a copy), two submissions of one student.
    graded_notebook : Path or None
        The executed notebook, where it was kept.
    """

    notebook: Path
    student: str | None
    score: float
    possible: float
    checks: list
    problems: list
    failure: str | None = None
    flags: list = field(default_factory=list)
    graded_notebook: Path | None = None

    @property
    def feedback(self):
        """The messages of the failed checks, one line each, prefixed by the exercise label."""
        return [f"{check['label']}: {line}" for check in self.checks
                for line in check["feedback"]]

    def text(self):
        """``score: X / Y``, then a line per exercise, its feedback, problems and flags."""
        lines = [f"score: {self.score:g} / {self.possible:g}"]
        for check in self.checks:
            state = "pass" if check["score"] == check["possible"] else "FAIL"
            lines.append(f"  [{state}] {check['label']}: {check['score']:g} / "
                         f"{check['possible']:g}")
            lines += [f"      {line}" for line in check["feedback"]]
        lines += [f"  problem: {problem}" for problem in self.problems]
        lines += [f"  FLAG: {flag}" for flag in self.flags]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Answers: decoded from the sandbox's JSON, with their types checked
# --------------------------------------------------------------------------------------------

class _Unsupported:
    """An answer of a type the sandbox does not transmit; checks fail on it with its name."""

    def __init__(self, name):
        self.name = str(name)[:200]

    def __repr__(self):
        return f"<unsupported answer: {self.name}>"


def _decode(item, depth=0):
    if depth > _MAX_DEPTH or not isinstance(item, dict):
        raise ValueError("malformed answer")
    kind, value = item.get("type"), item.get("value")
    if kind == "ellipsis":
        return Ellipsis
    if kind == "value" and (value is None or isinstance(value, (bool, int, float, str))):
        return value
    if kind == "ndarray":
        if item.get("dtype") == "object":
            array = np.empty(len(value), dtype=object)
            array[:] = [_decode(element, depth + 1) for element in value]
            return array.reshape(item.get("shape", [len(value)]))
        dtype = np.dtype(item["dtype"])
        if dtype.kind not in "biuf":
            raise ValueError(f"array of dtype {dtype}")
        return np.asarray(value, dtype=dtype)
    if kind in ("list", "tuple"):
        items = [_decode(element, depth + 1) for element in value]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {_hashable(_decode(k, depth + 1)): _decode(v, depth + 1) for k, v in value}
    if kind == "dataframe":
        columns = [_hashable(_decode(c, depth + 1)) for c in item["columns"]]
        data = [_decode(column, depth + 1) for column in item["data"]]
        if len(columns) != len(data):
            raise ValueError("table with mismatched columns")
        index = _decode(item["index"], depth + 1)
        return pd.DataFrame(dict(enumerate(data)), index=index).set_axis(columns, axis=1)
    if kind == "series":
        return pd.Series(_decode(item["data"], depth + 1), index=_decode(item["index"], depth + 1),
                         name=_hashable(_decode(item["name"], depth + 1)))
    if kind == "unsupported":
        return _Unsupported(value)
    raise ValueError(f"unknown answer type {kind!r}")


def _hashable(value):
    if isinstance(value, (list, np.ndarray, dict)):
        raise ValueError("unhashable key")
    return value


def decode_answers(data, names):
    """The answers ``names`` from the sandbox's JSON, as Python, numpy and pandas values.

    Parameters
    ----------
    data : dict or None
        The parsed ``answers.json``: name -> ``{"type": ..., "value": ...}``.
    names : iterable of str
        The answers the checks read; others are ignored.

    Returns
    -------
    answers : dict
        Name -> value, for the names that were defined and well formed.
    problems : list of str
        One line per malformed answer (it is then left out, so its checks fail).
    """
    answers, problems = {}, []
    data = data if isinstance(data, dict) else {}
    for name in names:
        if name not in data:
            continue
        try:
            answers[name] = _decode(data[name])
        except (ValueError, TypeError, KeyError, OverflowError) as error:
            problems.append(f"the answer {name!r} could not be read: {error}.")
    return answers, problems


# --------------------------------------------------------------------------------------------
# Checks, in the grader's process
# --------------------------------------------------------------------------------------------

def run_checks(manifest, autograder, student, answers):
    """Run otter's test files of every question against ``answers`` for ``student``.

    The environment passed to the checks (their ``env`` argument, from which
    :func:`otcompanion.classroom.assigned_parameters` reads) holds the answers and, over them,
    the student's assigned parameters from the manifest.

    Returns
    -------
    list of dict
        One per question: ``name``, ``label``, ``score``, ``possible`` (otter's scoring of the
        test file) and ``feedback`` (the error line of each failed test case).
    """
    from otter.test_files import ExceptionTestFile  # noqa: PLC0415 - the classroom extra

    environment = {**answers, **manifest["students"][student]["parameters"]}
    checks = []
    for name, question in manifest["questions"].items():
        path = Path(autograder) / "tests" / f"{name}.py"
        if not path.is_file():
            raise AssignmentError(f"-a/--autograder: no test file {path} for question {name}.")
        test_file = ExceptionTestFile.from_file(str(path))
        test_file.run(dict(environment))
        feedback = [line.strip() for result in test_file.test_case_results if not result.passed
                    for line in result.message.splitlines()
                    if re.match(r"\s*(\w+Error|\w+Exception)\b", line)]
        checks.append({"name": name, "label": question["label"],
                       "score": float(test_file.score), "possible": float(test_file.possible),
                       "feedback": feedback})
    return checks


def suspicious_code(notebook):
    """Lines of the notebook's code cells that touch grading, processes or other files.

    Returns one flag per rule broken, naming the rule and the first such line. The score
    does not depend on them (the checks cannot be reached from the notebook); they tell a
    teacher which notebooks to read.
    """
    flags = []
    lines = [line for cell in notebook.cells if cell.cell_type == "code"
             and "injected-parameters" not in cell.metadata.get("tags", [])
             for line in cell.source.splitlines() if not line.lstrip().startswith("#")]
    for pattern, what in _SUSPICIOUS:
        hit = next((line for line in lines if re.search(pattern, line)), None)
        if hit is not None:
            flags.append(f"suspicious code ({what}): `{hit.strip()[:100]}`")
    return flags


# --------------------------------------------------------------------------------------------
# Identity: the class list and the file name
# --------------------------------------------------------------------------------------------

def read_mapping(path):
    """Read a mapping file: a CSV with columns ``file`` (a file name or a path relative to the
    submissions folder) and ``id``; returns file -> id.

    Raises
    ------
    AssignmentError
        No such file, missing columns, or a file listed twice.
    """
    path = Path(path)
    if not path.is_file():
        raise AssignmentError(f"--mapping: no file {str(path)!r}.")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"file", "id"} <= {key.strip().lower() for key in rows[0]}:
        raise AssignmentError(f"--mapping: {path} must be a CSV file with the columns 'file' "
                              f"and 'id'.")
    mapping = {}
    for line, row in enumerate(rows, start=2):
        row = {key.strip().lower(): (value or "").strip() for key, value in row.items() if key}
        if row["file"] in mapping:
            raise AssignmentError(f"--mapping: {path} line {line}: {row['file']!r} is listed "
                                  f"twice.")
        mapping[row["file"]] = unicodedata.normalize("NFC", row["id"])
    return mapping


def identify(path, manifest, *, folder=None, mapping=None):
    """The student a submission belongs to, from the class list and the file name.

    In this order: the mapping (``file`` is the file name or the path relative to
    ``folder``); a file (without ``.ipynb``) or parent folder named after a student id;
    Canvas's download name ``name_[LATE_]LMSID_SUBMISSIONID_file`` whose ``LMSID`` is a
    student's ``lms_id``; the only student of the class. Never the notebook's content.

    Returns
    -------
    student : str or None
    reason : str or None
        Why no student was found (None when one was).
    """
    students = manifest["students"]
    path = Path(path)
    keys = [path.name]
    if folder is not None:
        keys.insert(0, path.relative_to(folder).as_posix())
    for key in keys:
        if mapping and key in mapping:
            student = mapping[key]
            if student not in students:
                return None, f"the mapping gives id {student!r}, which is not in the class list."
            return student, None
    for name in (path.stem, path.parent.name):
        name = unicodedata.normalize("NFC", name)
        if name in students:
            return name, None
    canvas = _CANVAS_NAME.match(path.name)
    if canvas:
        owners = [s for s, entry in students.items() if entry.get("lms_id") == canvas["lms"]]
        if len(owners) == 1:
            return owners[0], None
        rows = "no row" if not owners else "more than one row"
        return None, f"Canvas user id {canvas['lms']} is in {rows} of the class list's lms_id."
    if len(students) == 1:
        return next(iter(students)), None
    return None, ("cannot tell which student it belongs to: name the file or its folder after "
                  "the student id, keep Canvas's download names (with an lms_id column in the "
                  "class list), or pass --mapping (or --student for one notebook).")


def _identity_flag(notebook, student):
    claimed = notebook.metadata.get("otcompanion", {}).get("student")
    if claimed and claimed != student:
        return (f"this notebook was generated for student {claimed!r} but was handed in as "
                f"{student!r} (a copy?).")
    return None


# --------------------------------------------------------------------------------------------
# Grading one notebook
# --------------------------------------------------------------------------------------------

def _zero_report(path, student, manifest, problem, problems=(), flags=()):
    """The report of a notebook that could not be graded: zero, and ``problem`` says why."""
    checks = [{"name": name, "label": q["label"], "score": 0, "possible": q["points"],
               "feedback": ["not graded"]} for name, q in manifest["questions"].items()]
    return GradeReport(Path(path), student, 0, manifest["points"], checks,
                       [*problems, problem], failure=problem, flags=list(flags))


def _parameter_problems(submission, assigned):
    problems = []
    declared, found = _declared_values(submission)
    for tag in ("parameters", "injected-parameters"):
        if tag not in found:
            problems.append(f"the {tag!r} cell was removed.")
    edited = [f"{name} = {declared.get(name, '<unset>')!r} (assigned {value!r})"
              for name, value in assigned.items() if not _same(declared.get(name), value)]
    if edited:
        problems.append("parameters edited in the notebook: " + "; ".join(edited)
                        + ". The checks use the assigned values.")
    return problems


def _run_problems(log):
    problems = [f"cell `{entry.get('cell', '')}` raised {entry.get('error', '')}: "
                f"{entry.get('message', '')}" for entry in log.get("cells", [])
                if isinstance(entry, dict)][:20]
    if log.get("stopped"):
        problems.append(str(log["stopped"])[:300])
    return problems


def _sandbox_failure(execution):
    """Why the sandbox sent back nothing to grade (stopped, or its runner failed), or None."""
    if execution.part("log", dict) is not None:
        return None
    if execution.stopped:
        return execution.stopped
    last = " ".join(execution.output.strip().splitlines()[-3:])[:400]
    return f"the sandbox could not run this notebook: {last or 'no output'}"


def _keep(text, keep):
    """Write the executed notebook ``text`` to ``keep``; its path, or None."""
    if keep is None or text is None:
        return None
    keep.parent.mkdir(parents=True, exist_ok=True)
    keep.write_text(text, encoding="utf-8")
    return keep


def _grade_submission(path, submission, student, manifest, autograder, options, keep):
    """Run ``submission`` in the sandbox, then the checks here; its report."""
    problems = _parameter_problems(submission, manifest["students"][student]["parameters"])
    flags = [*filter(None, [_identity_flag(submission, student)]), *suspicious_code(submission)]
    names = sorted({name for q in manifest["questions"].values() for name in q["answers"]})
    with tempfile.TemporaryDirectory(prefix="otcompanion-grade-") as work:
        execution = sandbox.execute(copy.deepcopy(submission), work, answers=names,
                                    cell_timeout=options["timeout"], limits=options["limits"],
                                    unsafe=options["unsafe"])
    failure = _sandbox_failure(execution)
    if failure:
        return _zero_report(path, student, manifest, failure, problems, flags)
    problems += _run_problems(execution.part("log", dict))
    answers, answer_problems = decode_answers(execution.part("answers", dict), names)
    checks = run_checks(manifest, autograder, student, answers)
    return GradeReport(path, student, sum(check["score"] for check in checks),
                       sum(check["possible"] for check in checks), checks,
                       problems + answer_problems, flags=flags,
                       graded_notebook=_keep(execution.part("executed", str), keep))


def _options(timeout, unsafe, limits):
    return {"timeout": check_positive(timeout, "timeout"), "unsafe": bool(unsafe),
            "limits": limits or sandbox.Limits()}


def _require_sandbox(unsafe):
    if not unsafe and (problem := sandbox.sandbox_problem()):
        raise AssignmentError(f"grading runs the students' code, and there is no sandbox "
                              f"here: {problem} (--unsafe runs it as your user, with your "
                              f"rights: only in a disposable machine or account).")


def _grade_path(path, autograder, manifest, student, options, keep, flags=()):
    """Grade one file as ``student`` (None: unknown, the reason in ``flags[0]``)."""
    try:
        submission = nbformat.read(path, as_version=4)
    except Exception as error:  # noqa: BLE001 - any unreadable file is reported, not raised
        return _zero_report(path, student, manifest,
                            f"not a readable notebook: {type(error).__name__}: {error}",
                            flags=flags)
    if student is None:
        return _zero_report(path, None, manifest, flags[0])
    _require_sandbox(options["unsafe"])
    report = _grade_submission(path, submission, student, manifest, autograder, options, keep)
    report.flags = [*flags, *report.flags]
    return report


def grade(notebook, autograder, *, student=None, timeout=60.0, unsafe=False, limits=None,
          keep=None):
    """Grade one submission: run it in a sandbox, then its checks in this process.

    Parameters
    ----------
    notebook : path
        The submitted ``.ipynb``.
    autograder : path
        ``DIR/autograder`` of :func:`otcompanion.classroom.make_assignment`.
    student : str, optional
        The student id; default from the file name (:func:`identify`).
    timeout : float, default 60
        Seconds allowed to each cell; a cell that runs longer is stopped with its kernel and
        the cells after it do not run (the answers of the cells before it count).
    unsafe : bool, default False
        Run without a sandbox, as your own user, where none is available.
    limits : otcompanion.sandbox.Limits, optional
        Memory, CPU-time, process and file-size limits of the run.
    keep : path, optional
        Where to write the executed notebook.

    Returns
    -------
    GradeReport
        Never raises for a submission that errors, loops, tampers or is not a notebook: those
        are reported in ``problems`` and ``flags`` with the marks still due; a notebook that
        could not be graded at all scores zero and says why in ``failure``.

    Raises
    ------
    AssignmentError
        The autograder folder is unusable, the student cannot be identified, ``timeout`` is
        not positive, or no sandbox is available and ``unsafe`` is false (the message says
        why).
    """
    options = _options(timeout, unsafe, limits)
    autograder = Path(autograder).resolve()
    manifest, _ = _read_manifest(autograder)
    path = Path(notebook).resolve()
    if student is not None:
        student = unicodedata.normalize("NFC", student)
        if student not in manifest["students"]:
            raise AssignmentError(f"--student: no student {student!r} in this autograder.")
    else:
        student, reason = identify(path, manifest)
        if student is None:
            raise AssignmentError(f"{path}: {reason}")
    return _grade_path(path, autograder, manifest, student, options,
                       Path(keep).resolve() if keep else None)


# --------------------------------------------------------------------------------------------
# Grading a folder
# --------------------------------------------------------------------------------------------

def _identified(paths, folder, manifest, mapping):
    """Path -> (student or None, flags): identity, duplicates and the reason of an unknown."""
    found = {path: identify(path, manifest, folder=folder, mapping=mapping) for path in paths}
    by_student = {}
    for path, (student, _) in found.items():
        if student is not None:
            by_student.setdefault(student, []).append(path)
    result = {}
    for path, (student, reason) in found.items():
        flags = [reason] if reason else []
        others = by_student.get(student, [])
        if len(others) > 1:
            flags.append(f"student {student!r} has {len(others)} submissions ("
                         + ", ".join(p.relative_to(folder).as_posix() for p in others)
                         + "); none of them is exported to the LMS files.")
        result[path] = (student, flags)
    return result


def grade_folder(folder, autograder, *, timeout=60.0, csv_path=None, echo=print, jobs=None,
                 unsafe=False, limits=None, output=None, mapping=None, assignment_name=None):
    """Grade every ``.ipynb`` under ``folder``, in parallel; optionally keep everything.

    Each submission is identified from the class list and its file name (:func:`identify`);
    duplicates and notebooks made for another student are flagged, students without a
    submission are listed. Relative paths work.

    Parameters
    ----------
    folder, autograder : path
        The submissions (searched recursively) and ``DIR/autograder``.
    timeout, unsafe, limits
        As for :func:`grade`.
    csv_path : path, optional
        Also write :func:`write_scores` there.
    echo : callable or None
        Receives a report per notebook and progress lines.
    jobs : int, optional
        Submissions graded at once (default: the number of cores).
    output : path, optional
        A folder for ``graded/`` (executed notebooks, in the submissions' layout),
        ``feedback/`` (a Markdown file per submission), ``scores.csv``, ``questions.csv``,
        ``canvas.csv`` and ``moodle.csv`` (:func:`write_exports`).
    mapping : path, optional
        A CSV file with columns ``file`` and ``id`` (:func:`read_mapping`).
    assignment_name : str, optional
        The assignment's column in ``canvas.csv`` (default: ``otcompanion CHAPTER``).

    Returns
    -------
    list of GradeReport
        One per notebook, in file order; those that could not be graded have a ``failure``.

    Raises
    ------
    AssignmentError
        No such folder, no notebook in it, an unusable autograder or mapping, a bad ``jobs``
        or ``timeout``, or no sandbox without ``unsafe``.
    """
    echo = echo or (lambda line: None)
    options = _options(timeout, unsafe, limits)
    jobs = check_int(jobs if jobs is not None else (os.cpu_count() or 1), "jobs", minimum=1)
    autograder = Path(autograder).resolve()
    manifest, _ = _read_manifest(autograder)
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise AssignmentError(f"no folder {str(folder)!r} of submissions.")
    paths = sorted(path for path in folder.rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in path.parts)
    if not paths:
        raise AssignmentError(f"no .ipynb file under {folder}.")
    _require_sandbox(options["unsafe"])
    output = Path(output).resolve() if output else None
    identities = _identified(paths, folder, manifest, read_mapping(mapping) if mapping else None)
    reports = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        started = time.perf_counter()
        futures = {}
        for path in paths:
            student, flags = identities[path]
            keep = output / "graded" / path.relative_to(folder) if output and student else None
            futures[pool.submit(_grade_path, path, autograder, manifest, student, options, keep,
                                flags)] = path
        for future in as_completed(futures):
            path = futures[future]
            reports[path] = report = future.result()
            echo(f"{path} ({report.student or 'unknown student'}, "
                 f"{time.perf_counter() - started:.0f} s)\n{report.text()}")
    reports = [reports[path] for path in paths]
    missing = [s for s in manifest["students"] if s not in {r.student for r in reports}]
    if missing:
        echo(f"[otcompanion] no submission from {len(missing)} student(s): "
             + ", ".join(missing))
    if csv_path:
        write_scores(reports, autograder, csv_path)
        echo(f"[otcompanion] scores written to {csv_path}")
    if output is not None:
        write_exports(reports, autograder, output, folder=folder,
                      assignment_name=assignment_name)
        echo(f"[otcompanion] graded notebooks, feedback and CSV files written to {output}")
    return reports


# --------------------------------------------------------------------------------------------
# Files for the teacher and the LMS
# --------------------------------------------------------------------------------------------

def write_scores(reports, autograder, csv_path):
    """Write one CSV row per report, then one per student without a submission; UTF-8.

    The columns are ``student``, ``notebook``, ``score``, ``possible``, the score of every
    graded exercise (a column per otter question), ``problems`` (joined by ``" | "``), then
    ``graded`` (``yes``, or ``no`` for a notebook that could not be graded, whose zero says
    nothing of its answers, and for a student without a submission; ``problems`` says why),
    ``feedback`` (the messages of the failed checks, each after its exercise label, joined by
    ``" | "``) and ``flags`` (what to look at: tampering, copies, duplicates; joined by
    ``" | "``).
    """
    manifest, _ = _read_manifest(autograder)
    names = list(manifest["questions"])
    seen = {report.student for report in reports}
    with Path(csv_path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "notebook", "score", "possible", *names, "problems",
                         "graded", "feedback", "flags"])
        for report in reports:
            by_name = {check["name"]: check["score"] for check in report.checks}
            writer.writerow([report.student or "", str(report.notebook), report.score,
                             report.possible, *[by_name.get(name, 0) for name in names],
                             " | ".join(report.problems),
                             "no" if report.failure else "yes", " | ".join(report.feedback),
                             " | ".join(report.flags)])
        for student in manifest["students"]:
            if student not in seen and len(manifest["students"]) > 1:
                writer.writerow([student, "", 0, manifest["points"], *[0] * len(names),
                                 "no submission", "no", "", ""])


def _exportable(reports):
    """Student -> report, for students with exactly one graded submission."""
    counts = {}
    for report in reports:
        counts[report.student] = counts.get(report.student, 0) + 1
    return {r.student: r for r in reports if r.student and counts[r.student] == 1}


def _feedback_markdown(report, manifest):
    lines = [f"# {manifest['chapter']}: feedback for {report.student or 'unknown student'}", "",
             f"Notebook: `{report.notebook.name}`", "",
             f"**Score: {report.score:g} / {report.possible:g}**", ""]
    for check in report.checks:
        state = "passed" if check["score"] == check["possible"] else "failed"
        lines.append(f"- `{check['label']}`: {check['score']:g} / {check['possible']:g} "
                     f"({state})")
        lines += [f"    - {line}" for line in check["feedback"]]
    for title, items in (("Problems", report.problems), ("Flags (for the teacher)",
                                                          report.flags)):
        if items:
            lines += ["", f"## {title}", "", *[f"- {item}" for item in items]]
    return "\n".join(lines) + "\n"


def write_exports(reports, autograder, output, *, folder=None, assignment_name=None):
    """Write the feedback files and the CSV files of :func:`grade_folder` to ``output``.

    ``feedback/ID.md`` (``ID__PATH.md`` when a student has several submissions or none is
    known, ``PATH`` being the notebook's path in ``folder`` without ``.ipynb``), ``scores.csv`` (:func:`write_scores`), ``questions.csv``
    (``student``, ``notebook``, ``question``, ``label``, ``score``, ``possible``,
    ``feedback``), ``canvas.csv`` (``Student``, ``ID``, ``SIS User ID``, ``Section`` and the
    assignment's column, after a ``Points Possible`` row; ``ID`` is the ``lms_id``) and
    ``moodle.csv`` (``email``, ``id``, ``grade``). The two LMS files have one row per student
    of the class list; a student without exactly one submission gets an empty grade.
    """
    manifest, _ = _read_manifest(autograder)
    output = Path(output)
    (output / "feedback").mkdir(parents=True, exist_ok=True)
    exportable = _exportable(reports)
    for index, report in enumerate(reports):
        if report.student in exportable:
            name = report.student
        else:  # several or no student: name it after the file, unique
            where = (report.notebook.relative_to(folder).with_suffix("").as_posix()
                     if folder else f"{index + 1}_{report.notebook.stem}")
            name = f"{report.student or 'unknown'}__{where.replace('/', '__')}"
        (output / "feedback" / f"{name}.md").write_text(_feedback_markdown(report, manifest),
                                                       encoding="utf-8")
    write_scores(reports, autograder, output / "scores.csv")
    _write_csv(output / "questions.csv",
               ["student", "notebook", "question", "label", "score", "possible", "feedback"],
               [[r.student or "", str(r.notebook), c["name"], c["label"], c["score"],
                 c["possible"], " | ".join(c["feedback"])] for r in reports for c in r.checks])
    column = assignment_name or f"otcompanion {manifest['chapter']}"
    students = manifest["students"]
    grades = {s: (f"{exportable[s].score:g}" if s in exportable else "") for s in students}
    _write_csv(output / "canvas.csv", ["Student", "ID", "SIS User ID", "Section", column],
               [["Points Possible", "", "", "", f"{manifest['points']:g}"]]
               + [[entry.get("name") or s, entry.get("lms_id", ""), s, "", grades[s]]
                  for s, entry in students.items()])
    _write_csv(output / "moodle.csv", ["email", "id", "grade"],
               [[entry.get("email", ""), s, grades[s]] for s, entry in students.items()])


def _write_csv(path, header, rows):
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


__all__ = ["GradeReport", "decode_answers", "grade", "grade_folder", "identify",
           "read_mapping", "run_checks", "suspicious_code", "write_exports", "write_scores"]
