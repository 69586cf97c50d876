// Customer portal behaviour. Progressive: every form works without this file.
(function () {
  "use strict";

  function formatSize(bytes) {
    if (bytes >= 1048576) { return (bytes / 1048576).toFixed(1) + " MB"; }
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  // Show the chosen files and warn early about a file that is too large; the
  // server checks again (size, type and content) and has the last word.
  function describeFiles(input) {
    var box = input.closest(".field-files");
    if (!box) { return; }
    var max = parseInt(box.getAttribute("data-max-bytes") || "0", 10);
    var list = box.querySelector(".chosen-files");
    if (!list) {
      list = document.createElement("ul");
      list.className = "chosen-files small";
      list.setAttribute("aria-live", "polite");
      box.appendChild(list);
    }
    list.textContent = "";
    Array.prototype.forEach.call(input.files || [], function (file) {
      var item = document.createElement("li");
      item.textContent = file.name + " (" + formatSize(file.size) + ")";
      if (max && file.size > max) {
        item.className = "too-large";
        item.textContent += " is larger than " + formatSize(max) + " and will be refused.";
      }
      list.appendChild(item);
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches(".field-files input[type=file]")) {
      describeFiles(event.target);
    }
  });

  // After a refused submit, move focus to the summary so screen readers hear it.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("form-errors");
    if (summary) { summary.focus(); }
  });
})();
