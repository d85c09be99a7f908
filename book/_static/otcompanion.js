// otcompanion: put every table of the article in a horizontally scrollable box and mark the
// boxes whose table is wider than they are (the cue is drawn by otcompanion.css).
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

  function markOverflow() {
    document.querySelectorAll(".otc-scroll").forEach(function (box) {
      var overflowing = box.scrollWidth > box.clientWidth + 1;
      box.classList.toggle("otc-overflowing", overflowing);
      box.classList.toggle(
        "otc-at-end", box.scrollLeft + box.clientWidth >= box.scrollWidth - 1);
    });
  }

  function start() {
    wrapTables();
    markOverflow();
    document.querySelectorAll(".otc-scroll").forEach(function (box) {
      box.addEventListener("scroll", markOverflow, { passive: true });
    });
    window.addEventListener("resize", markOverflow);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
