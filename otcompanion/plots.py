"""The book's figures (seaborn), styled in one place so chapters stay free of styling code.

Colours follow the sorted class names, so a class has the same colour in every figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

PALETTE = "colorblind"


def _order(frame, column):
    return sorted(frame[column].unique())


def use_book_style():
    """Apply the book's seaborn theme and a fixed figure resolution."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE,
                  rc={"figure.dpi": 96, "savefig.dpi": 96})


def token_scatter(frame, x="x1", y="x2", hue="class", row=None, col=None, height=2.6,
                  title=None, equal_axes=True):
    """Scatter plot of tokens (one point per token), faceted by ``row`` and ``col``.

    Parameters
    ----------
    frame : DataFrame
        One row per token, e.g. from :func:`otcompanion.data.tokens_to_frame`.
    x, y : str
        Columns on the axes.
    hue : str
        Column that colours the points (the class).
    row, col : str, optional
        Columns that split the figure into facets.
    equal_axes : bool
        Same scale on both axes, so distances read correctly.

    Returns
    -------
    seaborn.FacetGrid
    """
    grid = sns.relplot(data=frame, x=x, y=y, hue=hue, hue_order=_order(frame, hue), row=row,
                       col=col, height=height,
                       s=10, alpha=0.6, linewidth=0, palette=PALETTE,
                       facet_kws={"margin_titles": True})
    if equal_axes:
        for ax in grid.axes.flat:
            ax.set_aspect("equal", adjustable="box")
    if title:
        grid.figure.suptitle(title, y=1.02)
    return grid


def class_balance(frame, x="class", hue=None, title=None, ax=None):
    """Bar chart of instance counts per class (``frame`` has one row per instance)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3))
    hue = hue or x
    sns.countplot(data=frame, x=x, hue=hue, hue_order=_order(frame, hue), palette=PALETTE,
                  legend=hue != x, ax=ax)
    ax.set_ylabel("instances")
    if title:
        ax.set_title(title)
    return ax


def feature_boxes(frame, x, y, hue="class", title=None, height=6.0, aspect=1.2):
    """Horizontal box plots of a value (``x``) per group (``y``, e.g. each column of a table),
    split by ``hue`` (the class)."""
    grid = sns.catplot(data=frame, x=x, y=y, hue=hue, hue_order=_order(frame, hue), kind="box",
                       orient="h", height=height,
                       aspect=aspect, palette=PALETTE, fliersize=1.5, linewidth=0.8)
    if title:
        grid.figure.suptitle(title, y=1.02)
    return grid


def _class_colours(labels):
    classes = sorted(np.unique(labels).tolist())
    return classes, dict(zip(classes, sns.color_palette(PALETTE, len(classes))))


def training_curves(history, best_epoch=None, title=None, height=2.8):
    """Loss and accuracy per epoch of a training run, training and validation side by side.

    Parameters
    ----------
    history : DataFrame
        One row per epoch with ``epoch``, ``train_loss``, ``val_loss`` and
        ``{train,val}_{token,instance}_accuracy`` columns, e.g.
        :attr:`otcompanion.attention.TransformerFit.history`.
    best_epoch : int, optional
        Marked by a vertical line (the epoch whose weights early stopping restored).

    Returns
    -------
    matplotlib.figure.Figure
    """
    long = history.melt(id_vars="epoch", var_name="series", value_name="value").dropna()
    long["split"] = long["series"].str.split("_").str[0].map(
        {"train": "training", "val": "validation"})
    long["quantity"] = long["series"].str.split("_", n=1).str[1].str.replace("_", " ")
    quantities = ["loss", "token accuracy", "instance accuracy"]
    figure, axes = plt.subplots(1, 3, figsize=(3.3 * height, height), sharex=True)
    for ax, quantity in zip(axes, quantities):
        sns.lineplot(data=long[long["quantity"] == quantity], x="epoch", y="value", hue="split",
                     hue_order=["training", "validation"], ax=ax, linewidth=1,
                     legend=ax is axes[0])
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.3", linestyle=":", linewidth=1)
        ax.set_title(quantity)
        ax.set_ylabel("")
    if quantities[0] == "loss":
        axes[0].set_yscale("log")
    if title:
        figure.suptitle(title, y=1.03)
    return figure


def token_map(start, end, labels, ax=None, title=None, max_arrows=None, seed=0):
    """Arrows from every token's start to its end position (first two features).

    Parameters
    ----------
    start, end : array-like of shape (n, T, d) or (n, d)
        The same tokens at the start and at the end of a trajectory.
    labels : array-like of shape (n,)
        Instance labels; arrows are coloured by class.
    max_arrows : int, optional
        Draw a random subset of at most this many arrows (seeded by ``seed``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    start, end = np.asarray(start), np.asarray(end)
    if start.ndim == 2:
        start, end = start[:, None], end[:, None]
    point_labels = np.repeat(np.asarray(labels), start.shape[1])
    start, end = start.reshape(-1, start.shape[-1]), end.reshape(-1, end.shape[-1])
    keep = np.arange(len(start))
    if max_arrows is not None and max_arrows < len(keep):
        keep = np.sort(np.random.default_rng(seed).choice(keep, max_arrows, replace=False))
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    classes, colours = _class_colours(point_labels)
    for c in classes:
        chosen = keep[point_labels[keep] == c]
        delta = end[chosen] - start[chosen]
        ax.quiver(start[chosen, 0], start[chosen, 1], delta[:, 0], delta[:, 1], angles="xy",
                  scale_units="xy", scale=1, color=colours[c], alpha=0.45, width=0.004,
                  headwidth=3, label=f"class {c}")
        ax.scatter(end[chosen, 0], end[chosen, 1], color=colours[c], s=6, zorder=3)
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def token_paths(trajectory, labels, ax=None, title=None, n_paths=40, seed=0):
    """Paths of a random sample of tokens through all recorded steps (first two features).

    Each path starts at a hollow circle (the start) and ends at a filled dot (the end).

    Parameters
    ----------
    trajectory : array-like of shape (n_steps, n, T, d) or (n_steps, n, d)
    labels : array-like of shape (n,)
    n_paths : int
        Number of token paths drawn, chosen at random (seeded by ``seed``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    steps = np.asarray(trajectory)
    if steps.ndim == 3:
        steps = steps[:, :, None]
    point_labels = np.repeat(np.asarray(labels), steps.shape[2])
    points = steps.reshape(len(steps), -1, steps.shape[-1])
    chosen = np.random.default_rng(seed).choice(points.shape[1],
                                                min(n_paths, points.shape[1]), replace=False)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    classes, colours = _class_colours(point_labels)
    for i in chosen:
        colour = colours[point_labels[i]]
        ax.plot(points[:, i, 0], points[:, i, 1], color=colour, alpha=0.5, linewidth=0.7)
        ax.scatter(points[0, i, 0], points[0, i, 1], facecolors="none", edgecolors=colour, s=14)
        ax.scatter(points[-1, i, 0], points[-1, i, 1], color=colour, s=10, zorder=3)
    ax.set_aspect("equal", adjustable="datalim")
    if title:
        ax.set_title(title)
    return ax


def attention_heads(weights, row_labels=None, title=None, size=1.3):
    """Heat maps of attention matrices: one row of panels per entry of ``weights``.

    Parameters
    ----------
    weights : array-like of shape (n_rows, H, T, T)
        Row-stochastic attention weights, e.g. one instance's heads at several epochs.
    row_labels : sequence of str, optional
        One label per row (e.g. ``"epoch 0"``), written left of the row.

    Returns
    -------
    matplotlib.figure.Figure
    """
    weights = np.asarray(weights)
    n_rows, n_heads = weights.shape[:2]
    figure, axes = plt.subplots(n_rows, n_heads, figsize=(size * n_heads, size * n_rows + 0.4),
                                squeeze=False)
    vmax = float(weights.max())
    for r in range(n_rows):
        for h in range(n_heads):
            ax = axes[r, h]
            image = ax.imshow(weights[r, h], vmin=0, vmax=vmax, cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if r == 0:
                ax.set_title(f"head {h + 1}", fontsize="small")
        if row_labels is not None:
            axes[r, 0].set_ylabel(row_labels[r], fontsize="small")
    figure.colorbar(image, ax=axes, shrink=0.8, pad=0.01, label="attention weight")
    if title:
        figure.suptitle(title, y=1.0)
    return figure


def metric_panels(frame, x, metrics, hue=None, col_wrap=4, height=2.2, title=None,
                  errorbar=("ci", 95), references=None):
    """One panel per metric: its mean (and ``errorbar``) against ``x``, one line per ``hue``.

    Parameters
    ----------
    frame : DataFrame
        One row per run (or per run and epoch), with ``x``, ``hue`` and the metric columns.
    metrics : list of str
        Columns to plot, one panel each.
    errorbar : tuple, str or None, default ("ci", 95)
        Seaborn's band over runs: by default the 95 % percentile-bootstrap interval of the mean
        (seeded, so figures are reproducible), the intervals of :mod:`otcompanion.stats`; it
        stays inside the range of the data, hence inside a bounded metric's bounds.
    references : dict, optional
        Metric -> value: a dotted horizontal reference line in that panel.

    Returns
    -------
    seaborn.FacetGrid
    """
    long = frame.melt(id_vars=[column for column in (x, hue) if column], value_vars=list(metrics),
                      var_name="metric", value_name="value")
    hue_order = sorted(frame[hue].unique()) if hue else None
    grid = sns.relplot(data=long, x=x, y="value", hue=hue, hue_order=hue_order, col="metric",
                       col_order=list(metrics), col_wrap=min(col_wrap, len(metrics)),
                       kind="line", errorbar=errorbar, seed=0, marker="o" if frame[x].nunique() < 10
                       else None, height=height, facet_kws={"sharey": False},
                       palette=PALETTE if hue else None)
    grid.set_titles("{col_name}")
    grid.set_ylabels("")
    for metric, ax in grid.axes_dict.items():
        if references and metric in references:
            ax.axhline(references[metric], color="0.3", linestyle=":", linewidth=1)
    if title:
        grid.figure.suptitle(title, y=1.03)
    return grid


def interval_panels(table, x, metrics, hue=None, col_wrap=4, height=2.2, title=None,
                    references=None, logx=False):
    """One panel per metric: precomputed means and intervals against ``x``, one line per ``hue``.

    The statistics come from the caller (e.g. :func:`otcompanion.experiments.interval_table`,
    which clips the intervals of bounded metrics to their range), so each panel can have its
    own bounds; this function only draws them: the mean as a line with markers, the interval as
    a band.

    Parameters
    ----------
    table : DataFrame
        Long format: columns ``x``, ``metric``, ``mean``, ``low``, ``high`` (and ``hue``).
    metrics : list of str
        Values of ``metric`` to plot, one panel each.
    references : dict, optional
        Metric -> value: a dotted horizontal reference line in that panel.
    logx : bool, default False
        Logarithmic x axis (base 2).

    Returns
    -------
    matplotlib.figure.Figure
    """
    metrics = list(metrics)
    columns = min(col_wrap, len(metrics))
    rows = -(-len(metrics) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(height * 1.25 * columns, height * rows),
                                squeeze=False, constrained_layout=True)
    levels = _order(table, hue) if hue else [None]
    colours = dict(zip(levels, sns.color_palette(PALETTE, len(levels))))
    for ax, metric in zip(axes.flat, metrics):
        rows_of_metric = table[table["metric"] == metric]
        for level in levels:
            part = rows_of_metric if level is None else rows_of_metric[
                rows_of_metric[hue] == level]
            part = part.sort_values(x)
            ax.plot(part[x], part["mean"], marker="o", markersize=4, color=colours[level],
                    label=None if level is None else str(level))
            ax.fill_between(part[x], part["low"], part["high"], color=colours[level],
                            alpha=0.2, linewidth=0)
        if references and metric in references:
            ax.axhline(references[metric], color="0.3", linestyle=":", linewidth=1)
        if logx:
            ax.set_xscale("log", base=2)
        ax.set_title(metric)
        ax.set_xlabel(x)
    for ax in axes.flat[len(metrics):]:
        ax.set_visible(False)
    if hue:
        axes.flat[len(metrics) - 1].legend(title=hue, fontsize="small", frameon=False,
                                           loc="center left", bbox_to_anchor=(1.02, 0.5))
    if title:
        figure.suptitle(title)
    return figure
