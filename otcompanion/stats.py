"""Summaries of repeated runs: means with 95 % confidence intervals, paired differences,
speed-up ratios, and their text.

One function gives every interval of the book, :func:`bootstrap_interval`: the t interval of the
mean, or the bias-corrected and accelerated (BCa) bootstrap (B. Efron and R. Tibshirani, *An
Introduction to the Bootstrap*, Chapman & Hall, 1993, ch. 14; ``scipy.stats.bootstrap``) for
skewed samples of ten values or more (:func:`interval_method`), clipped to the range of a
bounded quantity (:data:`BOUNDS`); when every run gave the same value, a one-sided bound from
the number of runs (:func:`constant_bound`). The test suite simulates the coverage of this rule
(at least 93 % for normal data at n = 20, 90 % at n = 5, and 90 % at n = 20 for values piled
at a ceiling). Resampling is seeded, so a table is reproducible.

Comparisons are **paired**: two methods run on the same data with the same seeds (the run's
coordinates), and the interval is that of the mean of the per-pair differences.
:func:`otcompanion.claims.paired_verdict` words the result no more strongly than the interval
allows (every rule that turns an interval into words is in :mod:`otcompanion.claims`).
Ratios of times are summarized the same way on the log scale (:func:`speed_up`).

Text: :func:`format_interval` is the one way the book writes an interval (``"mean [low,
high]"``, signed for differences, ``"n/a"`` or the mean alone when no interval can be formed);
:func:`format_difference` (a row of paired differences, signed), :func:`interval_text`,
:func:`interval_table`, :func:`difference_table` and :func:`with_speed_up` use it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.stats

from ._validation import check_choice, check_int, check_real
from ._validation import check_columns as check_columns
from .claims import paired_verdict

#: The old name of :func:`otcompanion.claims.paired_verdict` (the words of the ``verdict``
#: column of :func:`paired_differences`), which moved to the claims module with every rule
#: that turns an interval into words.
verdict = paired_verdict

#: Confidence level of every interval in the book.
CONFIDENCE = 0.95
#: Bootstrap resamples per BCa interval.
N_RESAMPLES = 4000
#: Smallest sample that gets a BCa interval when it is skewed (:func:`interval_method`): below
#: it, BCa covers far less than its nominal level (84 % at n = 5 for normal data).
BCA_MIN_N = 10
#: Absolute sample skewness from which a sample of at least :data:`BCA_MIN_N` values gets the
#: BCa interval instead of the t interval (:func:`interval_method`).
BCA_MIN_SKEWNESS = 1.0

#: The range of the book's bounded quantities: their intervals are clipped to it, and a
#: quantity with the same value in every run gets a one-sided bound
#: (:func:`bootstrap_interval`). A column not named here is unbounded.
BOUNDS = {name: (0.0, 1.0) for name in (
    "accuracy", "balanced_accuracy", "instance_accuracy", "token_accuracy", "test_accuracy",
    "val_instance_accuracy", "optimality", "matching", "straightness", "w2_path_efficiency",
    "efficiency", "head_accuracy", "residual_optimality", "translation_share",
    "class translation", "roc_auc", "val_accuracy")} | {name: (0.0, np.inf) for name in (
        "layer_norm_jacobian", "uc_monge_gap", "epochs_run", "best_epoch", "epochs_to_target",
        "patience_epochs")}


def bounds_of(name):
    """The range of the quantity (column) ``name``, or None (unbounded).

    :data:`BOUNDS` for the name, or for its part before a comma (``"accuracy, 2 classes"``);
    ``recall_*`` in [0, 1]; times (``*_seconds``, ``seconds_*``) in :math:`[0, \\infty)`.
    """
    name = str(name)
    if name.startswith("recall_"):
        return (0.0, 1.0)
    if name.endswith("_seconds") or name.startswith("seconds_"):
        return (0.0, np.inf)
    return BOUNDS.get(name, BOUNDS.get(name.split(",")[0].strip()))


def interval_method(values):
    """``"BCa"`` or ``"t"``: the interval :func:`bootstrap_interval` uses for these values.

    The t interval covers at its nominal level for near-normal means even from five values; the
    bias-corrected and accelerated (BCa) bootstrap corrects for skewness, which matters for the
    book's bounded metrics when many runs sit at a bound (a ceiling of accuracy), but it covers
    poorly in small samples. So: BCa when there are at least :data:`BCA_MIN_N` values and their
    sample skewness is at least :data:`BCA_MIN_SKEWNESS` in absolute value, t otherwise. The
    coverage of the rule is checked by simulation in the test suite (``tests/test_stats.py``).
    """
    array = np.asarray(values, dtype=float)
    if len(array) < BCA_MIN_N or np.all(array == array[0]):
        return "t"
    return "BCa" if abs(scipy.stats.skew(array)) >= BCA_MIN_SKEWNESS else "t"


def constant_bound(value, n, confidence=CONFIDENCE, bounds=None):
    """An interval for the mean when all ``n`` runs gave the same ``value``.

    No spread means no bootstrap (BCa is undefined) and no t interval; what the runs show is
    that the share :math:`p` of runs giving ``value`` is large. With all :math:`n` runs at
    ``value``, the exact (Clopper-Pearson) lower confidence bound of that share is
    :math:`p_\\ell = (1 - c)^{1/n}` (about :math:`1 - 3/n`, the "rule of three"; Hanley &
    Lippman-Hand, 1983). The other runs, a share of at most :math:`q = 1 - p_\\ell`, could lie
    anywhere in ``bounds = (a, b)``, so the mean lies in
    :math:`[\\,v - q (v - a),\\; v + q (b - v)\\,]`: a lower bound only (``high == value``) at
    the upper end of the range, an upper bound only at the lower end.

    Returns
    -------
    low, high : float
        Both ``value`` when ``bounds`` is None (an unbounded quantity cannot be bounded this
        way) or ``n == 1``.
    """
    if bounds is None or n < 2:
        return value, value
    share = 1.0 - (1.0 - confidence) ** (1.0 / n)
    low, high = (value - share * (value - bounds[0]), value + share * (bounds[1] - value))
    # An infinite end of the range gives no bound on that side: the value alone is shown.
    return (low if np.isfinite(low) else value), (high if np.isfinite(high) else value)


def bootstrap_interval(values, confidence=CONFIDENCE, n_resamples=N_RESAMPLES, seed=0,
                       bounds=None):
    """Mean of ``values`` and its 95 % confidence interval (t or BCa bootstrap).

    The method is chosen per sample by :func:`interval_method`:

    - the **t interval** :math:`\\bar x \\pm t_{n-1,(1+c)/2}\\, s / \\sqrt n` (Student);
    - the **bias-corrected and accelerated bootstrap** of the mean (B. Efron, R. Tibshirani,
      *An Introduction to the Bootstrap*, Chapman & Hall, 1993, ch. 14), computed by
      ``scipy.stats.bootstrap(..., method="BCa")`` with ``n_resamples`` resamples drawn from
      ``seed``, so that a table is reproducible; where BCa is undefined it falls back to t.

    With ``bounds`` (a bounded quantity, e.g. an accuracy in [0, 1]; :func:`bounds_of`) the
    interval is clipped to them, and when every run gave the same value the interval is the
    one-sided bound of :func:`constant_bound`.

    Parameters
    ----------
    values : array-like of shape (n,)
        NaN values are left out.
    confidence : float in (0, 1), default 0.95
    n_resamples : int, default 4000
    seed : int, default 0
    bounds : tuple of two floats, optional
        The range of the quantity.

    Returns
    -------
    mean, low, high : float
        NaN for no values; ``low == high == mean`` for one value (no interval can be formed;
        tables show only the mean then), and for equal values of an unbounded quantity.
    n : int
        Number of values used.
    """
    confidence = check_real(confidence, "confidence", 0.0, 1.0, low_open=True, high_open=True)
    n_resamples = check_int(n_resamples, "n_resamples", 100)
    seed = check_int(seed, "seed", 0)
    bounds = _check_bounds(bounds)
    array = np.asarray(values, dtype=float).ravel()
    array = array[~np.isnan(array)]
    n = len(array)
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    mean = float(array.mean())
    if np.all(array == array[0]):
        return (mean, *constant_bound(mean, n, confidence, bounds), n)
    low = high = np.nan
    if interval_method(array) == "BCa":
        with warnings.catch_warnings():  # a degenerate BCa gives NaN: the t interval then
            warnings.simplefilter("ignore")
            result = scipy.stats.bootstrap((array,), np.mean, confidence_level=confidence,
                                           n_resamples=n_resamples, method="BCa",
                                           random_state=np.random.default_rng(seed))
        low, high = result.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):
        half = (scipy.stats.t.ppf((1 + confidence) / 2, n - 1) * array.std(ddof=1)
                / np.sqrt(n))
        low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return mean, float(low), float(high), n


def _check_bounds(bounds):
    if bounds is None:
        return None
    try:
        low, high = (float(value) for value in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be None or two numbers (low, high); got {bounds!r}.")
    if not low < high:
        raise ValueError(f"bounds must satisfy low < high; got {bounds!r}.")
    return low, high


#: The notations of :func:`format_value`: fixed decimals (``"f"``) or significant digits
#: (``"g"``, written without an exponent).
NOTATIONS = ("f", "g")

#: The minus sign of printed numbers (U+2212), not the hyphen-minus a program writes.
MINUS = "\u2212"


def shared_decimals(values, digits=3):
    """Decimals that give the largest of ``values`` (in absolute value) ``digits`` significant
    digits, for numbers printed side by side (an estimate and its interval); at least 0.

    >>> shared_decimals([0.0341, 0.0123, 0.259])
    3
    """
    finite = [abs(float(value)) for value in values if np.isfinite(float(value))]
    magnitude = max(finite, default=0.0)
    if magnitude == 0:
        return max(digits - 1, 0)
    return max(digits - 1 - int(np.floor(np.log10(magnitude))), 0)


def format_value(value, digits=3, *, signed=False, notation="f", decimals=None):
    """One number as the book prints it: the one function behind every number in its prose.

    ``"f"`` writes ``digits`` decimals; ``"g"`` writes ``digits`` significant digits, in fixed
    notation (no exponent). Negative numbers get a true minus sign (:data:`MINUS`); with
    ``signed``, positive ones get ``+``; a number that rounds to zero gets neither. NaN is
    ``"n/a"``, infinity ``"∞"``.

    Parameters
    ----------
    value : float
    digits : int >= 0, default 3
        Decimals (``notation="f"``) or significant digits (``"g"``).
    signed : bool, default False
        Print ``+`` before positive numbers (for differences).
    notation : {"f", "g"}, default "f"
    decimals : int >= 0, optional
        Decimals to use whatever the notation (:func:`format_interval` passes the decimals
        that give the largest of its numbers ``digits`` significant digits).

    Examples
    --------
    >>> format_value(0.25, 2, signed=True)
    '+0.25'
    >>> format_value(-0.000123, 3, signed=True, notation="g")
    '−0.000123'
    >>> format_value(101659.1845, 3, notation="g")
    '101659'
    >>> format_value(-0.0001, 2, signed=True)
    '0.00'
    """
    digits = check_int(digits, "digits", 0)
    notation = check_choice(notation, "notation", NOTATIONS)
    value = float(value)
    if np.isnan(value):
        return "n/a"
    if decimals is None:
        decimals = digits if notation == "f" else shared_decimals([value], digits)
    decimals = check_int(decimals, "decimals", 0)
    text = "\u221e" if np.isinf(value) else f"{abs(value):.{decimals}f}"
    if text.strip("0.") == "":  # rounds to zero: no sign
        return text
    if value < 0:
        return MINUS + text
    return "+" + text if signed else text


def format_interval(mean, low, high, digits=3, *, unit="", n=None, signed=False, notation="f",
                    collapse=True):
    """``"mean [low, high]"`` as text: the one way the book writes an interval.

    Parameters
    ----------
    mean, low, high : float
        An estimate and its 95 % interval (e.g. from :func:`bootstrap_interval`, or a row of
        :func:`paired_differences` or :func:`speed_up`).
    digits : int >= 0, default 3
        As for :func:`format_value`, the same for the three numbers.
    unit : str, default ""
        Written right after the mean (e.g. ``" s"`` or ``"x"``).
    n : int, optional
        Number of values behind the interval: ``"n/a"`` for 0, only the mean for 1 (no interval
        can be formed), the interval otherwise. Given, it decides alone.
    signed, notation
        As for :func:`format_value` (``signed=True`` for differences).
    collapse : bool, default True
        Without ``n``: ``"n/a"`` for a NaN mean and only the mean when ``low == high``. False
        always writes the three numbers.

    Returns
    -------
    str

    Examples
    --------
    >>> format_interval(0.9, 0.85, 0.95)
    '0.900 [0.850, 0.950]'
    >>> format_interval(2.5, 2.0, 3.1, 1, unit="x")
    '2.5x [2.0, 3.1]'
    >>> format_interval(0.0, 0.0, 0.0, 1, signed=True, collapse=False)
    '0.0 [0.0, 0.0]'
    >>> format_interval(0.0341, 0.0123, 0.259, 3, signed=True, notation="g")
    '+0.034 [+0.012, +0.259]'
    >>> format_interval(0.5, 0.5, 0.5, n=3)
    '0.500 [0.500, 0.500]'
    """
    options = dict(digits=digits, signed=signed, notation=notation)
    if notation == "g":  # one number of decimals for the three, from the largest
        options["decimals"] = shared_decimals((mean, low, high), digits)
    if n is not None:
        n = check_int(n, "n", 0)
        short = n == 1
        if n == 0:
            return "n/a"
    elif collapse:
        if np.isnan(mean):
            return "n/a"
        short = low == high
    else:
        short = False
    text = f"{format_value(mean, **options)}{unit}"
    if short:
        return text
    return f"{text} [{format_value(low, **options)}, {format_value(high, **options)}]"


def format_difference(row, digits=1, *, notation="f"):
    """A row of paired differences as signed text: ``"difference [low, high]"``.

    :func:`format_interval` of the row's ``difference``, ``low`` and ``high`` with a sign and
    without collapsing, so the interval is written even when it is a point.

    Parameters
    ----------
    row : mapping
        A row of :func:`paired_differences` (or anything with ``difference``, ``low`` and
        ``high``).
    digits : int >= 0, default 1
    notation : {"f", "g"}, default "f"
        As for :func:`format_value`.

    Returns
    -------
    str

    Examples
    --------
    >>> format_difference({"difference": 2.0, "low": 1.0, "high": 3.0})
    '+2.0 [+1.0, +3.0]'
    >>> format_difference({"difference": 0.01234, "low": -0.1, "high": 0.2}, 3, notation="g")
    '+0.012 [−0.100, +0.200]'
    """
    return format_interval(row["difference"], row["low"], row["high"], digits, signed=True,
                           notation=notation, collapse=False)


def interval_text(values, digits=3, seed=0):
    """``"mean [low, high]"`` of :func:`bootstrap_interval` as text, for prose.

    Only the mean for one value, ``"n/a"`` for none (:func:`format_interval` with ``n``). A
    pandas Series named after a bounded quantity (:func:`bounds_of`, e.g. ``"optimality"``)
    gets its bounds.
    """
    bounds = bounds_of(getattr(values, "name", None))
    mean, low, high, n = bootstrap_interval(values, seed=seed, bounds=bounds)
    return format_interval(mean, low, high, check_int(digits, "digits", 0), n=n)


def _column_bounds(columns, bounds):
    """The range of every column: :func:`bounds_of` its name, or what ``bounds`` gives it."""
    ranges = {name: bounds_of(name) for name in columns}
    for name, value in (bounds or {}).items():
        if name not in ranges:
            raise ValueError(f"bounds names {name!r}, which is not one of the columns "
                             f"{columns}.")
        ranges[name] = _check_bounds(value)
    return ranges


def interval_table(frame, by, columns, digits=3, seed=0, bounds=None):
    """Mean and 95 % confidence interval of ``columns`` in every group of ``by``, as text.

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
    bounds : dict, optional
        ``{column: (low, high)}``: the range of a column where it is not (or not only) that of
        :func:`bounds_of`, e.g. ``{"best_epoch": (0, epochs)}`` for a training budget.

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, ``runs``, and per column the text
        ``"mean [low, high]"`` (only the mean for one value, ``"n/a"`` for none; NaN values are
        left out of a column).
    """
    by, columns = list(by), list(columns)
    check_columns(frame, [*by, *columns])
    ranges = _column_bounds(columns, bounds)
    rows = []
    for keys, group in frame.groupby(by, sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        row = {**dict(zip(by, keys)), "runs": len(group)}
        for name in columns:
            places = digits.get(name, 3) if isinstance(digits, dict) else digits
            mean, low, high, n = bootstrap_interval(group[name], seed=seed,
                                                    bounds=ranges[name])
            row[name] = format_interval(mean, low, high, places, n=n)
        rows.append(row)
    return pd.DataFrame(rows)


def paired_differences(frame, by, pair_on, condition, first, second, columns, seed=0,
                       confidence=CONFIDENCE):
    """Mean of ``first - second`` over paired runs, per group, with 95 % confidence intervals.

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
    confidence : float, default 0.95
        Level of the intervals (e.g. a Holm level, :func:`holm_paired_differences`).

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
            difference, low, high, n = bootstrap_interval(a[both] - b[both], seed=seed,
                                                          confidence=confidence)
            rows.append({**dict(zip(by, group_keys)), "quantity": name, "pairs": n,
                         "mean_first": float(a[both].mean()) if n else np.nan,
                         "mean_second": float(b[both].mean()) if n else np.nan,
                         "difference": difference, "low": low, "high": high,
                         "verdict": paired_verdict(low, high, n)})
    return pd.DataFrame(rows)


def paired_difference(frame, column, first, second, by):
    """The one row of :func:`paired_differences` of ``column`` between the runs with
    ``by == first`` and the runs with ``by == second``, paired on the repetition (seed 0).

    Returns
    -------
    pandas.Series
        ``quantity``, ``pairs``, ``mean_first``, ``mean_second``, ``difference``, ``low``,
        ``high`` and ``verdict``.
    """
    return paired_differences(frame, [], ["repetition"], by, first, second, [column]).iloc[0]


def interval_frame(frame, by, columns, seed=0, bounds=None):
    """Mean and 95 % confidence interval of ``columns`` per group of ``by``, as numbers.

    The numeric, long-format companion of :func:`interval_table` (the same parameters), for
    figures (:func:`otcompanion.plots.interval_panels`) and for prose that quotes the numbers.

    Returns
    -------
    pandas.DataFrame
        One row per group and column: the ``by`` columns, ``metric``, ``runs`` (values used),
        ``mean``, ``low``, ``high`` (:func:`bootstrap_interval`).
    """
    by, columns = list(by), list(columns)
    check_columns(frame, [*by, *columns])
    ranges = _column_bounds(columns, bounds)
    rows = []
    for keys, group in frame.groupby(by, sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        for name in columns:
            mean, low, high, n = bootstrap_interval(group[name], seed=seed,
                                                    bounds=ranges[name])
            rows.append({**dict(zip(by, keys)), "metric": name, "runs": n, "mean": mean,
                         "low": low, "high": high})
    return pd.DataFrame(rows)


def difference_table(differences, digits=3, *, label="difference [95 % CI]",
                     names=("first", "second")):
    """Paired differences as a table to show, one row per group and quantity.

    Parameters
    ----------
    differences : pandas.DataFrame
        Rows of :func:`paired_differences`.
    digits : int, default 3
        Decimals of the interval text and of the other numeric columns.
    label : str, default "difference [95 % CI]"
        Header of the column that replaces ``difference``, ``low`` and ``high`` with
        :func:`format_interval` (e.g. ``"OT − Transformer [95 % CI]"``).
    names : pair of str or dict, default ("first", "second")
        ``mean_first`` and ``mean_second`` become ``"<first> mean"`` and ``"<second> mean"``;
        a dict renames the columns as it says instead (e.g. ``{"mean_first": "standardized",
        "mean_second": "raw"}``).

    Returns
    -------
    pandas.DataFrame
    """
    check_columns(differences, ["difference", "low", "high"], "differences")
    if not isinstance(names, dict):
        first, second = names
        names = {"mean_first": f"{first} mean", "mean_second": f"{second} mean"}
    table = differences.copy()
    table[label] = [format_interval(*values, digits=digits)
                    for values in table[["difference", "low", "high"]].to_numpy()]
    return table.drop(columns=["difference", "low", "high"]).rename(columns=names).round(digits)


def speed_up(frame, by, column, baseline, other, *, condition="model",
             pair_on=("repetition",), seed=0):
    """How many times longer ``baseline`` takes than ``other``, per pair: geometric mean and
    95 % confidence interval per group.

    For every pair (same ``by`` and ``pair_on`` values, e.g. same data and seeds) the ratio
    :math:`r = t_{\\text{baseline}} / t_{\\text{other}}` of ``column``; per group the mean of
    :math:`\\log r` and its interval (:func:`bootstrap_interval`), exponentiated: the geometric
    mean of the ratios, whose interval is the ratio's. A pair where either time is missing (e.g.
    a model that never reached its target) is left out.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per run.
    by : list of str
        Groups to report separately.
    column : str
        The times (positive).
    baseline, other
        Values of ``condition``; the ratio is ``baseline`` over ``other`` (above 1: ``other``
        is faster).
    condition : str, default "model"
    pair_on : sequence of str, default ("repetition",)
    seed : int, default 0

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``pairs``, ``speed_up``, ``low``, ``high``.
    """
    by, pair_on = list(by), list(pair_on)
    check_columns(frame, [*by, *pair_on, condition, column])
    # A model that never reaches the target has only NaN in ``column``: keep its column.
    wide = frame.pivot_table(index=[*by, *pair_on], columns=condition, values=column,
                             dropna=False).reindex(columns=[baseline, other])
    ratio = np.log(wide[baseline] / wide[other]).dropna()
    rows = []
    for keys, group in ratio.groupby(level=by):
        keys = keys if isinstance(keys, tuple) else (keys,)
        mean, low, high, n = bootstrap_interval(group, seed=seed)
        rows.append({**dict(zip(by, keys)), "pairs": n, "speed_up": np.exp(mean),
                     "low": np.exp(low), "high": np.exp(high)})
    return pd.DataFrame(rows, columns=[*by, "pairs", "speed_up", "low", "high"])


def with_speed_up(table, speed, by):
    """``table`` with the speed-ups of the same groups of ``by`` as a column
    ``"speed-up [95 % CI]"`` of text.

    Parameters
    ----------
    table : pandas.DataFrame
        A table with the ``by`` columns (e.g. from :func:`difference_table`).
    speed : pandas.DataFrame
        Rows of :func:`speed_up` over the same groups.
    by : list of str

    Returns
    -------
    pandas.DataFrame
        ``table`` with the column ``"speed-up [95 % CI]"`` (:func:`format_interval` with one
        decimal), ``"n/a"`` for a group without pairs.
    """
    speed = speed.assign(**{"speed-up [95 % CI]": [
        format_interval(*values, digits=1)
        for values in speed[["speed_up", "low", "high"]].to_numpy()]})
    return table.merge(speed[[*by, "speed-up [95 % CI]"]], on=by, how="left").fillna(
        {"speed-up [95 % CI]": "n/a"})


def split_halves(frames, column="repetition"):
    """The rows of ``frames`` in the first and in the second half of their repetitions.

    In each frame the values of ``column`` are sorted; the first :math:`\\lfloor k/2
    \\rfloor` of its :math:`k` values make the first half, the others the second (with an odd
    :math:`k`, the second half has one more). Frames of the same runs (e.g. a run's summary
    and its per-map table) are thus split alike, and experiments with different numbers of
    repetitions are each split in two.

    Parameters
    ----------
    frames : list of pandas.DataFrame
        Each with ``column`` and at least two of its values.
    column : str, default "repetition"

    Returns
    -------
    first, second : list of pandas.DataFrame
        ``frames`` restricted to each half, in the same order.
    """
    firsts, seconds = [], []
    for frame in frames:
        check_columns(frame, [column])
        values = sorted(set(frame[column]))
        if len(values) < 2:
            raise ValueError(f"a split-half check needs at least two values of {column!r}; "
                             f"got {values}.")
        first = frame[column].isin(values[:len(values) // 2])
        firsts.append(frame[first])
        seconds.append(frame[~first])
    return firsts, seconds


def split_half_verdicts(verdict, *frames, column="repetition"):
    """``verdict(*frames)`` on the first and on the second half of the repetitions.

    The split-half check of a finding (:func:`otcompanion.claims.finding` ``halves``): the
    same rule, the same thresholds, on each half of the runs (:func:`split_halves`); a verdict
    that changes between the halves rests on too few runs to be firm.

    Parameters
    ----------
    verdict : callable
        Takes the frames, returns a verdict word (:data:`otcompanion.claims.VERDICTS`) or
        several (e.g. a list, one per finding of a chapter).
    *frames : pandas.DataFrame
    column : str, default "repetition"

    Returns
    -------
    list
        ``verdict``'s result on the first half, then on the second.
    """
    return [verdict(*half) for half in split_halves(frames, column)]


def holm_levels(p_values, confidence=CONFIDENCE):
    """Confidence levels for a family of comparisons, adjusted by Holm's step-down method.

    With :math:`m` comparisons, error rate :math:`\\alpha = 1 - c` and p-values ordered
    :math:`p_{(1)} \\le \\dots \\le p_{(m)}`, Holm (1979) rejects :math:`H_{(k)}` when
    :math:`p_{(j)} \\le \\alpha / (m - j + 1)` for every :math:`j \\le k`, which keeps the
    probability of any false rejection in the family at most :math:`\\alpha`. The interval of
    the :math:`k`-th comparison is drawn at the level :math:`1 - \\alpha / (m - k + 1)`; from
    the first step that rejects nothing on, every later comparison keeps that step's level, so
    that an interval excludes 0 only where Holm's procedure rejects (S. Holm, *A simple
    sequentially rejective multiple test procedure*, Scandinavian Journal of Statistics
    6(2):65-70, 1979).

    Parameters
    ----------
    p_values : array-like of shape (m,)
    confidence : float, default 0.95
        The family's level.

    Returns
    -------
    ndarray of shape (m,)
        The level of each comparison, in the order of ``p_values``.
    """
    p_values = np.asarray(p_values, dtype=float)
    confidence = check_real(confidence, "confidence", 0.0, 1.0, low_open=True, high_open=True)
    alpha, m = 1.0 - confidence, len(p_values)
    levels = np.empty(m)
    stopped = None
    for rank, index in enumerate(np.argsort(p_values, kind="stable")):
        step = rank if stopped is None else stopped
        levels[index] = 1.0 - alpha / (m - step)
        if stopped is None and not p_values[index] <= alpha / (m - rank):
            stopped = rank
    return levels


def paired_p_value(differences):
    """Two-sided p-value of "mean difference 0" for paired differences: the one-sample t test
    (``scipy.stats.ttest_1samp``); 1 when every difference is 0, 0 when they are all equal and
    not 0, NaN for fewer than two."""
    values = np.asarray(differences, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return np.nan
    if np.all(values == values[0]):
        return 1.0 if values[0] == 0 else 0.0
    return float(scipy.stats.ttest_1samp(values, 0.0).pvalue)


def holm_paired_differences(frame, pair_on, condition, baseline, others, column,
                            confidence=CONFIDENCE, seed=0):
    """A family of paired comparisons *other minus baseline*, each at its Holm level.

    Every value of ``others`` in the ``condition`` column is compared with ``baseline`` on
    ``column``, paired on ``pair_on`` (:func:`paired_differences`); the p-values
    (:func:`paired_p_value`) set each comparison's level (:func:`holm_levels`), and its
    interval and verdict are drawn at that level, so that the family as a whole keeps the
    95 % level.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`paired_differences` (one per compared value), with ``compared``
        (the value), ``p_value`` and ``confidence`` (its Holm level).
    """
    others = list(others)
    check_columns(frame, [*pair_on, condition, column])
    wide = frame.pivot_table(index=list(pair_on), columns=condition, values=column,
                             aggfunc="first")
    missing = [value for value in [baseline, *others] if value not in wide.columns]
    if missing:
        raise ValueError(f"values {missing} are not in column {condition!r}.")
    p_values = [paired_p_value((wide[value] - wide[baseline]).to_numpy()) for value in others]
    levels = holm_levels(np.nan_to_num(p_values, nan=1.0), confidence)
    return pd.concat([
        paired_differences(frame, [], list(pair_on), condition, value, baseline, [column],
                           seed=seed, confidence=level).assign(
            compared=value, p_value=p_value, confidence=level)
        for value, p_value, level in zip(others, p_values, levels)], ignore_index=True)
