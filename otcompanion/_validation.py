"""Parameter checks shared by every module of the package.

One rule for every public entry point: a value of the wrong *type* raises :class:`TypeError`,
a value of the right type outside what is allowed raises :class:`ValueError`; both messages
name the parameter, say what is allowed and show what was given. Booleans are never accepted
as numbers (``True`` is an ``int`` in Python, but ``epochs=True`` is a mistake), NumPy scalars
are accepted wherever Python numbers are.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def _is_int(value):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(
        value, (bool, np.bool_))


def check_int(value, name, minimum=None, maximum=None, *, allow_none=False):
    """An integer in ``[minimum, maximum]`` (either bound optional), as a Python ``int``.

    Raises
    ------
    TypeError
        ``value`` is not an integer (``None`` only passes with ``allow_none``).
    ValueError
        ``value`` is outside the bounds.
    """
    if value is None and allow_none:
        return None
    if not _is_int(value):
        extra = " or None" if allow_none else ""
        raise TypeError(f"{name} must be an integer{extra}, got {value!r}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}.")
    return int(value)


def check_real(value, name, low=None, high=None, *, low_open=False, high_open=False,
               allow_none=False):
    """A finite real number in the interval from ``low`` to ``high`` (either bound optional;
    ``low_open``/``high_open`` exclude the bound), as a Python ``float``.

    Raises
    ------
    TypeError
        ``value`` is not a real number.
    ValueError
        ``value`` is NaN, infinite or outside the interval.
    """
    if value is None and allow_none:
        return None
    if not _is_real(value):
        extra = " or None" if allow_none else ""
        raise TypeError(f"{name} must be a real number{extra}, got {value!r}.")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or too_low or too_high:
        left = "-inf" if low is None else f"{low}"
        right = "inf" if high is None else f"{high}"
        interval = (f"{'(' if low_open or low is None else '['}{left}, {right}"
                    f"{')' if high_open or high is None else ']'}")
        raise ValueError(f"{name} must be a finite number in {interval}, got {value}.")
    return value


def check_positive(value, name, *, allow_none=False):
    """A finite number ``> 0``: :func:`check_real` with an open lower bound 0."""
    return check_real(value, name, 0.0, low_open=True, allow_none=allow_none)


def check_fraction(value, name, *, allow_zero=False):
    """A fraction in ``(0, 1)``, or ``[0, 1)`` with ``allow_zero``."""
    return check_real(value, name, 0.0, 1.0, low_open=not allow_zero, high_open=True)


def check_bool(value, name):
    """``True`` or ``False`` (NumPy booleans included), as a Python ``bool``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_choice(value, name, choices):
    """One of ``choices``: strings match strings, integers (NumPy's too) match integers."""
    if _is_int(value) and any(_is_int(choice) for choice in choices):
        value = int(value)
    elif not (isinstance(value, str) and any(isinstance(choice, str) for choice in choices)):
        raise TypeError(f"{name} must be one of {list(choices)}, got {value!r}.")
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}.")
    return value


def check_sequence(values, name, check_item, *, allow_empty=False, unique=True):
    """A list whose every entry passes ``check_item(entry, f"{name}[i]")``.

    Raises
    ------
    TypeError
        ``values`` is a string or not iterable, or an entry has the wrong type.
    ValueError
        ``values`` is empty (unless ``allow_empty``), repeats a value (with ``unique``), or an
        entry is out of range.
    """
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a list, got {values!r}.")
    values = [check_item(value, f"{name}[{i}]") for i, value in enumerate(values)]
    if not values and not allow_empty:
        raise ValueError(f"{name} is empty; give at least one value.")
    if unique and len(set(values)) != len(values):
        raise ValueError(f"{name} has repeated values: {values}.")
    return values


def check_int_sequence(values, name, minimum=None, **options):
    """A list of integers, each at least ``minimum`` (see :func:`check_sequence`)."""
    return check_sequence(values, name, lambda v, n: check_int(v, n, minimum), **options)


def check_columns(frame, names, what="the frame"):
    """Raise ``ValueError`` naming the columns of ``names`` that ``frame`` does not have.

    The one column check of the package (also :func:`otcompanion.stats.check_columns`).

    Parameters
    ----------
    frame : pandas.DataFrame
    names : iterable of str
        The columns the caller reads.
    what : str, default "the frame"
        How the message names ``frame`` (e.g. ``"the histories"``), so that the error says
        which argument lacks the columns.
    """
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in {what}; it has {list(frame.columns)}.")


def as_units(value, name="head_units"):
    """Hidden-layer widths as a tuple: one integer becomes a one-layer tuple (``8`` -> ``(8,)``),
    any other iterable a tuple of its entries (not checked here: the caller checks or compares
    them).

    Raises
    ------
    TypeError
        ``value`` is neither an integer nor iterable.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (value,)
    try:
        return tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of positive integers, got "
                        f"{value!r}.") from None
