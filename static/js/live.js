// Live updates for agents' pages: a Server-Sent Events stream (helpdesk/live.py,
// tickets/views/live.py) says what changed; the page fetches it through its usual
// views. While the stream is open the htmx polls are skipped (one every minute stays,
// a backstop); when it is not (no stream server, Redis down, a proxy dropped it) the
// page polls as before, and EventSource reconnects on its own.
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="tierdesk-live"]');
  var url = meta && meta.content;
  if (!url || !window.EventSource) { return; }

  var BACKSTOP_MS = 60000;   // a poll still runs this often with the stream open
  var MIN_GAP_MS = 300;      // a burst of changes costs one fetch per piece and gap
  var COALESCE_MS = 100;     // messages of one write arrive together
  var TYPING_SHOW_MS = 6000; // "… is typing" fades after this without news
  var TYPING_SEND_MS = 3000; // the agent's own typing is announced at most this often

  var presence = document.querySelector("[data-live-ticket]");
  var reference = presence ? presence.getAttribute("data-live-ticket") : "";
  var live = { open: false, lastFetch: {} };
  window.tierdeskLive = live;

  function setState(state) {
    live.open = state === "open";
    document.documentElement.setAttribute("data-live", state);
  }

  // Polls (htmx "every" triggers have no triggering event) wait while the stream is
  // open; refreshes asked for by the stream ("live" events) go through.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (!live.open || !elt || !elt.hasAttribute || !elt.hasAttribute("data-live-poll")) { return; }
    var config = event.detail.requestConfig || {};
    if (config.triggeringEvent && config.triggeringEvent.type === "live") { return; }
    var last = live.lastFetch[elt.id] || 0;
    if (Date.now() - last < BACKSTOP_MS) { event.preventDefault(); }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.id) { live.lastFetch[elt.id] = Date.now(); }
  });

  // One refresh per piece at a time, at most one per MIN_GAP_MS; a change that comes
  // during a refresh is fetched right after it. The first waits COALESCE_MS: one write
  // often publishes several events (a new ticket, its clock, its notice).
  var timers = {};
  function soon(key, run) {
    if (timers[key]) { timers[key].again = true; return; }
    timers[key] = { again: false };
    var finished = false;
    window.setTimeout(function () { run(done); }, COALESCE_MS);
    function done() {
      if (finished) { return; }
      finished = true;
      window.setTimeout(function () {
        var again = timers[key].again;
        delete timers[key];
        if (again) { soon(key, run); }
      }, MIN_GAP_MS);
    }
  }

  function refreshQueue(done) {
    var rows = document.getElementById("queue-rows");
    if (!rows || !window.htmx) { return done(); }
    // The swap replaces the element: listen on the document for its request's end.
    function ended(event) {
      var elt = event.detail && event.detail.elt;
      if (elt && elt.id === "queue-rows") { document.removeEventListener("htmx:afterRequest", ended); done(); }
    }
    document.addEventListener("htmx:afterRequest", ended);
    window.setTimeout(function () { document.removeEventListener("htmx:afterRequest", ended); done(); }, 5000);
    window.htmx.trigger(rows, "live");
  }

  // The ticket page: the timeline and the header (tier, status, assignee) come from a
  // fresh copy of the page; the forms, and what the agent is typing, stay as they are.
  function refreshTicket(done) {
    var box = document.getElementById("presence");
    if (box && window.htmx) { window.htmx.trigger(box, "live"); }
    window.fetch(window.location.pathname, { credentials: "same-origin", headers: { "HX-Request": "false" } })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        ["#timeline", ".ticket-head"].forEach(function (selector) {
          var fresh = doc.querySelector(selector);
          var old = document.querySelector(selector);
          if (fresh && old) {
            var node = document.importNode(fresh, true);
            old.replaceWith(node);
            if (window.htmx) { window.htmx.process(node); }
          }
        });
        document.dispatchEvent(new CustomEvent("tierdesk:live-refreshed"));
      })
      .catch(function () { /* the next change or poll tries again */ })
      .then(done, done);
  }

  var typingBox = document.getElementById("typing");
  var typingTimer = null;
  function showTyping(name) {
    if (!typingBox) { return; }
    typingBox.textContent = name + " is typing a reply…";
    typingBox.hidden = false;
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(function () { typingBox.hidden = true; }, TYPING_SHOW_MS);
  }

  function onMessage(event) {
    var message;
    try { message = JSON.parse(event.data); } catch (e) { return; }
    if (message.kind === "tickets") {
      soon(reference ? "ticket" : "queue", reference ? refreshTicket : refreshQueue);
    } else if (message.kind === "presence") {
      var box = document.getElementById("presence");
      if (box && window.htmx) { window.htmx.trigger(box, "live"); }
    } else if (message.kind === "typing" && typeof message.name === "string") {
      showTyping(message.name);
    }
  }

  var source = new EventSource(url + (reference ? "?ticket=" + encodeURIComponent(reference) : ""), { withCredentials: true });
  setState("connecting");
  source.addEventListener("hello", function () { setState("open"); });
  source.onmessage = onMessage;
  source.onerror = function () { setState(source.readyState === EventSource.CLOSED ? "off" : "connecting"); };
  window.addEventListener("pagehide", function () { source.close(); });

  // Announce the agent's own typing in the reply box to the others on the ticket.
  var typingUrl = presence ? presence.getAttribute("data-live-typing") : "";
  var lastSent = 0;
  document.addEventListener("input", function (event) {
    if (!typingUrl || !live.open || event.target.id !== "reply-body") { return; }
    var now = Date.now();
    if (now - lastSent < TYPING_SEND_MS) { return; }
    lastSent = now;
    var csrf = document.querySelector('meta[name="csrf-token"]');
    window.fetch(typingUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf ? csrf.content : "" }
    }).catch(function () { /* advisory only */ });
  });
})();
