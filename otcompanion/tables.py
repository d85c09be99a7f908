"""Summary tables the chapters show: paired differences and speed-ups as text, and the
per-budget verdicts of the pretraining chapter.

Every interval is the book's 95 % percentile bootstrap of the mean
(:func:`otcompanion.stats.bootstrap_interval`); a comparison is paired on the run's
coordinates (same data, same seeds), as in :func:`otcompanion.stats.paired_differences`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from otcompanion import experiments, pretrain, stats

#: The two models of chapter 04's comparisons, as the values of the ``model`` column of
#: :func:`otcompanion.experiments.classifier_comparison_run` and
#: :func:`otcompanion.experiments.stopping_rule_run`.
OT, TRANSFORMER = "OT classifier", "Transformer"


def format_interval(mean, low, high, digits=3, unit=""):
    """``"mean [low, high]"`` with ``digits`` decimals; just the mean when ``low == high`` (no
    interval could be formed), ``"n/a"`` when ``mean`` is NaN.

    Examples
    --------
    >>> format_interval(2.0, 1.5, 2.5, digits=1)
    '2.0 [1.5, 2.5]'
    """
    # To stats.format_interval at merge.
    if np.isnan(mean):
        return "n/a"
    if low == high:
        return f"{mean:.{digits}f}{unit}"
    return f"{mean:.{digits}f}{unit} [{low:.{digits}f}, {high:.{digits}f}]"


def format_difference(difference, low, high, spec="+.1f"):
    """``"difference [low, high]"``, every number with the format ``spec`` (signed by default).

    Unlike :func:`format_interval`, the interval is always written, even when it is a point.

    Examples
    --------
    >>> format_difference(-1.25, -2.0, -0.5)
    '-1.2 [-2.0, -0.5]'
    """
    # To stats.format_interval at merge.
    return f"{difference:{spec}} [{low:{spec}}, {high:{spec}}]"


def row_difference(row, places=1):
    """:func:`format_difference` of a row of :func:`otcompanion.stats.paired_differences`, with
    ``places`` decimals and a sign."""
    return format_difference(row["difference"], row["low"], row["high"], f"+.{places}f")


def paired_difference(frame, column, first, second, by):
    """The one row of :func:`otcompanion.stats.paired_differences` of ``column`` between the
    runs with ``by == first`` and ``by == second``, paired on the repetition (seed 0)."""
    return stats.paired_differences(frame, [], ["repetition"], by, first, second,
                                    [column]).iloc[0]


def ot_minus_transformer(frame, by, columns, seed=0):
    """:func:`otcompanion.stats.paired_differences` of ``columns``, OT classifier minus
    Transformer, paired on the repetition (same data, same seeds) within each group of ``by``."""
    return stats.paired_differences(frame, by, ["repetition"], "model", OT, TRANSFORMER,
                                    columns, seed=seed)


def speed_up(frame, by, column, slower, faster, condition="model", seed=0):
    """Time of ``slower`` divided by time of ``faster`` per pair, per group of ``by``.

    The pairs are the runs of one repetition (same data, same seeds). The summary is the
    geometric mean of the ratios with the 95 % bootstrap interval of the mean log ratio,
    exponentiated: :math:`\\exp(\\overline{\\log(t_{slower}/t_{faster})})`. Pairs where either
    time is NaN (a model that never reached a target) are left out; a group without pairs has
    no row.

    Returns
    -------
    pandas.DataFrame
        Columns ``by``, ``pairs``, ``speed_up``, ``low``, ``high``.
    """
    # To stats at merge (the speed-up ratio). A condition with only NaN in ``column`` keeps its
    # column, so that its pairs are dropped rather than the pivot failing.
    wide = frame.pivot_table(index=[*by, "repetition"], columns=condition, values=column,
                             dropna=False).reindex(columns=[slower, faster])
    ratio = np.log(wide[slower] / wide[faster]).dropna()
    rows = []
    for keys, group in ratio.groupby(level=by):
        keys = keys if isinstance(keys, tuple) else (keys,)
        mean, low, high, n = stats.bootstrap_interval(group, seed=seed)
        rows.append({**dict(zip(by, keys)), "pairs": n, "speed_up": np.exp(mean),
                     "low": np.exp(low), "high": np.exp(high)})
    return pd.DataFrame(rows, columns=[*by, "pairs", "speed_up", "low", "high"])


def difference_table(differences, label, names, digits=3):
    """Paired differences (:func:`otcompanion.stats.paired_differences`) as text.

    The columns ``difference``, ``low`` and ``high`` become one column ``"<label> [95 % CI]"``
    (:func:`format_interval`), ``mean_first`` and ``mean_second`` are renamed by ``names``,
    and numbers are rounded to ``digits``.
    """
    table = differences.copy()
    table[f"{label} [95 % CI]"] = [format_interval(*values, digits=digits) for values in
                                   table[["difference", "low", "high"]].to_numpy()]
    return table.drop(columns=["difference", "low", "high"]).rename(columns=names).round(digits)


def with_speed_up(table, speed, by):
    """``table`` with the speed-ups of the same groups of ``by`` (from :func:`speed_up`) as a
    column ``"speed-up [95 % CI]"`` of text, ``"n/a"`` for a group without pairs."""
    speed = speed.assign(**{"speed-up [95 % CI]": [
        format_interval(*values, digits=1)
        for values in speed[["speed_up", "low", "high"]].to_numpy()]})
    return table.merge(speed[[*by, "speed-up [95 % CI]"]], on=by, how="left").fillna(
        {"speed-up [95 % CI]": "n/a"})


def model_difference_table(differences, speed, by):
    """Chapter 04's paired table: OT minus Transformer (:func:`ot_minus_transformer` of one
    quantity) as text with the two means, and the speed-up (:func:`speed_up`) per group."""
    table = difference_table(differences, "OT − Transformer",
                             {"mean_first": "OT mean", "mean_second": "Transformer mean"})
    return with_speed_up(table.drop(columns="quantity"), speed, by)


def interval_outcomes(differences, threshold, claim):
    """:func:`otcompanion.experiments.interval_outcome` of every row's ``low`` and ``high``:
    ``"support"``, ``"contradict"`` or ``"undecided"`` for a claim that the quantity is
    ``claim`` (``"above"`` or ``"below"``) ``threshold``."""
    return [experiments.interval_outcome(low, high, threshold, claim)
            for low, high in differences[["low", "high"]].to_numpy()]


def traced_epoch_ratio(traced, untraced, on=("n_classes", "repetition"), seed=0):
    """Time per epoch of traced fits divided by that of untraced fits of the same runs.

    ``traced`` and ``untraced`` hold one row per fit with ``fit_seconds`` and ``epochs_run``,
    paired on the columns ``on``. The ratio is the geometric mean over the pairs, with the
    95 % bootstrap interval of the mean log ratio, exponentiated.

    Returns
    -------
    tuple (ratio, low, high, pairs) or None
        None when no run was fitted both ways.
    """
    per_epoch = traced.merge(untraced, on=list(on), suffixes=("_traced", ""))
    if not len(per_epoch):
        return None
    ratio = np.log((per_epoch["fit_seconds_traced"] / per_epoch["epochs_run_traced"])
                   / (per_epoch["fit_seconds"] / per_epoch["epochs_run"]))
    mean, low, high, n = stats.bootstrap_interval(ratio, seed=seed)
    return np.exp(mean), np.exp(low), np.exp(high), n


def budget_verdicts(histories, budgets, task_names, patience, target_accuracy, seed=0):
    """The pretraining verdict recomputed at shorter budgets from the same runs.

    Each budget cuts the runs' histories to the runs that budget would have trained
    (:func:`otcompanion.experiments.budget_summaries`), pools the levels
    (:func:`otcompanion.experiments.pretraining_differences`) and applies
    :func:`otcompanion.pretrain.pretraining_verdict` per task and condition.

    Returns
    -------
    list of dict
        Per budget, in the order of ``budgets``: ``budget`` and the verdict's dict.
    """
    checks = []
    for budget in budgets:
        cut = experiments.budget_summaries(histories, budget, patience=patience,
                                           target_accuracy=target_accuracy)
        cut["setup"] = cut["n_classes"].map(task_names)
        differences = experiments.pretraining_differences(
            cut, ["epochs_to_target_capped", "val_accuracy"], baseline="unpretrained",
            pool_levels=True, seed=seed)
        differences["setup"] = differences["n_classes"].map(task_names)
        checks.append({"budget": budget, **pretrain.pretraining_verdict(
            differences, cell=("setup", "condition"))})
    return checks
