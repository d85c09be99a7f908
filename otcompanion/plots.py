"""The book's figures (seaborn and matplotlib), styled in one place so chapters stay free of
styling code.

Colours follow the sorted class or series names, so a class has the same colour in every
figure; every series also has its own marker and line style (:func:`series_styles`), so that
no series is told apart by colour alone. The colours are the Okabe-Ito palette (seaborn's
``"colorblind"``), which readers with any common colour-vision deficiency can tell apart.
Panel titles and axis labels are words with units, from one mapping of the package's column
names (:data:`LABELS`, :func:`label`).

Sizes are chosen for the rendered page, not for the notebook: a figure is at most
:data:`BOOK_WIDTH` inches wide at :data:`DPI` CSS pixels per inch (605 px), so the book's text
column (about 760 px on a desktop) shows it at its own size, and every text in it, tick labels
included, is :data:`FONT_SIZE` points, :data:`FONT_SIZE` x :data:`DPI` / 72 = 16 px. The image
is stored at :data:`PIXEL_RATIO` times that resolution (:func:`figure_image`), so it is sharp on
high-density screens. On a 390 px phone a figure is shown at most :data:`PHONE_WIDTH` = 358 px
wide, so a full-width figure is scaled by 358 / 605 and its tick labels are still 9 px.
Multi-panel figures therefore wrap into at most three panels per row, and put their legends
above the panels, outside the data. :func:`layout_problems` checks a drawn figure against
these rules (no two texts overlap, no text over another panel or a legend over a panel, every
text at least :data:`SMALLEST_TEXT_PX` CSS pixels on a phone), and
:func:`otcompanion.chapter.glue_figure` refuses a figure that breaks them.
"""

from __future__ import annotations

import importlib
import io
import itertools

import matplotlib.collections
import matplotlib.colors
import matplotlib.legend
import matplotlib.pyplot as plt
import matplotlib.text
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns

from otcompanion import stats

PALETTE = "colorblind"
#: CSS pixels per inch of a figure as the page shows it: one figure inch is 96 CSS px.
DPI = 96
#: Device pixels per CSS pixel of the stored images (2: sharp on high-density screens).
PIXEL_RATIO = 2
#: Width of a full-width figure, in inches (605 px at :data:`DPI`).
BOOK_WIDTH = 6.3
#: Size of every text of a figure (tick labels, axis labels, titles, legends), in points.
FONT_SIZE = 12
#: Width at which a figure is shown on a 390 px wide phone (the page's margins taken off), px.
PHONE_WIDTH = 358
#: The smallest text a figure may show on that phone, in CSS px.
SMALLEST_TEXT_PX = 9
#: Markers and line styles of the series of a figure, in the order of :func:`series_styles`.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 2)), (0, (8, 2)),
              (0, (3, 1, 3, 3)))

#: Readable names, with units, of the columns the chapters plot (panel titles, axis labels,
#: legend titles). A column not listed is shown with its underscores as spaces (:func:`label`).
LABELS = {
    # Thesis trajectory metrics (Quadrio & Candelieri, 2025, Section 3.3) and the book's own.
    "transformer_distance": "transformer distance TD",
    "wasserstein": "Wasserstein distance W",
    "optimality": "optimality W / TD",
    "monge_gap": "Monge gap (thesis)",
    "uc_monge_gap": "Monge gap (Uscidda & Cuturi)",
    "matching": "matching (share of tokens)",
    "step_cost": "step cost",
    "efficiency": "efficiency TD / step cost",
    "equal_length_efficiency": "efficiency of equal straight paths",
    "straightness": "straightness",
    "w2_path_efficiency": "W2 path efficiency",
    # Attention as a coupling (Sander et al., 2022).
    "column_deviation": "column marginal: TV from uniform",
    "tv_to_sinkhorn": "TV distance to the Sinkhorn plan",
    "relevant_attention": "attention on relevant tokens",
    # Accuracy, losses and cost.
    "instance_accuracy": "test instance accuracy",
    "token_accuracy": "test token accuracy",
    "test_accuracy": "test accuracy",
    "val_accuracy": "validation instance accuracy",
    "val_loss": "validation loss",
    "log10_val_loss": "validation loss (log10)",
    "train_loss": "training loss",
    "test_loss": "test loss",
    "test_error": "test error",
    "loss_gap": "test − training loss",
    "error_gap": "test − training error",
    "fit_seconds": "fit time (s)",
    "cpu_seconds": "CPU time of the fit (s)",
    "cpu_seconds_to_target": "CPU time to target (s)",
    "alignment_seconds": "OT alignment time (s)",
    "seconds_to_target": "time to target (s)",
    "epochs_to_target": "epochs to target",
    "epochs_to_target_capped": "epochs to target (capped)",
    "epochs_run": "epochs run",
    "best_epoch": "best epoch",
    "reached": "share reaching the target",
    "reached target": "share reaching the target",
    "head_accuracy_on_inputs": "head accuracy on the inputs",
    "ntk_margin_init": "NTK margin at initialization",
    "distance": "distance from initialization",
    "head_movement": "movement per head",
    "roc_auc": "ROC AUC",
    "balanced_accuracy": "balanced accuracy",
    "layer_norm_jacobian": "LayerNorm Jacobian norm",
    "residual_optimality": "optimality of the residual",
    "translation_share": "share explained by class translations",
    "mean_w2": "mean W2 between classes",
    "min_w2": "smallest W2 between classes",
    "max_w2": "largest W2 between classes",
    "fitted_mean_w2": "fitted mean W2",
    "n_classes": "classes",
    "p_value": "p-value",
    "n_points": "tokens",
    "batch_size_ot": "OT batch size",
    "lin_relative_distance": "distance to the linearization (relative)",
    "key_query_std": "key and query initial scale",
    # Axes and groups.
    "level": "difficulty level",
    "epoch": "epoch",
    "step": "training step",
    "H": "heads H",
    "n_heads": "heads H",
    "n_train": "training instances n",
    "train_tokens": "training tokens",
    "n_tokens": "tokens per instance T",
    "x1": "feature 1",
    "x2": "feature 2",
    "x3": "feature 3",
    "f1": "feature 1",
    "f2": "feature 2",
}


def label(name):
    """The readable name of a column for a figure: :data:`LABELS` or the name with spaces.

    Parameters
    ----------
    name : object
        A column name, e.g. ``"monge_gap"``.

    Returns
    -------
    str
        E.g. ``"Monge gap (thesis)"``; ``"my_column"`` becomes ``"my column"``.
    """
    return LABELS.get(name, str(name).replace("_", " "))


#: Names that moved to :mod:`otcompanion.chapter`, still importable from here.
_MOVED = {"glue_value": "glue", "glue_figure": "glue_figure"}


def __getattr__(name):
    # glue_value and glue_figure live in otcompanion.chapter, which imports this module.
    if name in _MOVED:
        return getattr(importlib.import_module("otcompanion.chapter"), _MOVED[name])
    raise AttributeError(f"module 'otcompanion.plots' has no attribute {name!r}")


def _natural(value):
    """Sort key that puts numbers, also numbers written as text ("5", "10"), in numeric order
    before other labels."""
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def _order(frame, column):
    return sorted(frame[column].unique(), key=_natural)


def book_rc():
    """The matplotlib settings of the book's figures (sizes in points, see the module text)."""
    return {"figure.dpi": DPI, "savefig.dpi": DPI, "font.size": FONT_SIZE,
            "axes.titlesize": FONT_SIZE, "axes.labelsize": FONT_SIZE,
            "xtick.labelsize": FONT_SIZE, "ytick.labelsize": FONT_SIZE,
            "legend.fontsize": FONT_SIZE, "legend.title_fontsize": FONT_SIZE,
            "figure.titlesize": FONT_SIZE,
            # A y tick label at the top of a panel reaches half its height above the panel:
            # the title sits higher than that (matplotlib's default pad is 6 points).
            "axes.titlepad": FONT_SIZE}


def use_book_style():
    """Apply the book's seaborn theme, font sizes and figure resolution (:func:`book_rc`)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, rc=book_rc())


def series_styles(levels):
    """Colour, marker and line style of every series, so that series differ in two channels.

    Parameters
    ----------
    levels : sequence
        The series' names, in the order of the legend.

    Returns
    -------
    dict
        ``{level: {"color": ..., "marker": ..., "linestyle": ...}}``: the i-th level has the
        i-th colour of :data:`PALETTE`, of :data:`MARKERS` and of :data:`LINESTYLES`.
    """
    levels = list(levels)
    colours = sns.color_palette(PALETTE, max(len(levels), 1))
    return {level: {"color": colours[i % len(colours)], "marker": MARKERS[i % len(MARKERS)],
                    "linestyle": LINESTYLES[i % len(LINESTYLES)]}
            for i, level in enumerate(levels)}


def figure_image(figure):
    """The figure as the book stores it: a PNG at :data:`PIXEL_RATIO` x :data:`DPI`, cropped
    to what is drawn, that the page shows :data:`DPI` px per inch (its ``width`` metadata).

    Returns
    -------
    IPython.display.Image
    """
    from IPython.display import Image  # noqa: PLC0415 (optional: in a kernel)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI * PIXEL_RATIO, bbox_inches="tight")
    data = _palette_png(buffer.getvalue())
    # The PNG header (IHDR) holds the width and the height in pixels, at bytes 16-23.
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return Image(data=data, format="png", width=round(width / PIXEL_RATIO),
                 height=round(height / PIXEL_RATIO))


def _palette_png(data):
    """A PNG as an 8-bit palette PNG on white (256 colours, no dithering): a third to a half
    of the bytes of the RGBA image for the book's figures, which use few colours, so that a
    chapter page with sharp 2x figures stays light."""
    from PIL import Image as PILImage  # noqa: PLC0415 (Pillow comes with matplotlib)

    image = PILImage.open(io.BytesIO(data)).convert("RGBA")
    on_white = PILImage.new("RGB", image.size, "white")
    on_white.paste(image, mask=image.getchannel("A"))
    palette = on_white.quantize(colors=256, method=PILImage.Quantize.FASTOCTREE,
                                dither=PILImage.Dither.NONE)
    buffer = io.BytesIO()
    palette.save(buffer, format="png", optimize=True)
    return buffer.getvalue()


def _drawn_texts(figure):
    """Every non-empty text the figure draws, with its box in display pixels (figure.dpi).

    Recorded as matplotlib draws them (``Text.draw``), so that a tick label outside the view is
    left out and a text of several lines counts as one box.
    """
    renderer = figure.canvas.get_renderer()
    drawn = {}
    original = matplotlib.text.Text.draw

    def recording(text, renderer):
        if text.get_visible() and str(text.get_text()).strip():
            drawn[id(text)] = text
        return original(text, renderer)

    matplotlib.text.Text.draw = recording
    try:
        figure.draw(renderer)
    finally:
        matplotlib.text.Text.draw = original
    return renderer, list(drawn.values())


def _describe(text):
    words = " ".join(str(text.get_text()).split())
    return repr(words if len(words) <= 40 else words[:37] + "...")


def layout_problems(figure, shown_width_px=PHONE_WIDTH, tolerance_px=0.5):
    """What makes a figure hard to read, from matplotlib's layout of it.

    The figure is drawn (its layout engine runs, as when it is saved) and every non-empty text
    it draws is measured (its renderer extent). Three rules:

    - no two texts overlap (by more than ``tolerance_px`` CSS px in both directions);
    - no text lies over a panel other than its own (e.g. a tick label over the neighbouring
      panel), and no legend lies over any panel (legends go outside the data);
    - every text is at least :data:`SMALLEST_TEXT_PX` CSS px high when the figure, stored
      cropped to what is drawn and shown :data:`DPI` px per inch, is scaled down to
      ``shown_width_px`` (a figure narrower than that is not scaled up): a text of ``s``
      points is ``s`` x :data:`DPI` / 72 x min(1, ``shown_width_px`` / width) px.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
    shown_width_px : float, default :data:`PHONE_WIDTH`
        Width at which the figure is shown (358 px: a 390 px phone).
    tolerance_px : float, default 0.5
        Overlaps smaller than this, in CSS px, are not counted (anti-aliasing).

    Returns
    -------
    list of str
        One sentence per problem; empty when the figure reads on a phone.
    """
    figure = getattr(figure, "figure", figure)
    renderer, texts = _drawn_texts(figure)
    to_css = DPI / figure.dpi  # display pixels of the drawing -> CSS px of the page
    tolerance = tolerance_px / to_css
    problems = []
    crop = figure.get_tightbbox(renderer)  # inches, as bbox_inches="tight" saves it
    width_px = (crop.width + 0.2) * DPI  # plus the 0.1 inch of padding on each side
    scale = min(1.0, shown_width_px / width_px)
    small = sorted((text.get_fontsize() * DPI / 72 * scale, i) for i, text in enumerate(texts)
                   if text.get_fontsize() * DPI / 72 * scale < SMALLEST_TEXT_PX - 1e-9)
    if small:
        size_px, first = small[0]
        problems.append(f"{len(small)} text(s) are under {SMALLEST_TEXT_PX} px when the figure "
                        f"({width_px:.0f} px wide) is shown {shown_width_px:g} px wide, the "
                        f"smallest {_describe(texts[first])} at {size_px:.1f} px")
    boxes = [(text, text.get_window_extent(renderer)) for text in texts]

    def overlap(a, b):
        return (min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance
                and min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance)

    for (first, a), (second, b) in itertools.combinations(boxes, 2):
        if overlap(a, b):
            problems.append(f"texts {_describe(first)} and {_describe(second)} overlap")
    panels = [ax for ax in figure.get_axes() if ax.get_visible() and ax.axison]
    for text, box in boxes:
        owner = text.axes  # tick labels, titles, axis labels, in-axes legends
        for ax in panels:
            if ax is not owner and overlap(box, ax.bbox):
                problems.append(f"text {_describe(text)} lies over the panel "
                                f"{_describe(ax.title) if ax.get_title() else 'untitled'}")
    legends = [legend for legend in figure.findobj(matplotlib.legend.Legend)
               if legend.get_visible()]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in panels:
            if overlap(box, ax.bbox):
                problems.append("a legend lies over the panel "
                                f"{_describe(ax.title) if ax.get_title() else 'untitled'}")
    return problems


def check_layout(figure, name="the figure", shown_width_px=PHONE_WIDTH):
    """Raise ValueError listing :func:`layout_problems` of ``figure``, if it has any.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
    name : str
        How the error names the figure (e.g. its glue key).
    """
    problems = layout_problems(figure, shown_width_px=shown_width_px)
    if problems:
        raise ValueError(f"{name} does not read on a {shown_width_px:g} px wide screen: "
                         + "; ".join(problems) + ".")
    return figure


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
                    frameon=False, title=title, markerscale=2)  # scatter dots are small
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


def log_axis(ax, which="y"):
    """Put a logarithmic scale on an axis of ``ax`` with labels that do not collide: plain
    numbers at 1, 2 and 5 times the powers of ten where the data span less than a decade, at 1
    and 3 times them up to two decades, at the powers of ten only beyond, at about four evenly
    spaced round numbers where none of these gives two labels, and no labels at the minor
    ticks.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Call it after drawing the data (the labels depend on their range).
    which : {"x", "y"}

    Returns
    -------
    matplotlib.axes.Axes
    """
    if which not in ("x", "y"):
        raise ValueError(f"which must be 'x' or 'y', got {which!r}.")
    getattr(ax, f"set_{which}scale")("log")
    low, high = getattr(ax, f"get_{which}lim")()
    decades = np.log10(high / low) if low > 0 else np.inf
    axis = ax.xaxis if which == "x" else ax.yaxis
    # A label every 0.3 decade fits a panel only when it spans less than one decade.
    subs = (1.0,) if decades >= 2 else (1.0, 3.0) if decades >= 1 else (1.0, 2.0, 5.0)
    locator = matplotlib.ticker.LogLocator(base=10, subs=subs)
    if sum(low <= tick <= high for tick in locator.tick_values(low, high)) < 2:
        locator = matplotlib.ticker.MaxNLocator(4)  # a short range: round numbers in it
    axis.set_major_locator(locator)
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    return ax


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
    classes = _order(frame, hue)
    grid = sns.relplot(data=frame, x=x, y=y, hue=hue, hue_order=classes, style=hue,
                       style_order=classes, markers=list(MARKERS[:len(classes)]), row=row,
                       col=col, col_wrap=col_wrap, height=height, aspect=aspect,
                       s=10, alpha=0.6, linewidth=0, palette=PALETTE,
                       facet_kws={"margin_titles": row is not None, "sharex": shared,
                                  "sharey": shared})
    def template(column):
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        # The column's own name ("level 2"): a facet title has no room for a long label.
        name = str(column).replace("_", " ")
        return f"{name} " * numeric + f"{{{'col' if column == col else 'row'}_name}}"

    grid.set_titles(col_template=template(col) if col else "",
                    row_template=template(row) if row else "")
    grid.set_axis_labels(label(x), label(y))
    if equal_axes:
        for ax in grid.axes.flat:
            ax.set_aspect("equal", adjustable="box")
    _legend_above(grid, title=None)
    for handle in grid.legend.legend_handles if grid.legend is not None else ():
        handle.set_alpha(1)
    if title:
        grid.figure.suptitle(title, y=1.02)
    # The panels' own size (seaborn widened the figure for its legend on the right, which is
    # now above), laid out when drawn, after the equal aspect has shrunk the panels (titles of
    # a wrapped row would otherwise sit over the panels above).
    n_facets = frame[col].nunique() if col else 1
    n_rows = (-(-n_facets // col_wrap) if col_wrap else
              (frame[row].nunique() if row else 1))
    grid.figure.set_size_inches(height * aspect * min(n_facets, col_wrap or n_facets) + 0.4,
                                height * n_rows + 0.5)
    grid.figure.set_layout_engine("constrained")
    fit_width(grid.figure)
    return grid


def class_balance(frame, x="class", hue=None, title=None, ax=None):
    """Bar chart of instance counts per class (``frame`` has one row per instance)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    hue = hue or x
    sns.countplot(data=frame, x=x, hue=hue, hue_order=_order(frame, hue), palette=PALETTE,
                  legend=hue != x, ax=ax)
    ax.set_ylabel("instances")
    ax.set_xlabel(label(x))
    if ax.get_legend() is not None:  # above the bars, not over them
        texts = [text.get_text() for text in ax.get_legend().get_texts()]
        sns.move_legend(ax, "lower center", bbox_to_anchor=(0.5, 1.0), frameon=False,
                        title=None, ncol=_legend_columns(texts, width=4))
    if title:
        ax.set_title(title, pad=30 if ax.get_legend() is not None else None)
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
                    fliersize=2, linewidth=0.8, ax=ax)
        if panel in log_scale:
            log_axis(ax, "x")
        ax.set_title(_wrap(label(panel), BOOK_WIDTH / n_columns))
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
                         hue="split", hue_order=["training", "validation"], style="split",
                         style_order=["training", "validation"], ax=ax, linewidth=1.2,
                         legend=False)
            if best is not None:
                ax.axvline(best, color="0.3", linestyle=":", linewidth=1)
            ax.set_title(quantity if r == 0 else "")
            ax.set_ylabel(name if (name is not None and ax is axes[r, 0]) else "")
            ax.set_xlabel("epoch" if r == len(runs) - 1 else "")
        log_axis(axes[r, 0], "y")
    colours = sns.color_palette(PALETTE, 2)
    handles = [plt.Line2D([], [], color=colour, linewidth=1.5, linestyle=style)
               for colour, style in zip(colours, ("-", "--"))]
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
    if labels:  # in the order of their names (class 0, class 1, ...), not of drawing
        labels, handles = map(list, zip(*sorted(zip(labels, handles), key=lambda e: e[0])))
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    if labels:
        # Markers of scatter plots drawn larger than in the data, where they are small.
        scatter = all(isinstance(handle, matplotlib.collections.PathCollection)
                      for handle in handles)
        figure.legend(handles, labels, loc="outside upper center", markerscale=2.5 if scatter
                      else 1.0, ncol=_legend_columns(labels), frameon=False)
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
        ax.scatter(end[chosen, 0], end[chosen, 1], color=colours[c], s=8, zorder=3,
                   marker=MARKERS[classes.index(c) % len(MARKERS)])
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(label("x1"))
    ax.set_ylabel(label("x2"))
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
        name = None if point_labels[i] in labelled else f"class {point_labels[i]}"
        labelled.add(point_labels[i])
        ax.scatter(points[-1, i, 0], points[-1, i, 1], color=colour, s=12, zorder=3,
                   label=name, marker=MARKERS[classes.index(point_labels[i]) % len(MARKERS)])
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(label("x1"))
    ax.set_ylabel(label("x2"))
    if title:
        ax.set_title(title)
    return ax


def attention_heads(weights, row_labels=None, title=None, size=None, center=None):
    """Heat maps of attention matrices: one row of panels per entry of ``weights``.

    The columns are the heads, numbered on top; all panels share one colour scale, a diverging
    one centred on uniform attention: white is a weight of ``center`` (default :math:`1/T`,
    every token drawing equally from all :math:`T` tokens), red more, blue less, so that
    attention that stays uniform looks white and attention that concentrates stands out.

    Parameters
    ----------
    weights : array-like of shape (n_rows, H, T, T)
        Row-stochastic attention weights, e.g. one instance's heads at several epochs.
    row_labels : sequence of str, optional
        One label per row (e.g. ``"epoch 0"``), written left of the row.
    size : float, optional
        Side of one panel in inches; by default the heads fill :data:`BOOK_WIDTH` next to the
        row labels and the colour bar (at most 1.3).
    center : float, optional
        The weight drawn white; default :math:`1/T`, the uniform weight of a
        :math:`T \\times T` row-stochastic matrix.

    Returns
    -------
    matplotlib.figure.Figure
    """
    weights = np.asarray(weights)
    n_rows, n_heads = weights.shape[:2]
    label_width = 1.7 if row_labels is not None else 0.2
    if size is None:
        size = min(1.3, (BOOK_WIDTH - label_width - 1.1) / n_heads)
    # Rows far enough apart for a two-line label each (FONT_SIZE points a line).
    lines = max((str(label).count("\n") + 1 for label in row_labels or [""]), default=1)
    pitch = max(size, 1.15 * lines * FONT_SIZE / 72)
    figure, axes = plt.subplots(n_rows, n_heads, squeeze=False, constrained_layout=True,
                                figsize=(size * n_heads + label_width + 1.1,
                                         pitch * n_rows + 0.5 + (0.3 if title else 0)))
    figure.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02,
                                   hspace=max(0.02, pitch / size - 1))
    center = 1.0 / weights.shape[-1] if center is None else float(center)
    vmax = max(float(weights.max()), 2 * center)  # at least as far above centre as 0 is below
    norm = matplotlib.colors.TwoSlopeNorm(vcenter=center, vmin=0.0, vmax=vmax)
    for r in range(n_rows):
        for h in range(n_heads):
            ax = axes[r, h]
            image = ax.imshow(weights[r, h], norm=norm, cmap="RdBu_r")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if r == 0:
                ax.set_title(f"{h + 1}" if n_heads > 4 else f"head {h + 1}")
        if row_labels is not None:
            axes[r, 0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center",
                                  linespacing=1.0)
    bar = figure.colorbar(image, ax=axes, shrink=min(1.0, 4 / n_rows + 0.2), pad=0.02,
                          label="attention weight")
    bar.set_ticks([0.0, center, vmax], labels=["0", f"{center:.3g}\n(uniform)", f"{vmax:.2g}"])
    if n_heads > 4:
        figure.suptitle("head")
    if title:
        figure.suptitle(title if n_heads <= 4 else f"{title}\nhead")
    return fit_width(figure)


class Panels:
    """A figure of panels, one per metric, as :func:`metric_panels` and :func:`interval_panels`
    draw it; like a seaborn ``FacetGrid``: ``figure``, ``axes`` (2-D array, rows of panels) and
    ``axes_dict`` (metric -> its axes)."""

    def __init__(self, figure, axes, axes_dict):
        self.figure = figure
        self.axes = axes
        self.axes_dict = axes_dict


def _wrap(text, width):
    """``text`` broken into lines that fit ``width`` inches at :data:`FONT_SIZE`."""
    import textwrap  # noqa: PLC0415

    characters = max(8, int(width * 72 / (0.55 * FONT_SIZE)))
    # "T = 5" stays on one line: no break around an equals sign (no-break spaces).
    text = str(text).replace(" = ", "\u00a0=\u00a0")
    return textwrap.fill(text, characters, break_long_words=False)


def _panel_grid(n_panels, col_wrap, height, aspect):
    """A constrained-layout figure of ``n_panels`` panels, at most three (and ``col_wrap``) per
    row, :data:`BOOK_WIDTH` wide by default; the unused panels of the last row hidden."""
    columns = max(1, min(col_wrap, n_panels, 3))
    rows = -(-n_panels // columns)
    if height is None:
        height = min(2.6, max(1.9, (BOOK_WIDTH - 0.4) / columns / aspect))
    figure, axes = plt.subplots(rows, columns, squeeze=False, layout="constrained",
                                figsize=(height * aspect * columns + 0.4, height * rows + 0.6))
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    # A wider figure is shrunk to the column (fit_width): titles must fit the shrunk panels.
    return figure, axes, min(height * aspect, (BOOK_WIDTH - 0.4) / columns)


def _draw_panels(table, x, metrics, hue, col_wrap, height, title, references, logx, logy,
                 band):
    """Draw ``table`` (``x``, ``metric``, ``mean``, ``low``, ``high`` and ``hue`` columns):
    one panel per metric, one line per ``hue`` level with its own colour, marker and line
    style (:func:`series_styles`), the interval as a band when ``band``."""
    metrics = list(metrics)
    if not metrics:
        raise ValueError("metrics must name at least one column to plot, got none.")
    figure, axes, panel_width = _panel_grid(len(metrics), col_wrap, height, aspect=1.2)
    levels = _order(table, hue) if hue else [None]
    styles = series_styles(levels)
    categorical = not pd.api.types.is_numeric_dtype(table[x])
    positions = {value: i for i, value in enumerate(sorted(table[x].unique()))}
    logy = set(metrics if logy is True else (logy or ()))
    columns = axes.shape[1]
    for i, (ax, metric) in enumerate(zip(axes.flat, metrics)):
        of_metric = table[table["metric"] == metric]
        for level in levels:
            part = of_metric if level is None else of_metric[of_metric[hue] == level]
            part = part.dropna(subset=["mean"]).sort_values(x)
            where = part[x].map(positions) if categorical else part[x]
            style = styles[level]
            ax.plot(where, part["mean"], markersize=5, linewidth=1.5, **style,
                    label=None if level is None else str(level))
            if band:
                ax.fill_between(where, part["low"], part["high"], color=style["color"],
                                alpha=0.18, linewidth=0)
        if references and metric in references:
            ax.axhline(references[metric], color="0.3", linestyle=":", linewidth=1)
        if categorical:
            # Names broken into lines where they would not fit side by side under the panel
            # (the layout check of glue_figure says when even that does not suffice).
            ax.set_xticks(range(len(positions)), [_wrap(" ".join(str(value).split()),
                                                        0.8 * panel_width / len(positions))
                                                  for value in positions])
        elif len(positions) <= 5 and not logx:  # e.g. the levels: every one labelled
            ax.set_xticks(list(positions), [f"{value:g}" for value in positions])
        if logx:
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
                lambda value, _: f"{value:g}"))
            if len(positions) <= 5:  # few sizes: each labelled where it was measured
                ax.set_xticks(list(positions), [f"{value:g}" for value in positions])
                ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        if metric in logy:
            log_axis(ax, "y")
        else:  # few labels: a short axis has room for about four
            ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
        ax.set_title(_wrap(label(metric), panel_width))
        if i + columns >= len(metrics):  # nothing below: the x axis is labelled here
            ax.set_xlabel(label(x))
    if hue:
        handles, labels = axes.flat[0].get_legend_handles_labels()
        n_columns = min(len(labels) if len(labels) <= 4 else -(-len(labels) // 2),
                        _legend_columns(labels))
        figure.legend(handles, labels, title=label(hue), frameon=False,
                      loc="outside upper center", ncol=n_columns)
        # Room for the legend above the panels, so that they keep their height.
        legend_rows = -(-len(labels) // n_columns) + 1
        figure.set_size_inches(figure.get_size_inches() + [0, 0.3 * legend_rows])
    if title:
        figure.suptitle(title)
    fit_width(figure)
    return Panels(figure, axes, dict(zip(metrics, axes.flat)))


def metric_panels(frame, x, metrics, hue=None, col_wrap=3, height=None, title=None,
                  errorbar="interval", references=None, logx=False, logy=()):
    """One panel per metric: its mean (and 95 % interval) against ``x``, one line per ``hue``.

    Parameters
    ----------
    frame : DataFrame
        One row per run (or per run and epoch), with ``x``, ``hue`` and the metric columns;
        missing values are left out (a metric measured on some rows only).
    metrics : list of str
        Columns to plot, one panel each, titled by :func:`label`.
    errorbar : {"interval", None}, default "interval"
        The band over runs: the book's 95 % interval of the mean
        (:func:`otcompanion.stats.interval_frame`, the intervals of the tables, clipped to a
        bounded metric's range, :func:`otcompanion.stats.bounds_of`), or no band.
    references : dict, optional
        Metric -> value: a dotted horizontal reference line in that panel.
    logx : bool, default False
        Logarithmic x axis (base 2).
    logy : sequence of str or True
        Metrics whose panel has a logarithmic y axis (True: all).
    col_wrap : int
        Panels per row (at most three keep 9 px tick labels on a phone).
    height : float, optional
        Height of one panel in inches; by default the panels of a row fill :data:`BOOK_WIDTH`.

    Returns
    -------
    Panels
        ``figure``, ``axes`` and ``axes_dict`` (metric -> axes).
    """
    if errorbar not in ("interval", None):
        raise ValueError(f"errorbar must be 'interval' or None, got {errorbar!r}.")
    metrics = list(metrics)
    by = [column for column in (hue, x) if column]
    stats.check_columns(frame, [*by, *metrics])
    if errorbar == "interval":
        table = stats.interval_frame(frame, by, metrics)
    else:
        table = frame.groupby(by, sort=True)[metrics].mean().reset_index().melt(
            id_vars=by, value_vars=metrics, var_name="metric", value_name="mean")
    return _draw_panels(table, x, metrics, hue, col_wrap, height, title, references, logx,
                        logy, band=errorbar == "interval")


def interval_panels(table, x, metrics, hue=None, col_wrap=3, height=None, title=None,
                    references=None, logx=False, logy=()):
    """One panel per metric: precomputed means and intervals against ``x``, one line per ``hue``.

    The statistics come from the caller (e.g. :func:`otcompanion.stats.interval_frame`, which
    clips the intervals of bounded metrics to their range), so each panel can have its own
    bounds; this function only draws them: the mean as a line with markers, the interval as a
    band, every ``hue`` level with its own colour, marker and line style.

    Parameters
    ----------
    table : DataFrame
        Long format: columns ``x``, ``metric``, ``mean``, ``low``, ``high`` (and ``hue``).
    metrics : list of str
        Values of ``metric`` to plot, one panel each, titled by :func:`label`.
    references : dict, optional
        Metric -> value: a dotted horizontal reference line in that panel.
    logx : bool, default False
        Logarithmic x axis (base 2).
    logy : sequence of str or True
        Metrics whose panel has a logarithmic y axis (True: all).
    col_wrap : int
        Panels per row; at most three, which keep 9 px tick labels on a phone.
    height : float, optional
        Height of one panel in inches; by default the panels of a row fill :data:`BOOK_WIDTH`.
        The figure is shrunk to :data:`BOOK_WIDTH` if it comes out wider.

    Returns
    -------
    matplotlib.figure.Figure
    """
    missing = [name for name in (x, "metric", "mean", "low", "high", hue)
               if name is not None and name not in table.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the table; it has {list(table.columns)}.")
    return _draw_panels(table, x, metrics, hue, col_wrap, height, title, references, logx,
                        logy, band=True).figure


def paired_intervals(table, y, hue=None, col=None, reference=0.0, xlabel="difference",
                     title=None, height=None, width=None):
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
    height, width : float, optional
        Size of one panel, in inches; by default the panels fill :data:`BOOK_WIDTH` and every
        interval has a fifth of an inch.

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
    styles = series_styles(hues)
    width = width or BOOK_WIDTH / len(panels)
    height = height or max(2.2, 0.2 * len(rows) * len(hues) + 0.8)
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
                        fmt=styles[value]["marker"], markersize=5, capsize=2,
                        color=styles[value]["color"],
                        label=None if value is None else str(value))
        ax.axvline(reference, color="0.3", linestyle=":", linewidth=1)
        ax.set_yticks(range(len(rows)), [str(v) for v in rows])
        if panel is not None:
            ax.set_title(str(panel))
    axes[0][0].invert_yaxis()  # first row on top (the axes share y)
    axes[0][0].set_ylabel(label(y))
    figure.supxlabel(xlabel)  # once for all panels: a long label does not fit under each
    if hue:  # above the panels, so that it hides no interval
        handles, labels = axes[0][0].get_legend_handles_labels()
        n_columns = min(len(hues), 3, _legend_columns(labels))
        figure.legend(handles, labels, loc="outside upper center", title=label(hue),
                      frameon=False, ncols=n_columns)
        # Room for the legend, so that the panels keep their height.
        legend_rows = -(-len(labels) // n_columns) + 1
        figure.set_size_inches(figure.get_size_inches() + [0, 0.3 * legend_rows])
    if title:
        figure.suptitle(title)
    return fit_width(figure)
