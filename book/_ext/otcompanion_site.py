"""Sphinx hooks of the otcompanion book: a Jupytext download, lighter pages, valid list roles.

Loaded by Jupyter Book as a local extension (``sphinx.local_extensions`` in ``_config.yml``).

- Every page made from a notebook offers the chapter as a Jupytext ``py:percent`` file in the
  theme's download menu, next to the ``.ipynb``: the notebook the page shows, without outputs,
  written to ``_sources/<page>.py``.
- Lighter pages: the theme's template loads ``fontawesome.js`` (1.5 MB) on every page, a
  script that only redraws the theme's icons as SVG (its stylesheet already draws them with the
  icon font), and Sphinx's search index (about 200 kB, growing with the book) with its search
  scripts, which only the theme's search-as-you-type needs (off in this book: the search box
  opens the search page, which loads them itself). The book's ``layout.html`` passes the
  theme's head through :func:`without_scripts`. The repository buttons show a solid icon
  instead of the provider's logo, whose icon font (about 120 kB) no other icon uses.
- sphinx-mathjax-offline copies MathJax 3 into ``_static/mathjax`` and points the pages at
  its combined ``tex-chtml.js`` (1.2 MB, most of it the context menu); the pages load MathJax's
  ``startup.js`` instead (:data:`MATHJAX_PATH`), which loads only the components that
  ``mathjax3_config`` in ``_config.yml`` lists.
- Numbers glued into the prose with a format spec (``{glue:text}`key:.3f```) are formatted by
  myst-nb with Python's ``format``, which writes a hyphen for minus; :func:`true_minus` gives
  them the true minus sign that :func:`otcompanion.stats.format_value` writes everywhere else.
- docutils marks each bibliography entry ``role="doc-biblioentry"`` inside a ``role="list"``
  container; that role is deprecated and a list must hold list items (WAI-ARIA 1.2, "list"), so
  the entries become ``role="listitem"``.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
from docutils import nodes
from markupsafe import Markup
from sphinx.util import logging

from otcompanion.stats import MINUS

# Scripts of the theme's head that the book's pages do without (see the module's docstring).
DROPPED_SCRIPTS = ("fontawesome.js", "searchtools.js", "language_data.js", "searchindex.js")
SCRIPT = re.compile(r'\s*<script\b[^>]*\bsrc="(?:[^"]*/)?([^"/?]+)(?:\?[^"]*)?"[^>]*>\s*</script>')
BIBLIOENTRY = 'role="doc-biblioentry"'
MATHJAX_PATH = "mathjax/startup.js"
logger = logging.getLogger(__name__)


def without_scripts(html, names=DROPPED_SCRIPTS):
    """``html`` without the ``<script src=...>`` tags that load a file named in ``names``."""
    return Markup(SCRIPT.sub(
        lambda match: "" if match.group(1) in names else match.group(0), str(html)))


# Cell metadata that records one execution (papermill's timings, Jupyter's), not the chapter.
RUN_METADATA = ("papermill", "execution", "ExecuteTime")


def jupytext_source(notebook_path):
    """The notebook at ``notebook_path`` as a Jupytext ``py:percent`` script: its cells with
    their tags, without outputs or the metadata of the run that executed it."""
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        for key in RUN_METADATA:
            cell.metadata.pop(key, None)
    return jupytext.writes(notebook, fmt="py:percent")


def add_jupytext_download(app, pagename, templatename, context, doctree):
    """Write the page's notebook as ``_sources/<page>.py`` and offer it in the download menu.

    Runs after the theme has built its header buttons (priority 502 > 501).
    """
    source = Path(app.env.doc2path(pagename)) if pagename in app.env.all_docs else None
    if source is None or source.suffix != ".ipynb":
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(jupytext_source(source), encoding="utf-8")
    for group in context.get("header_buttons", []):
        if group.get("label") != "download-buttons":
            continue
        buttons = group["buttons"]
        position = next((number + 1 for number, button in enumerate(buttons)
                         if button.get("label") == "download-source-button"), len(buttons))
        buttons.insert(position, {
            "type": "link",
            "url": f"{context['pathto']('_sources', 1)}/{pagename}.py",
            "text": ".py",
            "tooltip": "Download the chapter as a Jupytext script",
            "icon": "fas fa-code",
            "label": "download-jupytext-button",
        })


def repository_icon_without_brand_font(app, pagename, templatename, context, doctree):
    """The repository buttons (the group and the button) with the solid font's code-branch
    icon instead of the provider's logo from the brands font (``fab``); runs after the theme
    has made its buttons (priority 502 > 501)."""
    for group in context.get("header_buttons", []):
        for button in [group, *group.get("buttons", [])]:
            if button.get("icon", "").startswith("fab "):
                button["icon"] = "fas fa-code-branch"


def fix_bibliography_roles(app, pagename, templatename, context, doctree):
    """Bibliography entries as list items of their ``role="list"`` container."""
    if BIBLIOENTRY in context.get("body", ""):
        context["body"] = context["body"].replace(BIBLIOENTRY, 'role="listitem"')


def use_mathjax_components(app, config):
    """Load MathJax's ``startup.js`` (set after the extensions' setup, which would override
    a value from the configuration)."""
    config.mathjax_path = MATHJAX_PATH


# A hyphen-minus that is a sign: at the start, or after a space or an opening bracket, before a
# digit or a decimal point.
SIGN = re.compile(r"(^|(?<=[\s(\[]))-(?=[\d.])")


# Markdown that ``{glue:text}`` would paste as raw characters (math, emphasis, code), or a
# Python object's default representation.
MARKUP = re.compile(r"\$|\*\*?\w|`|<[\w.]+ object")


def true_minus(app, doctree, docname):
    """Numbers pasted by ``{glue:text}`` get the true minus sign (U+2212) instead of ``-``;
    pasted text that is Markdown or an object's representation is a warning (use
    ``{glue:md}``), which fails the book's build in ``make test``."""
    for node in doctree.findall(nodes.inline):
        if "pasted-text" not in node.get("classes", ()):
            continue
        if MARKUP.search(node.astext()):
            logger.warning(f"{{glue:text}} pastes {node.astext()[:60]!r} as raw text: glue "
                           f"it with {{glue:md}}", location=node)
        for text in list(node.findall(nodes.Text)):
            fixed = SIGN.sub(MINUS, text.astext())
            if fixed != text.astext():
                text.parent.replace(text, nodes.Text(fixed))


def add_template_helpers(app, pagename, templatename, context, doctree):
    context["without_scripts"] = without_scripts


def setup(app):
    app.connect("config-inited", use_mathjax_components)
    app.connect("doctree-resolved", true_minus)
    app.connect("html-page-context", add_jupytext_download, priority=502)
    app.connect("html-page-context", repository_icon_without_brand_font, priority=502)
    app.connect("html-page-context", fix_bibliography_roles)
    app.connect("html-page-context", add_template_helpers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
