"""What every chapter does besides its subject: start, glue results into the prose, close.

A chapter of the book is a py:percent notebook in ``notebooks/`` that papermill executes with
its ``parameters`` cell; the Jupyter Book (myst-nb) then renders it, and its prose shows
computed numbers, sentences and figures through ``{glue:text}``, ``{glue:md}`` and
``{glue:figure}`` directives. This module is that runtime, so that chapters hold only their
subject:

- :func:`begin` (first code cell) starts the chapter's clock and applies the book's figure
  style;
- :func:`glue` and :func:`glue_figure` store a value or a figure for the prose;
- :func:`task_names` validates a ``tasks`` parameter of the thesis's two tasks;
- :func:`publish` states the chapter's findings for the claims ledger
  (:func:`otcompanion.claims.publish`);
- :func:`provenance` (last cell) tabulates what produced the chapter's numbers.

Without myst-nb (a chapter opened in plain Jupyter) :func:`glue` and :func:`glue_figure` show
the value or the figure instead of storing it, so every chapter runs anywhere; with the
environment variable :data:`SHOW_FIGURES_VARIABLE` set (a classroom notebook's setup cell sets
it) :func:`glue_figure` shows the figure even where myst-nb is installed.
"""

from __future__ import annotations

import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np

from otcompanion import claims, plots
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


def _myst_glue():
    """myst-nb's ``glue``, or None where myst-nb is not installed (plain Jupyter)."""
    try:
        from myst_nb import glue  # noqa: PLC0415 (optional: the book extra)
    except ImportError:
        return None
    return glue


def glue(name, value):
    """Store ``value`` under ``name`` for the prose, without showing it in the page.

    A number is for ``{glue:text}`name:format``` (NumPy scalars become Python numbers, so the
    format spec applies as to any Python number); a string is a Markdown sentence, for
    ``{glue:md}`name```. Without myst-nb the value is displayed instead (a string as Markdown).

    Parameters
    ----------
    name : str
        The key the prose refers to.
    value : number, str or object
        What to store: as is, except NumPy scalars (Python numbers) and strings (Markdown).
    """
    from IPython.display import Markdown, display  # noqa: PLC0415 (optional: in a kernel)

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        value = Markdown(value)
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
