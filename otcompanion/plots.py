"""The book's figures (seaborn), styled in one place so chapters stay free of styling code.

Colours follow the sorted class names, so a class has the same colour in every figure.

Sizes are chosen for the rendered page, not for the notebook: a figure is at most
:data:`BOOK_WIDTH` inches wide at :data:`DPI` dots per inch (605 px), so the book's text column
(about 760 px on a desktop) shows it at its own size, and every text in it, tick labels
included, is :data:`FONT_SIZE` points, :data:`FONT_SIZE` x :data:`DPI` / 72 = 16 px. On a
390 px phone a figure is at most 342 px wide, so a full-width figure is scaled by 342 / 605 and
its tick labels are still 9 px. Multi-panel figures therefore wrap into at most three panels
per row, and put their legends above the panels instead of to their right.
"""

from __future__ import annotations

import importlib

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns

from otcompanion import stats

PALETTE = "colorblind"
#: Resolution of every figure (dots per inch): one figure pixel is one CSS pixel of the page.
DPI = 96
#: Width of a full-width figure, in inches (605 px at :data:`DPI`).
BOOK_WIDTH = 6.3
#: Size of every text of a figure (tick labels, axis labels, titles, legends), in points.
FONT_SIZE = 12


#: Names that moved to :mod:`otcompanion.chapter`, still importable from here.
_MOVED = {"glue_value": "glue", "glue_figure": "glue_figure"}


def __getattr__(name):
    # glue_value and glue_figure live in otcompanion.chapter, which imports this module.
    if name in _MOVED:
        return getattr(importlib.import_module("otcompanion.chapter"), _MOVED[name])
    raise AttributeError(f"module 'otcompanion.plots' has no attribute {name!r}")


def _order(frame, column):
    return sorted(frame[column].unique())


def book_rc():
    """The matplotlib settings of the book's figures (sizes in points, see the module text)."""
    return {"figure.dpi": DPI, "savefig.dpi": DPI, "font.size": FONT_SIZE,
            "axes.titlesize": FONT_SIZE, "axes.labelsize": FONT_SIZE,
            "xtick.labelsize": FONT_SIZE, "ytick.labelsize": FONT_SIZE,
            "legend.fontsize": FONT_SIZE, "legend.title_fontsize": FONT_SIZE,
            "figure.titlesize": FONT_SIZE}


def use_book_style():
    """Apply the book's seaborn theme, font sizes and figure resolution (:func:`book_rc`)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, rc=book_rc())


def _legend_columns(labels, width=None):
    """How many legend entries fit side by side in ``width`` inches (12 pt text)."""
    width = BOOK_WIDTH if width is None else width
    longest = max((len(str(label)) for label in labels), default=1)
    per_entry = (longest * 0.55 * FONT_SIZE + 40) / 72  # inches: text plus handle and gap
    return max(1, min(len(labels), int(0.95 * width // per_entry)))


def _legend_above(grid, title=None):
    """Move a FacetGrid's legend from the right of the panels to above them (no extra width)."""
    if grid.legend is None:
        return
    texts = [text.get_text() for text in grid.legend.get_texts()]
    n_entries = len(texts)
    columns = n_entries if n_entries <= 3 else -(-n_entries // 2)
    columns = min(columns, _legend_columns(texts))
    sns.move_legend(grid, "lower center", bbox_to_anchor=(0.5, 1.0), ncol=columns,
                    frameon=False, title=title)
    grid.figure.tight_layout()


def fit_width(figure, width=None, iterations=6):
    """Shrink ``figure`` (keeping its shape) until its saved image, cropped to what is drawn as
    the book's notebooks save figures (``bbox_inches="tight"``), is at most ``width`` inches
    wide, default :data:`BOOK_WIDTH`. Texts keep their size in points. Returns ``figure``."""
    width = BOOK_WIDTH if width is None else width
    target = width - 0.25  # the tight crop adds 0.1 inch of padding on each side, and rounding
    previous = None
    for _ in range(iterations):
        figure.draw_without_rendering()  # runs the layout engine, as saving does
        drawn = figure.get_tightbbox(figure.canvas.get_renderer()).width
        if drawn <= target * 1.01:
            break
        if previous is not None and drawn >= previous[1]:
            # Texts wider than the target do not shrink with the figure: keep the last size
            # that helped rather than squash the panels.
            figure.set_size_inches(*previous[0])
            break
        previous = (figure.get_size_inches().copy(), drawn)
        scale = target / drawn
        figure.set_size_inches(*(figure.get_size_inches() * scale))
        if figure.get_layout_engine() is None:
            figure.tight_layout()
    return figure


def _panel_size(n_columns, width=None, aspect=1.0, largest=3.2):
    """Height of one panel so that ``n_columns`` panels fill ``width`` inches."""
    width = BOOK_WIDTH if width is None else width
    return min(largest, 0.85 * width / n_columns / aspect)


def token_scatter(frame, x="x1", y="x2", hue="class", row=None, col=None, height=None,
                  title=None, equal_axes=True, col_wrap=None, aspect=1.0, share="all"):
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
    height : float, optional
        Height of one panel in inches; by default the panels of a row fill :data:`BOOK_WIDTH`.
    equal_axes : bool
        Same scale on both axes, so distances read correctly.
    col_wrap : int, optional
        Wrap the ``col`` facets into rows of this many panels (not with ``row``); by default
        three when there are more than three and no ``row``.
    aspect : float
        Width over height of one panel.
    share : {"all", "row", "col", "none"}
        Which panels share their axes' ranges.

    Returns
    -------
    seaborn.FacetGrid
    """
    if share not in ("all", "row", "col", "none"):
        raise ValueError(f"share must be 'all', 'row', 'col' or 'none', got {share!r}.")
    n_columns = frame[col].nunique() if col else 1
    if col_wrap is None and row is None and n_columns > 3:
        col_wrap = 3  # at most three panels per row keep the text legible on a phone
    if col_wrap:
        n_columns = min(col_wrap, n_columns)
    if height is None:
        height = _panel_size(n_columns, aspect=aspect)
    shared = {"all": True, "none": False}.get(share, share)
    grid = sns.relplot(data=frame, x=x, y=y, hue=hue, hue_order=_order(frame, hue), row=row,
                       col=col, col_wrap=col_wrap, height=height, aspect=aspect,
                       s=10, alpha=0.6, linewidth=0, palette=PALETTE,
                       facet_kws={"margin_titles": row is not None, "sharex": shared,
                                  "sharey": shared})
    def template(column):
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        return f"{{{'col' if column == col else 'row'}_var}} " * numeric + \
            f"{{{'col' if column == col else 'row'}_name}}"

    grid.set_titles(col_template=template(col) if col else "",
                    row_template=template(row) if row else "")
    if equal_axes:
        for ax in grid.axes.flat:
            ax.set_aspect("equal", adjustable="box")
    _legend_above(grid, title=None)
    for handle in grid.legend.legend_handles if grid.legend is not None else ():
        handle.set_alpha(1)
    if title:
        grid.figure.suptitle(title, y=1.02)
    fit_width(grid.figure)
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


def feature_boxes(frame, x, y, hue="class", title=None, height=None, aspect=None):
    """Horizontal box plots of a value (``x``) per group (``y``, e.g. each column of a table),
    split by ``hue`` (the class).

    By default the figure is :data:`BOOK_WIDTH` wide and a quarter of an inch high per group.
    """
    if height is None:
        height = max(3.0, 0.25 * frame[y].nunique())
    if aspect is None:
        aspect = 0.7 * BOOK_WIDTH / height
    grid = sns.catplot(data=frame, x=x, y=y, hue=hue, hue_order=_order(frame, hue), kind="box",
                       orient="h", height=height,
                       aspect=aspect, palette=PALETTE, fliersize=1.5, linewidth=0.8)
    _legend_above(grid)
    if title:
        grid.figure.suptitle(title, y=1.02)
    fit_width(grid.figure)
    return grid


def _class_colours(labels):
    classes = sorted(np.unique(labels).tolist())
    return classes, dict(zip(classes, sns.color_palette(PALETTE, len(classes))))


def score_boxes(frame, x, y, col, order=None, col_wrap=2, log_scale=(), height=None):
    """Horizontal box plots of several scores (one panel per ``col`` value) of several models.

    Parameters
    ----------
    frame : DataFrame
        Long table: one row per run and score, with the ``x`` (value), ``y`` (e.g. the model)
        and ``col`` (e.g. the score's name) columns.
    order : list, optional
        Order of the ``y`` values, top to bottom (default: sorted).
    col_wrap : int
        Panels per row; the ``y`` labels are written once per row.
    log_scale : sequence of str
        ``col`` values whose panel has a logarithmic axis (e.g. fit times).
    height : float, optional
        Height of one row of panels in inches (default: a third of an inch per ``y`` value).

    Returns
    -------
    matplotlib.figure.Figure
    """
    panels = list(dict.fromkeys(frame[col]))
    order = order or _order(frame, y)
    n_columns = min(col_wrap, len(panels))
    n_rows = -(-len(panels) // n_columns)
    height = height or max(1.8, 0.33 * len(order) + 0.5)
    figure, axes = plt.subplots(n_rows, n_columns, figsize=(BOOK_WIDTH, height * n_rows),
                                sharey=True, squeeze=False, constrained_layout=True)
    for ax, panel in zip(axes.flat, panels):
        sns.boxplot(data=frame[frame[col] == panel], x=x, y=y, order=order, color="C0",
                    fliersize=2, linewidth=0.8, ax=ax, log_scale=panel in log_scale)
        ax.set_title(str(panel))
        ax.set_xlabel("")
        ax.set_ylabel("")
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    return fit_width(figure)


def training_curves(history, best_epoch=None, title=None, height=None):
    """Loss and accuracy per epoch of training runs, training and validation side by side.

    Parameters
    ----------
    history : DataFrame or dict
        One row per epoch with ``epoch``, ``train_loss``, ``val_loss`` and
        ``{train,val}_{token,instance}_accuracy`` columns, e.g.
        :attr:`otcompanion.attention.TransformerFit.history`; or a dict ``{name: (history,
        best_epoch)}`` of several runs, drawn one row of panels per run (named on the left).
    best_epoch : int, optional
        Marked by a vertical line (the epoch whose weights early stopping restored); with a
        dict of runs, every run has its own.
    height : float, optional
        Height of a row of panels in inches (default: three square-ish panels across
        :data:`BOOK_WIDTH`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    runs = history if isinstance(history, dict) else {None: (history, best_epoch)}
    quantities = ["loss", "token accuracy", "instance accuracy"]
    height = height or 0.8 * BOOK_WIDTH / len(quantities)
    figure, axes = plt.subplots(len(runs), len(quantities),
                                figsize=(BOOK_WIDTH, height * len(runs) + 0.5), sharex=True,
                                squeeze=False, constrained_layout=True)
    for r, (name, (run, best)) in enumerate(runs.items()):
        long = run.melt(id_vars="epoch", var_name="series", value_name="value").dropna()
        long["split"] = long["series"].str.split("_").str[0].map(
            {"train": "training", "val": "validation"})
        long["quantity"] = long["series"].str.split("_", n=1).str[1].str.replace("_", " ")
        for ax, quantity in zip(axes[r], quantities):
            sns.lineplot(data=long[long["quantity"] == quantity], x="epoch", y="value",
                         hue="split", hue_order=["training", "validation"], ax=ax,
                         linewidth=1, legend=False)
            if best is not None:
                ax.axvline(best, color="0.3", linestyle=":", linewidth=1)
            ax.set_title(quantity if r == 0 else "")
            ax.set_ylabel(name if (name is not None and ax is axes[r, 0]) else "")
            if r < len(runs) - 1:
                ax.set_xlabel("")
        axes[r, 0].set_yscale("log")
        # Decades only: minor labels (2x10^-1, 3x10^-1, ...) collide on a short axis.
        axes[r, 0].yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    colours = sns.color_palette(PALETTE, 2)
    handles = [plt.Line2D([], [], color=colour, linewidth=1.5) for colour in colours]
    figure.legend(handles, ["training", "validation"], loc="outside upper center", ncol=2,
                  frameon=False)
    if title:
        figure.suptitle(title)
    return fit_width(figure)


def panel_row(n_panels, aspect=1.0):
    """A figure of ``n_panels`` axes side by side, :data:`BOOK_WIDTH` wide (at most 3.2 inches
    per panel), for the functions that draw into an ``ax``.

    Returns
    -------
    (matplotlib.figure.Figure, list of matplotlib.axes.Axes)
    """
    height = _panel_size(n_panels, aspect=aspect)
    figure, axes = plt.subplots(1, n_panels, figsize=(height * aspect * n_panels / 0.92, height),
                                squeeze=False, constrained_layout=True)
    return figure, list(axes[0])


def panel_legend(figure, axes):
    """One legend above a :func:`panel_row` figure instead of one inside every panel, where it
    would cover data. Takes the entries of the panel that has the most."""
    handles, labels = max((ax.get_legend_handles_labels() for ax in axes),
                          key=lambda entries: len(entries[1]))
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    if labels:
        figure.legend(handles, labels, loc="outside upper center",
                      ncol=_legend_columns(labels), frameon=False)
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
    ax.legend(loc="best", handlelength=1.2, borderpad=0.3, labelspacing=0.3)
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
    labelled = set()
    for i in chosen:
        colour = colours[point_labels[i]]
        ax.plot(points[:, i, 0], points[:, i, 1], color=colour, alpha=0.5, linewidth=0.7)
        ax.scatter(points[0, i, 0], points[0, i, 1], facecolors="none", edgecolors=colour, s=14)
        label = None if point_labels[i] in labelled else f"class {point_labels[i]}"
        labelled.add(point_labels[i])
        ax.scatter(points[-1, i, 0], points[-1, i, 1], color=colour, s=10, zorder=3, label=label)
    ax.set_aspect("equal", adjustable="datalim")
    if title:
        ax.set_title(title)
    return ax


def attention_heads(weights, row_labels=None, title=None, size=None):
    """Heat maps of attention matrices: one row of panels per entry of ``weights``.

    The columns are the heads, numbered on top; all panels share one colour scale.

    Parameters
    ----------
    weights : array-like of shape (n_rows, H, T, T)
        Row-stochastic attention weights, e.g. one instance's heads at several epochs.
    row_labels : sequence of str, optional
        One label per row (e.g. ``"epoch 0"``), written left of the row.
    size : float, optional
        Side of one panel in inches; by default the heads fill :data:`BOOK_WIDTH` next to the
        row labels and the colour bar (at most 1.3).

    Returns
    -------
    matplotlib.figure.Figure
    """
    weights = np.asarray(weights)
    n_rows, n_heads = weights.shape[:2]
    label_width = 1.7 if row_labels is not None else 0.2
    if size is None:
        size = min(1.3, (BOOK_WIDTH - label_width - 1.1) / n_heads)
    figure, axes = plt.subplots(n_rows, n_heads, squeeze=False, constrained_layout=True,
                                figsize=(size * n_heads + label_width + 1.1,
                                         size * n_rows + 0.5 + (0.3 if title else 0)))
    figure.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
    vmax = float(weights.max())
    for r in range(n_rows):
        for h in range(n_heads):
            ax = axes[r, h]
            image = ax.imshow(weights[r, h], vmin=0, vmax=vmax, cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if r == 0:
                ax.set_title(f"{h + 1}" if n_heads > 4 else f"head {h + 1}")
        if row_labels is not None:
            axes[r, 0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center")
    figure.colorbar(image, ax=axes, shrink=min(1.0, 4 / n_rows + 0.2), pad=0.02,
                    label="attention weight")
    if n_heads > 4:
        figure.suptitle("head")
    if title:
        figure.suptitle(title if n_heads <= 4 else f"{title}\nhead")
    return fit_width(figure)


def metric_panels(frame, x, metrics, hue=None, col_wrap=3, height=None, title=None,
                  errorbar="interval", references=None):
    """One panel per metric: its mean (and ``errorbar``) against ``x``, one line per ``hue``.

    Parameters
    ----------
    frame : DataFrame
        One row per run (or per run and epoch), with ``x``, ``hue`` and the metric columns.
    metrics : list of str
        Columns to plot, one panel each.
    errorbar : "interval", tuple, str or None, default "interval"
        The band over runs: by default the book's 95 % interval of the mean
        (:func:`otcompanion.stats.bootstrap_interval`, the intervals of the tables, clipped to
        a bounded metric's range, :func:`otcompanion.stats.bounds_of`); otherwise seaborn's
        ``errorbar`` (None: no band).
    references : dict, optional
        Metric -> value: a dotted horizontal reference line in that panel.
    col_wrap : int
        Panels per row (at most three keep 9 px tick labels on a phone).
    height : float, optional
        Height of one panel in inches; by default the panels of a row fill :data:`BOOK_WIDTH`.

    Returns
    -------
    seaborn.FacetGrid
    """
    n_columns = min(col_wrap, len(metrics))
    if height is None:
        height = _panel_size(n_columns, aspect=1.15, largest=2.6)
    long = frame.melt(id_vars=[column for column in (x, hue) if column], value_vars=list(metrics),
                      var_name="metric", value_name="value")
    hue_order = sorted(frame[hue].unique()) if hue else None
    grid = sns.relplot(data=long, x=x, y="value", hue=hue, hue_order=hue_order, col="metric",
                       col_order=list(metrics), col_wrap=min(col_wrap, len(metrics)),
                       kind="line", errorbar=None if errorbar == "interval" else errorbar,
                       seed=0, marker="o" if frame[x].nunique() < 10
                       else None, height=height, aspect=1.15, facet_kws={"sharey": False},
                       palette=PALETTE if hue else None)
    grid.set_titles("{col_name}")
    grid.set_ylabels("")
    if errorbar == "interval":
        _interval_bands(grid, frame, x, hue, hue_order)
    for metric, ax in grid.axes_dict.items():
        if references and metric in references:
            ax.axhline(references[metric], color="0.3", linestyle=":", linewidth=1)
    _legend_above(grid)
    if title:
        grid.figure.suptitle(title, y=1.03)
    fit_width(grid.figure)
    return grid


def _interval_bands(grid, frame, x, hue, hue_order):
    """The 95 % interval of every line of :func:`metric_panels`, as a band in its colour."""
    by = [x, hue] if hue else [x]
    intervals = stats.interval_frame(frame, by, list(grid.axes_dict))
    colours = dict(zip(hue_order, sns.color_palette(PALETTE, len(hue_order)))) if hue else {}
    for metric, ax in grid.axes_dict.items():
        of_metric = intervals[intervals["metric"] == metric]
        for level in hue_order if hue else [None]:
            part = of_metric if level is None else of_metric[of_metric[hue] == level]
            part = part.dropna(subset=["low", "high"]).sort_values(x)
            ax.fill_between(part[x], part["low"], part["high"], alpha=0.2, linewidth=0,
                            color=colours.get(level, sns.color_palette()[0]))


def interval_panels(table, x, metrics, hue=None, col_wrap=3, height=None, title=None,
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
    col_wrap : int
        Panels per row (at most three keep 9 px tick labels on a phone).
    height : float, optional
        Height of one panel in inches; by default the panels of a row fill :data:`BOOK_WIDTH`.
        The figure is shrunk to :data:`BOOK_WIDTH` if it comes out wider.

    Returns
    -------
    matplotlib.figure.Figure
    """
    metrics = list(metrics)
    columns = min(col_wrap, len(metrics))
    rows = -(-len(metrics) // columns)
    if height is None:
        height = _panel_size(columns, aspect=1.25, largest=2.6)
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
        handles, labels = axes.flat[0].get_legend_handles_labels()
        figure.legend(handles, labels, title=hue, frameon=False, loc="outside upper center",
                      ncol=min(len(labels) if len(labels) <= 5 else -(-len(labels) // 2),
                               _legend_columns(labels)))
    if title:
        figure.suptitle(title)
    return fit_width(figure)


def paired_intervals(table, y, hue=None, col=None, reference=0.0, xlabel="difference",
                     title=None, height=2.6, width=3.6):
    """Paired differences and their 95 % intervals, one horizontal bar per row (a forest plot).

    Parameters
    ----------
    table : DataFrame
        One row per difference with ``difference``, ``low`` and ``high`` (as
        :func:`otcompanion.stats.paired_differences` returns them) and the ``y``, ``hue`` and
        ``col`` columns.
    y : str
        Column whose values are the rows of every panel (e.g. the level).
    hue : str, optional
        Column whose values are drawn side by side within a row, in colours.
    col : str, optional
        Column that splits the figure into panels.
    reference : float, default 0.0
        A dotted vertical line (no difference).
    xlabel, title : str, optional
    height, width : float
        Size of one panel, in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    missing = [name for name in ("difference", "low", "high", y, hue, col)
               if name is not None and name not in table.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the table; it has {list(table.columns)}.")
    panels = _order(table, col) if col else [None]
    rows = _order(table, y)
    hues = list(dict.fromkeys(table[hue])) if hue else [None]
    colours = dict(zip(hues, sns.color_palette(PALETTE, len(hues))))
    figure, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height),
                                sharey=True, squeeze=False, constrained_layout=True)
    step = 0.8 / len(hues)
    for ax, panel in zip(axes[0], panels):
        part = table if panel is None else table[table[col] == panel]
        for j, value in enumerate(hues):
            lines = part if value is None else part[part[hue] == value]
            positions = [rows.index(v) - 0.4 + step * (j + 0.5) for v in lines[y]]
            ax.errorbar(lines["difference"], positions,
                        xerr=[lines["difference"] - lines["low"],
                              lines["high"] - lines["difference"]],
                        fmt="o", markersize=4, capsize=2, color=colours[value],
                        label=None if value is None else str(value))
        ax.axvline(reference, color="0.3", linestyle=":", linewidth=1)
        ax.set_yticks(range(len(rows)), [str(v) for v in rows])
        if panel is not None:
            ax.set_title(str(panel))
    axes[0][0].invert_yaxis()  # first row on top (the axes share y)
    axes[0][0].set_ylabel(y)
    figure.supxlabel(xlabel)  # once for all panels: a long label does not fit under each
    if hue:  # below the panels, so that it hides no interval
        handles, labels = axes[0][0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside lower center",
                      ncols=min(len(hues), 3, _legend_columns(labels)))
    if title:
        figure.suptitle(title)
    return fit_width(figure)
