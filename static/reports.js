// The day's report page: "Print on receipt printer" gets back the line saying it was sent, or why
// not (409, 422), which htmx swaps in under the button. A refusal htmx does not swap (signed out, a
// server error, no connection) is said on that line too, never silently dropped.
(function () {
  "use strict";

  function say(text) {
    const status = document.getElementById("print-report-status");
    if (!status) return;
    const line = document.createElement("span");
    line.className = "error";
    line.id = "print-report-error";
    line.textContent = text;
    status.replaceChildren(line);
  }

  document.addEventListener("htmx:responseError", (event) => {
    let text = "That did not work (" + event.detail.xhr.status + ")";
    try { text = JSON.parse(event.detail.xhr.responseText).error.message; } catch (_) { /* not JSON */ }
    say(text.charAt(0).toUpperCase() + text.slice(1));
  });
  document.addEventListener("htmx:sendError", () => say("Cannot reach the server; try again"));
})();
