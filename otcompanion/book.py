"""The book pipeline: find chapters, read and validate their parameters, execute them, build HTML.

Chapters are Jupytext py:percent files ``notebooks/NN_name.py``. Each has a cell tagged
``parameters`` with typed, commented assignments (``seed: int = 0  # random seed``), which
papermill reads as the chapter's parameters. Executing a chapter converts it to a notebook,
validates the parameters before any compute, runs it with papermill in this interpreter's own
kernel, and writes the executed notebook atomically to ``book/chapters/NN_name.ipynb``. The
notebooks carry the standard ``python3`` kernelspec, so a reader who downloads one runs it in any
Python kernel that has the package installed. Jupyter Book 1 then renders ``_toc.yml`` into
``book/_build/html``, with repository and Binder buttons when ``$OTCOMPANION_REPOSITORY_URL``
is set (:func:`book_config`).
"""

from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import copy
import difflib
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

try:
    import jupytext
    import nbformat
    import papermill
    import yaml
    from jupyter_client import AsyncKernelManager
    from papermill.exceptions import PapermillExecutionError
    from traitlets import default
except ModuleNotFoundError as error:  # the book extra is not installed: say so
    raise ModuleNotFoundError(
        f"running chapters and building the book need the 'book' extra ({error.name} is "
        f"missing): pip install 'otcompanion[book]' (in a clone: pip install --constraint "
        f"constraints.txt -e '.[book]')", name=error.name) from error

from otcompanion import claims
from otcompanion._validation import check_bool

# The kernel papermill starts while building: a temporary kernelspec for *this* interpreter.
KERNEL_NAME = "otcompanion"
KERNEL_DISPLAY_NAME = "Python (otcompanion)"
# The kernelspec the notebooks carry: Jupyter's standard Python kernel, so that a downloaded
# notebook opens in any Jupyter (or on Binder) where the package is installed.
NOTEBOOK_KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                       "language": "python"}
REPOSITORY_URL_VARIABLE = "OTCOMPANION_REPOSITORY_URL"
BINDERHUB_URL = "https://mybinder.org"


class ParameterError(ValueError):
    """A chapter parameter that does not exist or has a value of the wrong type."""


class ChapterNotFound(ValueError):
    """A chapter name that matches no file in ``notebooks/``."""


class ChapterFailed(RuntimeError):
    """A chapter whose execution raised an error; ``report`` is the failing notebook's path."""

    def __init__(self, message, report=None):
        super().__init__(message)
        self.report = report


def project_root():
    """The repository root: ``$OTCOMPANION_ROOT``, else the folder that holds the package.

    The root is the folder with ``_toc.yml`` and ``notebooks/``. The package is installed in
    editable mode by ``make``, so the folder above ``otcompanion/`` is the clone.
    """
    candidates = []
    if os.environ.get("OTCOMPANION_ROOT"):
        candidates.append(Path(os.environ["OTCOMPANION_ROOT"]))
    candidates.append(Path(__file__).resolve().parent.parent)
    candidates.extend([Path.cwd(), *Path.cwd().parents])
    for candidate in candidates:
        if (candidate / "_toc.yml").is_file() and (candidate / "notebooks").is_dir():
            return candidate.resolve()
    raise FileNotFoundError(
        "cannot find the otcompanion project (a folder with _toc.yml and notebooks/): run from "
        "inside the clone or set OTCOMPANION_ROOT."
    )


@dataclass(frozen=True)
class Parameter:
    """One chapter parameter as declared in its ``parameters`` cell."""

    name: str
    type: str
    default: str
    help: str


@dataclass(frozen=True)
class Chapter:
    """A chapter source file and where its executed notebook goes."""

    name: str
    source: Path
    title: str

    @property
    def executed(self):
        """Path of the executed notebook the book renders."""
        return self.source.parent.parent / "book" / "chapters" / f"{self.name}.ipynb"


def _title(source):
    for line in source.read_text(encoding="utf-8").splitlines():
        match = re.match(r"#\s+#\s+(.+)", line)
        if match:
            return match.group(1).strip()
    return source.stem


def list_chapters(root=None):
    """All chapters in reading order (file names sort by their ``NN_`` prefix)."""
    root = Path(root) if root else project_root()
    return [Chapter(name=path.stem, source=path, title=_title(path))
            for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.py"))]


def find_chapter(name, root=None):
    """A chapter by file stem (``00_data``), number (``00``, ``0``) or topic (``data``)."""
    chapters = list_chapters(root)
    key = Path(str(name)).stem
    for chapter in chapters:
        number, _, topic = chapter.name.partition("_")
        if key in (chapter.name, number, topic) or (key.isdigit() and int(key) == int(number)):
            return chapter
    names = ", ".join(chapter.name for chapter in chapters) or "none"
    raise ChapterNotFound(f"no chapter {name!r}; the chapters are: {names}.")


def as_chapter(chapter, root=None):
    """``chapter`` itself when it is a :class:`Chapter`, else the chapter of that name under
    ``root`` (:func:`find_chapter`)."""
    return chapter if isinstance(chapter, Chapter) else find_chapter(chapter, root)


def chapter_notebook(chapter):
    """The chapter's source converted to a notebook with the standard ``python3`` kernelspec."""
    chapter = as_chapter(chapter)
    notebook = jupytext.read(chapter.source)
    notebook.metadata.pop("jupytext", None)
    notebook.metadata["kernelspec"] = dict(NOTEBOOK_KERNELSPEC)
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def chapter_parameters(chapter):
    """The chapter's parameters, name -> :class:`Parameter`, in declaration order.

    Read by papermill's inspection of the ``parameters`` cell, as ``papermill --help-notebook``
    shows them.
    """
    notebook = chapter_notebook(chapter)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chapter.ipynb"
        nbformat.write(notebook, path)
        inferred = papermill.inspect_notebook(str(path))
    return {name: Parameter(name=name, type=spec["inferred_type_name"], default=spec["default"],
                            help=spec["help"]) for name, spec in inferred.items()}


_SCALARS = {"int": int, "float": float, "bool": bool, "str": str}
_CONTAINERS = {"list": list, "tuple": tuple, "dict": dict, "set": set}


def _split_top_level(text, separator):
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "["
        depth -= char == "]"
        if char == separator and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def _convert(value, type_name):
    """Return ``value`` converted to ``type_name`` (a string from the command line is parsed);
    raise ``ValueError`` when it does not fit."""
    kind = type_name.replace(" ", "")
    if kind.startswith("Optional[") and kind.endswith("]"):
        kind = kind[len("Optional["):-1] + "|None"
    alternatives = _split_top_level(kind, "|")
    if len(alternatives) > 1:
        # "None" is tried first so that `-p name None` means None, not the string "None".
        alternatives.sort(key=lambda alternative: alternative not in ("None", "NoneType"))
        for alternative in alternatives:
            if alternative in ("None", "NoneType"):
                if value is None or value == "None":
                    return None
                continue
            with contextlib.suppress(ValueError):
                return _convert(value, alternative)
        raise ValueError
    if kind in _SCALARS:
        if isinstance(value, str) and kind == "bool":
            lowered = value.strip().lower()
            if lowered in ("true", "yes", "1"):
                return True
            if lowered in ("false", "no", "0"):
                return False
            raise ValueError
        if isinstance(value, str) and kind != "str":
            value = _SCALARS[kind](value.strip())  # int("1.5") and float("abc") raise ValueError
        if isinstance(value, bool) and kind != "bool":
            raise ValueError
        if kind == "float" and isinstance(value, int):
            return float(value)
        if not isinstance(value, _SCALARS[kind]):
            raise ValueError
        return value
    match = re.fullmatch(r"(\w+)(?:\[(.*)\])?", kind)
    origin = match.group(1).lower() if match else ""
    if origin in _CONTAINERS:
        if isinstance(value, str):
            try:
                value = ast.literal_eval(value)
            except (SyntaxError, ValueError):
                raise ValueError from None
        if origin in ("list", "tuple") and isinstance(value, (list, tuple)):
            value = _CONTAINERS[origin](value)
        if not isinstance(value, _CONTAINERS[origin]):
            raise ValueError
        arguments = _split_top_level(match.group(2), ",") if match.group(2) else []
        if origin in ("list", "set") and len(arguments) == 1:
            return _CONTAINERS[origin](_convert(item, arguments[0]) for item in value)
        if origin == "tuple" and len(arguments) == 2 and arguments[1] == "...":
            return tuple(_convert(item, arguments[0]) for item in value)
        if origin == "tuple" and arguments:
            if len(arguments) != len(value):
                raise ValueError
            return tuple(_convert(item, kind) for item, kind in zip(value, arguments))
        return value
    # No annotation (papermill says "None") or a type this parser does not know: a Python
    # literal is parsed, anything else stays a string.
    if isinstance(value, str):
        with contextlib.suppress(SyntaxError, ValueError):
            return ast.literal_eval(value)
    return value


def validate_parameters(chapter, values):
    """Check parameter names and types before anything runs; return the converted values.

    Parameters
    ----------
    chapter : Chapter or str
    values : dict
        Name -> value. Strings (as from the command line) are parsed into the declared type;
        other values must already have it.

    Raises
    ------
    ParameterError
        An unknown name (the message lists the valid ones) or a value of the wrong type.
    """
    chapter = as_chapter(chapter)
    declared = chapter_parameters(chapter)
    converted = {}
    for name, value in (values or {}).items():
        if name not in declared:
            close = difflib.get_close_matches(name, list(declared), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterError(
                f"chapter {chapter.name} has no parameter {name!r}.{hint} Its parameters are: "
                f"{', '.join(declared) or 'none'}."
            )
        spec = declared[name]
        if spec.type == "None":  # declared without annotation: take the type of the default
            with contextlib.suppress(SyntaxError, ValueError):
                default = ast.literal_eval(spec.default)
                if default is not None:
                    spec = Parameter(name, type(default).__name__, spec.default, spec.help)
        try:
            converted[name] = _convert(value, spec.type)
        except (TypeError, ValueError):
            about = f" ({spec.help})" if spec.help else ""
            raise ParameterError(
                f"parameter {name!r} of chapter {chapter.name} must be {spec.type}{about}; "
                f"got {value!r}."
            ) from None
    return converted


class LocalSocketKernelManager(AsyncKernelManager):
    """Talks to the kernel over local (IPC) sockets instead of unencrypted loopback TCP.

    The sockets are files named ``<ip>-<port>``. jupyter_client's default ``ip`` is
    ``kernel-ipc`` in the working directory, and it numbers the ports by looking for free
    names, so two processes starting kernels in one folder at once (the two pytest-xdist
    workers of ``make test``) could pick the same sockets; every kernel gets its own name in the
    temporary folder instead.
    """

    @default("transport")
    def _default_transport(self):
        return "ipc"

    @default("ip")
    def _default_ip(self):
        return os.path.join(tempfile.gettempdir(), f"otcompanion-kernel-{uuid.uuid4().hex}")


@contextlib.contextmanager
def project_kernel():
    """Make the ``otcompanion`` kernel name start *this* interpreter for the duration.

    ``JUPYTER_PATH`` is searched before the user's and the system's kernel folders, so a
    kernelspec of the same name installed elsewhere (e.g. for another Python) cannot shadow it.
    """
    with tempfile.TemporaryDirectory() as folder:
        spec_dir = Path(folder) / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": KERNEL_DISPLAY_NAME, "language": "python"}
        (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
        previous = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [folder, previous]))
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = previous


def _tidy_injected_cell(path):
    """Collapse papermill's injected-parameters cell on the rendered page (tag ``hide-cell``)."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "hide-cell" not in tags:
            cell.metadata["tags"] = [*tags, "hide-cell"]
    nbformat.write(notebook, path)


def run_chapter(chapter, parameters=None, output=None, reports=None, echo=print):
    """Execute one chapter with papermill and write the executed notebook atomically.

    Parameters
    ----------
    chapter : Chapter or str
        A chapter or its name (see :func:`find_chapter`).
    parameters : dict, optional
        Parameter values; validated before anything runs (:func:`validate_parameters`).
    output : path, optional
        Where to write the executed notebook; default ``book/chapters/NAME.ipynb``.
    reports : path, optional
        Folder that keeps the notebook of a failed run; default ``reports/`` in the project.
    echo : callable
        Receives progress lines; pass ``None`` for silence.

    Returns
    -------
    Path
        The executed notebook.

    Raises
    ------
    ParameterError
        Before execution, for an unknown parameter or a value of the wrong type.
    ChapterFailed
        A cell raised; the message names the cell and the error, ``report`` is the kept failing
        notebook, and ``output`` is left as it was.
    """
    show_progress = echo is not None and sys.stderr.isatty()
    echo = echo or (lambda line: None)
    chapter = as_chapter(chapter)
    values = validate_parameters(chapter, parameters)
    output = Path(output) if output else chapter.executed
    reports = Path(reports) if reports else chapter.source.parent.parent / "reports"
    output.parent.mkdir(parents=True, exist_ok=True)
    shown = " ".join(f"{name}={value!r}" for name, value in values.items())
    echo(f"[otcompanion] running {chapter.name} ({chapter.title}) {shown}".rstrip())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"{chapter.name}.ipynb"
        nbformat.write(chapter_notebook(chapter), source)
        partial = output.with_name(f".{output.stem}.partial.ipynb")
        try:
            with project_kernel():
                papermill.execute_notebook(
                    str(source), str(partial), parameters=values, kernel_name=KERNEL_NAME,
                    progress_bar=show_progress, log_output=False,
                    kernel_manager_class=LocalSocketKernelManager,
                )
        except PapermillExecutionError as error:
            reports.mkdir(parents=True, exist_ok=True)
            report = reports / f"{chapter.name}.failed.ipynb"
            shutil.move(str(partial), report)
            first_line = next((line for line in error.source.splitlines() if line.strip()), "")
            raise ChapterFailed(
                f"chapter {chapter.name} failed in cell In [{error.exec_count}] "
                f"({first_line.strip()!r}): {error.ename}: {error.evalue}\n"
                f"The failing notebook is kept at {report}; {output} was left unchanged.",
                report=report,
            ) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    _tidy_injected_cell(partial)
    os.replace(partial, output)
    echo(f"[otcompanion] {chapter.name} done in {time.perf_counter() - started:.1f} s -> {output}")
    return output


def chapter_times_table(root=None):
    """Markdown table of each executed chapter's wall time, read from papermill's metadata."""
    lines = ["| Chapter | Title | Wall time at these parameters | Non-default parameters |",
             "|---|---|---|---|"]
    for chapter in list_chapters(root):
        if not chapter.executed.is_file():
            continue
        meta = nbformat.read(chapter.executed, as_version=4).metadata.get("papermill", {})
        duration = meta.get("duration")
        injected = meta.get("parameters") or {}
        shown = ", ".join(f"`{name}={value!r}`" for name, value in injected.items()) or "none"
        time_text = f"{duration:.0f} s" if duration is not None else "n/a"
        lines.append(f"| `{chapter.name}` | {chapter.title} | {time_text} | {shown} |")
    cores = os.cpu_count()
    return "\n".join(lines) + f"\n\nMeasured in this build, on a machine with {cores} CPU cores.\n"


def book_config(root=None, repository_url=None, branch="main"):
    """The Jupyter Book configuration of this build: ``_config.yml`` plus the repository.

    The repository URL is configured in one place, ``$OTCOMPANION_REPOSITORY_URL`` (read by
    :func:`build_book`; the publishing workflow sets it from GitHub's own variables). When it is
    given, every page gets a repository button and an issue button, and chapter pages a Binder
    launch button; Binder builds the environment in ``binder/`` and opens the chapter's notebook
    ``book/chapters/NAME.ipynb``, which ``binder/postBuild`` writes. Without it, no button points
    anywhere. There is never a Colab button: Colab opens notebooks committed to the repository,
    and the chapters' notebooks are generated.

    Parameters
    ----------
    root : path, optional
        Project root; default :func:`project_root`.
    repository_url : str, optional
        The repository's web address, e.g. ``https://github.com/OWNER/REPO``; ``None`` or
        ``""`` for a book without repository and launch buttons.
    branch : str
        The branch that Binder and the repository links use.

    Returns
    -------
    dict
        The configuration, ready to be written as YAML for ``jupyter-book build --config``.
    """
    root = Path(root) if root else project_root()
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    # Jupyter Book resolves the folders of local extensions against the configuration file's
    # folder, and the build's configuration is written to book/_generated/: absolute paths.
    local = config.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in local.items():
        local[name] = str((root / folder).resolve())
    substitutions = config.setdefault("parse", {}).setdefault("myst_substitutions", {})
    if not repository_url:
        substitutions["repository_link"] = (
            "its git repository (this copy of the book was built without the repository's "
            "address; ask whoever published it)")
        return config
    url = _checked_repository_url(repository_url)
    substitutions["repository_link"] = f"the repository [{url}]({url})"
    config["repository"] = {"url": url, "branch": branch, "path_to_book": ""}
    config.setdefault("html", {}).update({"use_repository_button": True,
                                          "use_issues_button": True})
    config.setdefault("launch_buttons", {}).update(
        {"binderhub_url": BINDERHUB_URL, "notebook_interface": "jupyterlab", "colab_url": ""})
    return config


def clone_commands(repository_url=None):
    """The shell lines that clone the repository, for the "Get the code" page.

    Parameters
    ----------
    repository_url : str, optional
        The address the build was given; without it the line names a placeholder.

    Returns
    -------
    str
    """
    address = _checked_repository_url(repository_url) if repository_url else (
        "ADDRESS-OF-THE-REPOSITORY")
    return f"git clone {address} otcompanion\ncd otcompanion\n"


def _checked_repository_url(repository_url):
    url = repository_url.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+/[^\s]+", url):
        raise ValueError(f"${REPOSITORY_URL_VARIABLE} must be a web address like "
                         f"https://github.com/OWNER/REPO; got {repository_url!r}.")
    return url


def _bibtex_entries(text):
    """BibTeX entries of ``text`` by key; each entry runs from ``@type{key,`` to the next ``@``."""
    entries = {}
    for chunk in re.split(r"(?m)^(?=@)", text):
        match = re.match(r"@\w+\{([^,\s]+),", chunk)
        if match:
            entries[match.group(1)] = chunk.strip() + "\n"
    return entries


# The works this book accompanies, as keys of book/references.bib.
CITED_WORKS = ("quadrio2025transformers", "deora2024multihead")


def _bibtex_person(person):
    """A ``CITATION.cff`` person or entity as a BibTeX name: ``Family, Given`` (with the
    name particle and suffix where given), or an entity's ``name`` in braces."""
    if "family-names" not in person:
        return "{" + person["name"] + "}"
    family = " ".join(filter(None, [person.get("name-particle"), person["family-names"]]))
    parts = [family, person.get("name-suffix"), person.get("given-names")]
    return ", ".join(part for part in parts if part)


def citation_bibtex(root=None, repository_url=None):
    """BibTeX for the "How to cite" page: the book itself, then the works it accompanies.

    The book's entry takes its authors, title and version from ``CITATION.cff`` (the file a
    publisher edits), its year from the ``copyright`` of ``_config.yml`` and its ``url`` from
    ``repository_url`` when given; the entries of the two works are copied, with their own
    authors, from ``book/references.bib``.

    Returns
    -------
    str
    """
    root = Path(root) if root else project_root()
    citation = yaml.safe_load((root / "CITATION.cff").read_text(encoding="utf-8"))
    year = str(yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))["copyright"])
    authors = " and ".join(_bibtex_person(person) for person in citation["authors"])
    fields = [("author", authors), ("title", citation["title"]),
              ("year", year), ("version", citation["version"]),
              ("note", "Executable companion book and Python package otcompanion")]
    if repository_url:
        fields.append(("url", _checked_repository_url(repository_url)))
    width = max(len(name) for name, _ in fields)
    book_entry = "@software{otcompanion,\n" + ",\n".join(
        f"  {name:<{width}} = {{{value}}}" for name, value in fields) + "\n}\n"
    references = _bibtex_entries((root / "book" / "references.bib").read_text(encoding="utf-8"))
    return "\n".join([book_entry, *(references[key] for key in CITED_WORKS)])


def write_source_notebooks(folder=None, root=None):
    """Write every chapter, unexecuted, as ``NAME.ipynb`` into ``folder``.

    Binder runs this after installing the package (``binder/postBuild``), so the launch
    button's path ``book/chapters/NAME.ipynb`` exists there without executing anything.

    Parameters
    ----------
    folder : path, optional
        Default ``book/chapters`` of the project.
    root : path, optional
        Project root; default :func:`project_root`.

    Returns
    -------
    list of Path
        The notebooks written.
    """
    root = Path(root) if root else project_root()
    folder = Path(folder) if folder else root / "book" / "chapters"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for chapter in list_chapters(root):
        path = folder / f"{chapter.name}.ipynb"
        nbformat.write(chapter_notebook(chapter), path)
        written.append(path)
    return written


_SOLUTION_FENCE = re.compile(r"^```\{(solution-start|solution-end)\}[^\n]*\n.*?^```[ \t]*$\n?",
                             re.M | re.S)


def strip_solutions(notebook):
    """``notebook`` without its exercises' solutions, for a book that publishes none.

    Everything between a ``solution-start`` fence and the next ``solution-end`` fence goes: the
    markdown (the explanation), the code cells with their outputs (the solution code, the
    values it glued for the solution's text) and the hidden ``check`` cells. The exercise
    statements and the rest of the chapter stay.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        A chapter, executed or not; it is not modified.

    Returns
    -------
    nbformat.NotebookNode

    Raises
    ------
    ValueError
        A solution is never closed, or a ``solution-end`` has no ``solution-start``.
    """
    stripped, cells, inside = copy.deepcopy(notebook), [], False
    for cell in stripped.cells:
        if cell.cell_type != "markdown":
            cells += [] if inside else [cell]
            continue
        kept, position = [], 0
        for match in _SOLUTION_FENCE.finditer(cell.source):
            if (match.group(1) == "solution-start") == inside:
                raise ValueError(f"a {match.group(1)} fence {'inside' if inside else 'outside'} "
                                 f"a solution:\n{cell.source[match.start():][:200]}")
            kept += [] if inside else [cell.source[position:match.start()]]
            inside, position = match.group(1) == "solution-start", match.end()
        kept += [] if inside else [cell.source[position:]]
        cell.source = "".join(kept).strip()
        cells += [cell] if cell.source else []
    if inside:
        raise ValueError("a solution-start fence is never closed by a solution-end fence.")
    stripped.cells = cells
    return stripped


@contextlib.contextmanager
def _without_solutions(root, enabled, echo):
    """While the book builds: the executed chapters without solutions (``enabled``), restored
    afterwards from ``book/_generated/with-solutions`` (also after an interrupted build)."""
    backup = root / "book" / "_generated" / "with-solutions"
    for saved in sorted(backup.glob("*.ipynb")) if backup.is_dir() else []:
        shutil.copy2(saved, root / "book" / "chapters" / saved.name)  # an interrupted build
    shutil.rmtree(backup, ignore_errors=True)
    if not enabled:
        yield
        return
    echo("[otcompanion] leaving the solutions out of the pages and notebooks")
    backup.mkdir(parents=True)
    try:
        for chapter in list_chapters(root):
            shutil.copy2(chapter.executed, backup / chapter.executed.name)
            notebook = nbformat.read(chapter.executed, as_version=4)
            nbformat.write(strip_solutions(notebook), chapter.executed)
        yield
    finally:
        for saved in sorted(backup.glob("*.ipynb")):
            shutil.copy2(saved, root / "book" / "chapters" / saved.name)
        shutil.rmtree(backup, ignore_errors=True)


#: Chapters that read another chapter's runs from the run cache
#: (:func:`otcompanion.engine.cached`), and that chapter: :func:`build_book` starts them only
#: once it has finished, so that they read its runs instead of computing them again.
READS_RUNS_OF = {"03_mlp_pretraining": "02_ot_metrics", "04_dummy_gaussian": "02_ot_metrics"}

#: Chapters :func:`build_book` executes at once, each in a process of its own. A chapter's runs
#: already use every core, but every chapter also has serial parts (starting its kernel,
#: statistics, figures) that leave cores idle, which a second chapter fills. The numbers do not
#: depend on it: every run is seeded by its own coordinates and uses one thread.
PARALLEL_CHAPTERS = 2


def _run_in_process(source, root, quiet):
    """Run the chapter whose source is ``source`` (in a worker process of :func:`build_book`),
    printing its progress unless ``quiet``; the message of its failure, or None."""
    try:
        run_chapter(find_chapter(Path(source).stem, root), echo=None if quiet else print)
    except ChapterFailed as error:
        return str(error)
    return None


def _execute(selected, root, echo):
    """Execute ``selected`` chapters, :data:`PARALLEL_CHAPTERS` at a time, each after the
    chapter whose runs it reads (:data:`READS_RUNS_OF`), the chapters others read first;
    return the names of those that failed. ``echo`` None runs them silently."""
    say = echo or (lambda line: None)
    failures = []
    if PARALLEL_CHAPTERS == 1 or len(selected) == 1:
        for chapter in selected:
            try:
                run_chapter(chapter, echo=echo)
            except ChapterFailed as error:
                say(f"[otcompanion] FAILED: {error}")
                failures.append(chapter.name)
        return failures
    names = {chapter.name for chapter in selected}
    read = set(READS_RUNS_OF.values())
    pending = sorted(selected, key=lambda chapter: chapter.name not in read)
    running, done = {}, set()
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited state
    with concurrent.futures.ProcessPoolExecutor(PARALLEL_CHAPTERS, mp_context=context) as pool:
        while pending or running:
            for chapter in list(pending):
                needs = READS_RUNS_OF.get(chapter.name)
                if len(running) < PARALLEL_CHAPTERS and (needs not in names or needs in done):
                    pending.remove(chapter)
                    running[pool.submit(_run_in_process, str(chapter.source), str(root),
                                        echo is None)] = chapter
            finished, _ = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                chapter = running.pop(future)
                done.add(chapter.name)
                error = future.result()
                if error:
                    say(f"[otcompanion] FAILED: {error}")
                    failures.append(chapter.name)
    return failures


def build_book(chapters=None, execute=True, root=None, echo=print, repository_url=None,
               solutions=True):
    """Execute chapters (all, or the named ones) and build the HTML book, warnings as errors.

    Chapters run :data:`PARALLEL_CHAPTERS` at a time, each in its own process, a chapter that
    reads another's runs after it (:data:`READS_RUNS_OF`).

    Returns the path of ``book/_build/html/index.html``; raises :class:`ChapterFailed` if any
    chapter failed (after trying all of them) and ``RuntimeError`` if Jupyter Book failed.
    ``repository_url`` defaults to ``$OTCOMPANION_REPOSITORY_URL`` (see :func:`book_config`).
    With ``solutions=False`` the pages and the downloadable notebooks carry no solutions
    (:func:`strip_solutions`; the executed chapters are restored after the build), and the
    book gets no repository or launch buttons, which would lead to the public sources and
    their solutions.
    """
    echo_given = echo is not None
    echo = echo or (lambda line: None)
    root = Path(root) if root else project_root()
    solutions = check_bool(solutions, "solutions")
    if repository_url is None:
        repository_url = os.environ.get(REPOSITORY_URL_VARIABLE, "")
    if not solutions and repository_url:
        echo(f"[otcompanion] no repository buttons ({repository_url} holds the solutions)")
        repository_url = ""
    selected = [find_chapter(name, root) for name in chapters] if chapters else list_chapters(root)
    failures = _execute(selected, root, echo if echo_given else None) if execute else []
    if failures:
        raise ChapterFailed(f"{len(failures)} chapter(s) failed: {', '.join(failures)}; the book "
                            f"was not built.")
    missing = [c.name for c in list_chapters(root) if not c.executed.is_file()]
    if missing:
        raise ChapterFailed(f"chapter(s) {', '.join(missing)} have never been executed: run "
                            f"`otcompanion build` without chapter names first.")
    generated = root / "book" / "_generated"
    generated.mkdir(parents=True, exist_ok=True)
    (generated / "chapter_times.md").write_text(chapter_times_table(root), encoding="utf-8")
    findings = claims.collect(chapter.executed for chapter in list_chapters(root))
    (generated / "claims.md").write_text(claims.ledger_markdown(findings), encoding="utf-8")
    (generated / "findings.md").write_text(claims.findings_table(findings), encoding="utf-8")
    (generated / "citation.bib").write_text(citation_bibtex(root, repository_url),
                                            encoding="utf-8")
    (generated / "clone.sh").write_text(clone_commands(repository_url), encoding="utf-8")
    config = generated / "_config.yml"
    config.write_text(yaml.safe_dump(book_config(root, repository_url), sort_keys=False),
                      encoding="utf-8")
    where = f"repository {repository_url}" if repository_url else (
        f"no repository buttons: ${REPOSITORY_URL_VARIABLE} is not set")
    echo(f"[otcompanion] building the HTML book (jupyter-book, warnings as errors; {where})")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book) if jupyter_book.exists() else "jupyter-book", "build", str(root),
               "--config", str(config), "--path-output", str(root / "book"), "--all", "-W",
               "--keep-going"]
    with _without_solutions(root, not solutions, echo):
        result = subprocess.run(command, cwd=root)
    if result.returncode:
        raise RuntimeError(f"jupyter-book build failed (exit {result.returncode}); see the "
                           f"warnings above.")
    index = root / "book" / "_build" / "html" / "index.html"
    echo(f"[otcompanion] the book is at {index}")
    return index
