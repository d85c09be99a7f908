"""The built book in a real browser: every page at 1366 px and at 390 px (issue 12).

Each check looks at every page and fails with the list of offending pages, so one run shows
everything that is wrong. Run after building the book::

    .venv/bin/otcompanion build
    .venv/bin/python -m pytest -m browser tests/browser
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urlparse

import pytest

from site_checks import WIDTHS, redirect_target, serve, site_pages, visit

pytestmark = pytest.mark.browser

# TeX a reader should never see as text: $...$ with TeX inside, or a TeX command (\frac, \alpha).
RAW_TEX = re.compile(r"\$[^$\n]*[\\^_{][^$\n]*\$|\\[A-Za-z]{2,}|\\[(\[]")
# An alt text that is a file name or path, not a description.
PATH_LIKE_ALT = re.compile(r"^\S+\.(png|jpe?g|svg|gif|webp)$|^_images/|^/|^\S+/\S+$",
                           re.IGNORECASE)

def _report(problems):
    return "\n".join(f"- {page}: {problem}" for page, problem in problems)


def _chapter(page):
    return page.startswith("book/chapters/")


def test_the_site_has_the_pages_of_the_table_of_contents(site):
    pages = site_pages(site)
    for expected in ("book/intro.html", "book/get-the-code.html", "book/cite.html",
                     "book/rerunning.html", "book/api/index.html"):
        assert expected in pages
    assert sum(_chapter(page) for page in pages) >= 6
    assert redirect_target(site / "index.html") in pages


@pytest.mark.parametrize("width", list(WIDTHS))
def test_no_script_errors(visits, width):
    problems = [(page, error) for (page, name), seen in sorted(visits.items()) if name == width
                for error in seen["errors"]]
    assert not problems, f"script or console errors at {width} width:\n{_report(problems)}"


def test_no_page_is_wider_than_a_phone(visits):
    problems = []
    for (page, name), seen in sorted(visits.items()):
        if name == "phone" and seen["scrollWidth"] > seen["innerWidth"]:
            culprits = "; ".join(seen["wide"]) or "no single element found"
            problems.append((page, f"{seen['scrollWidth']} px wide at {seen['innerWidth']} px "
                                   f"(sticking out: {culprits})"))
    assert not problems, f"pages wider than the 390 px viewport:\n{_report(problems)}"


def test_no_page_scrolls_sideways_on_a_desktop(visits):
    problems = [(page, f"{seen['scrollWidth']} px wide") for (page, name), seen
                in sorted(visits.items())
                if name == "desktop" and seen["scrollWidth"] > seen["innerWidth"]]
    assert not problems, f"pages wider than the 1366 px viewport:\n{_report(problems)}"


def test_wide_tables_scroll_in_a_box_with_a_visible_cue(visits):
    problems = []
    for (page, name), seen in sorted(visits.items()):
        for number, table in enumerate(seen["tables"], start=1):
            if table["overflowing"] and not (table["scrollBox"] and table["cue"]):
                problems.append((page, f"table {number} at {name} width is wider than its "
                                       f"column without a scroll box and cue"))
    assert not problems, _report(problems)


def test_images_load(visits):
    problems = [(page, src) for (page, name), seen in sorted(visits.items())
                if name == "desktop" for src in seen["brokenImages"]]
    assert not problems, f"images that do not load:\n{_report(problems)}"


def _figure_problems(visits):
    problems = []
    for (page, name), seen in sorted(visits.items()):
        if name != "desktop" or not _chapter(page):
            continue
        for figure in seen["figures"]:
            alt = figure["alt"].strip()
            if not figure["caption"]:
                problems.append((page, f"figure without caption: {figure['src']}"))
            if not alt or PATH_LIKE_ALT.search(alt):
                problems.append((page, f"figure without alt text (alt={alt!r}): "
                                       f"{figure['src']}"))
    return problems


def test_chapter_figures_have_captions_and_alt_text(visits):
    problems = _figure_problems(visits)
    assert not problems, f"{len(problems)} figure problems:\n{_report(problems)}"


def test_raw_tex_detection():
    """The pattern catches what a reader must not see and spares ordinary prose."""
    for text in ("at $10^{-2}$ tolerance", r"the \frac{a}{b} ratio", r"an \alpha", r"\(x\)"):
        assert RAW_TEX.search(text), text
    for text in ("costs $5 and $6", "C:/path", "a_b", "x^2 is fine without dollars"):
        assert not RAW_TEX.search(text), text


def _raw_tex(visits):
    problems = []
    for (page, name), seen in sorted(visits.items()):
        if name != "desktop":
            continue
        for text in seen["prose"]:
            for match in RAW_TEX.finditer(text):
                problems.append((page, repr(match.group(0))))
    return problems


def test_no_raw_tex_in_prose(visits):
    problems = _raw_tex(visits)
    assert not problems, f"raw TeX shown as text:\n{_report(problems)}"


class _Anchors(HTMLParser):
    def __init__(self):
        super().__init__()
        self.anchors = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" or (tag == "a" and name == "name"):
                self.anchors.add(value)


def _anchors(path, cache={}):
    if path not in cache:
        parser = _Anchors()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        cache[path] = parser.anchors
    return cache[path]


def test_internal_links_and_anchors_resolve(visits, server, site):
    problems = set()
    for (page, name), seen in sorted(visits.items()):
        if name != "desktop":
            continue
        for link in seen["links"]:
            if not link.startswith(server):
                continue
            address, fragment = urldefrag(link)
            relative = unquote(urlparse(address).path).lstrip("/")
            target = site / relative
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.add((page, f"broken link {link}"))
            elif fragment and target.suffix == ".html" and \
                    unquote(fragment) not in _anchors(target):
                problems.add((page, f"missing anchor #{fragment} in {relative}"))
    assert not problems, f"broken internal links:\n{_report(sorted(problems))}"


def test_checks_catch_a_broken_page(browser, tmp_path):
    """The checks see a script error, a broken image, a too wide element and raw TeX."""
    (tmp_path / "bad.html").write_text(
        "<html><body><div class='bd-article'><p>at $10^{-2}$</p>"
        "<img src='missing.png'><div style='width: 600px'>wide</div>"
        "<script>const x = 1; const x = 2;</script></div></body></html>", encoding="utf-8")
    with serve(tmp_path) as base:
        seen = visit(browser, base, "bad.html", WIDTHS["phone"])
    assert any("script error" in error for error in seen["errors"]), seen["errors"]
    assert any("missing.png" in error for error in seen["errors"])
    assert seen["brokenImages"]
    assert seen["scrollWidth"] > seen["innerWidth"]
    assert any(RAW_TEX.search(text) for text in seen["prose"])
