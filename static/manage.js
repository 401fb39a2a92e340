// The manager's console. htmx and its SSE extension do the work; this file only
// - shows a banner while the console's stream is down,
// - shows a refused request's message (403, 404, a dropped connection) as a toast,
// - dismisses a low-stock alert (the server renders and sends them) and closes the movements panel,
// - keeps what a manager is typing when the stream re-renders the section around that input
//   (htmx keeps focus on an element with an id; the typed value it cannot know).
(function () {
  "use strict";

  document.addEventListener("htmx:sseError", () => {
    document.getElementById("connection").hidden = false;
  });
  document.addEventListener("htmx:sseOpen", () => {
    document.getElementById("connection").hidden = true;
  });

  let toastTimer = null;
  function toast(text) {
    const box = document.getElementById("toast");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 5000);
  }

  document.addEventListener("htmx:responseError", (event) => {
    let text = "That did not work (" + event.detail.xhr.status + ")";
    try { text = JSON.parse(event.detail.xhr.responseText).error.message; } catch (_) { /* not JSON */ }
    toast(text.charAt(0).toUpperCase() + text.slice(1));
  });
  document.addEventListener("htmx:sendError", () => toast("Cannot reach the server; try again"));

  let typing = null;
  document.addEventListener("htmx:sseBeforeMessage", (event) => {
    const active = document.activeElement;
    typing = null;
    if (active && active.id && event.target.contains(active) && (active.tagName === "INPUT" || active.tagName === "TEXTAREA")) {
      typing = { id: active.id, value: active.value, start: active.selectionStart, end: active.selectionEnd };
    }
  });
  document.addEventListener("htmx:sseMessage", () => {
    if (!typing) return;
    const input = document.getElementById(typing.id);
    if (input && input.value !== typing.value) {
      input.value = typing.value;
      if (document.activeElement !== input) input.focus();
      try { input.setSelectionRange(typing.start, typing.end); } catch (_) { /* not a text input */ }
    }
    typing = null;
  });

  // Low-stock alerts: newest on top, at most five kept; each stays until dismissed.
  const MAX_ALERTS = 5;
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.target.id !== "stock-alerts") return;
    const alerts = event.target.querySelectorAll(".stock-alert");
    for (let i = MAX_ALERTS; i < alerts.length; i++) alerts[i].remove();
  });
  document.addEventListener("click", (event) => {
    const dismiss = event.target.closest(".stock-alert .dismiss");
    if (dismiss) {
      dismiss.closest(".stock-alert").remove();
      return;
    }
    const close = event.target.closest(".movements .close");
    if (close) {
      event.preventDefault();
      document.getElementById("movements").replaceChildren();
      const link = document.getElementById("movements-link-" + close.closest(".movements").dataset.item);
      if (link) link.focus();
    }
  });
})();
