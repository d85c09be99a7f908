"""The built book in a real browser: every page at 1366 px and at 390 px (issues 12 and 25).

Layout, images, figures, raw TeX and links; axe-core's accessibility audit; what a page
weighs; math typeset by the site's own MathJax; the repository, issue, Binder and download
buttons against the address the book was built with.

Each check looks at every page and fails with the list of offending pages, so one run shows
everything that is wrong. Run after building the book::

    .venv/bin/otcompanion build
    .venv/bin/python -m pytest -m browser tests/browser
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urlparse

import numpy as np
import pytest
import yaml
from matplotlib.image import imsave

from site_checks import ROOT, WIDTHS, redirect_target, serve, site_pages, visit

pytestmark = pytest.mark.browser

# TeX a reader should never see as text: $...$ with TeX inside, or a TeX command (\frac, \alpha).
RAW_TEX = re.compile(r"\$[^$\n]*[\\^_{][^$\n]*\$|\$[A-Za-z]\$|\\[A-Za-z]{2,}|\\[(\[]")
# Text a program wrote and a reader should not see: an object's representation, a plural
# "(s)", a number signed with a hyphen instead of a minus sign.
PROGRAM_TEXT = re.compile(r"<[\w.]+ object|object at 0x|\w\(s\)|(?:^|(?<=[\s(\[]))-\d")
# An alt text that is a file name or path, not a description.
PATH_LIKE_ALT = re.compile(r"^\S+\.(png|jpe?g|svg|gif|webp)$|^_images/|^/|^\S+/\S+$",
                           re.IGNORECASE)

# axe-core violations that fail the checks, and those that are the theme's and cannot be fixed
# by configuration or a small override: rule -> {CSS selector as axe reports it: why}. Empty
# today: the theme's unnamed navigation toggles (summary-name) get a name from otcompanion.js,
# and no other critical or serious violation is left.
FAILING_IMPACTS = ("critical", "serious")
KNOWN_THEME_ISSUES: dict[str, dict[str, str]] = {}
# The most a chapter page may transfer, everything it loads included (bytes, compressed as
# GitHub Pages sends them; see site_checks.serve).
CHAPTER_PAGE_BUDGET = 1_500_000
BINDER = "https://mybinder.org"


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
    for text in ("at $10^{-2}$ tolerance", r"the \frac{a}{b} ratio", r"an \alpha", r"\(x\)",
                 "at $d$ = 3"):
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


def test_the_patterns_of_program_text_match_it_and_not_prose():
    for text in ("<IPython.core.display.Markdown object>", "5 move(s)", "lowest -0.043 [-0.071",
                 "at 0x7f: <Foo object at 0x7f>"):
        assert PROGRAM_TEXT.search(text), text
    for text in ("\u22120.043 [\u22120.071, 0.1]", "levels 1-4", "a well-known effect",
                 "(see above)", "x-1"):
        assert not PROGRAM_TEXT.search(text), text


def test_no_program_text_in_prose(visits):
    problems = [(page, repr(match.group(0)) + " in " + repr(text[:80]))
                for (page, name), seen in sorted(visits.items()) if name == "desktop"
                for text in seen["prose"] for match in PROGRAM_TEXT.finditer(text)]
    assert not problems, f"program-written text in the prose:\n{_report(problems)}"


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


def _accessibility_problems(visits):
    problems = []
    for (page, name), seen in sorted(visits.items()):
        for violation in seen.get("violations", []):
            if violation["impact"] not in FAILING_IMPACTS:
                continue
            known = KNOWN_THEME_ISSUES.get(violation["rule"], {})
            for target in violation["targets"]:
                if target not in known:
                    problems.append((page, f"{violation['rule']} ({violation['impact']}) at "
                                           f"{target}"))
    return problems


def test_no_critical_or_serious_accessibility_violation(visits):
    assert any("violations" in seen for seen in visits.values()), "axe-core ran on no page"
    problems = _accessibility_problems(visits)
    assert not problems, (f"{len(problems)} axe-core violations (critical or serious) that are "
                          f"not known theme issues:\n{_report(problems)}")


def test_axe_finds_a_violation_and_only_known_theme_issues_are_spared(browser, tmp_path,
                                                                      monkeypatch):
    """axe-core runs in the page: an image without alt text, an unlabelled button and a button
    named other than it reads are reported; a known theme issue (rule and selector) is spared,
    anything else is not."""
    (tmp_path / "bad.html").write_text(
        "<html lang='en'><head><title>t</title></head><body><main><img src='x.png'>"
        "<button id='b'></button><button id='m' aria-label='Go'>Search the book</button>"
        "</main></body></html>", encoding="utf-8")
    with serve(tmp_path) as base:
        seen = visit(browser, base, "bad.html", WIDTHS["desktop"], audit=True)
    rules = {violation["rule"] for violation in seen["violations"]}
    assert {"image-alt", "button-name", "label-content-name-mismatch"} <= rules
    visits = {("bad.html", "desktop"): seen}
    assert len(_accessibility_problems(visits)) == 3
    monkeypatch.setitem(KNOWN_THEME_ISSUES, "button-name", {"#b": "a test"})
    assert sorted(problem for _, problem in _accessibility_problems(visits)) == \
        ["image-alt (critical) at img", "label-content-name-mismatch (serious) at #m"]


def _weight(seen):
    return sum(size for _, size in seen["transfers"])


def test_chapter_pages_are_light(visits):
    problems = []
    for (page, name), seen in sorted(visits.items()):
        if name == "desktop" and _chapter(page) and _weight(seen) > CHAPTER_PAGE_BUDGET:
            largest = sorted(seen["transfers"], key=lambda item: -item[1])[:5]
            shown = ", ".join(f"{urlparse(url).path.rsplit('/', 1)[-1]} {size / 1e3:.0f} kB"
                              for url, size in largest)
            problems.append((page, f"{_weight(seen) / 1e6:.2f} MB (largest: {shown})"))
    assert not problems, (f"chapter pages over {CHAPTER_PAGE_BUDGET / 1e6} MB:\n"
                          f"{_report(problems)}")


def test_page_weight_counts_what_the_page_loads_as_served(browser, tmp_path):
    """An image counts with its size; a script counts compressed, as GitHub Pages sends it."""
    image = np.random.default_rng(0).random((200, 200, 3))
    imsave(tmp_path / "noise.png", image)
    (tmp_path / "big.js").write_text("var x = 1;\n" * 50_000, encoding="utf-8")
    (tmp_path / "page.html").write_text(
        "<html><body><img src='noise.png' alt='noise'><script src='big.js'></script>"
        "</body></html>", encoding="utf-8")
    with serve(tmp_path) as base:
        seen = visit(browser, base, "page.html", WIDTHS["desktop"])
    sizes = {urlparse(url).path.lstrip("/"): size for url, size in seen["transfers"]}
    png = (tmp_path / "noise.png").stat().st_size
    assert png < sizes["noise.png"] < png + 1_000
    assert sizes["big.js"] < (tmp_path / "big.js").stat().st_size / 20
    assert _weight(seen) == sum(sizes.values())


def test_math_is_typeset_by_the_site_s_own_mathjax(visits):
    """Every request to another host is blocked, so math typeset here came from the site."""
    pages = [page for (page, name), seen in visits.items()
             if name == "desktop" and seen["mathSource"]]
    assert pages, "no page has math"
    problems = [(page, f"{seen['mathSource']} formulas, {seen['mathTypeset']} typeset")
                for (page, name), seen in sorted(visits.items())
                if name == "desktop" and seen["mathSource"] and not seen["mathTypeset"]]
    problems += [(page, f"requests another host: {url}") for (page, name), seen
                 in sorted(visits.items()) for url in seen["external"]]
    assert not problems, _report(problems)


def built_repository():
    """The repository address and branch the book was built with (``otcompanion build`` writes
    its configuration to book/_generated/_config.yml), else ``(None, None)``."""
    config = yaml.safe_load((ROOT / "book" / "_generated" / "_config.yml").read_text())
    repository = config.get("repository") or {}
    return repository.get("url"), repository.get("branch")


def _chapter_stem(page):
    return page.removeprefix("book/chapters/").removesuffix(".html")


def _button_problems(visits, url, branch):
    """What is wrong with the repository, issue, Binder and Colab links of ``visits`` for a
    book built with the address ``url`` (``None``: built without one)."""
    problems = []
    for (page, name), seen in sorted(visits.items()):
        if name != "desktop":
            continue
        links = set(seen["links"])
        problems += [(page, f"Colab link {link}") for link in links if "colab" in link]
        if not url:
            problems += [(page, f"link without an address: {link}") for link in links
                         if link.startswith(BINDER) or "/issues/new" in link]
            continue
        if url not in links:
            problems.append((page, "no repository button"))
        if not any(link.startswith(f"{url}/issues/new?") for link in links):
            problems.append((page, "no issue button"))
        for link in links:
            if link.startswith(url + "/") and not link.startswith(f"{url}/issues/new?"):
                match = re.fullmatch(rf"{re.escape(url)}/(?:blob|tree)/{branch}/([^?#]+)", link)
                if not (match and (ROOT / unquote(match.group(1))).exists()):
                    problems.append((page, f"link to no file of the repository: {link}"))
        binder = sorted(link for link in links if link.startswith(BINDER))
        if _chapter(page):
            owner_repo = "/".join(url.rstrip("/").split("/")[-2:])
            stem = _chapter_stem(page)
            expected = (f"{BINDER}/v2/gh/{owner_repo}/{branch}"
                        f"?urlpath=lab/tree/book/chapters/{stem}.ipynb")
            if binder != [expected]:
                problems.append((page, f"Binder links {binder}, expected [{expected}]"))
            if not (ROOT / "notebooks" / f"{stem}.py").is_file():
                problems.append((page, f"Binder opens {stem}.ipynb, written from no chapter"))
        elif binder:
            problems.append((page, f"Binder link on a page that is no chapter: {binder}"))
    return problems


def test_buttons_lead_to_the_right_files_under_the_repository_address(visits, site):
    """With an address: every page links to the repository and its issues, a chapter's Binder
    button opens ``book/chapters/NAME.ipynb`` of that repository (binder/postBuild writes it
    from ``notebooks/NAME.py``), and every other link into the repository names a file that
    exists. Without one: no repository, issue or Binder link. Never a Colab link."""
    problems = _button_problems(visits, *built_repository())
    assert not problems, _report(problems)


def test_the_button_check_catches_wrong_links():
    url = "https://github.com/owner/repo"
    good = [url, f"{url}/issues/new?title=x",
            f"{BINDER}/v2/gh/owner/repo/main?urlpath=lab/tree/book/chapters/00_data.ipynb"]
    page = "book/chapters/00_data.html"
    assert _button_problems({(page, "desktop"): {"links": good}}, url, "main") == []
    wrong = {
        "no issue button": good[:1] + good[2:],
        "Binder links": good[:2] + [good[2].replace("00_data", "01_nothing")],
        "link to no file": good + [f"{url}/blob/main/no/such/file.py"],
        "Colab link": good + ["https://colab.research.google.com/github/owner/repo"],
    }
    for expected, links in wrong.items():
        problems = _button_problems({(page, "desktop"): {"links": links}}, url, "main")
        assert any(expected in problem for _, problem in problems), (expected, problems)
    assert _button_problems({(page, "desktop"): {"links": good}}, None, None)


def test_chapter_downloads_include_the_notebook_and_the_jupytext_script(visits, site):
    problems = []
    for (page, name), seen in sorted(visits.items()):
        if name != "desktop" or not _chapter(page):
            continue
        stem = _chapter_stem(page)
        for suffix in (".ipynb", ".py"):
            wanted = f"_sources/book/chapters/{stem}{suffix}"
            if not any(link.endswith(wanted) for link in seen["links"]):
                problems.append((page, f"no download link to {wanted}"))
            elif not (site / wanted).is_file():
                problems.append((page, f"{wanted} is missing"))
    assert not problems, _report(problems)
    script = (site / "_sources" / "book" / "chapters" / "00_data.py").read_text()
    assert script.startswith("# ---\n") and "# %%" in script


def test_get_the_code_and_cite_carry_the_address_the_book_was_built_with(site):
    url, _ = built_repository()
    clone = (site / "book" / "get-the-code.html").read_text()
    cite = (site / "book" / "cite.html").read_text()
    if url:
        assert f"git clone {url} otcompanion" in re.sub(r"<[^>]+>", "", clone)
        assert re.search(rf"url\s*=\s*\{{{re.escape(url)}\}}", re.sub(r"<[^>]+>", "", cite))
    else:
        assert "built without the repository" in clone
        assert not re.search(r"\burl\s*=", re.sub(r"<[^>]+>", "", cite).split("@article")[0])
