"""What works without the optional extras (pyproject.toml): the models, metrics and experiments
need only the core dependencies; the `otcompanion` command and a Dask scheduler say which extra
to install when it is missing."""

import subprocess
import sys
from pathlib import Path

import pytest

from otcompanion import engine

ROOT = Path(__file__).resolve().parent.parent
BOOK_EXTRA = ["papermill", "jupytext", "myst_nb", "nbformat", "ipykernel", "jupyter_client",
              "yaml"]
DASK_EXTRA = ["dask", "distributed"]
CORE_MODULES = ["alignment", "attention", "chapter", "claims", "data", "engine", "experiments",
                "geometry", "metrics", "multihead", "otclassifier", "plots", "pretrain", "prose",
                "provenance", "stats"]


def run_without(modules, code):
    """Run ``code`` in a fresh interpreter in which importing any of ``modules`` fails."""
    blocker = f"import sys\nfor name in {modules!r}:\n    sys.modules[name] = None\n"
    return subprocess.run([sys.executable, "-c", blocker + code], cwd=ROOT, capture_output=True,
                          text=True, check=False)


def test_the_core_modules_import_without_the_book_and_dask_extras():
    code = "".join(f"import otcompanion.{name}\n" for name in CORE_MODULES)
    result = run_without(BOOK_EXTRA + DASK_EXTRA, code + "print('imported')")
    assert result.returncode == 0, result.stderr
    assert "imported" in result.stdout


def test_the_command_without_the_book_extra_says_which_extra_to_install():
    result = run_without(["papermill"], "from otcompanion.cli import main\n"
                                        "sys.exit(main(['chapters']))")
    assert result.returncode == 1
    assert "otcompanion: error:" in result.stderr
    assert "'book' extra (papermill is missing)" in result.stderr
    assert "pip install 'otcompanion[book]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_dask_scheduler_without_the_dask_extra_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'otcompanion\[dask\]'"):
        engine.connect("tcp://127.0.0.1:9")
