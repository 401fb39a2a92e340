// Online ordering's client side. htmx and its SSE extension do the work (the menu stream sends no
// event ids: every (re)connection starts with the whole menu); this file
// - puts a dish sent alone (`item`: it sold out or came back) in its place on the menu;
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

  function applyItem(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    const incoming = template.content.firstElementChild;
    if (!incoming) return null;
    const existing = document.getElementById(incoming.id);
    if (existing && document.getElementById("menu")) {
      const hadFocus = existing.contains(document.activeElement);
      existing.replaceWith(incoming);
      htmx.process(incoming);
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
      if (cartHasLines()) refreshCart();
    }
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
