import sys

import matplotlib.pyplot as plt
import myst_nb
import numpy as np
import pandas as pd
import pytest
from IPython.core.formatters import DisplayFormatter
from IPython.display import Image, Markdown

from otcompanion import chapter, claims, plots, stats

pytestmark = pytest.mark.usefixtures("book_style")  # tests/conftest.py


@pytest.fixture
def glued(monkeypatch):
    """What the chapter glued with myst-nb: name -> (value, display)."""
    store = {}
    monkeypatch.setattr(myst_nb, "glue",
                        lambda name, value, display=True: store.update({name: (value, display)}))
    return store


@pytest.fixture
def shown(monkeypatch):
    """What the chapter displayed, with myst-nb made unimportable (plain Jupyter)."""
    monkeypatch.setitem(sys.modules, "myst_nb", None)
    store = []
    monkeypatch.setattr("IPython.display.display", lambda value: store.append(value))
    return store


def test_glue_stores_numbers_as_python_numbers_without_display(glued):
    chapter.glue("n", np.int64(3))
    chapter.glue("x", np.float32(0.5))
    chapter.glue("plain", 7)
    assert glued["n"] == (3, False) and type(glued["n"][0]) is int
    assert type(glued["x"][0]) is float and glued["x"][1] is False
    assert glued["plain"] == (7, False)


def test_glue_stores_a_string_as_markdown(glued):
    chapter.glue("sentence", "a **verdict**")
    value, display = glued["sentence"]
    assert isinstance(value, Markdown) and value.data == "a **verdict**" and display is False


def test_glue_without_myst_nb_displays_the_value(shown):
    chapter.glue("n", np.int64(3))
    chapter.glue("sentence", "a **verdict**")
    assert shown[0] == 3 and type(shown[0]) is int
    assert isinstance(shown[1], Markdown) and shown[1].data == "a **verdict**"


def test_glue_figure_fits_glues_a_sharp_image_and_closes(glued):
    figure, _ = plt.subplots(figsize=(12, 4))
    chapter.glue_figure("fig", figure)
    value, display = glued["fig"]
    assert isinstance(value, Image) and display is False
    assert figure.get_size_inches()[0] < 12
    # Stored at twice the resolution at which the page shows it.
    assert abs(int.from_bytes(value.data[16:20], "big") - plots.PIXEL_RATIO * value.width) <= 1
    assert value.width <= plots.BOOK_WIDTH * plots.DPI + 5
    assert not plt.fignum_exists(figure.number)


def test_glue_figure_refuses_a_figure_that_does_not_read_on_a_phone(glued):
    figure, ax = plt.subplots(figsize=(4, 3))
    ax.set_title("a title")
    ax.text(0.5, 1.02, "over the title", transform=ax.transAxes, ha="center")
    with pytest.raises(ValueError, match="figure 'fig' does not read.*overlap"):
        chapter.glue_figure("fig", figure)
    assert "fig" not in glued
    assert not plt.fignum_exists(figure.number)


def test_glue_figure_without_myst_nb_shows_and_closes(shown):
    figure, _ = plt.subplots()
    chapter.glue_figure("fig", figure)
    assert len(shown) == 1 and isinstance(shown[0], Image)
    assert not plt.fignum_exists(figure.number)


def test_glue_figure_shows_and_glues_when_a_classroom_notebook_asks(glued, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda value: shown.append(value))
    monkeypatch.setenv(chapter.SHOW_FIGURES_VARIABLE, "1")
    figure, _ = plt.subplots()
    chapter.glue_figure("fig", figure)
    assert len(shown) == 1 and glued["fig"] == (shown[0], False)


def test_plots_forwards_the_glue_functions_to_chapter(glued):
    assert plots.glue_value is chapter.glue and plots.glue_figure is chapter.glue_figure
    plots.glue_value("n", np.int64(3))
    assert glued["n"] == (3, False)
    with pytest.raises(AttributeError, match="no attribute 'glue_nothing'"):
        plots.glue_nothing  # noqa: B018


def test_task_names_keeps_the_given_tasks_in_order():
    assert chapter.TASK_NAMES == {2: "2 classes", 3: "3 classes"}
    assert chapter.task_names([2, 3]) == {2: "2 classes", 3: "3 classes"}
    assert list(chapter.task_names([3, 2])) == [3, 2]
    assert chapter.task_names([3]) == {3: "3 classes"}


@pytest.mark.parametrize("tasks", [[], [4], [2, 4], None])
def test_task_names_rejects_anything_but_2_and_3(tasks):
    with pytest.raises(ValueError, match=r"tasks must be a non-empty list of 2 and/or 3"):
        chapter.task_names(tasks)


def test_task_names_error_names_the_parameter():
    with pytest.raises(ValueError, match=r"^hard_tasks must be a non-empty list"):
        chapter.task_names([1], name="hard_tasks")


@pytest.mark.parametrize("task, name", [(2, "2 classes"), (3, "3 classes")])
def test_task_name_names_one_task(task, name):
    assert chapter.task_name(task) == name


@pytest.mark.parametrize("task", [4, 1, None, "3"])
def test_task_name_error_names_the_parameter(task):
    with pytest.raises(ValueError, match=r"^sensitivity_task must be 2 or 3, got"):
        chapter.task_name(task, "sensitivity_task")


def test_begin_applies_the_book_style():
    plt.rcParams["font.size"] = 5
    chapter.begin("00_toy")
    assert plt.rcParams["font.size"] == plots.FONT_SIZE


def test_provenance_reads_the_parameter_names_from_the_parameters_cell(toy_project):
    chapter.begin("00_toy")
    table = chapter.provenance({"fail": True, "value": 5, "other": 1})
    rows = dict(zip(table["item"], table["value"]))
    assert rows["parameter fail"] == "True" and rows["parameter value"] == "5"
    assert "parameter other" not in rows
    assert list(table["item"][:2]) == ["parameter fail", "parameter value"]
    assert rows["wall time"].endswith(" s")


def test_provenance_names_a_missing_parameter(toy_project):
    chapter.begin("00_toy")
    with pytest.raises(KeyError, match="value"):
        chapter.provenance({"fail": False})


def test_publish_displays_the_findings(monkeypatch):
    published = []
    monkeypatch.setattr(claims, "publish", lambda findings: published.append(list(findings)))
    item = claims.finding("final map", "supported", "a mean of 0.9 [0.8, 1.0] over 5 runs")
    chapter.publish([item])
    assert published == [[item]]


def test_provenance_outside_the_project_warns_and_lists_no_parameters(toy_project):
    chapter.begin("07_elsewhere")
    with pytest.warns(UserWarning, match="cannot read chapter '07_elsewhere'"):
        table = chapter.provenance({"fail": True})
    assert not any(item.startswith("parameter ") for item in table["item"])


def test_provenance_without_the_book_extra_warns_and_lists_no_parameters(monkeypatch):
    monkeypatch.setattr(chapter, "book", None)
    chapter.begin("00_data")
    with pytest.warns(UserWarning, match="book extra is not installed"):
        table = chapter.provenance({"seed": 0})
    assert not any(item.startswith("parameter ") for item in table["item"])


def test_tables_show_no_numbering_index_readable_headers_and_whole_cells():
    frame = pd.DataFrame({"setup": ["2 classes", "3 classes"], "monge_gap": [-0.5, 0.25],
                          "verdict": ["*aligned* " + "x" * 80, "**supported**"]})
    page = chapter.table_html(frame.iloc[[1, 0]])
    assert "<th></th>" not in page and "<th>setup</th>" in page
    assert f"<th>{plots.label('monge_gap')}</th>" in page and "monge_gap" not in page
    assert "aligned " + "x" * 80 in page and "*" not in page and "..." not in page
    assert f"<td>{stats.MINUS}0.50</td>" in page and "<td>0.25</td>" in page
    assert page.index("3 classes") < page.index("2 classes")
    # An index that names something becomes columns; two header levels are joined.
    grouped = frame.groupby("setup")[["monge_gap"]].agg(["mean", "max"])
    page = chapter.table_html(grouped)
    assert "<th>setup</th>" in page and "<th></th>" not in page
    assert f"<th>{plots.label('monge_gap')}, mean</th>" in page
    # Significant digits by quantity, the same decimals down a column, intervals on one line.
    page = chapter.table_html(pd.DataFrame({
        "transformer_distance": [101659.1845, 456.4313, np.nan], "accuracy": [0.978, 1.0, 0.5],
        "interval": ["0.9948 [0.9889, 0.9978]", "x", "y"]}))
    assert "<td>101659</td>" in page and "<td>456.4</td>" in page and "<td>n/a</td>" in page
    assert "<td>1.000</td>" in page and "<td>0.978</td>" in page
    assert "<td>0.9948\u00a0[0.9889,\u00a00.9978]</td>" in page
    # A long table mixes quantities in one column: a small number keeps its digits.
    page = chapter.table_html(pd.DataFrame({"low": [-0.002, 14.37]}))
    assert f"<td>{stats.MINUS}0.002</td>" in page and "<td>14.37</td>" in page
    page = chapter.table_html(pd.DataFrame({"quantity": ["monge_gap", "a note_x y"]}))
    assert f"<td>{plots.label('monge_gap')}</td>" in page and "<td>a note_x y</td>" in page
    # A transposed table: quantities in rows, "H = ..." columns; no empty header anywhere.
    page = chapter.table_html(pd.DataFrame({"H": [1, 4], "monge_gap": [0.5, 0.25]})
                              .set_index("H").T)
    assert "<th>quantity</th>" in page and "<th>H = 1</th>" in page
    assert f"<td>{plots.label('monge_gap')}</td>" in page
    page = chapter.table_html(pd.DataFrame([{"instances": 5}]).T.rename(columns={0: ""}))
    assert "<th></th>" not in page and "<th>value</th>" in page
    with pytest.raises(TypeError, match="DataFrame"):
        chapter.table_html([1, 2])


def test_begin_makes_table_html_the_html_of_a_dataframe(monkeypatch):
    shell = type("Shell", (), {"display_formatter": DisplayFormatter()})()
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    chapter.begin("00_data")
    frame = pd.DataFrame({"fit_seconds": [1.0]})
    formatted, _ = shell.display_formatter.format(frame)
    assert formatted["text/html"] == chapter.table_html(frame)
    assert "fit_seconds" in formatted["text/plain"]


def test_state_findings_glues_bullets_for_the_chapter_box(glued):
    chapter.state_findings(["Level 4 separates the classes.", " Standardization shrinks it. "])
    assert glued[chapter.FINDINGS_GLUE][0].data == (
        "- Level 4 separates the classes.\n- Standardization shrinks it.")


@pytest.mark.parametrize("bullets, error", [("one", TypeError), ([], TypeError),
                                             (["ok", " "], ValueError), ([3], ValueError)])
def test_state_findings_rejects_what_is_not_a_list_of_sentences(bullets, error):
    with pytest.raises(error, match="bullet"):
        chapter.state_findings(bullets)
