// Agent workspace behaviour: keyboard navigation of the queue, pausing the queue's
// auto-refresh while the agent is selecting rows, canned-response insertion, the KB
// search beside the ticket page's article pickers.
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

  // Article pickers: the page lists only the ticket's suggested articles; the search
  // beside each picker asks /api/v1/kb/suggest/ and adds what it finds as options.
  // Without JS the search stays hidden and the suggested articles are the choice.
  var SEARCH_DELAY_MS = 250;
  var MIN_QUERY_CHARS = 3; // the suggest API ignores shorter words

  function setUpPicker(input) {
    var select = document.getElementById(input.getAttribute("data-kb-picker"));
    var box = input.closest(".kb-picker");
    var status = box && box.querySelector("[data-kb-picker-status]");
    var url = input.getAttribute("data-kb-suggest");
    if (!select || !box || !status || !url) { return; }
    var timer = null;
    var pending = null;

    function show(results) {
      // Earlier search results go unless selected: a multiple picker keeps every
      // article chosen so far, whatever was searched since.
      Array.prototype.slice.call(select.options).forEach(function (option) {
        if (option.hasAttribute("data-kb-found") && !option.selected) { option.remove(); }
      });
      var present = {};
      Array.prototype.forEach.call(select.options, function (option) { present[option.value] = true; });
      // New results go first (after "(none)"), where a list of five rows shows them.
      var anchor = select.options.length && select.options[0].value === "" ? select.options[1] || null : select.options[0] || null;
      results.forEach(function (article) {
        if (!article || typeof article.slug !== "string" || typeof article.title !== "string") { return; }
        if (present[article.slug]) { return; }
        present[article.slug] = true;
        var option = new Option(article.title, article.slug);
        option.setAttribute("data-kb-found", "");
        select.insertBefore(option, anchor);
      });
      status.textContent = results.length ? "" : "No matching articles.";
    }

    function search() {
      timer = null;
      var query = input.value.trim();
      if (pending) { pending.abort(); pending = null; }
      if (query.length < MIN_QUERY_CHARS) { status.textContent = ""; return; }
      var controller = new AbortController();
      pending = controller;
      fetch(url + "?" + new URLSearchParams({ q: query, limit: "10" }).toString(), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: controller.signal
      }).then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      }).then(function (results) {
        if (pending !== controller) { return; }
        pending = null;
        show(Array.isArray(results) ? results : []);
      }).catch(function (error) {
        if (error && error.name === "AbortError") { return; }
        if (pending === controller) { pending = null; }
        status.textContent = "Search failed.";
      });
    }

    input.addEventListener("input", function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(search, SEARCH_DELAY_MS);
    });
    // Enter searches at once instead of submitting the form (escalate, resolve).
    input.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      event.preventDefault();
      if (timer) { clearTimeout(timer); }
      search();
    });
    box.hidden = false;
  }

  function setUpPickers() {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-kb-picker]"), setUpPicker);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpPickers);
  } else {
    setUpPickers();
  }
})();
