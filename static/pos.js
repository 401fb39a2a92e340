// The till's client side. htmx posts the ticket and swaps the server's answer; the SSE extension
// holds the stream. This file only
// - shows a banner while the stream is down;
// - puts a failure htmx does not swap (the server unreachable, a timeout, a refusal answered as
//   JSON) on the ticket itself, which stays as it is: sending again reuses the ticket's key, so a
//   retry can never make a second order;
// - keeps Enter in a text field from sending the order (a cashier presses Enter after a note).
(function () {
  "use strict";

  function showError(text) {
    const box = document.getElementById("ticket-error");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
  }

  function sending(event) {
    return event.detail.requestConfig && event.detail.requestConfig.path === "/pos/orders";
  }

  document.addEventListener("htmx:sendError", (event) => {
    showError(sending(event)
      ? "Could not reach the server: the order was not confirmed. The ticket is kept; press Send order again (it will not be sent twice)."
      : "Could not reach the server; try again.");
  });

  document.addEventListener("htmx:timeout", (event) => {
    showError(sending(event)
      ? "The server did not answer in time. The ticket is kept; press Send order again (it will not be sent twice)."
      : "The server did not answer in time; try again.");
  });

  document.addEventListener("htmx:responseError", (event) => {
    let text = "The server refused this (" + event.detail.xhr.status + ").";
    try { text = JSON.parse(event.detail.xhr.responseText).error.message; } catch (_) { /* not JSON */ }
    showError(text.charAt(0).toUpperCase() + text.slice(1));
  });

  document.addEventListener("htmx:sseError", () => {
    document.getElementById("connection").hidden = false;
  });
  document.addEventListener("htmx:sseOpen", () => {
    document.getElementById("connection").hidden = true;
  });

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || !event.target.closest) return;
    const field = event.target.closest("#till input:not([type=radio]):not([type=checkbox])");
    if (!field) return;
    event.preventDefault();
    // A typed quantity is applied at once (its change event re-prices the ticket).
    field.dispatchEvent(new Event("change", { bubbles: true }));
  });
})();
