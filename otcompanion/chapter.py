"""What every chapter does besides its subject: start, glue results into the prose, close.

A chapter of the book is a py:percent notebook in ``notebooks/`` that papermill executes with
its ``parameters`` cell; the Jupyter Book (myst-nb) then renders it, and its prose shows
computed numbers, sentences and figures through ``{glue:text}``, ``{glue:md}`` and
``{glue:figure}`` directives. This module is that runtime, so that chapters hold only their
subject:

- :func:`begin` (first code cell) starts the chapter's clock, applies the book's figure
  style and has tables shown as :func:`table_html` writes them;
- :func:`glue` and :func:`glue_figure` store a value or a figure for the prose;
- :func:`task_names` validates a ``tasks`` parameter of the thesis's two tasks;
- :func:`publish` states the chapter's findings for the claims ledger
  (:func:`otcompanion.claims.publish`) and its opening box; :func:`state_findings` fills the
  box of a chapter that tests no claim;
- :func:`provenance` (last cell) tabulates what produced the chapter's numbers.

Without myst-nb (a chapter opened in plain Jupyter) :func:`glue` and :func:`glue_figure` show
the value or the figure instead of storing it, so every chapter runs anywhere; with the
environment variable :data:`SHOW_FIGURES_VARIABLE` set (a classroom notebook's setup cell sets
it) :func:`glue_figure` shows the figure even where myst-nb is installed.
"""

from __future__ import annotations

import functools
import os
import re
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from otcompanion import claims, plots, stats
from otcompanion import provenance as _provenance

try:  # reading a chapter's parameters cell needs the book extra; a chapter runs without it
    from otcompanion import book
except ModuleNotFoundError:
    book = None

#: Environment variable that makes :func:`glue_figure` show its figure (not only glue it).
SHOW_FIGURES_VARIABLE = "OTCOMPANION_SHOW_FIGURES"

#: The thesis's two tasks, by number of classes, as the chapters name them.
TASK_NAMES = {2: "2 classes", 3: "3 classes"}

# The running chapter: its name (for its parameters cell) and the time it began.
_current = {"name": None, "started": None}


def begin(name):
    """Start chapter ``name``: remember it, start its clock and apply the book's figure style.

    Parameters
    ----------
    name : str
        The chapter's file stem, e.g. ``"00_data"``; :func:`provenance` reads the chapter's
        parameter names from ``notebooks/<name>.py``.
    """
    _current["name"] = name
    _current["started"] = time.perf_counter()
    plots.use_book_style()
    try:
        from IPython import get_ipython  # noqa: PLC0415 (optional: in a kernel)
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, table_html)


# Markdown emphasis in a table cell (``*aligned*``, ``**supported**``): HTML tables show it raw.
_EMPHASIS = re.compile(r"\*{1,2}([^*]+?)\*{1,2}")
# A hyphen-minus that signs a number at the start of a cell.
_CELL_MINUS = re.compile(r"(<td>)-(?=[\d.])")


# An interval in a text cell, "0.9948 [0.9889, 0.9978]": kept on one line.
_INTERVAL = re.compile(r" \[([^\]]*), ([^\]]*)\]")


def _number_column(values):
    """A float column as text (:func:`otcompanion.stats.format_value`): every number with four
    significant digits, but no more decimals than the column's numbers have (at most six), so
    that a column rounded to 3 decimals shows 3 and a long table that mixes quantities keeps
    the digits of its small ones."""
    finite = values[np.isfinite(values)]
    present = max((len(f"{value:.6f}".rstrip("0").split(".")[1]) for value in finite),
                  default=0)
    return values.map(lambda value: stats.format_value(
        value, decimals=min(present, stats.shared_decimals([value], 4))))


# A cell that is a column name (``epochs_to_target_capped`` in a long table's "quantity").
_IDENTIFIER = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")


def _text_cell(cell):
    if not isinstance(cell, str):
        return cell
    if _IDENTIFIER.fullmatch(cell):
        return plots.label(cell)
    cell = _EMPHASIS.sub(r"\1", cell)
    return _INTERVAL.sub("\u00a0[\\1,\u00a0\\2]", cell)


def _column_name(name):
    parts = name if isinstance(name, tuple) else (name,)
    return ", ".join(plots.label(part) for part in parts if str(part) != "") or "value"


def table_html(frame):
    """A table as the book's pages show it: what pandas shows, made readable.

    - A row index that only numbers the rows is left out; an index that names something
      (``set_index(["setup", "level"])``) becomes ordinary columns, so no header cell is empty
      (an unnamed one is headed "quantity"); in a transposed table (``set_index("H").T``) the
      rows are labelled like columns and the columns read ``"H = 1"``.
    - Column names are read through :func:`otcompanion.plots.label` (``"fit_seconds"`` becomes
      ``"fit time (s)"``, ``"monge_gap"`` ``"Monge gap (thesis)"``); the levels of a two-level
      header are joined by a comma.
    - No cell is truncated and no row or column is left out; Markdown emphasis in text cells is
      dropped, a cell that names a column (``"val_accuracy"``) is read through
      :func:`otcompanion.plots.label` like a header, and an interval ``"mean [low, high]"``
      stays on one line.
    - Floats get four significant digits, never more decimals than their column's numbers have
      (a column rounded to 3 decimals keeps 3); every minus sign is a true one
      (:func:`otcompanion.stats.format_value`).

    :func:`begin` makes this the HTML form of every DataFrame a chapter displays; the plain-text
    form (a terminal, a grader) is pandas's own.

    Parameters
    ----------
    frame : pandas.DataFrame

    Returns
    -------
    str
        An HTML ``<table>``.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}.")
    table = frame
    numbering = (table.index.nlevels == 1 and table.index.name is None
                 and pd.api.types.is_integer_dtype(table.index.dtype))
    if not numbering:
        if (table.columns.name is not None and table.columns.nlevels == 1
                and table.index.nlevels == 1 and table.index.name is None):
            # A transposed table (``set_index("H").T``): rows are quantities, columns values.
            table = table.rename(columns=lambda value: f"{table.columns.name} = {value}")
            table.index = table.index.map(lambda name: _column_name(name))
        names = [name if name is not None else ("quantity" if level == 0 else f"level {level}")
                 for level, name in enumerate(table.index.names)]
        table = table.set_axis(table.index.set_names(names), axis=0)
        table = table.set_axis(table.columns.set_names([None] * table.columns.nlevels), axis=1)
        table = table.reset_index()
    columns = [_number_column(column) if pd.api.types.is_float_dtype(column)
               else column.map(_text_cell) if pd.api.types.is_object_dtype(column)
               or pd.api.types.is_string_dtype(column) else column
               for _, column in table.items()]
    names = [_column_name(name) for name in table.columns]
    table = pd.concat(columns, axis=1, ignore_index=True) if columns else table.copy()
    table.columns = names
    with pd.option_context("display.max_colwidth", None):
        markup = table.to_html(index=False, border=0, na_rep="n/a", max_rows=None,
                               max_cols=None)
    return _CELL_MINUS.sub(r"\1" + stats.MINUS, markup)


def _myst_glue():
    """myst-nb's ``glue``, or None where myst-nb is not installed (plain Jupyter)."""
    try:
        from myst_nb import glue  # noqa: PLC0415 (optional: the book extra)
    except ImportError:
        return None
    return glue


@functools.cache
def _sentence():
    """IPython's Markdown display class, with the text itself as its plain-text form, so that
    a glued string reads the same through ``{glue:md}`` and ``{glue:text}``."""
    from IPython.display import Markdown  # noqa: PLC0415 (optional: in a kernel)

    class Sentence(Markdown):
        def __repr__(self):
            return self.data

    return Sentence


def glue(name, value):
    """Store ``value`` under ``name`` for the prose, without showing it in the page.

    A number is for ``{glue:text}`name:format``` (NumPy scalars become Python numbers, so the
    format spec applies as to any Python number); a string is a Markdown sentence, for
    ``{glue:md}`name``` (its plain text, for ``{glue:text}``, is the string itself). Without
    myst-nb the value is displayed instead (a string as Markdown).

    Parameters
    ----------
    name : str
        The key the prose refers to.
    value : number, str or object
        What to store: as is, except NumPy scalars (Python numbers) and strings (Markdown).
    """
    from IPython.display import display  # noqa: PLC0415 (optional: in a kernel)

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        value = _sentence()(value)
    myst_glue = _myst_glue()
    if myst_glue is None:
        display(value)
    else:
        myst_glue(name, value, display=False)


def glue_figure(name, figure):
    """Store ``figure`` under ``name`` for a ``{glue:figure}`` directive, fitted to the book.

    The figure is shrunk to the text column (:func:`otcompanion.plots.fit_width`; texts keep
    their size, so they stay legible on a phone), checked (:func:`otcompanion.plots.check_layout`:
    no overlapping texts, no legend over the data, every text at least 9 px on a phone), stored
    as a sharp image (:func:`otcompanion.plots.figure_image`) with myst-nb's ``glue`` without
    being shown, and closed. Without myst-nb it is shown instead, then closed; with the environment
    variable :data:`SHOW_FIGURES_VARIABLE` set to ``1`` it is also shown (a classroom notebook
    in plain Jupyter).

    Parameters
    ----------
    name : str
        The key of the ``{glue:figure}`` directive.
    figure : matplotlib.figure.Figure
        The figure (``grid.figure`` of a seaborn grid, ``ax.figure`` of an axes).

    Raises
    ------
    ValueError
        If the figure does not read on a phone (:func:`otcompanion.plots.layout_problems`);
        the figure is closed first.
    """
    from IPython.display import display  # noqa: PLC0415 (optional: in a kernel)

    plots.fit_width(figure)
    try:
        plots.check_layout(figure, name=f"figure {name!r}")
        image = plots.figure_image(figure)
    finally:
        plt.close(figure)
    myst_glue = _myst_glue()
    show = os.environ.get(SHOW_FIGURES_VARIABLE) == "1"
    if myst_glue is None or show:
        display(image)
    if myst_glue is not None:
        myst_glue(name, image, display=False)


def task_names(tasks, name="tasks"):
    """Validate a list of the thesis's tasks and name them.

    Parameters
    ----------
    tasks : list of int
        Numbers of classes, each 2 or 3 (the two tasks of the thesis, Section 3.1).
    name : str, default "tasks"
        The parameter's name, for the error message.

    Returns
    -------
    dict
        ``{k: TASK_NAMES[k]}`` for every ``k`` of ``tasks``, in the order of ``tasks``.

    Raises
    ------
    ValueError
        If ``tasks`` is empty or holds anything but 2 and 3.
    """
    if not tasks or any(task not in TASK_NAMES for task in tasks):
        raise ValueError(f"{name} must be a non-empty list of 2 and/or 3, got {tasks}.")
    return {task: TASK_NAMES[task] for task in tasks}


def task_name(task, name="task"):
    """Validate one of the thesis's tasks (2 or 3 classes, Section 3.1) and name it.

    Parameters
    ----------
    task : int
        Number of classes.
    name : str, default "task"
        The parameter's name, for the error message.

    Returns
    -------
    str
        ``TASK_NAMES[task]``, e.g. ``"3 classes"``.

    Raises
    ------
    ValueError
        If ``task`` is neither 2 nor 3.
    """
    if task not in TASK_NAMES:
        raise ValueError(f"{name} must be 2 or 3, got {task}.")
    return TASK_NAMES[task]


#: The glue name of a chapter's findings as Markdown bullets (:func:`publish`), for the box
#: "What this chapter finds" at its top and its summary.
FINDINGS_GLUE = "chapter-findings"


def publish(findings):
    """State the chapter's findings for the claims ledger (:func:`otcompanion.claims.publish`)
    and glue them as Markdown bullets under :data:`FINDINGS_GLUE`
    (:func:`otcompanion.claims.findings_summary`), for the chapter's opening box.

    Call it in a cell tagged ``remove-cell``.
    """
    claims.publish(findings)
    glue(FINDINGS_GLUE, claims.findings_summary(findings))


def state_findings(bullets):
    """Glue what a chapter that tests no claim of the ledger finds, as Markdown bullets under
    :data:`FINDINGS_GLUE`, for its "What this chapter finds" box and its summary (a chapter
    that does test claims calls :func:`publish` instead).

    Call it in a cell tagged ``remove-cell``, after the numbers it states are computed.

    Parameters
    ----------
    bullets : list of str
        One sentence each, in Markdown (MyST: ``$...$`` math renders), numbers written with
        :func:`otcompanion.stats.format_value`.
    """
    if isinstance(bullets, str) or not isinstance(bullets, (list, tuple)) or not bullets:
        raise TypeError(f"bullets must be a non-empty list of strings, got {bullets!r}.")
    for bullet in bullets:
        if not isinstance(bullet, str) or not bullet.strip():
            raise ValueError(f"every bullet must be a non-empty string, got {bullet!r}.")
    glue(FINDINGS_GLUE, "\n".join(f"- {bullet.strip()}" for bullet in bullets))


def provenance(namespace, chapter=None):
    """The provenance table of the running chapter, for its last cell.

    The parameter names are those of the chapter's ``parameters`` cell
    (:func:`otcompanion.book.chapter_parameters`), their values those in ``namespace``, so the
    table shows the values the chapter ran with, papermill's injected ones included.

    Parameters
    ----------
    namespace : dict
        The chapter's global variables (``globals()``).
    chapter : str, optional
        The chapter's file stem; default the one given to :func:`begin`.

    Returns
    -------
    DataFrame
        :func:`otcompanion.provenance.provenance` of those parameters and the time since
        :func:`begin`; without parameters (and with a warning) where the chapter's source
        cannot be found (a notebook run outside the project).
    """
    chapter = chapter or _current["name"]
    if chapter is None:
        raise RuntimeError("call chapter.begin(name) in the chapter's first code cell first.")
    started = _current["started"] if _current["started"] is not None else time.perf_counter()
    names, reason = {}, None
    if book is None:
        reason = "the package's book extra is not installed"
    else:
        try:
            names = book.chapter_parameters(chapter)
        except (FileNotFoundError, book.ChapterNotFound):
            reason = "its source is not in this project (a notebook run elsewhere)"
    if reason:
        warnings.warn(f"cannot read chapter {chapter!r}'s parameters cell ({reason}): the "
                      "provenance table lists no parameters.", stacklevel=2)
    parameters = {name: namespace[name] for name in names}
    return _provenance.provenance(parameters, started)
