"""The book's figures (seaborn), styled in one place so chapters stay free of styling code.

Colours follow the sorted class names, so a class has the same colour in every figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
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
