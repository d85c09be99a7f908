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


@pytest.fixture(autouse=True)
def book_style():
    with matplotlib.rc_context():
        plots.use_book_style()
        yield
        plt.close("all")


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


def test_multi_panel_figures_fit_the_column_with_legible_text():
    frame = tokens()
    rng = np.random.default_rng(0)
    history = pd.DataFrame({"epoch": np.arange(1, 31), **{
        f"{split}_{name}": rng.uniform(0.1, 1, 30) for split in ("train", "val")
        for name in ("loss", "token_accuracy", "instance_accuracy")}})
    summary = pd.DataFrame({"level": np.tile([1, 2, 3, 4], 6),
                            "setup": np.repeat(["2 classes", "3 classes"], 12),
                            **{name: rng.uniform(size=24) for name in "abcdefgh"}})
    scores = pd.DataFrame({"model": np.repeat(["logistic regression", "OT classifier"], 8),
                           "measure": np.tile(np.repeat(["accuracy", "fit_seconds"], 4), 2),
                           "value": rng.uniform(0.01, 1, 16)})
    figures = {
        "token_scatter": plots.token_scatter(frame, row="level", col="task"),
        "token_scatter wrapped": plots.token_scatter(frame, col="level", col_wrap=2),
        "training_curves": plots.training_curves({"a": (history, 10), "b": (history, 20)}),
        "attention_heads": plots.attention_heads(rng.dirichlet(np.ones(5), size=(4, 10, 5)),
                                                 [f"row {i}" for i in range(4)]),
        "metric_panels": plots.metric_panels(summary, "level", list("abcdefgh"), hue="setup"),
        "score_boxes": plots.score_boxes(scores, "value", "model", "measure",
                                         log_scale=["fit_seconds"]),
    }
    for name, figure in figures.items():
        assert saved_width(figure) <= WIDEST, name
        assert smallest_font(figure) >= plots.FONT_SIZE, name


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
