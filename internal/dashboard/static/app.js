// Drover dashboard: the few lines of script the pages need beyond htmx.
// Times arrive as UTC <time datetime>; show them in the browser's zone.
// Charts arrive as JSON in data-chart; draw them with uPlot.
(function () {
  "use strict";
  var fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit"
  });

  function localize(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.dataset.local) return;
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      el.title = el.getAttribute("datetime");
      el.textContent = fmt.format(d);
      el.dataset.local = "1";
    });
  }

  var dark = window.matchMedia("(prefers-color-scheme: dark)");
  var palette = ["#3b82f6", "#ef4444", "#10b981", "#f59e0b"];

  function draw(root) {
    if (typeof uPlot === "undefined") return;
    root.querySelectorAll("div.chart[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var spec;
      try { spec = JSON.parse(el.dataset.chart); } catch (e) { return; }
      var data = [spec.x || []];
      var series = [{}];
      (spec.series || []).forEach(function (s, i) {
        data.push(s.y || []);
        series.push({ label: s.label, stroke: palette[i % palette.length], width: 2,
          value: function (u, v) { return v == null ? "–" : v + (spec.unit || ""); } });
      });
      var axis = { stroke: dark.matches ? "#cbd5e1" : "#334155", grid: { stroke: dark.matches ? "#334155" : "#e2e8f0" } };
      var opts = {
        width: Math.max(el.clientWidth, 200), height: 200, series: series,
        axes: [axis, Object.assign({}, axis, { values: function (u, vs) { return vs.map(function (v) { return v + (spec.unit || ""); }); } })],
        scales: { y: spec.unit === "%" ? { range: [0, 100] } : { range: function (u, lo, hi) { return [0, Math.max(1, hi)]; } } }
      };
      el.dataset.drawn = "1";
      var plot = new uPlot(opts, data, el);
      new ResizeObserver(function () { plot.setSize({ width: Math.max(el.clientWidth, 200), height: 200 }); }).observe(el);
    });
  }

  function enhance(root) { localize(root); draw(root); }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:load", function (e) { enhance(e.target); });
  // A log line appended over SSE: keep following the end when the reader is there.
  document.addEventListener("htmx:sseBeforeMessage", function (e) {
    var log = document.getElementById("log");
    if (log) log.dataset.follow = (log.scrollHeight - log.scrollTop - log.clientHeight < 40) ? "1" : "";
  });
  document.addEventListener("htmx:sseMessage", function (e) {
    var log = document.getElementById("log");
    if (log) { localize(log); if (log.dataset.follow) log.scrollTop = log.scrollHeight; }
  });
  // A live region holds still while the reader is in it — one of its
  // controls focused, or a pointer pressed on it — so that a refresh
  // cannot swallow a click or drop the keyboard focus; it catches up once
  // they leave.
  var pressed = null;
  function busy(el) {
    var f = document.activeElement;
    return pressed === el || (f && f !== el && el.contains(f));
  }
  function catchUp(el) {
    if (!el || !el.dataset.stale || busy(el)) return;
    delete el.dataset.stale;
    htmx.ajax("GET", el.getAttribute("hx-get"), { target: el, swap: "innerHTML" });
  }
  document.addEventListener("htmx:beforeRequest", function (e) {
    var el = e.detail.elt;
    if (el && el.id === "live" && busy(el)) {
      e.preventDefault();
      el.dataset.stale = "1";
    }
  });
  document.addEventListener("pointerdown", function (e) {
    pressed = e.target.closest ? e.target.closest("#live") : null;
  }, true);
  function release() {
    var el = pressed;
    pressed = null;
    setTimeout(function () { catchUp(el); }, 0); // after the click it ends
  }
  document.addEventListener("pointerup", release, true);
  document.addEventListener("pointercancel", release, true);
  document.addEventListener("focusout", function (e) {
    var el = e.target.closest ? e.target.closest("#live") : null;
    if (el) setTimeout(function () { catchUp(el); }, 0); // once the focus has moved
  });
  // Confirm destructive actions.
  document.addEventListener("submit", function (e) {
    var b = e.submitter;
    if (b && b.classList.contains("danger") && !window.confirm(b.textContent.trim() + "?")) e.preventDefault();
  });
})();
