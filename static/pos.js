// The till's client side. htmx posts the ticket and swaps the server's answer; the SSE extension
// holds the stream. This file
// - sends each tap on the ticket (a dish, +, −, Remove, New ticket, a quantity or order type
//   changed) from the form itself, in order (see `tap`);
// - shows a banner while the stream is down;
// - puts a failure htmx does not swap (the server unreachable, a timeout, a refusal answered as
//   JSON) on the ticket itself, which stays as it is: sending again reuses the ticket's key, so a
//   retry can never make a second order;
// - keeps Enter in a field from sending the order (a cashier presses Enter after a note); Send
//   order is the one way to send;
// - while the options picker is open, keeps the rest of the till out of reach (inert), puts the
//   focus in it, closes it on Escape and gives the focus back to what opened it;
// - keeps the allergy toggles open or closed across the ticket's re-renders.
(function () {
  "use strict";

  // Every change to the ticket is posted by the form (`htmx.ajax` with the form as its source), never
  // by the button tapped: each answer replaces the ticket's buttons, and htmx drops a queued request
  // whose element has left the page. Sent from the form, a second tap on "+" made before the first
  // one's answer waits in the form's queue (hx-sync="this:queue all") and is applied to the ticket
  // that answer leaves; the form's fields are read when the request leaves, the tap's own values now.
  function tap(values) {
    htmx.ajax("POST", "/pos/ticket", { source: "#till", target: "#ticket", swap: "innerHTML", values: values })
      .catch(() => { /* shown on the ticket by the error handlers below */ });
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("#till button[data-add], #till button[data-op], #recent button[data-op]");
    if (!button || button.disabled) return;
    tap(button.dataset.add ? { add: button.dataset.add } : { op: button.dataset.op });
  });

  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches("#till [data-reprice]")) tap({});
  });

  // Whether a swap event is about the ticket (the stream's swaps carry no target in their detail).
  function intoTicket(event) {
    return Boolean(event.detail && event.detail.target && event.detail.target.id === "ticket");
  }

  function showError(text) {
    const box = document.getElementById("pick-error") || document.getElementById("ticket-error");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
  }

  function sending(event) {
    return event.detail.requestConfig && event.detail.requestConfig.path === "/pos/orders";
  }

  // A send whose answer never came may or may not have made the order. Until this ticket is sent
  // again (same key: made once at most), say so, even after the ticket is re-rendered meanwhile.
  const UNCONFIRMED = "The last send of this ticket was not confirmed. Press Send order again: it will not be sent twice.";
  let unconfirmedKey = null;

  function ticketKey() {
    const input = document.querySelector("#ticket input[name=idempotency_key]");
    return input ? input.value : null;
  }

  function failed(event, reason) {
    if (sending(event)) {
      unconfirmedKey = ticketKey();
      showError(reason + " The order was not confirmed: the ticket is kept; press Send order again (it will not be sent twice).");
    } else {
      showError(reason + " Try again.");
    }
  }

  document.addEventListener("htmx:sendError", (event) => failed(event, "Could not reach the server."));
  document.addEventListener("htmx:timeout", (event) => failed(event, "The server did not answer in time."));

  document.addEventListener("htmx:afterSwap", (event) => {
    if (!intoTicket(event) || unconfirmedKey === null) return;
    if (ticketKey() !== unconfirmedKey) unconfirmedKey = null; // sent, or a new ticket
    else if (!document.getElementById("pick-error") && document.getElementById("ticket-error").hidden) showError(UNCONFIRMED);
  });

  document.addEventListener("htmx:responseError", (event) => {
    const status = event.detail.xhr.status;
    let text = "The server refused this (" + status + ").";
    try { text = JSON.parse(event.detail.xhr.responseText).error.message; } catch (_) { /* not JSON */ }
    text = text.charAt(0).toUpperCase() + text.slice(1);
    if (status >= 500) failed(event, text.endsWith(".") ? text : text + ".");
    else showError(text);
  });

  document.addEventListener("htmx:sseError", () => {
    document.getElementById("connection").hidden = false;
  });
  document.addEventListener("htmx:sseOpen", () => {
    document.getElementById("connection").hidden = true;
  });

  // Keystrokes typed while a tap was on its way: the answer echoes the text as it was sent, so
  // without this a cashier typing a name just after tapping a dish would lose the last letters.
  // Only text the server echoed unchanged is put back; a fresh ticket (sent, or New ticket) stays empty.
  const TEXT = "#ticket input[id]:not([type=hidden]):not([type=radio]), #ticket textarea[id]";
  const sentText = new WeakMap(); // xhr -> {id: value as sent}
  let typed = null; // {id: {value, start, end}} read just before the swap

  document.addEventListener("htmx:beforeRequest", (event) => {
    const values = {};
    document.querySelectorAll(TEXT).forEach((field) => { values[field.id] = field.value; });
    sentText.set(event.detail.xhr, values);
  });

  document.addEventListener("htmx:beforeSwap", (event) => {
    typed = null;
    const sent = sentText.get(event.detail.xhr);
    if (!sent || !event.detail.shouldSwap || !intoTicket(event)) return;
    typed = {};
    document.querySelectorAll(TEXT).forEach((field) => {
      if (field.id in sent && field.value !== sent[field.id]) {
        typed[field.id] = { sent: sent[field.id], value: field.value, start: field.selectionStart, end: field.selectionEnd };
      }
    });
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    if (!typed || !intoTicket(event)) return;
    for (const [id, kept] of Object.entries(typed)) {
      const field = document.getElementById(id);
      if (!field || field.value !== kept.sent) continue;
      field.value = kept.value;
      if (field === document.activeElement && kept.start !== null) field.setSelectionRange(kept.start, kept.end);
    }
    typed = null;
  });

  // The picker is a dialog over the till: what is behind it cannot be reached while it is open.
  // It is rendered by the server inside the ticket, so this runs after every swap of the ticket.
  let opener = null; // the id of what had the focus when the picker opened
  let allergiesOpen = false;

  document.addEventListener("toggle", (event) => {
    if (event.target.id === "allergies") allergiesOpen = event.target.open;
  }, true); // (toggle does not bubble)

  // Read from the element itself as a swap begins: a tap on the summary just before a swap lands
  // (the ticket posted back on a menu change) has opened it, but its toggle event comes later.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const allergies = document.getElementById("allergies");
    if (allergies && intoTicket(event)) allergiesOpen = allergies.open;
  });

  document.addEventListener("htmx:afterSettle", (event) => {
    if (!intoTicket(event)) return;
    const allergies = document.getElementById("allergies");
    if (allergies && allergiesOpen && !allergies.open) allergies.open = true;
    const picker = document.getElementById("picker");
    const opening = picker && !picker.contains(document.activeElement);
    if (opening && document.activeElement && document.activeElement.id) opener = document.activeElement.id;
    const behind = document.querySelectorAll("#menu, #placed, .till-recent, #ticket > :not(#picker-layer)");
    behind.forEach((element) => { element.inert = Boolean(picker); });
    if (opening) {
      const first = picker.querySelector(".pick[aria-pressed=true]:not(:disabled), .pick:not(:disabled), #pick-cancel");
      if (first) first.focus();
    } else if (!picker && opener !== null) {
      const back = document.getElementById(opener);
      opener = null;
      if (back && (document.activeElement === document.body || !document.activeElement)) back.focus();
    }
    const confirm = document.getElementById("allergy-confirm");
    if (confirm && !confirm.contains(document.activeElement)) confirm.focus();
  });

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      if (document.getElementById("picker")) tap({ op: "cancel" });
      else if (document.getElementById("allergy-confirm")) tap({ op: "back" });
      return;
    }
    if (event.key !== "Enter" || !event.target.closest) return;
    const field = event.target.closest("#till input");
    if (!field) return;
    event.preventDefault();
    // A typed quantity is applied at once (its change event re-prices the ticket).
    if (field.matches("[data-reprice]:not([type=radio])")) field.dispatchEvent(new Event("change", { bubbles: true }));
  });
})();
