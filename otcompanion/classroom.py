"""The classroom edition: assignments from a chapter's exercises, graded per student by otter.

A teacher turns a chapter into homework with ``otcompanion assignment CHAPTER -o DIR``: every
student gets the chapter's narrative and exercises with their own parameters (their own seed,
hence their own data, and their own expected answers wherever a check depends on the seed),
the solution code replaced by placeholders and the graded checks hidden. ``otcompanion grade``
runs a submission in a sandbox only to produce its answers, runs the checks in its own process
for the student's assigned parameters and reports ``score: X / Y`` with the result of every
check (:mod:`otcompanion.grading`, :mod:`otcompanion.sandbox`: the threat model, the sandbox,
identity from the class list and file names, the files for the teacher and the LMS).
Assignments are built on otter-grader (``otter assign`` writes the student notebook, the
solution notebook and the autograder's test files); grading keeps otter's test files and
scoring but not ``otter run``, which executes the checks inside the student's kernel.

**How a chapter marks exercises, solutions and checks.** One convention serves the web book
and the classroom edition; the web book renders exactly as before, because checks are hidden
cells.

Exercise
    A markdown cell with a sphinx-exercise ``exercise`` directive that has a ``:label:``. Its
    statement names the variables the answer must define.

Solution
    Everything between the ``solution-start`` fence of that label and the next
    ``solution-end`` fence: the markdown after the ``solution-start`` fence (the explanation)
    and the code cells (the solution code). Students get neither; in place of the solution
    code they get one placeholder cell that assigns ``...`` to every answer.

Check
    A code cell tagged ``check`` and ``remove-cell`` (so the web book hides it), inside the
    solution, after its code. It holds one function, then the lines that run it in the web
    book::

        def check_sampled_means(env, comparison):
            \"\"\"Sampled means against the package, for the student's seed (atol 1e-9).\"\"\"
            from otcompanion import classroom, data
            seed = classroom.assigned_parameters(env)["seed"]
            expected = ...  # computed with the package for that seed
            classroom.assert_close("sampled mean", comparison, expected, atol=1e-9)

        from otcompanion import classroom
        classroom.run_check(check_sampled_means, globals())

    The arguments other than ``env`` are the names the student's answer must define; ``env``
    is the notebook's global namespace in the web book and, when grading, an environment the
    grader builds from the assigned parameters and the answers. A check computes the expected value with the package
    for the *assigned* parameters (:func:`assigned_parameters`) and compares within a stated
    tolerance (:func:`assert_close`); it never compares with a typed number. Each check is
    worth one point. Because the web book executes it (hidden), every build proves that the
    solution passes its checks. An exercise with at least one check is *graded*; the others
    appear in an assignment only with ``--all-exercises`` (statement and placeholder, not
    graded).

Classroom parameters
    An optional raw cell tagged ``assignment-parameters`` and ``remove-cell``: a YAML mapping
    of parameter values for assignments (small sizes, so that grading the whole notebook takes
    seconds). The web book ignores it; ``otcompanion assignment -p NAME VALUE`` overrides it.

**The class list** (``--students``) is a CSV file as spreadsheets export it: UTF-8 with or
without a byte-order mark (Excel's "CSV UTF-8"), separated by commas or by semicolons (the
header line decides: semicolons when it has more semicolons than commas), with a header row
whose names are compared without case and surrounding spaces. Rows whose cells are all empty are
skipped; other columns than these are ignored:

id
    Required. It names the student's folder and notebook, so it is made of letters and digits
    of any alphabet (``str.isalnum``: ``josé``, ``Zoë``), ``.``, ``_`` and ``-``, does not
    start with ``.`` or ``-``, and differs from every other id even without regard to case
    (a case-insensitive file system or a learning platform's export would mix ``Alice`` and
    ``alice``). Ids are read in Unicode normal form NFC.
seed
    Optional: an integer of at least 0, different from every other student's seed (two students
    with one seed would get the same data). Empty: derived from the id and the class seed
    (:func:`student_seed`).
name, email, lms_id
    Optional (:data:`STUDENT_COLUMNS`): kept as text with the student's parameters in
    ``assignment.json``.

A file that breaks these rules is refused with a message that names the file, the line and what
is allowed.

**What an assignment folder holds.** ``DIR/student/CHAPTER.ipynb`` (with ``--students``:
``DIR/student/ID/CHAPTER.ipynb``), ``DIR/solution/CHAPTER.ipynb`` (executed; per student with
``--students``) and ``DIR/autograder/``: otter's autograder (``CHAPTER-autograder_*.zip``,
the test files) and ``assignment.json`` (the chapter, the checks and every student's
parameters).
"""

from __future__ import annotations

import ast
import copy
import csv
import hashlib
import inspect
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:
    import nbformat
    import papermill
    import yaml
    from papermill.parameterize import parameterize_notebook
except ModuleNotFoundError as error:  # the book extra is not installed: say so
    raise ModuleNotFoundError(
        f"the classroom edition runs chapters and needs the 'book' and 'classroom' extras "
        f"({error.name} is missing): pip install 'otcompanion[book,classroom]' (in a clone: "
        f"pip install --constraint constraints.txt -e '.[book,classroom]')",
        name=error.name) from error

from otcompanion import book
from otcompanion._validation import check_bool, check_int

MANIFEST = "assignment.json"
"""File of the autograder folder that records the chapter, its checks and the students."""

STUDENT_COLUMNS = ("name", "email", "lms_id")
"""Optional columns of a class list that are kept, with ``id`` and ``seed``, in the manifest."""

CHECK_TAG = "check"
PARAMETERS_TAG = "assignment-parameters"
PLACEHOLDER_TAG = "otcompanion-placeholder"
_OTTER_SOLUTION_TAG = "otter_assign_solution_cell"  # otter assign removes these from students
_OTTER_ANSWER_TAG = "otter_answer_cell"  # otter assign's tag of a stripped answer cell
_DIRECTIVE = re.compile(r"^```\{(exercise|solution-start|solution-end)\}[ \t]*(\S*)[ \t]*\n"
                        r"(.*?)^```[ \t]*$\n?", re.MULTILINE | re.DOTALL)
_ROLE = re.compile(r"\{[a-z:]+\}`~?([^`<]*?)(?:\s*<([^`>]+)>)?`")


class AssignmentError(ValueError):
    """A chapter, an option or a file that an assignment or a grading run cannot use."""


# --------------------------------------------------------------------------------------------
# Helpers that the chapters' check cells call
# --------------------------------------------------------------------------------------------

def assigned_parameters(env):
    """The parameters a check must compute its expected values for.

    Parameters
    ----------
    env : dict
        The notebook's global namespace (a check's ``env`` argument).

    Returns
    -------
    dict
        ``env`` itself. While ``otcompanion grade`` grades a submission, ``env`` is built by
        the grader (:func:`otcompanion.grading.run_checks`): the parameters assigned to that
        student in the autograder, whatever the notebook set, and the student's answers. In
        the web book and a solution run it is the notebook's namespace, whose parameter
        variables are the ones the chapter ran with.
    """
    return env


def assert_close(what, actual, expected, *, rtol=0.0, atol=0.0):
    """Assert that ``actual`` matches ``expected`` element-wise within ``atol + rtol * |expected|``.

    Parameters
    ----------
    what : str
        Name of the quantity, for the message.
    actual, expected : number or array-like
        The student's value and the package's. ``...`` (an unanswered placeholder) and values
        of another shape fail with a message that says so.
    rtol, atol : float
        Relative and absolute tolerance (numpy's ``isclose`` rule).

    Raises
    ------
    AssertionError
        With a message naming ``what``, the worst entry, both values and the tolerance.
    """
    if actual is Ellipsis or actual is None:
        raise AssertionError(f"{what}: not answered yet (still {actual!r}).")
    try:
        actual_array = np.asarray(actual, dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(f"{what}: expected numbers, got {type(actual).__name__} "
                             f"{actual!r:.80}.") from None
    expected_array = np.asarray(expected, dtype=float)
    if actual_array.shape != expected_array.shape:
        raise AssertionError(f"{what}: expected shape {expected_array.shape}, got "
                             f"{actual_array.shape}.")
    close = np.isclose(actual_array, expected_array, rtol=rtol, atol=atol)
    if not close.all():
        worst = np.unravel_index(np.argmax(np.abs(actual_array - expected_array)
                                           * ~close), close.shape)
        where = f" at index {tuple(int(i) for i in worst)}" if close.ndim else ""
        raise AssertionError(
            f"{what}{where}: got {actual_array[worst]:.10g}, expected {expected_array[worst]:.10g} "
            f"(tolerance atol={atol:g}, rtol={rtol:g}; {int((~close).sum())} of {close.size} "
            f"values differ).")


def answer_column(what, table, column, n_rows):
    """The column ``column`` of the student's table ``table`` as floats, with clear failures.

    Raises ``AssertionError`` when the table is unanswered, is not a table, lacks the column or
    has another number of rows than ``n_rows``.
    """
    if table is Ellipsis or table is None:
        raise AssertionError(f"{what}: not answered yet (still {table!r}).")
    if not hasattr(table, "columns"):
        raise AssertionError(f"{what}: expected a pandas DataFrame, got {type(table).__name__}.")
    if column not in table.columns:
        raise AssertionError(f"{what}: no column {column!r}; the columns are "
                             f"{list(table.columns)}.")
    if len(table) != n_rows:
        raise AssertionError(f"{what}: expected {n_rows} rows, got {len(table)}.")
    return np.asarray(table[column], dtype=float)


def run_check(check, env):
    """Call a check function as otter does: ``env`` gets ``env``, other arguments ``env[name]``.

    Used by the chapters' check cells so that the web book runs every check on the solution.
    """
    names = inspect.signature(check).parameters
    check(**{name: env if name == "env" else env.get(name) for name in names})


# --------------------------------------------------------------------------------------------
# Reading a chapter's exercises
# --------------------------------------------------------------------------------------------

@dataclass
class Exercise:
    """One exercise of a chapter: its statement, its solution and its checks."""

    label: str
    statement: str
    solution_text: list = field(default_factory=list)
    solution_code: list = field(default_factory=list)
    checks: list = field(default_factory=list)

    @property
    def name(self):
        """The label as a Python identifier (otter's question and test file name)."""
        return re.sub(r"\W", "_", self.label)

    @property
    def answers(self):
        """Names the checks read from the student's notebook, in order of first use."""
        names = []
        for check in self.checks:
            function = ast.parse(check).body[0]
            names += [a.arg for a in function.args.args if a.arg != "env" and a.arg not in names]
        return names


def _directive_label(kind, argument, body):
    if kind == "exercise":
        match = re.search(r"^:label:\s*(\S+)", body, re.MULTILINE)
        return match.group(1) if match else None
    return argument or None


def _directive_body(body):
    return "\n".join(line for line in body.splitlines() if not re.match(r"\s*:\w+:", line)).strip()


def read_chapter(chapter):
    """Split a chapter into pieces: narrative cells, exercises, solutions and checks.

    Returns
    -------
    pieces : list of (kind, value)
        In reading order. ``("cell", cell)`` for a narrative cell (a markdown cell is split
        around exercise and solution fences), ``("exercise", Exercise)`` where an exercise's
        statement stands and ``("end", Exercise)`` where its solution ends.
    exercises : dict
        Label -> :class:`Exercise`.
    parameters : dict
        The chapter's classroom parameters (its ``assignment-parameters`` cell), possibly empty.

    Raises
    ------
    AssignmentError
        A check outside a solution, a solution of an unknown exercise, an unclosed solution, a
        check cell that is not one function and one call, or a malformed parameters cell.
    """
    chapter = book.as_chapter(chapter)
    notebook = book.chapter_notebook(chapter)
    pieces, exercises, parameters = [], {}, {}
    current = None  # the exercise whose solution is open
    where = f"chapter {chapter.name}"
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "raw" and PARAMETERS_TAG in tags:
            try:
                parameters = yaml.safe_load(cell.source) or {}
            except yaml.YAMLError as error:
                raise AssignmentError(f"{where}: the {PARAMETERS_TAG} cell is not YAML: "
                                      f"{error}") from None
            if not isinstance(parameters, dict):
                raise AssignmentError(f"{where}: the {PARAMETERS_TAG} cell must be a mapping "
                                      f"of parameter names to values.")
            continue
        if cell.cell_type == "code" and CHECK_TAG in tags:
            if current is None:
                raise AssignmentError(f"{where}: a check cell outside any solution:\n"
                                      f"{cell.source[:200]}")
            current.checks.append(_check_source(cell.source, where))
            continue
        if cell.cell_type == "code":
            if current is not None:
                current.solution_code.append(cell)
            else:
                pieces.append(("cell", cell))
            continue
        if cell.cell_type != "markdown":
            pieces.append(("cell", cell))
            continue
        position = 0
        for match in [*_DIRECTIVE.finditer(cell.source), None]:
            text = cell.source[position:match.start() if match else None].strip()
            if text and current is not None:
                current.solution_text.append(text)
            elif text:
                pieces.append(("cell", nbformat.v4.new_markdown_cell(text)))
            if match is None:
                break
            position = match.end()
            kind, argument, body = match.groups()
            label = _directive_label(kind, argument, body)
            if kind == "exercise":
                if not label:
                    raise AssignmentError(f"{where}: an exercise without a :label:.")
                exercises[label] = Exercise(label, _directive_body(body))
                pieces.append(("exercise", exercises[label]))
            elif kind == "solution-start":
                if label not in exercises:
                    raise AssignmentError(f"{where}: a solution of {label!r}, which is not an "
                                          f"exercise above it.")
                current = exercises[label]
            else:
                if current is None:
                    raise AssignmentError(f"{where}: a solution-end without a solution-start.")
                pieces.append(("end", current))
                current = None
    if current is not None:
        raise AssignmentError(f"{where}: the solution of {current.label!r} is never closed.")
    return pieces, exercises, parameters


def _check_source(source, where):
    """The check's function definition (the lines after it run it in the web book only)."""
    try:
        body = ast.parse(source).body
    except SyntaxError as error:
        raise AssignmentError(f"{where}: a check cell does not parse: {error}") from None
    if not body or not isinstance(body[0], ast.FunctionDef):
        raise AssignmentError(f"{where}: a check cell must start with the check's function "
                              f"definition; got:\n{source[:200]}")
    return ast.get_source_segment(source, body[0])


def graded_exercises(chapter):
    """Exercises of a chapter that have checks, label -> :class:`Exercise`, in reading order."""
    _, exercises, _ = read_chapter(chapter)
    return {label: exercise for label, exercise in exercises.items() if exercise.checks}


# --------------------------------------------------------------------------------------------
# Writing an assignment
# --------------------------------------------------------------------------------------------

def _for_jupyter(markdown):
    """MyST roles (``{func}`~a.b```) as code literals, which plain Jupyter renders."""
    return _ROLE.sub(lambda m: f"`{(m.group(2) or m.group(1)).split('.')[-1]}`"
                     if m.group(0).startswith(("{func}", "{class}", "{meth}", "{mod}"))
                     else (m.group(1).strip() or m.group(2)), markdown)


def _raw(text):
    return nbformat.v4.new_raw_cell(text)


def _markdown(text, tags=()):
    cell = nbformat.v4.new_markdown_cell(_for_jupyter(text))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def _code(text, tags=()):
    cell = nbformat.v4.new_code_cell(text)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def _solution_code(cell, tags=()):
    """A solution code cell wrapped in otter's markers, so that students get none of it."""
    return _code(f"# BEGIN SOLUTION NO PROMPT\n{cell.source}\n# END SOLUTION", tags)


def _test_cell(check):
    config = '""" # BEGIN TEST CONFIG\npoints: 1\nhidden: true\n""" # END TEST CONFIG\n'
    return _code(config + check)


def master_notebook(chapter, all_exercises=False):
    """The chapter in otter assign's format (``# ASSIGNMENT CONFIG``, ``# BEGIN QUESTION``, ...).

    Graded exercises become otter questions: the statement, a prompt (the placeholder), the
    solution (its code between ``# BEGIN SOLUTION`` and ``# END SOLUTION``) and hidden tests,
    one per check. Ungraded exercises are left out, or with ``all_exercises`` kept with a
    placeholder and their solution tagged for otter to remove.

    Returns
    -------
    notebook : nbformat.NotebookNode
    exercises : dict
        Label -> :class:`Exercise`, of the exercises included.
    parameters : dict
        The chapter's classroom parameters.
    """
    chapter = book.as_chapter(chapter)
    pieces, exercises, parameters = read_chapter(chapter)
    if not any(exercise.checks for exercise in exercises.values()):
        raise AssignmentError(f"chapter {chapter.name} has no graded exercise (no check cells); "
                              f"see the module documentation of otcompanion.classroom.")
    config = {"name": chapter.name, "init_cell": False, "check_all_cell": False,
              "export_cell": False, "run_tests": False, "solutions_pdf": False,
              "tests": {"files": True, "ok_format": False},
              "generate": {"pdf": False, "show_hidden": True}}
    cells = [_raw("# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False))]
    included, number = {}, 0
    for kind, value in pieces:
        if kind == "cell":
            cells.append(_markdown(value.source, value.metadata.get("tags", []))
                         if value.cell_type == "markdown" else copy.deepcopy(value))
            continue
        exercise = value
        graded = bool(exercise.checks)
        if not graded and not all_exercises:
            continue
        if kind == "exercise":
            number += 1
            included[exercise.label] = exercise
            points = len(exercise.checks)
            heading = (f"**Exercise {number}** (`{exercise.label}`, "
                       + (f"{points} point{'s' * (points > 1)})" if graded else "not graded)")
                       + f"\n\n{exercise.statement}")
            if graded:
                question = {"name": exercise.name, "points": points, "check_cell": False}
                cells.append(_raw("# BEGIN QUESTION\n" + yaml.safe_dump(question,
                                                                        sort_keys=False)))
                cells.append(_markdown(heading))
                placeholder = (f"# Exercise {number}: your code here. It must define "
                               + ", ".join(f"`{name}`" for name in exercise.answers) + ".\n"
                               + "\n".join(f"{name} = ..." for name in exercise.answers))
                cells += [_raw("# BEGIN PROMPT"), _code(placeholder, [PLACEHOLDER_TAG]),
                          _raw("# END PROMPT"), _raw("# BEGIN SOLUTION")]
                cells += [_markdown(f"**Solution.** {text}" if i == 0 else text)
                          for i, text in enumerate(exercise.solution_text)]
                cells += [_solution_code(cell) for cell in exercise.solution_code]
                cells.append(_raw("# END SOLUTION"))
            else:
                cells.append(_markdown(heading))
                cells.append(_code(f"# Exercise {number}: your code here (not graded).",
                                   [PLACEHOLDER_TAG]))
                cells += [_markdown(f"**Solution.** {text}" if i == 0 else text,
                                    [_OTTER_SOLUTION_TAG])
                          for i, text in enumerate(exercise.solution_text)]
                cells += [_solution_code(cell, [_OTTER_SOLUTION_TAG])
                          for cell in exercise.solution_code]
        elif kind == "end" and graded:
            cells.append(_raw("# BEGIN TESTS"))
            cells += [_test_cell(check) for check in exercise.checks]
            cells += [_raw("# END TESTS"), _raw("# END QUESTION")]
    notebook = book.chapter_notebook(chapter)
    notebook.cells = cells
    return notebook, included, parameters


def _id_problem(student):
    """Why ``student`` cannot be an id (it names a folder and a file), or None when it can."""
    if not student:
        return "is empty"
    if student[0] in ".-":
        return f"starts with {student[0]!r}"
    if not all(character.isalnum() or character in "._-" for character in student):
        return "has a character other than a letter, a digit, '.', '_' or '-'"
    return None


def _read_students(path):
    """Read a class list (the module documentation says what it holds).

    Returns
    -------
    dict
        Id -> ``{"seed": int or None, **optional}``, in the file's order; ``optional`` holds
        those of the columns :data:`STUDENT_COLUMNS` that the file has, as text.

    Raises
    ------
    AssignmentError
        Naming the file, the line and what is allowed: a missing file, a file that is not
        UTF-8, no ``id`` column (with the columns found and the separator used), a repeated
        column, a bad id or one repeated up to case, a seed that is not an integer, negative or
        repeated.
    """
    path = Path(path)
    where = f"--students: {path}"
    if not path.is_file():
        raise AssignmentError(f"--students: no file {str(path)!r}.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise AssignmentError(f"{where} is not UTF-8 (byte {error.start}); save it as \"CSV "
                              f"UTF-8\".") from None
    header = next((line for line in text.splitlines() if line.strip()), "")
    separator = ";" if header.count(";") > header.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    columns = next(([column.strip().lower() for column in cells] for cells in reader
                    if any(cell.strip() for cell in cells)), [])
    separator_name = {";": "semicolon", ",": "comma"}[separator]
    if "id" not in columns:
        raise AssignmentError(f"{where} must be a CSV file with a header row and a column 'id' "
                              f"(and optionally 'seed', {', '.join(map(repr, STUDENT_COLUMNS))}"
                              f"); found the columns {[c for c in columns if c]} separated by "
                              f"{separator_name}s.")
    repeated = sorted({column for column in columns if column and columns.count(column) > 1})
    if repeated:
        raise AssignmentError(f"{where}: the header repeats the column(s) {repeated}.")
    students, lines_of_id, lines_of_seed = {}, {}, {}
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        line = reader.line_num
        row = {column: cell.strip() for column, cell in zip(columns, cells) if column}
        student = unicodedata.normalize("NFC", row.get("id", ""))
        problem = _id_problem(student)
        if problem:
            raise AssignmentError(f"{where} line {line}: id {student!r} {problem}; an id must "
                                  f"be letters or digits (any alphabet), '.', '_' or '-', not "
                                  f"starting with '.' or '-' (it names a folder).")
        key = student.casefold()
        if key in lines_of_id:
            first_line, first = lines_of_id[key]
            same = "repeats" if first == student else f"differs only in case from {first!r}"
            raise AssignmentError(f"{where} line {line}: id {student!r} {same} (line "
                                  f"{first_line}); ids must differ even without regard to case.")
        lines_of_id[key] = (line, student)
        seed = row.get("seed", "")
        try:
            seed = int(seed) if seed else None
        except ValueError:
            raise AssignmentError(f"{where} line {line}: seed {seed!r} is not an integer; leave "
                                  f"it empty to derive one from the id.") from None
        if seed is not None and seed < 0:
            raise AssignmentError(f"{where} line {line}: seed {seed} is negative; a seed is an "
                                  f"integer of at least 0.")
        if seed is not None and seed in lines_of_seed:
            first_line, first = lines_of_seed[seed]
            raise AssignmentError(f"{where} line {line}: seed {seed} of {student!r} is also the "
                                  f"seed of {first!r} (line {first_line}); two students with "
                                  f"the same seed would get the same data.")
        if seed is not None:
            lines_of_seed[seed] = (line, student)
        students[student] = {"seed": seed, **{column: row.get(column, "")
                                              for column in STUDENT_COLUMNS if column in columns}}
    return students


def student_seed(student, seed):
    """A student's seed derived from their id and the class seed (stable across runs)."""
    digest = hashlib.sha256(f"{seed}:{student}".encode()).hexdigest()
    return int(digest[:8], 16) % 1_000_000


def _student_notebook(template, chapter, student, parameters):
    notebook = copy.deepcopy(template)
    notebook.cells = [cell for cell in notebook.cells
                      if not (_OTTER_ANSWER_TAG in cell.metadata.get("tags", [])
                              and cell.cell_type == "code" and PLACEHOLDER_TAG not in
                              cell.metadata.get("tags", []) and not cell.source.strip())]
    shown = ", ".join(f"`{name} = {value!r}`" for name, value in parameters.items())
    intro = (f"> **Assignment** on the chapter *{chapter.title}* for student `{student}`, with "
             f"{shown}. Do not edit the two parameter cells: your answers are checked for "
             f"these parameters. Fill in the cells that contain `...`, run the whole notebook "
             f"(Kernel, Restart & Run All) and hand in this file.")
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell(intro))
    notebook = _parameterize(notebook, parameters)
    notebook.metadata["otcompanion"] = {"chapter": chapter.name, "student": student,
                                        "parameters": parameters}
    return notebook


def _parameterize(notebook, parameters):
    for cell in notebook.cells:
        cell.metadata.setdefault("tags", [])
    notebook.metadata.setdefault("papermill", {})
    notebook = parameterize_notebook(notebook, parameters, kernel_name=book.KERNEL_NAME,
                                     language="python")
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
    return notebook


def _solution_notebook(template, parameters):
    notebook = copy.deepcopy(template)
    cells = []
    for cell in notebook.cells:
        if PLACEHOLDER_TAG in cell.metadata.get("tags", []):
            continue
        if cell.cell_type == "code":
            cell.source = "\n".join(line for line in cell.source.splitlines()
                                    if line.strip() not in ("# BEGIN SOLUTION NO PROMPT",
                                                            "# END SOLUTION"))
        cells.append(cell)
    notebook.cells = cells
    return _parameterize(notebook, parameters)


def _execute(notebook, output, timeout=None):
    """Execute ``notebook`` with papermill in the project's kernel; write it to ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / output.name
        nbformat.write(notebook, source)
        with book.project_kernel():
            papermill.execute_notebook(str(source), str(output), kernel_name=book.KERNEL_NAME,
                                       progress_bar=False, log_output=False,
                                       execution_timeout=timeout,
                                       kernel_manager_class=book.LocalSocketKernelManager)


def _require_otter():
    try:
        import otter  # noqa: F401, PLC0415  (optional: the classroom extra)
    except ImportError:
        raise AssignmentError("otter-grader is not installed; install the classroom extra: "
                              "pip install --constraint constraints.txt -e '.[classroom]'.") \
            from None


def make_assignment(chapter, output, *, seed=0, students=None, parameters=None,
                    all_exercises=False, execute_solution=True, echo=print):
    """Write the student notebook(s), the executed solution(s) and the autograder of a chapter.

    Parameters
    ----------
    chapter : Chapter or str
        A chapter or its name (see :func:`otcompanion.book.find_chapter`).
    output : path
        The assignment folder ``DIR``; its ``student``, ``solution`` and ``autograder``
        subfolders are replaced.
    seed : int, default 0
        The student's seed; with ``students``, the class seed from which the seed of every
        student without one in the file is derived (:func:`student_seed`).
    students : path, optional
        The class list: a CSV file with a column ``id`` and optionally ``seed``, ``name``,
        ``email`` and ``lms_id`` (the module documentation says what each may hold): one
        notebook per student, in ``DIR/student/ID/``.
    parameters : dict, optional
        Parameter values for everyone, over the chapter's classroom parameters (strings are
        parsed as on the command line). ``seed`` is set per student and cannot be given here.
    all_exercises : bool, default False
        Also include the ungraded exercises (statement and placeholder).
    execute_solution : bool, default True
        Execute the solution notebook(s); ``False`` writes them unexecuted.
    echo : callable or None
        Receives progress lines.

    Returns
    -------
    dict
        The manifest written to ``DIR/autograder/assignment.json``.

    Raises
    ------
    TypeError, ValueError
        ``seed`` is not a non-negative integer (:mod:`otcompanion._validation`).
    AssignmentError
        The chapter has no graded exercise or no ``seed`` parameter, the students file is
        unusable, two students would get the same seed, or ``parameters`` sets ``seed``.
    otcompanion.book.ParameterError
        An unknown parameter or a value of the wrong type.
    """
    echo = echo or (lambda line: None)
    _require_otter()
    seed = check_int(seed, "seed", minimum=0)
    all_exercises = check_bool(all_exercises, "all_exercises")
    chapter = book.as_chapter(chapter)
    if "seed" not in book.chapter_parameters(chapter):
        raise AssignmentError(f"chapter {chapter.name} has no parameter 'seed'.")
    if "seed" in (parameters or {}):
        raise AssignmentError("parameters: 'seed' is set per student; use --seed (or a 'seed' "
                              "column in --students) instead.")
    master, exercises, classroom_parameters = master_notebook(chapter, all_exercises)
    common = book.validate_parameters(chapter, {**classroom_parameters, **(parameters or {})})
    defaults = {name: _literal(spec.default)
                for name, spec in book.chapter_parameters(chapter).items()}
    if students is None:
        roster = {f"seed-{seed}": {"seed": seed}}
    else:
        roster = {student: {**entry, "seed": entry["seed"] if entry["seed"] is not None
                            else student_seed(student, seed)}
                  for student, entry in _read_students(students).items()}
        owners = {}
        for student, entry in roster.items():
            if entry["seed"] in owners:
                raise AssignmentError(
                    f"--students: {students}: {owners[entry['seed']]!r} and {student!r} get "
                    f"the same seed {entry['seed']} (one of them derived from the id and "
                    f"--seed {seed}); give one of them a seed in the file or choose another "
                    f"--seed.")
            owners[entry["seed"]] = student
    output = Path(output)
    for part in ("student", "solution", "autograder"):
        shutil.rmtree(output / part, ignore_errors=True)
    echo(f"[otcompanion] otter assign: {chapter.name}, {len(exercises)} exercise(s), "
         f"{len(roster)} student(s)")
    with tempfile.TemporaryDirectory() as folder:
        master_path = Path(folder) / f"{chapter.name}.ipynb"
        nbformat.write(master, master_path)
        result = subprocess.run([sys.executable, "-m", "otter", "assign", "--no-pdfs",
                                 "--no-run-tests", str(master_path), str(Path(folder) / "dist")],
                                capture_output=True, text=True)
        if result.returncode:
            raise AssignmentError(f"otter assign failed on chapter {chapter.name}:\n"
                                  f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
        dist = Path(folder) / "dist"
        shutil.copytree(dist / "autograder", output / "autograder")
        student_template = nbformat.read(dist / "student" / master_path.name, as_version=4)
        solution_template = nbformat.read(dist / "autograder" / master_path.name, as_version=4)
    (output / "autograder" / master_path.name).unlink()  # otter's copy, with marker comments
    manifest = {
        "chapter": chapter.name,
        "questions": {exercise.name: {"label": exercise.label, "points": len(exercise.checks),
                                      "answers": exercise.answers}
                      for exercise in exercises.values() if exercise.checks},
        "students": {},
    }
    for student, entry in roster.items():
        values = {**common, "seed": entry["seed"]}  # what the notebook injects
        manifest["students"][student] = {
            "parameters": {**defaults, **values},
            **{column: entry[column] for column in STUDENT_COLUMNS if column in entry}}
        folder = output / "student" if students is None else output / "student" / student
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(_student_notebook(student_template, chapter, student, values),
                       folder / master_path.name)
        solution = _solution_notebook(solution_template, values)
        solution.metadata["otcompanion"] = {"chapter": chapter.name, "student": student,
                                            "parameters": values}
        target = (output / "solution" if students is None else output / "solution" / student)
        if execute_solution:
            echo(f"[otcompanion] executing the solution for {student} (seed {values['seed']})")
            _execute(solution, target / master_path.name)
        else:
            target.mkdir(parents=True, exist_ok=True)
            nbformat.write(solution, target / master_path.name)
    manifest["points"] = sum(q["points"] for q in manifest["questions"].values())
    (output / "autograder" / MANIFEST).write_text(json.dumps(manifest, indent=2),
                                                  encoding="utf-8")
    echo(f"[otcompanion] assignment written to {output}")
    return manifest


# --------------------------------------------------------------------------------------------
# Grading
# --------------------------------------------------------------------------------------------

def _read_manifest(autograder):
    autograder = Path(autograder)
    manifest_path = autograder / MANIFEST
    if not manifest_path.is_file():
        raise AssignmentError(f"-a/--autograder: {str(autograder)!r} is not an autograder folder "
                              f"(no {MANIFEST}); pass DIR/autograder of `otcompanion "
                              f"assignment`.")
    zips = sorted(autograder.glob("*-autograder_*.zip"))
    if not zips:
        raise AssignmentError(f"-a/--autograder: no otter autograder zip in {autograder}.")
    return json.loads(manifest_path.read_text(encoding="utf-8")), zips[-1]


def _declared_values(notebook):
    """Parameter values set by the ``parameters`` and ``injected-parameters`` cells."""
    values, found = {}, set()
    for tag in ("parameters", "injected-parameters"):
        for cell in notebook.cells:
            if cell.cell_type == "code" and tag in cell.metadata.get("tags", []):
                found.add(tag)
                try:
                    statements = ast.parse(cell.source).body
                except SyntaxError:
                    continue
                for statement in statements:
                    target = (statement.targets[0] if isinstance(statement, ast.Assign)
                              else getattr(statement, "target", None))
                    if isinstance(target, ast.Name) and statement.value is not None:
                        try:
                            values[target.id] = ast.literal_eval(statement.value)
                        except ValueError:
                            values[target.id] = ast.unparse(statement.value)
    return values, found


def _same(a, b):
    return json.loads(json.dumps(a, default=str)) == json.loads(json.dumps(b, default=str))


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError):
        return text


_GRADING = ("GradeReport", "grade", "grade_folder", "write_scores")


def __getattr__(name):
    # Grading lives in otcompanion.grading (which imports this module); its public names stay
    # importable from here.
    if name in _GRADING:
        import importlib  # noqa: PLC0415

        return getattr(importlib.import_module("otcompanion.grading"), name)
    raise AttributeError(f"module 'otcompanion.classroom' has no attribute {name!r}")
