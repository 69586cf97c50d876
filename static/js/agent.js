// Agent workspace behaviour: keyboard navigation of the queue, pausing the queue's
// auto-refresh while the agent is selecting rows, canned-response insertion.
// No inline scripts (the CSP forbids them); everything hangs off data attributes.
(function () {
  "use strict";

  function queueLinks() {
    return Array.prototype.slice.call(document.querySelectorAll("#queue-rows a.queue-link"));
  }

  function isTyping(target) {
    var tag = (target && target.tagName) || "";
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  // j/k (or arrow down/up) move between tickets; Enter opens (native link); "/" searches.
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) { return; }
    if (event.key === "/") {
      var search = document.getElementById("f-q");
      if (search) { event.preventDefault(); search.focus(); }
      return;
    }
    var links = queueLinks();
    if (!links.length) { return; }
    var index = links.indexOf(document.activeElement);
    var step = 0;
    if (event.key === "j" || event.key === "ArrowDown") { step = 1; }
    if (event.key === "k" || event.key === "ArrowUp") { step = -1; }
    if (!step) { return; }
    event.preventDefault();
    var next = index === -1 ? 0 : Math.min(Math.max(index + step, 0), links.length - 1);
    links[next].focus();
  });

  // The queue refreshes itself; do not swap the rows out from under an agent who is
  // ticking checkboxes or has focus in the table (the focus would be lost).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (!elt || !elt.hasAttribute("data-queue-poll")) { return; }
    var busy = elt.querySelector("input:checked") || elt.contains(document.activeElement) && document.activeElement.tagName !== "A";
    if (busy) { event.preventDefault(); }
  });

  // Keep keyboard focus on the same ticket link across a refresh.
  var focusedRef = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var active = document.activeElement;
    var row = active && active.closest && active.closest("tr[data-reference]");
    focusedRef = row ? row.getAttribute("data-reference") : null;
  });
  document.addEventListener("htmx:afterSwap", function () {
    if (!focusedRef) { return; }
    var link = document.querySelector('tr[data-reference="' + focusedRef + '"] a.queue-link');
    if (link) { link.focus({ preventScroll: true }); }
    focusedRef = null;
  });

  // Canned responses: with JS, choosing one inserts its (server-rendered) text at
  // the cursor; without JS the "Insert" button reloads the page with it prefilled.
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.hasAttribute || !select.hasAttribute("data-canned-target") || !select.value) { return; }
    var template = document.getElementById("canned-" + select.value);
    var textarea = document.getElementById(select.getAttribute("data-canned-target"));
    if (!template || !textarea) { return; }
    var text = template.content ? template.content.textContent : template.textContent;
    var start = textarea.selectionStart || textarea.value.length;
    var end = textarea.selectionEnd || start;
    textarea.value = textarea.value.slice(0, start) + text + textarea.value.slice(end);
    textarea.focus();
    select.value = "";
  });
})();
