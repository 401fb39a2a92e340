// Online ordering's client side. htmx and its SSE extension do the work (the menu stream sends no
// event ids: every (re)connection starts with the whole menu); this file
// - puts a dish sent alone (`item`: it sold out or came back, or an option did) in its place on the
//   menu, and keeps an options form the customer has open as they left it (what they chose, unless
//   that option is now sold out: it comes disabled from the server), across every menu swap too;
// - keeps the "free from" choice in the address, so a reload keeps the filter;
// - has the cart fetch itself again when a dish in it changed, so an open cart learns that a dish
//   sold out ("Sold out — remove it") without a reload;
// - shows a banner while the stream is down, and stops a double tap from sending checkout twice
//   (the server would answer it with the same order anyway: the form carries an idempotency key).
(function () {
  "use strict";

  function cartHolds(itemId) {
    return document.querySelector('#cart .cart-line[data-item-id="' + itemId + '"]') !== null;
  }

  function cartHasLines() {
    return document.querySelector("#cart .cart-line") !== null;
  }

  function refreshCart() {
    const cart = document.getElementById("cart");
    if (cart) htmx.trigger(cart, "cart:stale");
  }

  // Options forms the customer has open: {item id: [[name, value, checked]...]}, read before a swap.
  function openForms(root) {
    const found = {};
    for (const details of root.querySelectorAll(".dish details.options[open]")) {
      const dish = details.closest(".dish");
      found[dish.dataset.itemId] = Array.from(details.querySelectorAll("input[name]"), (input) => [
        input.name,
        input.value,
        input.checked,
      ]);
    }
    return found;
  }

  function restoreForms(root, saved) {
    for (const [itemId, inputs] of Object.entries(saved)) {
      const dish = root.querySelector('.dish[data-item-id="' + itemId + '"]');
      const details = dish && dish.querySelector("details.options");
      if (!details) continue;
      details.open = true;
      for (const [name, value, checked] of inputs) {
        for (const input of details.querySelectorAll('input[name="' + CSS.escape(name) + '"]')) {
          if (input.disabled || input.type === "hidden") continue;
          if (input.type === "radio") {
            if (input.value === value && checked) input.checked = true;
          } else if (input.type === "checkbox") {
            input.checked = checked;
          } else {
            input.value = value;
          }
        }
      }
      const groups = details.querySelector(".groups");
      if (groups) htmx.trigger(groups, "change"); // the server prices what is chosen now
    }
  }

  function applyItem(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    const incoming = template.content.firstElementChild;
    if (!incoming) return null;
    const existing = document.getElementById(incoming.id);
    if (existing && document.getElementById("menu")) {
      const hadFocus = existing.contains(document.activeElement);
      const saved = openForms(existing.parentElement);
      existing.replaceWith(incoming);
      htmx.process(incoming);
      restoreForms(incoming.parentElement, saved);
      if (hadFocus) {
        const button = incoming.querySelector("button");
        (button || incoming.querySelector(".dish-name")).focus({ preventScroll: true });
      }
    }
    return incoming.dataset.itemId;
  }

  document.addEventListener("htmx:sseBeforeMessage", (event) => {
    const message = event.detail;
    if (message.type === "item") {
      event.preventDefault();
      const itemId = applyItem(message.data);
      if (itemId && cartHolds(itemId)) refreshCart();
    } else if (message.type === "menu") {
      if (event.target.id !== "menu") event.preventDefault(); // the checkout page shows no menu
      else savedForms = openForms(event.target);
      if (cartHasLines()) refreshCart();
    }
  });

  let savedForms = {};
  document.addEventListener("htmx:sseMessage", (event) => {
    if (event.detail.type === "menu" && event.target.id === "menu") {
      restoreForms(event.target, savedForms);
      savedForms = {};
    }
  });

  // A group put right clears its message (the server checks again when the dish is added).
  document.addEventListener("change", (event) => {
    const group = event.target.closest ? event.target.closest(".options .group.invalid") : null;
    if (!group) return;
    group.classList.remove("invalid");
    group.removeAttribute("aria-describedby");
    const message = group.querySelector(".field-error");
    if (message) message.remove();
    const form = group.closest("form");
    const summary = form.querySelector(".options-error");
    if (summary && !form.querySelector(".group.invalid")) summary.remove();
  });

  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!box.matches || !box.matches('input[name="free_from"]')) return;
    const url = new URL(window.location.href);
    url.searchParams.delete("free_from");
    for (const ticked of document.querySelectorAll('input[name="free_from"]:checked')) {
      url.searchParams.append("free_from", ticked.value);
    }
    history.replaceState(history.state, "", url);
  });

  document.addEventListener("htmx:sseError", () => {
    const banner = document.getElementById("connection");
    if (banner) banner.hidden = false;
  });
  document.addEventListener("htmx:sseOpen", () => {
    const banner = document.getElementById("connection");
    if (banner) banner.hidden = true;
  });

  // Checkout: one submit per tap; a page restored from the back/forward cache can submit again.

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.matches("form.checkout")) return;
    if (form.dataset.sending === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.sending = "1";
    form.setAttribute("aria-busy", "true");
    const button = form.querySelector("button[type=submit]");
    button.dataset.label = button.textContent;
    button.textContent = "Placing your order…";
  });

  window.addEventListener("pageshow", () => {
    for (const form of document.querySelectorAll("form.checkout[data-sending]")) {
      delete form.dataset.sending;
      form.removeAttribute("aria-busy");
      const button = form.querySelector("button[type=submit]");
      if (button.dataset.label) button.textContent = button.dataset.label;
    }
  });

  document.addEventListener("htmx:sendError", () => {
    const status = document.querySelector("#cart .cart-status");
    if (status) status.textContent = "Cannot reach the restaurant: check your connection and try again.";
  });
})();
