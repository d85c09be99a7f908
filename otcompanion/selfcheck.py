"""Public self-checks of a student notebook: the form of an answer, never its value.

A student notebook of the classroom edition (:mod:`otcompanion.classroom`) has, after every
graded exercise, a cell that calls :func:`self_check` with what the grader will compare: the
type of every answer (a number, an array of a given shape, a table with given columns and rows)
and the tolerance of each comparison. The expected values stay with the teacher; a self-check
only tells a student that an answer has the form the grader reads, and with which tolerance it
will be compared. It needs numpy only (no extra of the package), and it prints instead of
raising, so that a notebook runs on to its end.
"""

from __future__ import annotations

import numpy as np

__all__ = ["form_problems", "self_check"]


def _numbers(name, value):
    """``value`` as a float array, or a problem line."""
    if value is Ellipsis or value is None:
        return None, f"{name}: not answered yet (still {value!r})."
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None, f"{name}: expected numbers, got {type(value).__name__}."
    if not np.isfinite(array).all():
        return None, f"{name}: has values that are not finite (nan or inf)."
    return array, None


def _table_problems(name, value, form):
    if value is Ellipsis or value is None:
        return [f"{name}: not answered yet (still {value!r})."]
    if not hasattr(value, "columns"):
        return [f"{name}: expected a pandas DataFrame, got {type(value).__name__}."]
    problems = [f"{name}: no column {column!r}; the columns are {list(value.columns)}."
                for column in form["columns"] if column not in value.columns]
    if len(value) != form["rows"]:
        problems.append(f"{name}: expected {form['rows']} rows, got {len(value)}.")
    for column in form["columns"]:
        if column in value.columns and not problems:
            problems += [line for line in [_numbers(f"{name}[{column!r}]", value[column])[1]]
                         if line]
    return problems


def form_problems(name, value, form):
    """What keeps ``value`` from having the form ``form``; an empty list when it has it.

    Parameters
    ----------
    name : str
        The answer's variable name, for the messages.
    value : object
        The student's answer.
    form : dict
        ``{"type": "number"}``, ``{"type": "array", "shape": [...]}``, ``{"type": "table",
        "columns": [...], "rows": n}``, or ``{"type": "any"}`` (only answered).

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        ``form`` has an unknown type.
    """
    kind = form.get("type")
    if kind == "table":
        return _table_problems(name, value, form)
    if kind not in ("number", "array", "any"):
        raise ValueError(f"form: unknown type {kind!r}; use 'number', 'array', 'table' or "
                         f"'any'.")
    if kind == "any":
        return [f"{name}: not answered yet."] if value is Ellipsis or value is None else []
    array, problem = _numbers(name, value)
    if problem:
        return [problem]
    shape = () if kind == "number" else tuple(form["shape"])
    if array.shape != shape:
        wanted = "one number" if kind == "number" else f"shape {shape}"
        return [f"{name}: expected {wanted}, got shape {array.shape}."]
    return []


def self_check(label, forms, env, tolerances=()):
    """Print whether every answer of exercise ``label`` has the form the grader reads.

    Parameters
    ----------
    label : str
        The exercise's label.
    forms : dict
        Answer name -> form (:func:`form_problems`).
    env : dict
        The notebook's global namespace (``globals()``).
    tolerances : sequence of (str, str)
        What the grader compares and within which tolerance, to state it.

    Returns
    -------
    bool
        Whether every answer has its form (its value is not checked here).
    """
    problems = [problem for name, form in forms.items()
                for problem in form_problems(name, env.get(name, Ellipsis), form)]
    state = "the form of every answer is right" if not problems else "fix the form first"
    lines = [f"Self-check of {label}: {state} (the values are checked only when graded)."]
    lines += [f"  - {problem}" for problem in problems]
    lines += [f"  graded: {what} within {tolerance}" for what, tolerance in tolerances]
    print("\n".join(lines))
    return not problems
