// Manager dashboard charts (Chart.js 4, vendored). The figures come from the
// json_script element "dashboard-data"; no inline scripts (the CSP forbids them).
(function () {
  "use strict";

  var TIER_COLOURS = ["#1f5fbf", "#7a5af8", "#f79009", "#d92d20"];
  var STEP_COLOURS = ["#1f5fbf", "#7a5af8", "#d92d20"];

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas || !window.Chart) { return; }
    config.options = Object.assign(
      { responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { position: "bottom" } } },
      config.options || {}
    );
    config.plugins = [{
      id: "drawnFlag",
      afterRender: function (chart) { chart.canvas.dataset.drawn = "1"; }
    }];
    new window.Chart(canvas, config);
  }

  function series(labels, data, colour, extra) {
    return Object.assign({ label: labels, data: data, borderColor: colour,
      backgroundColor: colour, tension: 0.2, pointRadius: 2 }, extra || {});
  }

  function keyed(obj, colours, extra) {
    return Object.keys(obj).map(function (key, i) {
      return series(key, obj[key], colours[i % colours.length], extra);
    });
  }

  function start() {
    var node = document.getElementById("dashboard-data");
    if (!node) { return; }
    var d = JSON.parse(node.textContent);
    var days = d.series.days;
    var stacked = { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } };
    var zero = { scales: { y: { beginAtZero: true } } };

    draw("chart-daily", { type: "line", data: { labels: days, datasets: [
      series("Created", d.series.created, "#1f5fbf"),
      series("Resolved", d.series.resolved, "#039855")
    ] }, options: zero });

    draw("chart-backlog", { type: "line", data: { labels: days,
      datasets: keyed(d.series.backlog, TIER_COLOURS, { fill: true }) }, options: stacked });

    draw("chart-escalations", { type: "bar", data: { labels: days,
      datasets: keyed(d.series.escalations, STEP_COLOURS).map(function (ds) {
        ds.label = "Tier " + ds.label; return ds;
      }) }, options: stacked });

    draw("chart-distribution", { type: "bar", data: { labels: d.distribution.buckets,
      datasets: keyed(d.distribution.by_tier, TIER_COLOURS) }, options: zero });

    draw("chart-categories", { type: "bar", data: {
      labels: d.categories.map(function (c) { return (c.rising ? "▲ " : "") + c.category; }),
      datasets: [
        series("Last week", d.categories.map(function (c) { return c.last_week; }), "#98a2b3"),
        series("This week", d.categories.map(function (c) { return c.this_week; }), "#d92d20")
      ] }, options: { indexAxis: "y", scales: { x: { beginAtZero: true } } } });

    draw("chart-articles", { type: "bar", data: {
      labels: d.articles.map(function (a) { return a.title; }),
      datasets: [
        series("Resolved tickets", d.articles.map(function (a) { return a.resolved; }), "#039855"),
        series("Deflected tickets", d.articles.map(function (a) { return a.deflected; }), "#1f5fbf")
      ] }, options: { indexAxis: "y", scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } } } });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
