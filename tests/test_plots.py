"""The book's figures fit the rendered page: at most 610 px wide at 96 dpi (the text column
shows them at their own size), every text 12 pt (16 px; 9 px on a 390 px phone, where a figure
is at most 342 px wide)."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import myst_nb
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from IPython.display import Markdown
from PIL import Image  # noqa: E402

from otcompanion import data, plots  # noqa: E402

WIDEST = 610  # px, BOOK_WIDTH at DPI plus rounding


pytestmark = pytest.mark.usefixtures("book_style")  # tests/conftest.py


def saved_width(figure):
    """Pixel width of ``figure`` saved as the notebooks save figures (tight bounding box)."""
    buffer = io.BytesIO()
    getattr(figure, "figure", figure).savefig(buffer, format="png", bbox_inches="tight")
    return Image.open(buffer).size[0]


def smallest_font(figure):
    figure = getattr(figure, "figure", figure)
    sizes = [text.get_fontsize() for text in figure.findobj(matplotlib.text.Text)
             if text.get_text() and text.get_visible()]
    return min(sizes)


def tokens():
    frames = []
    for k in (2, 3):
        for level in (1, 2, 3, 4):
            X, _, y, _ = data.thesis_split(k, level, n_instances=12, n_tokens=5, seed=0)
            frames.append(data.tokens_to_frame(X, y).assign(task=f"{k} classes", level=level))
    return pd.concat(frames, ignore_index=True)


def test_style_sets_every_text_to_the_book_size():
    assert plt.rcParams["figure.dpi"] == plots.DPI
    for key in ("xtick.labelsize", "ytick.labelsize", "axes.titlesize", "legend.fontsize"):
        assert plt.rcParams[key] == plots.FONT_SIZE
    # 16 px on the page, and at least 9 px when a full-width figure is shown on a phone.
    assert plots.FONT_SIZE * plots.DPI / 72 * 342 / WIDEST >= 8.9


def synthetic_figures():
    """One figure from every drawing function of plots, on small synthetic data."""
    frame = tokens()
    rng = np.random.default_rng(0)
    history = pd.DataFrame({"epoch": np.arange(1, 31), **{
        f"{split}_{name}": rng.uniform(0.1, 1, 30) for split in ("train", "val")
        for name in ("loss", "token_accuracy", "instance_accuracy")}})
    summary = pd.DataFrame({"level": np.tile([1, 2, 3, 4], 12),
                            "setup": np.repeat(["2 classes", "3 classes"], 24),
                            **{name: rng.uniform(size=48) for name in (
                                "optimality", "matching", "monge_gap", "efficiency",
                                "straightness", "w2_path_efficiency", "instance_accuracy",
                                "best_epoch")}})
    summary["fit_seconds"] = rng.uniform(0.05, 30, len(summary))
    scores = pd.DataFrame({"model": np.repeat(["logistic regression", "OT classifier"], 8),
                           "measure": np.tile(np.repeat(["accuracy", "fit_seconds"], 4), 2),
                           "value": rng.uniform(0.01, 1, 16)})
    curves = pd.DataFrame({"H": np.repeat([1, 2, 4, 8, 16, 32], 10),
                           "step": np.tile(np.arange(10), 6)})
    curves["metric"], curves["mean"] = "train_loss", rng.uniform(0.1, 1, len(curves))
    curves["low"], curves["high"] = curves["mean"] - 0.05, curves["mean"] + 0.05
    differences = pd.DataFrame({
        "level": np.tile([1, 2, 3, 4], 6),
        "condition": np.repeat(["circle, head per repetition", "circle, one head",
                                "random rotation, head per repetition"], 8),
        "setup": np.tile(np.repeat(["2 classes", "3 classes"], 4), 3),
        "difference": rng.normal(size=24)})
    differences["low"], differences["high"] = differences["difference"] - 1, \
        differences["difference"] + 1
    trajectory = rng.normal(size=(6, 12, 5, 2)).cumsum(axis=0)
    labels = np.repeat([0, 1, 2], 4)
    figures = {
        "token_scatter": plots.token_scatter(frame, row="level", col="task"),
        "token_scatter wrapped": plots.token_scatter(frame, col="level", col_wrap=2),
        "class_balance": plots.class_balance(frame, x="task", hue="class"),
        "feature_boxes": plots.feature_boxes(frame.melt(id_vars=["class"],
                                                        value_vars=["x1", "x2"]),
                                             x="value", y="variable"),
        "score_boxes": plots.score_boxes(scores, "value", "model", "measure",
                                         log_scale=["fit_seconds"]),
        "training_curves": plots.training_curves({"a": (history, 10), "b": (history, 20)}),
        "attention_heads": plots.attention_heads(rng.dirichlet(np.ones(10), size=(8, 10, 10)),
                                                 [f"setup {i // 4}\nblock {i % 4}"
                                                  for i in range(8)]),
        "metric_panels": plots.metric_panels(summary, "level", [
            "optimality", "matching", "monge_gap", "efficiency", "straightness",
            "w2_path_efficiency", "instance_accuracy", "best_epoch"], hue="setup",
            references={"optimality": 1.0}),
        "metric_panels log": plots.metric_panels(summary, "level",
                                                 ["instance_accuracy", "fit_seconds"],
                                                 hue="setup", logy=["fit_seconds"]),
        "interval_panels": plots.interval_panels(curves, "step", ["train_loss"], hue="H",
                                                 logy=True),
        "paired_intervals": plots.paired_intervals(differences, "level", hue="condition",
                                                   col="setup", xlabel="difference (epochs)"),
    }
    figure, axes = plots.panel_row(2)
    plots.token_map(trajectory[0], trajectory[-1], labels, ax=axes[0], title="map")
    plots.token_paths(trajectory, labels, ax=axes[1], title="paths", n_paths=10)
    figures["token_map and token_paths"] = plots.panel_legend(figure, axes)
    return {name: getattr(figure, "figure", figure) for name, figure in figures.items()}


def test_every_figure_of_plots_fits_the_column_and_reads_on_a_phone():
    for name, figure in synthetic_figures().items():
        plots.fit_width(figure)
        assert saved_width(figure) <= WIDEST, name
        assert smallest_font(figure) >= plots.FONT_SIZE, name
        assert plots.layout_problems(figure) == [], name


def test_layout_problems_reports_overlapping_texts():
    figure, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    ax.set_title("a title")
    ax.text(0.5, 1.03, "on the title", transform=ax.transAxes, ha="center")
    problems = plots.layout_problems(figure)
    assert len(problems) == 1
    assert "'a title'" in problems[0] and "'on the title'" in problems[0]
    assert problems[0].endswith("overlap")
    with pytest.raises(ValueError, match="the figure does not read on a 358 px"):
        plots.check_layout(figure)


def test_layout_problems_reports_text_too_small_on_a_phone():
    figure, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    ax.set_xlabel("small", fontsize=6)  # 8 px at its own size
    problems = plots.layout_problems(figure)
    assert len(problems) == 1 and "1 text(s) are under 9 px" in problems[0]
    assert "'small'" in problems[0]
    # A figure twice as wide is shown at half its size on the phone: 12 pt becomes 8.x px.
    wide, ax = plt.subplots(figsize=(9, 3), layout="constrained")
    ax.set_title("wide")
    assert any("under 9 px" in problem for problem in plots.layout_problems(wide))
    assert plots.layout_problems(wide, shown_width_px=1000) == []


def test_layout_problems_reports_a_legend_or_a_tick_label_over_a_panel():
    figure, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    ax.plot([0, 1], [0, 1], label="a series")
    ax.legend(loc="center")
    assert plots.layout_problems(figure) == ["a legend lies over the panel untitled"]
    # A long tick label of the right panel pushed over the left panel (no layout engine).
    figure, (left, right) = plt.subplots(1, 2, figsize=(6, 3))
    figure.subplots_adjust(wspace=0.02)
    right.set_yticks([0.5], ["a very long tick label"])
    left.set_title("left")
    assert "text 'a very long tick label' lies over the panel 'left'" in \
        plots.layout_problems(figure)


def test_labels_are_words_and_unknown_names_lose_their_underscores():
    assert plots.label("monge_gap") == "Monge gap (thesis)"
    assert plots.label("fit_seconds") == "fit time (s)"
    assert plots.label("some_new_column") == "some new column"
    assert plots.label(3) == "3"


def test_series_differ_in_colour_marker_and_line_style():
    styles = plots.series_styles(["a", "b", "c", "d", "e", "f"])
    for channel in ("color", "marker", "linestyle"):
        values = [str(style[channel]) for style in styles.values()]
        assert len(set(values)) == len(values), channel


def test_panels_are_titled_in_words_and_wrap_into_rows_of_three():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"level": np.tile([1, 2], 10), "monge_gap": rng.normal(size=20),
                          "epochs_to_target_capped": rng.normal(size=20),
                          "fit_seconds": rng.uniform(1, 2, 20), "best_epoch": rng.normal(size=20)})
    grid = plots.metric_panels(frame, "level", ["monge_gap", "epochs_to_target_capped",
                                                "fit_seconds", "best_epoch"], col_wrap=5)
    assert grid.axes.shape == (2, 3)
    titles = [ax.get_title() for ax in grid.axes_dict.values()]
    assert titles[0] == "Monge gap (thesis)" and titles[1].replace("\n", " ") == \
        "epochs to target (capped)"
    assert grid.axes_dict["best_epoch"].get_xlabel() == "difficulty level"
    with pytest.raises(ValueError, match="errorbar must be"):
        plots.metric_panels(frame, "level", ["monge_gap"], errorbar="sd")


def test_attention_maps_are_white_at_uniform_attention():
    weights = np.full((1, 2, 4, 4), 0.25)
    weights[0, 1] = np.eye(4)
    figure = plots.attention_heads(weights)
    image = figure.axes[0].images[0]
    assert image.norm.vcenter == pytest.approx(0.25)
    white = np.asarray(image.cmap(image.norm(0.25))[:3])
    assert np.all(white > 0.9)
    assert figure.axes[1].images[0].norm(1.0) == pytest.approx(1.0)


def test_figure_image_is_stored_at_twice_the_shown_resolution():
    figure, ax = plt.subplots(figsize=(3, 2))
    image = plots.figure_image(figure)
    stored = Image.open(io.BytesIO(image.data)).size
    assert abs(stored[0] - plots.PIXEL_RATIO * image.width) <= 1
    assert abs(stored[1] - plots.PIXEL_RATIO * image.height) <= 1


def test_token_scatter_rejects_an_unknown_sharing():
    with pytest.raises(ValueError, match="share must be"):
        plots.token_scatter(tokens(), col="task", share="some")


def test_glue_value_glues_numbers_as_python_numbers_and_sentences_as_markdown(monkeypatch):
    glued = {}
    monkeypatch.setattr(myst_nb, "glue",
                        lambda name, value, display=True: glued.update({name: (value, display)}))
    plots.glue_value("n", np.int64(3))
    plots.glue_value("x", np.float32(0.5))
    plots.glue_value("sentence", "a **verdict**")
    assert glued["n"] == (3, False) and type(glued["n"][0]) is int
    assert type(glued["x"][0]) is float
    value, display = glued["sentence"]
    assert isinstance(value, Markdown) and value.data == "a **verdict**" and display is False


def test_panel_legend_is_above_the_panels_in_the_order_of_the_names():
    figure, axes = plots.panel_row(2)
    for name in ("class 2", "class 0", "class 1"):
        axes[0].scatter([0], [0], label=name)
    axes[1].scatter([0], [0], label="class 0")
    axes[1].legend()
    plots.panel_legend(figure, axes)
    assert all(ax.get_legend() is None for ax in axes)
    assert [text.get_text() for text in figure.legends[0].get_texts()] == [
        "class 0", "class 1", "class 2"]
    assert plots.layout_problems(figure) == []


def visible_labels(ax):
    low, high = ax.get_ylim()
    return [label.get_text() for label in ax.get_yticklabels()
            if label.get_text() and low <= label.get_position()[1] <= high]


def test_log_axis_labels_a_short_range_and_only_the_decades_of_a_long_one():
    figure, (short, long) = plt.subplots(1, 2, layout="constrained")
    short.plot([0, 1], [8, 14])
    long.plot([0, 1], [1e-3, 10])
    plots.log_axis(short)
    plots.log_axis(long)
    figure.draw_without_rendering()
    assert short.get_yscale() == "log" and len(visible_labels(short)) >= 2
    assert visible_labels(long) == ["0.001", "0.01", "0.1", "1", "10"]
    assert plots.layout_problems(figure) == []
    # One to two decades (the CPU times of chapter 04's small runs): 1 and 3 times the powers.
    figure, middle = plt.subplots(figsize=(2.5, 2.0), layout="constrained")
    middle.plot([0, 1], [0.005, 0.2])
    plots.log_axis(middle)
    figure.draw_without_rendering()
    assert visible_labels(middle) == ["0.01", "0.03", "0.1"]
    assert plots.layout_problems(figure) == []
    with pytest.raises(ValueError, match="which must be"):
        plots.log_axis(short, "z")


def test_categories_written_as_numbers_keep_their_numeric_order():
    frame = pd.DataFrame({"budget": ["10", "5", "20", "15"], "x": [1, 2, 3, 4]})
    assert plots._order(frame, "budget") == ["5", "10", "15", "20"]
    assert plots._order(pd.DataFrame({"c": ["b", "a", "3"]}), "c") == ["3", "a", "b"]
