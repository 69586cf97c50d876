// The queue's "time left" cells count down in the browser: each carries its deadline
// (data-deadline, UTC ISO 8601) and its low-time threshold in seconds (data-low, a
// quarter of the tier budget). The server renders the same text (tickets/queue.py
// time_left_text), so the page reads right without JS; with JS the text stays current
// between refreshes, and the cached rows HTML depends only on the tickets, not the clock.
(function () {
  "use strict";

  // Correct for a browser clock that differs from the server's (meta server-time).
  var skew = 0;
  var meta = document.querySelector('meta[name="server-time"]');
  if (meta && meta.content) { skew = Number(meta.content) - Date.now(); }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  // Same as helpdesk/templatetags/tierdesk.py duration(): 3d 4h, 2h 05m, 45m, 30s.
  function duration(seconds) {
    var days = Math.floor(seconds / 86400), rem = seconds % 86400;
    var hours = Math.floor(rem / 3600), minutes = Math.floor((rem % 3600) / 60);
    if (days) { return days + "d " + hours + "h"; }
    if (hours) { return hours + "h " + pad(minutes) + "m"; }
    if (minutes) { return minutes + "m"; }
    return (rem % 60) + "s";
  }

  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll("[data-deadline]").forEach(function (cell) {
      var deadline = Date.parse(cell.getAttribute("data-deadline"));
      if (isNaN(deadline)) { return; }
      var left = Math.trunc((deadline - now) / 1000);
      var low = Number(cell.getAttribute("data-low")) || 0;
      var text = left > 0 ? duration(left) : "overdue " + duration(-left);
      if (cell.textContent !== text) { cell.textContent = text; }
      cell.classList.toggle("time-low", left <= 0 || left < low);
    });
  }

  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  window.setInterval(tick, 1000);
})();
