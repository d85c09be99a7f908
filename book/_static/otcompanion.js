// otcompanion: put every table of the article in a horizontally scrollable box and mark the
// boxes whose table is wider than they are (the cue is drawn by otcompanion.css). A box that
// scrolls, a table's or a display equation's, can be reached with the keyboard (tabindex) and
// is announced as a labelled region, so that keyboard users can scroll it too (WCAG 2.1.1).
// An empty header cell (the corner above a pandas index, the blanks beside an index's name) is
// no header of anything: it becomes an ordinary empty cell.
// Also: the theme's buttons that fold the sub-pages of the navigation (<summary> elements with
// only an icon) get a name that says what they do (WCAG 4.1.2), and its search buttons, which
// show "Search Ctrl+K" but are named "Search", are named by what they show (WCAG 2.5.3).
(function () {
  "use strict";

  function wrapTables() {
    document.querySelectorAll(".bd-article table").forEach(function (table) {
      if (table.parentElement.classList.contains("otc-scroll")) {
        return;
      }
      var box = document.createElement("div");
      box.className = "otc-scroll";
      table.parentElement.insertBefore(box, table);
      box.appendChild(table);
    });
  }

  function emptyHeadersAsCells() {
    document.querySelectorAll(".bd-article thead th").forEach(function (header) {
      if (header.textContent.trim() || header.hasAttribute("aria-label")) {
        return;
      }
      var cell = document.createElement("td");
      Array.prototype.forEach.call(header.attributes, function (attribute) {
        cell.setAttribute(attribute.name, attribute.value);
      });
      header.replaceWith(cell);
    });
  }

  function focusableWhenScrolling(box, overflowing, label) {
    if (overflowing) {
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", label);
    } else if (box.getAttribute("tabindex") === "0") {
      box.removeAttribute("tabindex");
      box.removeAttribute("role");
      box.removeAttribute("aria-label");
    }
  }

  function markOverflow() {
    document.querySelectorAll(".otc-scroll").forEach(function (box, index) {
      var overflowing = box.scrollWidth > box.clientWidth + 1;
      box.classList.toggle("otc-overflowing", overflowing);
      box.classList.toggle(
        "otc-at-end", box.scrollLeft + box.clientWidth >= box.scrollWidth - 1);
      focusableWhenScrolling(box, overflowing, "Table " + (index + 1) + ", scrolls sideways");
    });
    // A display equation scrolls in its div.math (otcompanion.css) or, where the theme's
    // stylesheet says so, in MathJax's own container inside it.
    var equations = 0;
    document.querySelectorAll(".bd-article div.math, .bd-article div.math > mjx-container")
      .forEach(function (box) {
        var overflow = getComputedStyle(box).overflowX;
        var scrolls = (overflow === "auto" || overflow === "scroll") &&
          box.scrollWidth > box.clientWidth + 1;
        equations += scrolls ? 1 : 0;
        focusableWhenScrolling(box, scrolls, "Equation " + equations + ", scrolls sideways");
      });
  }

  function nameFoldButtons() {
    document.querySelectorAll("nav details > summary").forEach(function (summary) {
      if (summary.textContent.trim() || summary.hasAttribute("aria-label")) {
        return;
      }
      var link = summary.parentElement.parentElement.querySelector(":scope > a");
      var title = link ? link.textContent.trim() : "";
      summary.setAttribute("aria-label", title ? "Sub-pages of " + title : "Sub-pages");
    });
  }

  function nameSearchButtonsByTheirText() {
    document.querySelectorAll("button.search-button__button[aria-label]").forEach(function (button) {
      var shown = button.textContent.replace(/\s+/g, " ").trim();
      if (shown) {
        button.setAttribute("aria-label", shown);
      }
    });
  }

  function start() {
    wrapTables();
    emptyHeadersAsCells();
    markOverflow();
    nameFoldButtons();
    nameSearchButtonsByTheirText();
    document.querySelectorAll(".otc-scroll").forEach(function (box) {
      box.addEventListener("scroll", markOverflow, { passive: true });
    });
    window.addEventListener("resize", markOverflow);
    // Equations get their width once MathJax has typeset them.
    var mathjax = window.MathJax;
    if (mathjax && mathjax.startup && mathjax.startup.promise) {
      mathjax.startup.promise.then(markOverflow);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
