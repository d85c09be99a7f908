"""Fixtures of the browser checks: the built book served on 127.0.0.1 and headless Chromium.

The checks open every page of ``book/_build/html`` at a desktop width (1366 px) and a phone
width (390 px) and record, once per page and width, what the checks look at (:func:`visits`),
with axe-core's accessibility audit at the desktop width. They need the built book, playwright,
axe-playwright-python and Chromium; without one of them they skip and say how to get it, or
fail where the environment variable ``CI`` is set (:func:`site_checks.unavailable`).

Environment
-----------
OTCOMPANION_CHROMIUM
    Path of the Chromium (or Chrome) executable; default the first of ``chromium``,
    ``chromium-browser``, ``google-chrome`` on ``PATH``.
CI
    When set to anything non-empty, a missing book, playwright or Chromium fails the checks
    instead of skipping them.
OTCOMPANION_SCREENSHOTS
    A folder: when set, a full-page screenshot of every page at both widths is saved there
    (``NAME-1366.png``, ``NAME-390.png``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

import pytest

from site_checks import (
    CHROMIUM_ARGS,
    SITE,
    WIDTHS,
    find_chromium,
    serve,
    site_pages,
    unavailable,
    visit,
)


@pytest.fixture(scope="session")
def site():
    """The built book's folder; skips the checks (fails with CI set) when it is not built."""
    if not (SITE / "index.html").is_file():
        unavailable(f"the book is not built ({SITE / 'index.html'} is missing): build it with "
                    f"`make book` or `.venv/bin/otcompanion build`, then rerun "
                    f"`.venv/bin/python -m pytest -m browser tests/browser`.")
    return SITE


@pytest.fixture(scope="session")
def server(site):
    """Base URL of the built book, served on 127.0.0.1."""
    with serve(site) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium driven by playwright; skips (fails with CI set) when one is missing."""
    try:
        sync_api = importlib.import_module("playwright.sync_api")
    except ImportError:
        unavailable("playwright is missing: install the test extra, "
                    "`pip install --constraint constraints.txt -e '.[test]'`")
    executable = find_chromium()
    if executable is None:
        unavailable("Chromium is missing: install it with `apt-get install chromium` (Debian, "
                    "Ubuntu) or point $OTCOMPANION_CHROMIUM at a Chromium or Chrome executable.")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def visits(browser, server, site):
    """``{(page, width_name): collected}`` for every page of the book at both widths; axe-core
    audits each page at the desktop width."""
    if importlib.util.find_spec("axe_playwright_python") is None:
        unavailable("axe-playwright-python is missing: install the test extra, "
                    "`pip install --constraint constraints.txt -e '.[test]'`")
    folder = os.environ.get("OTCOMPANION_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
    collected = {}
    for page_name in site_pages(site):
        for width_name, size in WIDTHS.items():
            shot = None
            if folder:
                stem = page_name.removesuffix(".html").replace("/", "_")
                shot = Path(folder) / f"{stem}-{size[0]}.png"
            collected[page_name, width_name] = visit(browser, server, page_name, size, shot,
                                                     audit=width_name == "desktop")
    return collected
