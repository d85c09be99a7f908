"""What the browser checks do in a page: serve a folder, open a page, collect facts.

Used by ``conftest.py`` (fixtures over the built book) and by the checks' self-test.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "book" / "_build" / "html"
WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

# Collected in the page after it has loaded; see the keys of the returned object.
COLLECT_JS = r"""
async () => {
  // Images: load every one (also lazy ones) and report those that fail.
  const images = Array.from(document.images);
  images.forEach((img) => { img.loading = "eager"; });
  const loaded = await Promise.all(images.map((img) =>
    img.decode().then(() => img.naturalWidth > 0, () => false)));
  const brokenImages = images.filter((img, i) => !loaded[i]).map((img) => img.currentSrc || img.src);

  // Math: wait until MathJax (when the page loads it) has typeset the page and loaded its fonts.
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  await document.fonts.ready;
  const mathSource = document.querySelectorAll(".math").length;
  const mathTypeset = document.querySelectorAll("mjx-container").length;

  const article = document.querySelector(".bd-article") || document.body;

  // Chapter figures: images in notebook outputs or figures of the article.
  const figureImages = Array.from(article.querySelectorAll(".cell_output img, figure img"));
  const figures = figureImages.map((img) => {
    const figure = img.closest("figure");
    const caption = figure ? figure.querySelector("figcaption") : null;
    return {
      src: img.getAttribute("src") || "",
      alt: img.getAttribute("alt") || "",
      // textContent, not innerText: a caption inside a collapsed solution is still a caption.
      caption: caption ? caption.textContent.trim() : "",
    };
  });

  // Prose text outside code and rendered (or still to be rendered) math.
  const skip = "pre, code, script, style, textarea, kbd, .math, mjx-container, .MathJax, "
             + ".highlight, .sig, .cell_input, nav";
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  const prose = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    const text = node.textContent;
    if (text.includes("$") || text.includes("\\")) prose.push(text);
  }

  // Elements that stick out of the viewport, outside any box that scrolls sideways.
  const width = window.innerWidth;
  const scrolls = (el) => {
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      const overflow = getComputedStyle(e).overflowX;
      if (overflow === "auto" || overflow === "scroll" || overflow === "hidden") return true;
    }
    return false;
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.className && typeof el.className === "string"
       ? "." + el.className.trim().split(/\s+/).slice(0, 2).join(".") : "");
  const wide = [];
  for (const el of article.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1 && !scrolls(el)) {
      wide.push(describe(el) + " (" + Math.round(box.right) + " px): "
                + (el.innerText || "").trim().slice(0, 60));
      if (wide.length >= 5) break;
    }
  }

  // Tables wider than their column, and whether they sit in a box that scrolls.
  const tables = Array.from(article.querySelectorAll("table")).map((table) => {
    let box = table.parentElement;
    while (box && box !== article && !["auto", "scroll"].includes(getComputedStyle(box).overflowX)) {
      box = box.parentElement;
    }
    const scrollBox = box && box !== article ? box : null;
    return {
      overflowing: scrollBox ? scrollBox.scrollWidth > scrollBox.clientWidth + 1
                             : table.getBoundingClientRect().right > width + 1,
      scrollBox: scrollBox !== null,
      cue: scrollBox !== null && scrollBox.classList.contains("otc-overflowing")
           && getComputedStyle(scrollBox, "::before").content.includes("scroll"),
    };
  });

  // What the page transferred: the document and every resource it loaded (bytes on the wire,
  // headers included; each visit starts with an empty cache).
  const transfers = [...performance.getEntriesByType("navigation"),
                     ...performance.getEntriesByType("resource")]
    .map((entry) => [entry.name, entry.transferSize]);

  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: width,
    wide: wide,
    brokenImages: brokenImages,
    figures: figures,
    prose: prose,
    tables: tables,
    links: Array.from(document.querySelectorAll("a[href]")).map((a) => a.href),
    mathSource: mathSource,
    mathTypeset: mathTypeset,
    transfers: transfers,
  };
}
"""


def unavailable(reason, environ=None):
    """Skip the browser checks because of ``reason`` (what is missing and how to get it).

    Where the environment variable ``CI`` is set to anything non-empty (GitHub Actions sets
    ``CI=true``), fail with the reason instead: a CI run must not pass with its browser checks
    skipped. ``environ`` defaults to ``os.environ``.
    """
    environ = os.environ if environ is None else environ
    if environ.get("CI"):
        pytest.fail(f"the browser checks cannot run, and CI is set so they fail instead of "
                    f"skipping: {reason}", pytrace=False)
    pytest.skip(reason)


def find_chromium():
    configured = os.environ.get("OTCOMPANION_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


REDIRECT = re.compile(r'<meta http-equiv="Refresh" content="0; url=([^"]+)"', re.IGNORECASE)


def redirect_target(path):
    """The page that ``path`` redirects to (Jupyter Book's root ``index.html``), else ``None``."""
    match = REDIRECT.match(path.read_text(encoding="utf-8", errors="replace").lstrip())
    return match.group(1) if match else None


def site_pages(site=SITE):
    """Every HTML page of the built book, as paths relative to ``site`` (POSIX, sorted).

    Redirect pages are left out: :func:`redirect_target` checks them.
    """
    return sorted(path.relative_to(site).as_posix() for path in site.rglob("*.html")
                  if not any(part.startswith("_") for part in path.relative_to(site).parts)
                  and redirect_target(path) is None)



# What GitHub Pages sends compressed (gzip) when the browser accepts it: text, not images or
# fonts, which are compressed already.
COMPRESSED_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml")


@contextlib.contextmanager
def serve(folder):
    """Serve ``folder`` on 127.0.0.1 from a Python HTTP server thread; yield the base URL.

    Text files (HTML, CSS, JavaScript, SVG) go out gzip-compressed when the browser accepts it,
    as GitHub Pages sends them, so that the bytes a page transfers here are the bytes a reader
    of the published book downloads.
    """

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

        def do_GET(self):
            path = Path(self.translate_path(self.path))
            kind = self.guess_type(str(path))
            if not (path.is_file() and "gzip" in self.headers.get("Accept-Encoding", "")
                    and kind.startswith(COMPRESSED_TYPES)):
                return super().do_GET()
            body = gzip.compress(path.read_bytes())
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    handler = functools.partial(QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


# axe-core's rules that run by default, and the check that a control's name contains the text
# it shows (WCAG 2.5.3 "Label in Name"; an experimental rule of axe-core 4, off by default).
AXE_OPTIONS = {"resultTypes": ["violations"],
               "rules": {"label-content-name-mismatch": {"enabled": True}}}


def axe_violations(page):
    """The axe-core violations of the open ``page``, one dict per rule (:data:`AXE_OPTIONS`).

    axe-core runs inside the page (``axe-playwright-python`` bundles it). Each violation is
    ``{"rule", "impact", "targets"}``, with ``targets`` the CSS selectors of the offending
    elements as axe writes them.
    """
    from axe_playwright_python.sync_playwright import Axe  # noqa: PLC0415  (test extra only)

    response = Axe().run(page, options=AXE_OPTIONS).response
    return [{"rule": violation["id"], "impact": violation["impact"],
             "targets": [" ".join(map(str, node["target"])) for node in violation["nodes"]]}
            for violation in response["violations"]]


def visit(browser, base, page_name, size, screenshot=None, audit=False):
    """Open one page at one viewport size and collect what the checks need.

    Parameters
    ----------
    browser : playwright Browser
    base : str
        Base URL of the served site (``http://127.0.0.1:PORT/``).
    page_name : str
        Page path relative to the site.
    size : tuple of int
        Viewport (width, height) in CSS pixels.
    screenshot : path, optional
        Where to save a full-page screenshot.
    audit : bool
        Also run axe-core in the page (:func:`axe_violations`).

    Returns
    -------
    dict
        What ``COLLECT_JS`` returns, plus ``errors`` (script and console errors, local requests
        that failed), ``external`` (blocked requests to other hosts) and, with ``audit``,
        ``violations``.
    """
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    # Nothing leaves 127.0.0.1: the checks must not depend on the network (MathJax and fonts
    # from CDNs are blocked and reported separately as external requests).
    external = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(base) or url.startswith("data:"):
            request_route.continue_()
        else:
            external.append(url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(f"script error: {error}"))

    def on_console(message):
        if message.type != "error":
            return
        source = (message.location or {}).get("url", "")
        if message.text.startswith("Failed to load resource") and source in external:
            return  # a blocked external resource, not a fault of the page
        errors.append(f"console error: {message.text} ({source})")

    page.on("console", on_console)
    failed_local = []

    def on_response(response):
        # Chromium asks for /favicon.ico on its own; the book declares no icon.
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            failed_local.append(f"{response.status} {response.url}")

    page.on("response", on_response)
    page.goto(base + page_name, wait_until="load")
    page.wait_for_timeout(200)  # let the theme's and the book's scripts finish
    result = page.evaluate(COLLECT_JS)
    # The page's own errors, before axe-core runs: axe fetches the stylesheets again and
    # resolves their @import against the page instead of the stylesheet (a 404 of its own).
    result["errors"] = errors + [f"failed request: {item}" for item in failed_local]
    if audit:
        result["violations"] = axe_violations(page)
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=True)
    context.close()
    result["external"] = external
    return result
