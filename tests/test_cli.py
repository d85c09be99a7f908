"""The ``otcompanion`` command and chapter execution end to end (these start Jupyter kernels)."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from otcompanion import book
from otcompanion.cli import main

ROOT = Path(__file__).resolve().parent.parent
TINY = ["-p", "n_instances", "6", "-p", "n_tokens", "3", "-p", "levels", "[1]"]


def outputs(path, skip_tag="provenance"):
    """Every cell's outputs, except the provenance cell (its wall time differs between runs)."""
    notebook = nbformat.read(path, as_version=4)
    return [cell.get("outputs") for cell in notebook.cells
            if cell.cell_type == "code" and skip_tag not in cell.metadata.get("tags", [])]


def test_chapters_lists_titles_and_parameters(capsys):
    assert main(["chapters"]) == 0
    printed = capsys.readouterr().out
    assert "00_data: The data" in printed
    assert "n_tokens" in printed and ": int = 20" in printed and "tokens per instance" in printed


@pytest.mark.parametrize("arguments, message", [
    (["-p", "sed", "7"], "no parameter 'sed'. Did you mean 'seed'?"),
    (["-p", "n_tokens", "abc"], "parameter 'n_tokens' of chapter 00_data must be int"),
    (["-p", "seed", "1", "-p", "seed", "2"], "given more than once: ['seed']"),
])
def test_bad_parameters_fail_before_execution(tmp_path, capsys, arguments, message):
    out = tmp_path / "out.ipynb"
    assert main(["run", "00_data", *arguments, "-o", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_unknown_chapter_fails_with_the_list(capsys):
    assert main(["run", "99_nothing"]) == 2
    assert "the chapters are: 00_data" in capsys.readouterr().err


@pytest.mark.slow
def test_same_parameters_same_outputs_other_seed_other_figures(tmp_path):
    first, second, other = (tmp_path / f"{name}.ipynb" for name in ("first", "second", "other"))
    assert main(["run", "00_data", *TINY, "-o", str(first)]) == 0
    assert main(["run", "00_data", *TINY, "-o", str(second)]) == 0
    assert outputs(first) == outputs(second)
    # Another seed, rerun from the executed chapter with plain papermill, as a reader would.
    papermill = Path(sys.executable).parent / "papermill"
    subprocess.run([str(papermill), str(first), str(other), "-p", "seed", "7", *TINY[:6],
                    "-y", "levels: [1]", "--no-progress-bar"], check=True, capture_output=True)
    rerun = nbformat.read(other, as_version=4)
    assert rerun.metadata.papermill.parameters["seed"] == 7
    assert rerun.metadata.kernelspec.name == "python3"  # what a reader's Jupyter has
    assert not any(o.get("output_type") == "error" for cell in rerun.cells
                   for o in cell.get("outputs", []))
    figures, other_figures = (
        [data[key] for cell in outputs(path) for o in cell for data in [o.get("data", {})]
         for key in ("image/png", "application/papermill.record/image/png") if key in data]
        for path in (first, other))
    assert len(figures) == len(other_figures) == 4  # glued figures of the chapter
    assert figures[0] != other_figures[0]
    # The numbers of the prose are glued and computed from the parameters.
    glued = {o["metadata"]["scrapbook"]["name"]: o["data"].get(
        "application/papermill.record/text/plain")
        for cell in outputs(first) for o in cell if "scrapbook" in o.get("metadata", {})}
    assert glued["n-instances"] == "6" and glued["n-tokens"] == "3"
    assert glued["n-train-instances"] == "3" and glued["n-train-tokens"] == "9"
    assert glued["cancer-instances"] == "569" and glued["cancer-measurements"] == "10"
    # The injected parameters are collapsed on the rendered page, and kept for papermill.
    cells = nbformat.read(first, as_version=4).cells
    injected = [c for c in cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "hide-cell" in injected[0].metadata["tags"]
    assert "n_tokens = 3" in injected[0].source


@pytest.mark.slow
def test_failing_chapter_keeps_report_and_previous_output(toy_project, capsys):
    assert main(["run", "toy", "-p", "value", "5"]) == 0
    executed = toy_project / "book" / "chapters" / "00_toy.ipynb"
    before = executed.read_bytes()
    assert main(["run", "toy", "-p", "fail", "true"]) == 1
    error = capsys.readouterr().err
    assert "chapter 00_toy failed in cell" in error
    assert "ValueError: the chapter was asked to fail" in error
    report = toy_project / "reports" / "00_toy.failed.ipynb"
    assert report.is_file() and str(report) in error
    assert executed.read_bytes() == before
    assert not list(executed.parent.glob(".*partial*"))


@pytest.mark.slow
def test_run_chapter_raises_chapter_failed_with_the_report(toy_project):
    with pytest.raises(book.ChapterFailed) as failure:
        book.run_chapter("toy", {"fail": True}, echo=None)
    assert failure.value.report == toy_project / "reports" / "00_toy.failed.ipynb"


@pytest.mark.slow
def test_build_stops_when_a_chapter_fails(toy_project, capsys):
    chapter = toy_project / "notebooks" / "00_toy.py"
    chapter.write_text(chapter.read_text().replace("fail: bool = False", "fail: bool = True"))
    assert main(["build"]) == 1
    assert "1 chapter(s) failed: 00_toy; the book was not built." in capsys.readouterr().err


@pytest.mark.slow
def test_no_cache_reaches_the_chapter_kernel(toy_project, monkeypatch):
    chapter = toy_project / "notebooks" / "00_toy.py"
    chapter.write_text(chapter.read_text().replace(
        'print("value is", value)',
        'import os\nprint("cache off:", os.environ.get("OTCOMPANION_NO_CACHE"))'))
    monkeypatch.setenv("OTCOMPANION_NO_CACHE", "0")
    assert main(["run", "toy", "--no-cache"]) == 0
    executed = nbformat.read(toy_project / "book" / "chapters" / "00_toy.ipynb", as_version=4)
    printed = "".join(output.get("text", "") for cell in executed.cells
                      for output in cell.get("outputs", []))
    assert "cache off: 1" in printed


ORDERED_CHAPTER = '''\
# %% [markdown]
# # Chapter {name}

# %% tags=["parameters"]
folder: str = "{folder}"  # where the chapters leave their marks

# %%
import pathlib
import time

marks = pathlib.Path(folder)
(marks / "{name}.start").write_text(str(time.time()))
{body}
(marks / "{name}.end").write_text(str(time.time()))
'''


@pytest.mark.slow
def test_build_runs_two_chapters_at_once_and_a_reader_after_the_chapter_it_reads(
        toy_project, tmp_path, monkeypatch):
    marks = tmp_path / "marks"
    marks.mkdir()
    (toy_project / "notebooks" / "00_toy.py").unlink()
    bodies = {"00_first": "time.sleep(4)",
              "01_beside": "time.sleep(1)",
              "02_reader": 'assert (marks / "00_first.end").exists(), "ran before 00_first"'}
    for name, body in bodies.items():
        (toy_project / "notebooks" / f"{name}.py").write_text(
            ORDERED_CHAPTER.format(name=name, folder=marks, body=body))
    monkeypatch.setattr(book, "READS_RUNS_OF", {"02_reader": "00_first"})
    assert book._execute(book.list_chapters(toy_project), toy_project, None) == []
    times = {path.name: float(path.read_text()) for path in marks.iterdir()}
    # 00_first and 01_beside ran at the same time; 02_reader waited for 00_first.
    assert times["01_beside.start"] < times["00_first.end"]
    assert times["02_reader.start"] >= times["00_first.end"]
    failing = (toy_project / "notebooks" / "01_beside.py")
    failing.write_text(failing.read_text().replace("time.sleep(1)", "raise ValueError('no')"))
    assert book._execute(book.list_chapters(toy_project), toy_project, None) == ["01_beside"]
