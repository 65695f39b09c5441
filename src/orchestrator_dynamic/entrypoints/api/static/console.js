// Small helpers for every console page: readable times and ages, and the live workflows list.
"use strict";
(function () {
  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 90) return s + " s";
    if (s < 5400) return Math.round(s / 60) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " d";
  }
  function decorate(root) {
    root.querySelectorAll("time.ms[data-ms]").forEach(function (el) {
      const d = new Date(Number(el.dataset.ms));
      el.textContent = d.toLocaleString();
      el.dateTime = d.toISOString();
    });
    root.querySelectorAll(".age[data-since]").forEach(function (el) {
      if (el.dataset.since) el.textContent = ago(Date.now() - Number(el.dataset.since));
    });
  }
  window.odConsole = { ago: ago, decorate: decorate };
  document.addEventListener("DOMContentLoaded", function () {
    decorate(document);
    // The list refreshes its rows in place (the filter form and the focus stay where they are).
    const table = document.querySelector("table[data-live]");
    if (!table) return;
    setInterval(function () {
      fetch(location.href, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          const doc = new DOMParser().parseFromString(html, "text/html");
          const fresh = doc.querySelector("table[data-live] tbody");
          if (fresh) { table.tBodies[0].replaceWith(fresh); decorate(table); }
        })
        .catch(function () {});
    }, Number(table.dataset.live));
  });
})();
