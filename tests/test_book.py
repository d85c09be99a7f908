"""The book pipeline without executing anything: chapters, parameters, validation, TOC."""

import os
import re
from pathlib import Path

import pytest
import yaml

from otcompanion import book
from otcompanion.book import LocalSocketKernelManager

ROOT = Path(__file__).resolve().parent.parent


def test_chapters_are_found_in_reading_order_with_titles():
    chapters = book.list_chapters(ROOT)
    assert chapters[0].name == "00_data" and chapters[0].title == "The data"
    assert [c.name for c in chapters] == sorted(c.name for c in chapters)
    assert chapters[0].executed == ROOT / "book" / "chapters" / "00_data.ipynb"


@pytest.mark.parametrize("name", ["00_data", "00", "0", "data", "notebooks/00_data.py"])
def test_find_chapter_by_name_number_or_topic(name):
    assert book.find_chapter(name, ROOT).name == "00_data"


def test_unknown_chapter_lists_the_chapters():
    with pytest.raises(book.ChapterNotFound, match=r"no chapter 'nope'; the chapters are: 00_data"):
        book.find_chapter("nope", ROOT)


def test_parameters_are_read_from_the_parameters_cell():
    parameters = book.chapter_parameters(book.find_chapter("00_data", ROOT))
    assert list(parameters)[:3] == ["seed", "n_instances", "n_tokens"]
    seed = parameters["seed"]
    assert (seed.type, seed.default) == ("int", "0")
    assert "random seed" in seed.help
    assert parameters["levels"].type == "list[int]"


def test_command_line_strings_are_converted_to_the_declared_types():
    values = book.validate_parameters(
        book.find_chapter("00_data", ROOT),
        {"seed": "7", "levels": "[1, 4]", "breast_cancer_layout": "table", "n_tokens": 5},
    )
    assert values == {"seed": 7, "levels": [1, 4], "breast_cancer_layout": "table", "n_tokens": 5}


def test_unknown_parameter_names_the_valid_ones_and_a_close_match():
    with pytest.raises(book.ParameterError) as error:
        book.validate_parameters(book.find_chapter("00_data", ROOT), {"sed": "7"})
    message = str(error.value)
    assert "no parameter 'sed'" in message and "Did you mean 'seed'?" in message
    assert "seed, n_instances, n_tokens" in message


@pytest.mark.parametrize("name, value", [
    ("n_tokens", "abc"), ("n_tokens", "2.5"), ("n_tokens", True), ("seed", 1.5),
    ("levels", "[1, 'x']"), ("levels", "{1: 2}"), ("levels", "[1,"),
])
def test_values_of_the_wrong_type_are_rejected(name, value):
    with pytest.raises(book.ParameterError, match=rf"parameter '{name}' of chapter 00_data must be"):
        book.validate_parameters(book.find_chapter("00_data", ROOT), {name: value})


@pytest.mark.parametrize("type_name, value, expected", [
    ("float", "2", 2.0), ("float", 3, 3.0), ("bool", "false", False), ("bool", "Yes", True),
    ("str", "12", "12"), ("str | None", "None", None), ("Optional[int]", "4", 4),
    ("tuple[int, ...]", "(1, 2)", (1, 2)), ("tuple[str, float]", "['a', 1]", ("a", 1.0)),
    ("dict", "{'a': 1}", {"a": 1}), ("list[int]", "1, 2", [1, 2]), ("str | None", "x", "x"), ("None", "[1, 2]", [1, 2]), ("None", "text", "text"),
])
def test_conversion_of_declared_types(type_name, value, expected):
    assert book._convert(value, type_name) == expected


@pytest.mark.parametrize("type_name, value", [
    ("bool", "maybe"), ("int | None", "x"), ("tuple[int, int]", "(1, 2, 3)"), ("dict", "[1]"),
])
def test_conversion_failures(type_name, value):
    with pytest.raises(ValueError):
        book._convert(value, type_name)


def toc_files(node):
    if isinstance(node, dict):
        found = [node["file"]] if "file" in node else []
        for key in ("root",):
            if key in node:
                found.append(node[key])
        for child in node.values():
            found += toc_files(child)
        return found
    if isinstance(node, list):
        return [item for child in node for item in toc_files(child)]
    return []


def test_every_chapter_is_in_the_toc_and_every_toc_chapter_exists():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = set(toc_files(toc))
    chapters = {f"book/chapters/{c.name}" for c in book.list_chapters(ROOT)}
    assert chapters == {f for f in files if f.startswith("book/chapters/")}
    for page in files - chapters:
        assert (ROOT / f"{page}.md").is_file(), page


@pytest.mark.parametrize("chapter", book.list_chapters(ROOT), ids=lambda c: c.name)
def test_every_chapter_has_typed_documented_parameters_and_provenance(chapter):
    text = chapter.source.read_text()
    assert 'tags=["parameters"]' in text and 'tags=["provenance"]' in text
    cell = text.split('tags=["parameters"]', 1)[1].split("# %%", 1)[0]
    assigned = re.findall(r"^(\w+)\s*:", cell, flags=re.M)
    parameters = book.chapter_parameters(chapter)
    # papermill skips (with only a log warning) lines it cannot parse, e.g. with a second "="
    # in the comment or an annotation like "int | None": every assignment must be seen.
    assert list(parameters) == assigned
    for parameter in parameters.values():
        assert parameter.type != "None", f"{parameter.name} has no type annotation"
        assert parameter.help, f"{parameter.name} has no help comment"
    assert re.search(r"^# # ", text, flags=re.M), "the chapter has no title"


def test_kernels_get_their_own_local_sockets_outside_the_working_directory(tmp_path,
                                                                           monkeypatch):
    # Two processes starting kernels in one folder must not pick the same socket files.

    monkeypatch.chdir(tmp_path)
    first, second = (LocalSocketKernelManager(kernel_name="python3") for _ in range(2))
    assert first.transport == "ipc"
    assert first.ip != second.ip
    assert os.path.isabs(first.ip) and not first.ip.startswith(str(tmp_path))
