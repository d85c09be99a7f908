"""The classroom edition: assignments from a chapter's exercises, graded per student by otter.

A teacher turns a chapter into homework with ``otcompanion assignment CHAPTER -o DIR``: every
student gets the chapter's narrative and exercises with their own parameters (their own seed,
hence their own data, and their own expected answer for every graded exercise), the solution
code replaced by placeholders and the graded checks hidden. ``otcompanion grade``
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
parameters), and ``DIR/wheel/``: a wheel of the package (``pip wheel``), which the student
notebook's setup cell installs where the package is missing. ``--only ID`` rewrites one
student's notebooks with the parameters ``assignment.json`` recorded and leaves the rest alone.

**What a student notebook holds.** A first cell that says how to install the package, a setup
cell that installs the wheel where needed and checks the version (and makes
:func:`otcompanion.chapter.glue_figure` show figures), the narrative as plain Markdown
(:func:`for_students`: glued numbers quoted from the student's executed solution, directives
as quotes and captions), the parameter cells, and after each graded exercise a placeholder and
a public self-check (:mod:`otcompanion.selfcheck`): the form of every answer, from the check's
comparisons recorded for the student's parameters (:func:`record_check`, :func:`answer_forms`),
and the tolerance of each comparison, never the expected values.

**Public practice, private exercises.** The book is public, so its exercises and their
solutions are practice. Every graded exercise of the book asks for seed-dependent numbers
(the tests check that no two of 20 students' expected values lie within a check's tolerance).
A teacher grades exercises of their own from a private file in the same format
(:func:`read_exercises`: ``--exercises FILE``, after the chapter's exercises, or in their place
with ``--replace-exercises``), and ``otcompanion build --no-solutions``
(:func:`otcompanion.book.strip_solutions`) builds a copy of the book without solutions.
"""

from __future__ import annotations

import ast
import copy
import csv
import hashlib
import importlib
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
    import jupytext
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

from otcompanion import __version__, book
from otcompanion._validation import check_bool, check_int

MANIFEST = "assignment.json"
"""File of the autograder folder that records the chapter, its checks and the students."""

STUDENT_COLUMNS = ("name", "email", "lms_id")
"""Optional columns of a class list that are kept, with ``id`` and ``seed``, in the manifest."""

CHECK_TAG = "check"
PARAMETERS_TAG = "assignment-parameters"
PLACEHOLDER_TAG = "otcompanion-placeholder"
SELF_CHECK_TAG = "otcompanion-self-check"
SELF_CHECK_MARK = "# otcompanion self-check: "  # first line of a self-check cell to fill
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
# What a check compares: recorded without a student
# --------------------------------------------------------------------------------------------

@dataclass
class Comparison:
    """One comparison a check makes: the expected value and the tolerance it is held to.

    Attributes
    ----------
    what : str
        The name :func:`assert_close` was given (``"instance_w2"``, ``"table['column']"``).
    expected : ndarray
        The package's value for the parameters the check was run with.
    rtol, atol : float
        The tolerance of the comparison.
    column : tuple or None
        ``(answer, column, n_rows)`` when the compared value is a column of a table answer
        (read with :func:`answer_column`).
    """

    what: str
    expected: np.ndarray
    rtol: float
    atol: float
    column: tuple | None = None
    answer: str | None = None

    def accepts(self, value):
        """Whether ``value`` would pass this comparison (same shape, within the tolerance)."""
        value = np.asarray(value, dtype=float)
        return (value.shape == self.expected.shape
                and bool(np.isclose(value, self.expected, rtol=self.rtol, atol=self.atol).all()))

    @property
    def tolerance(self):
        """The tolerance in words, as the student notebook states it."""
        parts = [f"atol={self.atol:g}"] * bool(self.atol) + [f"rtol={self.rtol:g}"] * bool(self.rtol)
        return ", ".join(parts) or "exact"


class _Answer:
    """Stands for a student's answer (or a column of it) while a check is recorded."""

    def __init__(self, name, column=None):
        self.name = name
        self.column = column


def record_check(check, parameters):
    """Run a check function without a student and return the comparisons it makes.

    The check's answers are stand-ins and :func:`assert_close` and :func:`answer_column` are
    replaced, while it runs, by recorders: what comes back is every expected value the check
    computes with the package for ``parameters``, with its tolerance. The tests use it to show
    that every graded answer depends on the student; the student notebook's self-checks use its
    shapes (never its values).

    Parameters
    ----------
    check : str
        The source of a check function (:attr:`Exercise.checks`).
    parameters : dict
        The parameters assigned to one student (:func:`assignment_parameters`).

    Returns
    -------
    list of Comparison

    Raises
    ------
    AssignmentError
        ``check`` is not one function definition.
    """
    namespace = {}
    function = ast.parse(check).body
    if len(function) != 1 or not isinstance(function[0], ast.FunctionDef):
        raise AssignmentError(f"check: expected one function definition, got:\n{check[:200]}")
    exec(compile(check, "<check>", "exec"), namespace)  # noqa: S102 - the chapter's own code
    function = namespace[function[0].name]
    return _recorded(function, parameters)


def _recorded(function, parameters):
    recorded = []

    def close(what, actual, expected, *, rtol=0.0, atol=0.0):
        recorded.append(Comparison(what, np.asarray(expected, dtype=float), rtol, atol,
                                   getattr(actual, "column", None),
                                   getattr(actual, "name", None)))

    def column(what, table, name, n_rows):
        return _Answer(getattr(table, "name", None), (getattr(table, "name", None), name, n_rows))

    saved = (assert_close, answer_column)
    globals().update(assert_close=close, answer_column=column)
    try:
        run_check(function, {**parameters, **{name: _Answer(name) for name in
                                              inspect.signature(function).parameters
                                              if name != "env"}})
    finally:
        globals().update(assert_close=saved[0], answer_column=saved[1])
    return recorded


def answer_forms(exercise, comparisons):
    """The form of every answer of ``exercise`` that its checks read, from their comparisons.

    Returns
    -------
    dict
        Answer name -> form for :func:`otcompanion.selfcheck.form_problems`: a table (its
        compared columns and its number of rows), a number or an array of a shape; ``"any"``
        where the comparisons do not say.
    """
    forms = {name: {"type": "any"} for name in exercise.answers}
    for comparison in comparisons:
        if comparison.column and comparison.column[0] in forms:
            table, column, rows = comparison.column
            if forms[table]["type"] != "table":
                forms[table] = {"type": "table", "columns": [], "rows": rows}
            if column not in forms[table]["columns"]:
                forms[table]["columns"].append(column)
        elif comparison.answer in forms:
            shape = list(comparison.expected.shape)
            forms[comparison.answer] = ({"type": "array", "shape": shape} if shape
                                        else {"type": "number"})
    return forms


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
    return _split_cells(book.chapter_notebook(chapter).cells, f"chapter {chapter.name}")


def _split_cells(cells, where):
    """:func:`read_chapter` of a list of cells; ``where`` starts every error message."""
    pieces, exercises, parameters = [], {}, {}
    current = None  # the exercise whose solution is open
    for cell in cells:
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
                    raise AssignmentError(f"{where}: an exercise without a :label: (the "
                                          f"line after its fence must be ':label: NAME').")
                if label in exercises:
                    raise AssignmentError(f"{where}: two exercises have the label {label!r}.")
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


def read_exercises(path):
    """Read a teacher's private exercises: a file in the format of a chapter's exercise cells.

    The file is a py:percent script (``.py``, like the chapters) or a MyST Markdown notebook
    (``.md``, code in ``{code-cell}`` fences) that holds exercises exactly as a chapter does
    (the module documentation): an ``exercise`` fence with a ``:label:``, the solution between
    ``solution-start`` and ``solution-end`` fences, solution code cells and, after them, a code
    cell tagged ``check``. Narrative cells between exercises are kept. Its checks compute the
    expected values for the chapter's parameters (:func:`assigned_parameters`) and its
    solutions may use the chapter's variables: the assignment appends its exercises to the
    chapter's (or puts them in their place, :func:`make_assignment`'s ``replace_exercises``).

    Returns
    -------
    pieces : list of (kind, value)
        As :func:`read_chapter`'s.
    exercises : dict
        Label -> :class:`Exercise`.

    Raises
    ------
    AssignmentError
        The file is missing, is neither ``.py`` nor ``.md`` or cannot be read, or breaks the
        format: an exercise without a label, two exercises with one label, a check cell outside
        a solution, a solution of an unknown exercise or never closed, no exercise at all, an
        exercise without a check or without solution code, a check that reads no answer, or a
        parameters cell (the chapter's parameters apply).
    """
    path = Path(path)
    where = f"--exercises: {path}"
    if not path.is_file():
        raise AssignmentError(f"--exercises: no file {str(path)!r}.")
    formats = {".py": "py:percent", ".md": "md:myst"}
    if path.suffix not in formats:
        raise AssignmentError(f"{where}: expected a py:percent script (.py) or a MyST Markdown "
                              f"notebook (.md), like the chapters' sources.")
    try:
        notebook = jupytext.read(path, fmt=formats[path.suffix])
    except Exception as error:  # noqa: BLE001 - any unreadable file is refused with its reason
        raise AssignmentError(f"{where}: cannot be read: {error}") from None
    pieces, exercises, parameters = _split_cells(notebook.cells, where)
    _check_private(exercises, parameters, where)
    return pieces, exercises


def _check_private(exercises, parameters, where):
    if parameters:
        raise AssignmentError(f"{where}: a {PARAMETERS_TAG} cell belongs to the chapter; set "
                              f"parameters with -p NAME VALUE.")
    if not exercises:
        raise AssignmentError(f"{where}: no exercise (a markdown cell with an ```{{exercise}} "
                              f"fence and a :label:).")
    for label, exercise in exercises.items():
        if not exercise.checks:
            raise AssignmentError(f"{where}: exercise {label!r} has no check cell (a code cell "
                                  f"tagged 'check' inside its solution); private exercises are "
                                  f"graded.")
        if not exercise.solution_code:
            raise AssignmentError(f"{where}: exercise {label!r} has no solution code cell (the "
                                  f"solution notebook runs it to prove that it passes).")
        if not exercise.answers:
            raise AssignmentError(f"{where}: the check of {label!r} reads no answer: its "
                                  f"arguments after env name the variables students define.")


def merge_exercises(pieces, exercises, extra, replace=False):
    """A chapter's pieces with a private file's exercises (:func:`read_exercises`) merged in.

    Parameters
    ----------
    pieces, exercises
        :func:`read_chapter`'s.
    extra : (pieces, exercises)
        :func:`read_exercises`'s.
    replace : bool, default False
        Put the private exercises in place of the chapter's (the chapter's narrative stays);
        by default they follow the chapter's last exercise.

    Returns
    -------
    pieces, exercises

    Raises
    ------
    AssignmentError
        A private label is also a label of the chapter (without ``replace``).
    """
    extra_pieces, extra_exercises = extra
    clash = sorted(set(extra_exercises) & set(exercises))
    if clash and not replace:
        raise AssignmentError(f"--exercises: the label(s) {clash} are also exercises of the "
                              f"chapter; rename them or use --replace-exercises.")
    marks = [index for index, (kind, _) in enumerate(pieces) if kind != "cell"]
    if replace:
        first = marks[0] if marks else len(pieces)
        kept = [piece for piece in pieces if piece[0] == "cell"]
        at = sum(kind == "cell" for kind, _ in pieces[:first])
        return kept[:at] + extra_pieces + kept[at:], dict(extra_exercises)
    at = marks[-1] + 1 if marks else len(pieces)
    return pieces[:at] + extra_pieces + pieces[at:], {**exercises, **extra_exercises}


def graded_exercises(chapter):
    """Exercises of a chapter that have checks, label -> :class:`Exercise`, in reading order."""
    _, exercises, _ = read_chapter(chapter)
    return {label: exercise for label, exercise in exercises.items() if exercise.checks}


# --------------------------------------------------------------------------------------------
# Writing an assignment
# --------------------------------------------------------------------------------------------

_GLUE_ROLE = re.compile(r"\{glue(?::(text|md|any))?\}`([^`:]+)(?::([^`]*))?`")
# A MyST directive fenced by three or more backticks (an admonition of four may hold a directive
# of three).
_FENCE = re.compile(r"^(`{3,})\{([\w:-]+)\}[ \t]*([^\n]*)\n(.*?)^\1[ \t]*$\n?", re.M | re.S)
_TARGET = re.compile(r"^\([\w.:-]+\)=[ \t]*\n", re.M)


def glued_values(notebook):
    """What an executed chapter glued with myst-nb's ``glue``.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        An executed chapter (a solution notebook of :func:`make_assignment`).

    Returns
    -------
    dict
        Name -> the glued output's data by MIME type (``text/plain``, ``text/markdown``,
        ``image/png``), without the ``mime_prefix`` under which myst-nb hides it from the page.
    """
    glued = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            record = output.get("metadata", {}).get("scrapbook", {})
            if record.get("name"):
                prefix = record.get("mime_prefix", "")
                glued[record["name"]] = {kind.removeprefix(prefix): value
                                         for kind, value in output.get("data", {}).items()}
    return glued


def _glued_text(name, spec, kind, glued):
    data = glued.get(name)
    if data is None:
        return f"`{name}` (computed when the notebook runs)"
    if kind == "md" and "text/markdown" in data:
        return data["text/markdown"].strip()
    value = _literal(data.get("text/plain", ""))
    if spec:
        try:
            return format(value, spec)
        except (TypeError, ValueError):
            pass
    return value.strip() if isinstance(value, str) else str(value)


def _fence(match, glued):
    """A MyST directive as plain Markdown: a figure's caption, glued Markdown as its text, an
    admonition as a quote (the directives inside it first)."""
    _, kind, argument, body = match.groups()
    if kind in ("glue:md", "glue"):
        return _glued_text(argument.strip(), None, "md", glued) + "\n"
    text = _directive_body(_FENCE.sub(lambda inner: _fence(inner, glued), body))
    if kind == "glue:figure":
        return (f"**Figure {argument}** (drawn by the code cell above when you run the "
                f"notebook). {text}\n")
    title = argument.strip() or kind.capitalize()
    quoted = "\n".join(f"> {line}".rstrip() for line in text.splitlines())
    return f"> **{title}.**\n>\n{quoted}\n"


def _role(match):
    role = match.group(0)[1:match.group(0).index("}")]
    text, target = (match.group(1) or "").strip(), match.group(2)
    if role in ("func", "class", "meth", "mod", "attr", "data", "obj"):
        return f"`{(target or text).split('.')[-1]}`"
    if role == "numref":
        return f"Figure {target or text}"
    if role == "doc":
        return text if target else f"the book's page *{text.split('/')[-1]}*"
    if role.startswith("cite"):
        return f"[{text}]"
    return text or target


def for_students(markdown, glued=None):
    """A chapter's MyST Markdown as plain Markdown that Jupyter renders, for a student notebook.

    Glued values (``{glue:text}`name:format```, ``{glue:md}`name```) become the values the
    student's own run computes, read from that student's executed solution (``glued``,
    :func:`glued_values`; without it, the name and "computed when the notebook runs");
    ``{glue:figure}`` directives become their caption (the figure appears where the student's
    run draws it), ``{glue:md}`` directives the glued Markdown; other directives become quotes
    (with what they hold converted the same way); API, cross-reference and citation roles
    become code or text; reference targets ``(name)=`` are dropped.

    Parameters
    ----------
    markdown : str
        A markdown cell of a chapter.
    glued : dict, optional
        :func:`glued_values` of the student's executed solution.

    Returns
    -------
    str
    """
    glued = glued or {}
    markdown = _GLUE_ROLE.sub(lambda m: _glued_text(m.group(2).strip(), m.group(3), m.group(1),
                                                    glued), markdown)
    markdown = _FENCE.sub(lambda match: _fence(match, glued), _TARGET.sub("", markdown))
    return _ROLE.sub(_role, markdown)


def _raw(text):
    return nbformat.v4.new_raw_cell(text)


def _markdown(text, tags=()):
    cell = nbformat.v4.new_markdown_cell(text)
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


def master_notebook(chapter, all_exercises=False, extra=None, replace=False):
    """The chapter in otter assign's format (``# ASSIGNMENT CONFIG``, ``# BEGIN QUESTION``, ...).

    Graded exercises become otter questions: the statement, a prompt (the placeholder), the
    solution (its code between ``# BEGIN SOLUTION`` and ``# END SOLUTION``) and hidden tests,
    one per check, then a self-check cell (filled per student, :func:`make_assignment`).
    Ungraded exercises are left out, or with ``all_exercises`` kept with a placeholder and
    their solution tagged for otter to remove. ``extra`` (:func:`read_exercises`) adds a
    teacher's private exercises, after the chapter's or with ``replace`` in their place
    (:func:`merge_exercises`). Markdown keeps its MyST roles and directives: each student's
    notebook converts them with that student's values.

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
    if extra is not None:
        pieces, exercises = merge_exercises(pieces, exercises, extra, replace)
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
            cells += [_raw("# END TESTS"), _raw("# END QUESTION"),
                      _code(f"{SELF_CHECK_MARK}{exercise.label}", [SELF_CHECK_TAG])]
    notebook = book.chapter_notebook(chapter)
    notebook.cells = cells
    return notebook, included, parameters


def assignment_parameters(chapter, seed, parameters=None):
    """All the parameters a student with ``seed`` is assigned, as ``assignment.json`` records them.

    The chapter's defaults, over them its classroom parameters (its ``assignment-parameters``
    cell), over those ``parameters``, and ``seed``.

    Parameters
    ----------
    chapter : Chapter or str
    seed : int
        At least 0.
    parameters : dict, optional
        Values for everyone (strings parsed as on the command line).

    Returns
    -------
    dict

    Raises
    ------
    TypeError, ValueError
        ``seed`` is not a non-negative integer.
    otcompanion.book.ParameterError
        An unknown parameter or a value of the wrong type.
    """
    seed = check_int(seed, "seed", minimum=0)
    chapter = book.as_chapter(chapter)
    _, _, classroom_parameters = read_chapter(chapter)
    common = book.validate_parameters(chapter, {**classroom_parameters, **(parameters or {})})
    defaults = {name: _literal(spec.default)
                for name, spec in book.chapter_parameters(chapter).items()}
    return {**defaults, **common, "seed": seed}


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


_SETUP = '''\
# Setup: otcompanion {version}, installed from the wheel that came with this notebook if missing.
import importlib.util, os, pathlib, subprocess, sys
REQUIRED_VERSION = "{version}"
os.environ["{show}"] = "1"  # figures appear below the cells that draw them
if importlib.util.find_spec("otcompanion") is None:
    here = pathlib.Path.cwd()
    folders = [here, here / "wheel", *[parent / "wheel" for parent in here.parents][:3]]
    wheels = [w for f in folders for w in sorted(f.glob(f"otcompanion-{{REQUIRED_VERSION}}-*.whl"))]
    if not wheels:
        raise FileNotFoundError(f"otcompanion is not installed and no otcompanion-"
                                f"{{REQUIRED_VERSION}}-*.whl is next to this notebook.")
    subprocess.check_call([sys.executable, "-m", "pip", "install", str(wheels[0])])
    importlib.invalidate_caches()
import otcompanion
if otcompanion.__version__ != REQUIRED_VERSION:
    raise RuntimeError(f"otcompanion {{otcompanion.__version__}} is installed; this assignment "
                       f"needs {{REQUIRED_VERSION}}: pip install --force-reinstall the wheel that "
                       f"came with this notebook, then restart the kernel.")
print(f"otcompanion {{otcompanion.__version__}} is ready.")
'''


def _setup_cells(chapter, student, parameters):
    """The first two cells of a student notebook: what to do and how to install, then the setup."""
    shown = ", ".join(f"`{name} = {value!r}`" for name, value in parameters.items())
    intro = (
        f"> **Assignment** on the chapter *{chapter.title}* for student `{student}`, with "
        f"{shown}. Do not edit the two parameter cells: your answers are checked for these "
        f"parameters. Fill in the cells that contain `...`, run the self-check cell after each "
        f"exercise (it checks the form of your answers and states the tolerance of the "
        f"grading), run the whole notebook (Kernel, Restart & Run All) and hand in this file.\n"
        f">\n> **Before you start**: run the next cell. It needs the Python package "
        f"`otcompanion` {__version__}; where it is missing, it installs the wheel "
        f"`otcompanion-{__version__}-py3-none-any.whl` that came with this notebook (keep it "
        f"next to the notebook or in a `wheel` folder beside it; pip fetches the other "
        f"dependencies, such as numpy and torch). Or install it yourself: "
        f"`pip install otcompanion-{__version__}-py3-none-any.whl`.")
    from otcompanion.chapter import SHOW_FIGURES_VARIABLE  # noqa: PLC0415 (loads matplotlib)

    return [nbformat.v4.new_markdown_cell(intro),
            nbformat.v4.new_code_cell(_SETUP.format(version=__version__,
                                                    show=SHOW_FIGURES_VARIABLE))]


def _self_check_source(exercise, comparisons):
    """The self-check cell of ``exercise``: the form of its answers and the tolerances."""
    forms = answer_forms(exercise, comparisons)
    tolerances = [(comparison.what, comparison.tolerance) for comparison in comparisons]
    graded = "".join(f"#   {what}: within {tolerance}\n" for what, tolerance in tolerances)
    return (f"# Self-check of exercise {exercise.label}: the type and shape of your answers "
            f"(not their values).\n# Graded against the package's values for your "
            f"parameters:\n{graded}"
            f"from otcompanion.selfcheck import self_check\n\n"
            f"self_check({exercise.label!r}, {forms!r}, globals(),\n"
            f"           tolerances={tolerances!r})")


def _fill_self_checks(notebook, sources):
    """Replace the self-check marks of ``notebook`` by the cells ``sources`` (label -> source)."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.startswith(SELF_CHECK_MARK):
            cell.source = sources[cell.source[len(SELF_CHECK_MARK):].strip()]
    return notebook


def _for_students_cells(notebook, glued):
    """Every markdown cell of ``notebook`` through :func:`for_students`."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = for_students(cell.source, glued)
    return notebook


def _student_notebook(template, chapter, student, parameters, glued=None, self_checks=None):
    notebook = copy.deepcopy(template)
    notebook.cells = [cell for cell in notebook.cells
                      if not (_OTTER_ANSWER_TAG in cell.metadata.get("tags", [])
                              and cell.cell_type == "code" and PLACEHOLDER_TAG not in
                              cell.metadata.get("tags", []) and not cell.source.strip())]
    notebook.cells[:0] = _setup_cells(chapter, student, parameters)
    _fill_self_checks(_for_students_cells(notebook, glued), self_checks or {})
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
                    all_exercises=False, execute_solution=True, exercises=None,
                    replace_exercises=False, only=None, wheel=True, echo=print):
    """Write the student notebook(s), the executed solution(s) and the autograder of a chapter.

    Parameters
    ----------
    chapter : Chapter or str
        A chapter or its name (see :func:`otcompanion.book.find_chapter`).
    output : path
        The assignment folder ``DIR``; its ``student``, ``solution``, ``autograder`` and
        ``wheel`` subfolders are replaced (with ``only``, only that student's notebooks).
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
        Execute the solution notebook(s); ``False`` writes them unexecuted (and the student
        notebooks then name the glued values instead of quoting them).
    exercises : path, optional
        A teacher's private exercises (:func:`read_exercises`), merged into every notebook and
        graded like the chapter's.
    replace_exercises : bool, default False
        With ``exercises``: the private exercises replace the chapter's instead of following
        them.
    only : str, optional
        Regenerate the notebooks (student and solution) of this one student of the assignment
        already in ``output``, with the parameters its ``assignment.json`` records and the same
        ``exercises`` file; the autograder, the wheel and the other students' notebooks are left
        untouched. ``students``, ``parameters`` and ``all_exercises`` cannot be given with it.
    wheel : bool, default True
        Build a wheel of the package into ``DIR/wheel`` (``pip wheel``, offline), which the
        student notebook's first cell installs where the package is missing.
    echo : callable or None
        Receives progress lines, and a warning for every exercise to which two students have
        the same expected answers (:func:`shared_answers`).

    Returns
    -------
    dict
        The manifest written to (with ``only``: read from) ``DIR/autograder/assignment.json``.

    Raises
    ------
    TypeError, ValueError
        ``seed`` is not a non-negative integer (:mod:`otcompanion._validation`).
    AssignmentError
        The chapter has no graded exercise or no ``seed`` parameter, the students or exercises
        file is unusable, two students would get the same seed, ``parameters`` sets ``seed``,
        ``replace_exercises`` without ``exercises``, the wheel cannot be built, ``output``
        holds a class set with students that ``students`` lacks (its autograder would be
        replaced: use ``only``); with ``only``:
        no assignment in ``output``, another chapter's, an unknown student, another exercises
        file than the autograder's, or graded exercises that changed since.
    otcompanion.book.ParameterError
        An unknown parameter or a value of the wrong type.
    """
    echo = echo or (lambda line: None)
    _require_otter()
    seed = check_int(seed, "seed", minimum=0)
    all_exercises = check_bool(all_exercises, "all_exercises")
    replace_exercises = check_bool(replace_exercises, "replace_exercises")
    chapter = book.as_chapter(chapter)
    if "seed" not in book.chapter_parameters(chapter):
        raise AssignmentError(f"chapter {chapter.name} has no parameter 'seed'.")
    if "seed" in (parameters or {}):
        raise AssignmentError("parameters: 'seed' is set per student; use --seed (or a 'seed' "
                              "column in --students) instead.")
    if replace_exercises and exercises is None:
        raise AssignmentError("--replace-exercises: needs --exercises FILE (the exercises that "
                              "replace the chapter's).")
    if only is not None:
        if students is not None or parameters or all_exercises:
            raise AssignmentError("--only: regenerates one student's notebook with the "
                                  "parameters the assignment recorded; do not give --students, "
                                  "-p or --all-exercises with it.")
        return _regenerate(chapter, Path(output), only, exercises, execute_solution, echo)
    extra = read_exercises(exercises) if exercises is not None else None
    master, included, classroom_parameters = master_notebook(chapter, all_exercises, extra,
                                                             replace_exercises)
    common = book.validate_parameters(chapter, {**classroom_parameters, **(parameters or {})})
    roster = _roster(students, seed)
    output = Path(output)
    _check_no_student_is_dropped(output, roster)
    for part in ("student", "solution", "autograder", "wheel"):
        shutil.rmtree(output / part, ignore_errors=True)
    echo(f"[otcompanion] otter assign: {chapter.name}, {len(included)} exercise(s), "
         f"{len(roster)} student(s)")
    templates = _otter_assign(master, chapter, output / "autograder")
    manifest = {
        "chapter": chapter.name,
        "questions": _questions(included),
        "all_exercises": all_exercises,
        "per_student_folders": students is not None,
        "exercises_file": _file_record(exercises),
        "replace_exercises": replace_exercises,
        "injected": list(common),  # the parameters the notebooks set, besides seed
        "students": {},
    }
    if wheel:
        _build_wheel(output / "wheel", echo)
    defaults, recorded = _defaults(chapter), {}
    for student, entry in roster.items():
        values = {**common, "seed": entry["seed"]}  # what the notebook injects
        manifest["students"][student] = {
            "parameters": {**defaults, **values},
            **{column: entry[column] for column in STUDENT_COLUMNS if column in entry}}
        recorded[student] = _write_student(templates, chapter, included, student, values,
                                           output, manifest, execute_solution, echo)
    for label, student, other in shared_answers(recorded):
        echo(f"[otcompanion] warning: {student} and {other} have the same expected answers to "
             f"{label} (within its tolerance): its answers do not depend on the student.")
    manifest["points"] = sum(q["points"] for q in manifest["questions"].values())
    (output / "autograder" / MANIFEST).write_text(json.dumps(manifest, indent=2),
                                                  encoding="utf-8")
    echo(f"[otcompanion] assignment written to {output}")
    return manifest


def _check_no_student_is_dropped(output, roster):
    """Refuse to replace a class set's autograder by one that lacks some of its students."""
    try:
        previous = json.loads((output / "autograder" / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # no assignment there yet (or not one of ours)
    if not previous.get("per_student_folders", True):
        return  # a single notebook, not a class set
    dropped = [student for student in previous.get("students", {}) if student not in roster]
    if dropped:
        shown = ", ".join(dropped[:5]) + (", ..." if len(dropped) > 5 else "")
        raise AssignmentError(
            f"-o {output}: holds the assignment of {len(previous['students'])} students, "
            f"{len(dropped)} of whom ({shown}) are not in the new class list; writing it would "
            f"replace the autograder, and their notebooks could no longer be graded. Use --only "
            f"ID to regenerate one student's notebook, or write to another folder (or delete "
            f"{output / 'autograder'} first).")


def _defaults(chapter):
    return {name: _literal(spec.default)
            for name, spec in book.chapter_parameters(chapter).items()}


def _questions(exercises):
    return {exercise.name: {"label": exercise.label, "points": len(exercise.checks),
                            "answers": exercise.answers}
            for exercise in exercises.values() if exercise.checks}


def _file_record(path):
    """Name and SHA-256 of a private exercises file (None without one), for the manifest."""
    if path is None:
        return None
    return {"name": Path(path).name,
            "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}


def _roster(students, seed):
    """Student id -> ``{"seed": ..., **optional columns}``; checks that the seeds differ."""
    if students is None:
        return {f"seed-{seed}": {"seed": seed}}
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
    return roster


def _otter_assign(master, chapter, autograder=None):
    """Run ``otter assign`` on ``master``; return the student and solution templates.

    Its autograder is copied to ``autograder`` (without otter's copy of the notebook), or
    discarded when ``autograder`` is None.
    """
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
        if autograder is not None:
            shutil.copytree(dist / "autograder", autograder)
            (autograder / master_path.name).unlink()  # otter's copy, with marker comments
        return (nbformat.read(dist / "student" / master_path.name, as_version=4),
                nbformat.read(dist / "autograder" / master_path.name, as_version=4))


def _build_wheel(folder, echo):
    """A wheel of this package in ``folder`` (``pip wheel``, no network, no dependencies).

    Built from a copy of the package's sources, so that the project gets no ``build/`` folder.
    """
    root = book.project_root()
    echo(f"[otcompanion] building the wheel of the package into {folder}")
    with tempfile.TemporaryDirectory() as source:
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(root / name, Path(source) / name)
        shutil.copytree(root / "otcompanion", Path(source) / "otcompanion",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                                 "--no-build-isolation", "--no-index", "-q", "-w", str(folder),
                                 source], capture_output=True, text=True)
    if result.returncode:
        raise AssignmentError(f"pip wheel could not build the package's wheel (pass "
                              f"--no-wheel to go without):\n{result.stderr[-2000:]}")


def _write_student(templates, chapter, included, student, values, output, manifest,
                   execute_solution, echo):
    """Write one student's notebook and solution; the solution is executed first, so that the
    student notebook quotes the values its run will compute."""
    folders = [output / part / student if manifest["per_student_folders"] else output / part
               for part in ("student", "solution")]
    name = f"{chapter.name}.ipynb"
    parameters = manifest["students"][student]["parameters"]  # every parameter, as recorded
    comparisons = {exercise.label: _comparisons(exercise, parameters)
                   for exercise in included.values() if exercise.checks}
    self_checks = {label: _self_check_source(included[label], recorded)
                   for label, recorded in comparisons.items()}
    solution = _fill_self_checks(_solution_notebook(templates[1], values), self_checks)
    solution.metadata["otcompanion"] = {"chapter": chapter.name, "student": student,
                                        "parameters": values}
    glued = None
    if execute_solution:
        echo(f"[otcompanion] executing the solution for {student} (seed {values['seed']})")
        _execute(solution, folders[1] / name)
        solution = nbformat.read(folders[1] / name, as_version=4)
        glued = glued_values(solution)
    folders[1].mkdir(parents=True, exist_ok=True)
    nbformat.write(_for_students_cells(solution, glued), folders[1] / name)
    folders[0].mkdir(parents=True, exist_ok=True)
    nbformat.write(_student_notebook(templates[0], chapter, student, values, glued, self_checks),
                   folders[0] / name)
    return comparisons


def shared_answers(comparisons):
    """Pairs of students whose expected answers to an exercise would pass each other's checks.

    Parameters
    ----------
    comparisons : dict
        Student -> exercise label -> list of :class:`Comparison` (what each check compares for
        that student, :func:`record_check`).

    Returns
    -------
    list of (str, str, str)
        ``(label, student, other)`` for every exercise and pair of students whose expected
        values all lie within the tolerance of each other's comparisons: those students could
        hand in one answer. Empty when every graded answer depends on the student.
    """
    shared = []
    students = list(comparisons)
    for i, student in enumerate(students):
        for other in students[i + 1:]:
            for label, mine in comparisons[student].items():
                theirs = comparisons[other].get(label, [])
                if len(mine) == len(theirs) and all(
                        a.accepts(b.expected) and b.accepts(a.expected)
                        for a, b in zip(mine, theirs)):
                    shared.append((label, student, other))
    return shared


def _comparisons(exercise, parameters):
    try:
        return [comparison for check in exercise.checks
                for comparison in record_check(check, parameters)]
    except AssignmentError:
        raise
    except Exception as error:  # noqa: BLE001 - a private check may fail in any way
        raise AssignmentError(f"the check of exercise {exercise.label!r} fails for the "
                              f"parameters {parameters}: {type(error).__name__}: "
                              f"{error}") from None


def _regenerate(chapter, output, student, exercises, execute_solution, echo):
    """:func:`make_assignment` with ``only``: one student's notebooks, the autograder kept."""
    path = output / "autograder" / MANIFEST
    if not path.is_file():
        raise AssignmentError(f"--only: {str(output)!r} holds no assignment (no "
                              f"autograder/{MANIFEST}); make the whole assignment first.")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest["chapter"] != chapter.name:
        raise AssignmentError(f"--only: the assignment in {output} is of chapter "
                              f"{manifest['chapter']}, not {chapter.name}.")
    student = unicodedata.normalize("NFC", student)
    if student not in manifest["students"]:
        known = ", ".join(list(manifest["students"])[:10])
        raise AssignmentError(f"--only: no student {student!r} in {path}; its students are: "
                              f"{known}{', ...' if len(manifest['students']) > 10 else ''}.")
    extra = _same_exercises_file(manifest, exercises)
    master, included, _ = master_notebook(chapter, manifest.get("all_exercises", False), extra,
                                          manifest.get("replace_exercises", False))
    if _questions(included) != manifest["questions"]:
        raise AssignmentError(f"--only: the graded exercises of chapter {chapter.name} changed "
                              f"since the autograder in {output} was made; make the whole "
                              f"assignment again.")
    manifest.setdefault("per_student_folders", not (len(manifest["students"]) == 1
                                                    and student.startswith("seed-")))
    defaults = _defaults(chapter)
    stored = manifest["students"][student]["parameters"]
    injected = manifest.get("injected") or [
        name for name, value in stored.items()
        if name not in defaults or not _same(value, defaults[name])]
    values = {**{name: stored[name] for name in injected if name in stored},
              "seed": stored["seed"]}
    echo(f"[otcompanion] regenerating the notebooks of {student}; the autograder is kept")
    _write_student(_otter_assign(master, chapter), chapter, included, student, values, output,
                   manifest, execute_solution, echo)
    return manifest


def _same_exercises_file(manifest, exercises):
    """The private exercises of the assignment, after checking that ``exercises`` is its file."""
    recorded = manifest.get("exercises_file")
    if recorded is None and exercises is None:
        return None
    if recorded is None:
        raise AssignmentError("--only: this assignment was made without --exercises; do not "
                              "give it now.")
    if exercises is None:
        raise AssignmentError(f"--only: this assignment was made with --exercises "
                              f"{recorded['name']}; give the same file.")
    extra = read_exercises(exercises)
    if _file_record(exercises)["sha256"] != recorded["sha256"]:
        raise AssignmentError(f"--exercises: {exercises} is not the file the autograder was "
                              f"made with ({recorded['name']}, changed since?); make the whole "
                              f"assignment again.")
    return extra


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
        return getattr(importlib.import_module("otcompanion.grading"), name)
    raise AttributeError(f"module 'otcompanion.classroom' has no attribute {name!r}")
