"""The book pipeline without executing anything: chapters, parameters, validation, TOC."""

import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from docutils import nodes
from docutils.utils import new_document
from pybtex.database import parse_file, parse_string

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


# --- The site's configuration and Sphinx hooks (book/_ext/otcompanion_site.py) ------------------

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import otcompanion_site  # noqa: E402  (a local Sphinx extension, not a package)


def test_the_theme_s_icon_script_and_search_index_are_left_out_and_nothing_else():
    head = ('<script defer src="../_static/scripts/fontawesome.js?digest=1"></script>\n'
            '<link rel="preload" as="script" href="../_static/scripts/bootstrap.js" />\n'
            '<script src="../../searchindex.js"></script>'
            '<script src="../_static/searchtools.js"></script>'
            '<script src="../_static/otcompanion.js?v=2"></script>')
    kept = otcompanion_site.without_scripts(head)
    assert "fontawesome" not in kept and "search" not in kept
    assert "bootstrap.js" in kept and '<script src="../_static/otcompanion.js?v=2"></script>' in kept
    assert otcompanion_site.without_scripts(head, names=()) == head


def test_glued_numbers_get_a_true_minus_and_other_text_keeps_its_hyphens():
    document = new_document("page")
    paragraph = nodes.paragraph()
    pasted = [nodes.inline(text, text, classes=["pasted-text"])
              for text in ("-0.25", "-.5", "[-1, 2]", "x-1", "3 - 2", "0.1")]
    prose = nodes.inline("-0.25", "-0.25")
    paragraph.extend([*pasted, prose])
    document.append(paragraph)
    otcompanion_site.true_minus(None, document, "page")
    assert [node.astext() for node in pasted] == [
        "\u22120.25", "\u2212.5", "[\u22121, 2]", "x-1", "3 - 2", "0.1"]
    assert prose.astext() == "-0.25"


@pytest.mark.parametrize("text", ["at $d$ = 3", "**supported**", "<IPython.core.display.Markdown "
                                  "object>", "`x`"])
def test_pasted_text_that_is_markdown_or_an_object_is_a_warning(text, caplog):
    document = new_document("page")
    document.append(nodes.paragraph("", "", nodes.inline(text, text, classes=["pasted-text"])))
    with caplog.at_level("WARNING"):
        otcompanion_site.true_minus(None, document, "page")
    assert "glue:md" in caplog.text


def test_the_jupytext_download_is_the_notebook_as_a_percent_script(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("x = 1", outputs=[nbformat.v4.new_output(
            "stream", name="stdout", text="hidden output")])])
    notebook.cells[1].metadata.update(
        {"tags": ["parameters"], "papermill": {"duration": 0.1}, "execution": {"a": 1}})
    path = tmp_path / "chapter.ipynb"
    nbformat.write(notebook, path)
    script = otcompanion_site.jupytext_source(path)
    assert "# %% [markdown]\n# # Title" in script
    assert '# %% tags=["parameters"]\nx = 1' in script
    assert "hidden output" not in script and "papermill" not in script
    assert "duration" not in script
    back = jupytext.reads(script, fmt="py:percent")
    assert [cell.source for cell in back.cells] == ["# Title", "x = 1"]


class _Env:
    def __init__(self, docname, path):
        self.all_docs = {docname: 0}
        self._path = path

    def doc2path(self, docname):
        return self._path


def _download_group():
    return {"label": "download-buttons", "buttons": [
        {"label": "download-source-button", "url": "../../_sources/book/chapters/x.ipynb"},
        {"label": "download-pdf-button"}]}


def test_a_notebook_page_offers_its_jupytext_script_after_the_notebook(tmp_path):
    source = tmp_path / "x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("y = 2")]), source)
    app = type("App", (), {"env": _Env("book/chapters/x", source), "outdir": str(tmp_path / "out")})
    group = _download_group()
    context = {"header_buttons": [group], "pathto": lambda name, resource: f"../../{name}"}
    otcompanion_site.add_jupytext_download(app, "book/chapters/x", "page.html", context, None)
    labels = [button["label"] for button in group["buttons"]]
    assert labels == ["download-source-button", "download-jupytext-button", "download-pdf-button"]
    assert group["buttons"][1]["url"] == "../../_sources/book/chapters/x.py"
    assert "y = 2" in (tmp_path / "out" / "_sources" / "book" / "chapters" / "x.py").read_text()


def test_a_markdown_page_gets_no_jupytext_download(tmp_path):
    source = tmp_path / "cite.md"
    source.write_text("# Cite\n")
    app = type("App", (), {"env": _Env("book/cite", source), "outdir": str(tmp_path / "out")})
    group = _download_group()
    otcompanion_site.add_jupytext_download(app, "book/cite", "page.html",
                                           {"header_buttons": [group], "pathto": None}, None)
    assert len(group["buttons"]) == 2 and not (tmp_path / "out").exists()


def test_bibliography_entries_become_list_items():
    context = {"body": '<div role="list"><div class="citation" role="doc-biblioentry">a</div>'
                       '<div role="doc-biblioentry">b</div></div>'}
    otcompanion_site.fix_bibliography_roles(None, "book/references", "page.html", context, None)
    assert context["body"].count('role="listitem"') == 2 and "biblioentry" not in context["body"]


def test_mathjax_is_served_by_the_site_with_only_the_components_it_needs():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]
    extensions = config["config"]["extensions"]
    assert "sphinx-mathjax-offline" in extensions
    # otcompanion_site comes after sphinx-mathjax-offline, which points the pages at
    # tex-chtml.js in its setup; the local extension's folder is on Jupyter Book's list.
    assert extensions.index("otcompanion_site") > extensions.index("sphinx-mathjax-offline")
    assert config["local_extensions"] == {"otcompanion_site": "book/_ext"}
    assert "mathjax_path" not in config["config"]
    assert otcompanion_site.MATHJAX_PATH == "mathjax/startup.js"
    load = config["config"]["mathjax3_config"]["loader"]["load"]
    offline = Path(importlib.util.find_spec("sphinx-mathjax-offline").origin).parent
    for component in ["startup", *load]:
        assert (offline / "static" / "mathjax" / f"{component}.js").is_file(), component
    configured = type("Config", (), {"mathjax_path": "mathjax/tex-chtml.js"})()
    otcompanion_site.use_mathjax_components(None, configured)
    assert configured.mathjax_path == "mathjax/startup.js"


def test_the_build_finds_the_local_extension_from_its_generated_configuration():
    config = book.book_config(ROOT, repository_url="")
    folder = Path(config["sphinx"]["local_extensions"]["otcompanion_site"])
    assert folder.is_absolute() and (folder / "otcompanion_site.py").is_file()


def test_the_repository_address_turns_on_the_issue_button_and_never_colab():
    config = book.book_config(ROOT, repository_url="https://github.com/owner/repo")
    assert config["html"]["use_issues_button"] is True
    assert config["launch_buttons"]["colab_url"] == ""
    assert book.book_config(ROOT, repository_url="")["html"]["use_issues_button"] is False


def test_the_clone_commands_carry_the_address():
    assert book.clone_commands("https://github.com/owner/repo/").startswith(
        "git clone https://github.com/owner/repo otcompanion\n")
    assert "ADDRESS-OF-THE-REPOSITORY" in book.clone_commands("")
    with pytest.raises(ValueError, match="OTCOMPANION_REPOSITORY_URL"):
        book.clone_commands("not an address")


def _project_copy(tmp_path, authors):
    for name in ("_config.yml", "CITATION.cff"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "book").mkdir()
    shutil.copy(ROOT / "book" / "references.bib", tmp_path / "book" / "references.bib")
    citation = yaml.safe_load((tmp_path / "CITATION.cff").read_text())
    citation["authors"] = authors
    (tmp_path / "CITATION.cff").write_text(yaml.safe_dump(citation, allow_unicode=True))
    return tmp_path


def test_the_book_s_bibtex_names_the_authors_of_citation_cff(tmp_path):
    root = _project_copy(tmp_path, [
        {"family-names": "Rossi", "given-names": "Maria"},
        {"family-names": "Berg", "name-particle": "van den", "given-names": "Jan",
         "name-suffix": "Jr."},
        {"name": "The Example Lab"}])
    entries = parse_string(book.citation_bibtex(root), "bibtex").entries
    persons = entries["otcompanion"].persons["author"]
    assert [str(person) for person in persons] == ["Rossi, Maria", "van den Berg, Jr., Jan",
                                                   "{The Example Lab}"]
    # The works the book accompanies keep their own authors.
    assert [p.last_names for p in entries["quadrio2025transformers"].persons["author"]] == \
        [["Quadrio"], ["Candelieri"]]


def test_every_reference_links_to_the_work_once():
    entries = parse_file(ROOT / "book" / "references.bib", "bibtex").entries
    for key, entry in entries.items():
        fields = {name.lower(): value for name, value in entry.fields.items()}
        assert {"doi", "url", "eprint"} & set(fields), f"{key} has no DOI, URL or arXiv id"
        if "eprint" in fields:
            assert fields.get("archiveprefix") == "arXiv", key
            assert re.fullmatch(r"\d{4}\.\d{4,5}", fields["eprint"]), key
            # pybtex writes "arXiv:<eprint>" from the eprint: a note with the id repeats it.
            assert fields["eprint"] not in fields.get("note", ""), key
        if "doi" in fields:
            assert re.fullmatch(r"10\.\d{4,9}/\S+", fields["doi"]), key
    assert entries["deora2024multihead"].fields["eprint"] == "2310.12680"


def test_the_repository_buttons_use_no_brand_icon():
    repository = {"label": "source-repository-button", "icon": "fab fa-github"}
    issues = {"label": "source-issues-button", "icon": "fas fa-lightbulb"}
    context = {"header_buttons": [
        {"label": "source-buttons", "icon": "fab fa-github", "buttons": [repository, issues]},
        {"label": "fullscreen-button", "icon": "fas fa-expand"}]}
    otcompanion_site.repository_icon_without_brand_font(None, "x", "page.html", context, None)
    assert context["header_buttons"][0]["icon"] == repository["icon"] == "fas fa-code-branch"
    assert issues["icon"] == "fas fa-lightbulb"
    assert context["header_buttons"][1]["icon"] == "fas fa-expand"
