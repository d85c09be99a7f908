"""Summaries of repeated runs: means with 95 % bootstrap intervals, paired differences, verdicts.

One method throughout the book: the **percentile bootstrap** of the mean (B. Efron and
R. Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall, 1993, ch. 13). From the ``n``
values of a group, ``n_resamples`` samples of size ``n`` are drawn with replacement; the interval
is the 2.5 % and 97.5 % quantiles of their means. Being made of means of the observed values, it
never leaves the range of the data, so an interval of an accuracy stays in [0, 1] and one of an
optimality in (0, 1] (unlike the mean ± a multiple of the standard deviation). Resampling is
seeded, so a table is reproducible.

Comparisons are **paired**: two methods run on the same data with the same seeds (the run's
coordinates), and the interval is that of the mean of the per-pair differences.
:func:`otcompanion.claims.paired_verdict` words the result no more strongly than the interval
allows (every rule that turns an interval into words is in :mod:`otcompanion.claims`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._validation import check_columns as check_columns
from ._validation import check_int, check_real
from .claims import paired_verdict

#: The old name of :func:`otcompanion.claims.paired_verdict` (the words of the ``verdict``
#: column of :func:`paired_differences`), which moved to the claims module with every rule
#: that turns an interval into words.
verdict = paired_verdict

#: Confidence level of every interval in the book.
CONFIDENCE = 0.95
#: Bootstrap resamples per interval.
N_RESAMPLES = 4000


def bootstrap_interval(values, confidence=CONFIDENCE, n_resamples=N_RESAMPLES, seed=0):
    """Mean of ``values`` and its percentile-bootstrap interval.

    .. math::
        \\bar x^{*}_b = \\frac1n \\sum_{i=1}^{n} x_{I_{b,i}}, \\quad I_{b,i} \\sim U\\{1..n\\},
        \\qquad [\\,q_{(1-c)/2}(\\bar x^{*}),\\; q_{(1+c)/2}(\\bar x^{*})\\,]

    Parameters
    ----------
    values : array-like of shape (n,)
        NaN values are left out.
    confidence : float in (0, 1), default 0.95
    n_resamples : int, default 4000
    seed : int, default 0

    Returns
    -------
    mean, low, high : float
        NaN for no values; ``low == high == mean`` for one value (no interval can be formed;
        tables show only the mean then).
    n : int
        Number of values used.
    """
    confidence = check_real(confidence, "confidence", 0.0, 1.0, low_open=True, high_open=True)
    n_resamples = check_int(n_resamples, "n_resamples", 100)
    array = np.asarray(values, dtype=float).ravel()
    array = array[~np.isnan(array)]
    n = len(array)
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    mean = float(array.mean())
    if n == 1 or np.all(array == array[0]):
        return mean, mean, mean, n
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    means = array[rng.integers(0, n, size=(n_resamples, n))].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return mean, float(low), float(high), n


def _format(mean, low, high, n, places):
    if n == 0:
        return "n/a"
    if n == 1:
        return f"{mean:.{places}f}"
    return f"{mean:.{places}f} [{low:.{places}f}, {high:.{places}f}]"


def interval_text(values, digits=3, seed=0):
    """``"mean [low, high]"`` of :func:`bootstrap_interval` as text, for prose.

    Only the mean for one value, ``"n/a"`` for none.
    """
    return _format(*bootstrap_interval(values, seed=seed), check_int(digits, "digits", 0))


def interval_table(frame, by, columns, digits=3, seed=0):
    """Mean and 95 % bootstrap interval of ``columns`` in every group of ``by``, as text.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per run.
    by : list of str
        Grouping columns (e.g. ``["setup", "level"]``).
    columns : list of str
        Numeric columns to summarize.
    digits : int or dict, default 3
        Decimals, one for all columns or per column.
    seed : int, default 0
        Seed of the resampling.

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, ``runs``, and per column the text
        ``"mean [low, high]"`` (only the mean for one value, ``"n/a"`` for none; NaN values are
        left out of a column).
    """
    by, columns = list(by), list(columns)
    check_columns(frame, [*by, *columns])
    rows = []
    for keys, group in frame.groupby(by, sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        row = {**dict(zip(by, keys)), "runs": len(group)}
        for name in columns:
            places = digits.get(name, 3) if isinstance(digits, dict) else digits
            row[name] = _format(*bootstrap_interval(group[name], seed=seed), places)
        rows.append(row)
    return pd.DataFrame(rows)


def paired_differences(frame, by, pair_on, condition, first, second, columns, seed=0):
    """Mean of ``first - second`` over paired runs, per group, with 95 % bootstrap intervals.

    Rows of ``frame`` with ``condition == first`` and ``condition == second`` are paired on the
    ``by`` and ``pair_on`` columns (e.g. the task, the level and the repetition: same data, same
    seeds); a run without a partner is left out.

    Parameters
    ----------
    frame : pandas.DataFrame
    by : list of str
        Groups to report separately.
    pair_on : list of str
        Columns that identify a pair inside a group (e.g. ``["repetition"]``).
    condition : str
        Column holding the compared conditions (e.g. ``"model"``).
    first, second
        The two values of ``condition``; differences are ``first - second``.
    columns : list of str
        Numeric columns to compare.
    seed : int, default 0

    Returns
    -------
    pandas.DataFrame
        One row per group and column: the ``by`` columns, ``quantity``, ``pairs``,
        ``mean_first``, ``mean_second``, ``difference``, ``low``, ``high`` and ``verdict``
        (:func:`otcompanion.claims.paired_verdict`).
    """
    by, pair_on, columns = list(by), list(pair_on), list(columns)
    check_columns(frame, [*by, *pair_on, condition, *columns])
    present = set(frame[condition])
    for value, name in ((first, "first"), (second, "second")):
        if value not in present:
            raise ValueError(f"{name}={value!r} is not a value of column {condition!r}: "
                             f"{sorted(map(str, present))}.")
    keys = by + pair_on
    left = frame.loc[frame[condition] == first, keys + columns]
    right = frame.loc[frame[condition] == second, keys + columns]
    if not keys or left.duplicated(keys).any() or right.duplicated(keys).any():
        raise ValueError(f"the columns {keys} do not identify one run per condition.")
    joined = left.merge(right, on=keys, how="inner", suffixes=("_first", "_second"))
    rows = []
    groups = joined.groupby(by, sort=True) if by else [((), joined)]
    for group_keys, group in groups:
        group_keys = group_keys if isinstance(group_keys, tuple) else (group_keys,)
        for name in columns:
            a, b = group[f"{name}_first"].to_numpy(float), group[f"{name}_second"].to_numpy(float)
            both = ~(np.isnan(a) | np.isnan(b))
            difference, low, high, n = bootstrap_interval(a[both] - b[both], seed=seed)
            rows.append({**dict(zip(by, group_keys)), "quantity": name, "pairs": n,
                         "mean_first": float(a[both].mean()) if n else np.nan,
                         "mean_second": float(b[both].mean()) if n else np.nan,
                         "difference": difference, "low": low, "high": high,
                         "verdict": paired_verdict(low, high, n)})
    return pd.DataFrame(rows)


def interval_frame(frame, by, columns, seed=0):
    """Mean and 95 % bootstrap interval of ``columns`` per group of ``by``, as numbers.

    The numeric, long-format companion of :func:`interval_table`, for figures
    (:func:`otcompanion.plots.interval_panels`) and for prose that quotes the numbers.

    Returns
    -------
    pandas.DataFrame
        One row per group and column: the ``by`` columns, ``metric``, ``runs`` (values used),
        ``mean``, ``low``, ``high`` (:func:`bootstrap_interval`).
    """
    by, columns = list(by), list(columns)
    check_columns(frame, [*by, *columns])
    rows = []
    for keys, group in frame.groupby(by, sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        for name in columns:
            mean, low, high, n = bootstrap_interval(group[name], seed=seed)
            rows.append({**dict(zip(by, keys)), "metric": name, "runs": n, "mean": mean,
                         "low": low, "high": high})
    return pd.DataFrame(rows)
