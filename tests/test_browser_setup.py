"""The browser checks (tests/browser) skip when the built book, playwright or Chromium is
missing, and fail instead where the environment variable CI is set (a CI run must not pass with
its browser checks skipped): the decision, without a browser."""

import sys
import tomllib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "browser"))
from site_checks import unavailable  # noqa: E402  (tests/browser is not a package)

REASON = "Chromium is missing: install it with `apt-get install chromium`"


@pytest.mark.parametrize("environ", [{}, {"CI": ""}])
def test_without_ci_a_missing_piece_skips_with_the_reason(environ):
    with pytest.raises(pytest.skip.Exception, match="Chromium is missing"):
        unavailable(REASON, environ)


@pytest.mark.parametrize("value", ["true", "1"])
def test_with_ci_set_a_missing_piece_fails_and_says_what_is_missing(value):
    with pytest.raises(pytest.fail.Exception) as failure:
        unavailable(REASON, {"CI": value})
    assert "CI is set" in str(failure.value)
    assert REASON in str(failure.value)


def test_the_environment_is_read_when_none_is_given(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        unavailable(REASON)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        unavailable(REASON)


def test_the_ci_entry_point_sets_ci_and_runs_make_test():
    root = Path(__file__).resolve().parent.parent
    script = (root / ".ci" / "run").read_text()
    assert 'export CI="${CI:-true}"' in script
    assert script.rstrip().endswith("make test")


def test_the_browser_checks_dependencies_are_in_the_test_extra_and_pinned():
    """``make test`` installs the "test" extra at the pins of constraints.txt: playwright drives
    Chromium, axe-playwright-python brings axe-core; the book needs its offline MathJax."""
    root = Path(__file__).resolve().parent.parent
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    pins = dict(line.split("==") for line in (root / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    for extra, name in [("test", "playwright"), ("test", "axe-playwright-python"),
                        ("book", "sphinx-mathjax-offline")]:
        assert name in extras[extra], f"{name} is not in the {extra} extra"
        assert name in pins, f"{name} is not pinned in constraints.txt"
