// The kitchen display's client side. htmx's SSE extension holds the stream; this file
// - carries the last event id itself, so a stream htmx re-creates resumes where it stopped
//   (a new EventSource sends no Last-Event-ID);
// - puts each `ticket` fragment in its place on the rail (or takes it off);
// - counts each ticket's age on the client, with no request to the server, and the lines'
//   "start in" countdowns (fire by prep time);
// - shows a banner while the stream is down, errors as a toast, and handles the keyboard;
// - proof of sight: names this screen (?screen=, remembered) and tells the server the last event
//   id it has painted, and that it is alive (a heartbeat), with no data coming back.
(function () {
  "use strict";

  let lastEventId = null;
  let selected = null;

  htmx.createEventSource = function (url) {
    const target = new URL(url, window.location.href);
    if (lastEventId) target.searchParams.set("last_event_id", lastEventId);
    return new EventSource(target.toString(), { withCredentials: true });
  };

  const display = () => document.querySelector(".kds");
  const rail = () => document.getElementById("rail");
  const tickets = () => Array.from(rail().querySelectorAll(".ticket"));

  // Tickets

  function orderId(element) {
    return Number(element.dataset.orderId);
  }

  // The rail's order (the server's too, kitchen/view.py's sort_key): rush first, then oldest first.
  function before(a, b) {
    const rushA = a.hasAttribute("data-rush"), rushB = b.hasAttribute("data-rush");
    return rushA !== rushB ? rushA : orderId(a) < orderId(b);
  }

  function place(ticket) {
    const later = tickets().find((t) => t !== ticket && before(ticket, t));
    if (later) { if (ticket.nextElementSibling !== later) rail().insertBefore(ticket, later); }
    else if (ticket !== rail().lastElementChild) rail().appendChild(ticket);
  }

  function applyTicket(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    const incoming = template.content.firstElementChild;
    if (!incoming) return;
    const existing = document.getElementById(incoming.id);
    if (incoming.hasAttribute("data-remove")) {
      if (existing) existing.remove();
      renumber();
      return;
    }
    if (existing) {
      if (existing === selected) {
        incoming.classList.add("selected");
        selected = incoming;
      }
      existing.replaceWith(incoming);
      place(incoming);  // (a rush flag moves it)
      // Changed after sending (lines added or voided): the same ticket, in its place, flashed.
      if (Number(incoming.dataset.revision) > Number(existing.dataset.revision)) {
        incoming.classList.add("amended");
        incoming.addEventListener("animationend", () => incoming.classList.remove("amended"), { once: true });
        chime();
      }
    } else {
      rail().appendChild(incoming);
      place(incoming);
      incoming.classList.add("arrived");
      incoming.addEventListener("animationend", () => incoming.classList.remove("arrived"), { once: true });
      chime();
    }
    htmx.process(incoming);
    age();
    renumber();
  }

  function renumber() {
    tickets().forEach((t, i) => { t.dataset.key = i < 9 ? String(i + 1) : i === 9 ? "0" : ""; });
    if (selected && !document.body.contains(selected)) selected = null;
  }

  document.addEventListener("htmx:sseBeforeMessage", (event) => {
    const message = event.detail;
    if (message.lastEventId) lastEventId = message.lastEventId;
    if (message.type === "ticket") {
      event.preventDefault();
      applyTicket(message.data);
      painted(message.lastEventId);
    }
  });

  document.addEventListener("htmx:sseMessage", (event) => {
    if (event.detail.type === "rail") { age(); renumber(); painted(event.detail.lastEventId); }
  });

  // Proof of sight. The server counts a ticket seen by this screen once the screen says it has
  // painted the event that brought it: after the swap, after the next frame (requestAnimationFrame,
  // then a task: the paint has happened). A frozen or hidden tab paints nothing, so says nothing.
  // Reports are coalesced: one in flight at most, the newest id wins; the heartbeat repeats it.

  const SCREEN_KEY = "forkflow.screen";
  const SCREEN_NAME = /^[a-z0-9_-]{1,40}$/;
  let screenName = null;
  let rendered = 0;  // the newest event id painted
  let inFlight = false;
  let again = false;

  function chooseScreenName() {
    const asked = (new URL(window.location.href).searchParams.get("screen") || "").toLowerCase();
    let name = SCREEN_NAME.test(asked) ? asked : window.localStorage.getItem(SCREEN_KEY);
    if (!name || !SCREEN_NAME.test(name)) {
      const random = new Uint16Array(1);
      window.crypto.getRandomValues(random);
      name = "screen-" + random[0].toString(16).padStart(4, "0");
    }
    window.localStorage.setItem(SCREEN_KEY, name);
    return name;
  }

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]; } catch (_) { return ""; }
  }

  function painted(id) {
    const value = Number(id);
    if (!value) return;
    window.requestAnimationFrame(() => window.setTimeout(() => {
      if (value > rendered) { rendered = value; report(); }
    }, 0));
  }

  function report() {
    if (!screenName) return;
    if (inFlight) { again = true; return; }
    inFlight = true;
    again = false;
    fetch("/kitchen/screens/" + encodeURIComponent(screenName) + "/seen", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify({ station: display().dataset.station, last_event_id: rendered }),
    }).catch(() => { /* offline: the next heartbeat says it again */ }).finally(() => {
      inFlight = false;
      if (again) report();
    });
  }

  function startSight(root) {
    screenName = chooseScreenName();
    const field = document.getElementById("screen-name");
    field.value = screenName;
    field.addEventListener("change", () => {
      const name = field.value.trim().toLowerCase();
      if (!SCREEN_NAME.test(name)) { field.value = screenName; toast("A screen's name: a-z, 0-9, - and _"); return; }
      screenName = name;
      field.value = name;
      window.localStorage.setItem(SCREEN_KEY, name);
      report();
    });
    painted(root.dataset.head);  // the page as served: the rail at that event
    const every = Math.max(1, Number(root.dataset.heartbeatSeconds) || 5) * 1000;
    window.setInterval(report, every);
  }

  // Ages: counted here, from the server's clock at page load, never asked for.

  let clockOffset = 0;
  let warnSeconds = 480;
  let lateSeconds = 900;

  function age() {
    const now = Date.now() + clockOffset;
    for (const t of tickets()) {
      const seconds = Math.max(0, Math.floor((now - Date.parse(t.dataset.created)) / 1000));
      const timer = t.querySelector("[data-timer]");
      if (timer) timer.textContent = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
      t.classList.toggle("age-warn", seconds >= warnSeconds && seconds < lateSeconds);
      t.classList.toggle("age-late", seconds >= lateSeconds);
    }
    // Fire by prep time: a shorter line counts down to when it should start.
    for (const start of rail().querySelectorAll("[data-start-at]")) {
      const left = Math.max(0, Math.floor((Date.parse(start.dataset.startAt) - now) / 1000));
      const text = left ? Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0") : "now";
      start.firstChild.textContent = left ? "start in " : "start ";
      start.querySelector("b").textContent = text;
      start.classList.toggle("start-now", !left);
    }
  }

  // Connection health

  document.addEventListener("htmx:sseError", () => {
    document.getElementById("connection").hidden = false;
  });
  document.addEventListener("htmx:sseOpen", () => {
    document.getElementById("connection").hidden = true;
  });

  // Errors from a tap (the ticket moved on another screen, nothing to recall...)

  let toastTimer = null;
  function toast(text) {
    const box = document.getElementById("toast");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
  }

  document.addEventListener("htmx:responseError", (event) => {
    let text = "That did not work: " + event.detail.xhr.status;
    try { text = JSON.parse(event.detail.xhr.responseText).error.message; } catch (_) { /* not JSON */ }
    toast(text.charAt(0).toUpperCase() + text.slice(1));
  });
  document.addEventListener("htmx:sendError", () => toast("Cannot reach the server; try again"));

  // Sound: off unless a cook turns it on (the browser allows sound after that tap).

  let audio = null;
  function soundOn() { return window.localStorage.getItem("forkflow.sound") === "on"; }
  function showSound() {
    const button = document.getElementById("sound");
    button.setAttribute("aria-pressed", String(soundOn()));
    button.textContent = soundOn() ? "Sound on" : "Sound off";
  }
  function chime() {
    if (!soundOn()) return;
    audio = audio || new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.4);
  }

  // Bump bars: number keys select a ticket, Enter bumps it, R recalls, Escape lets go.

  function select(ticket) {
    if (selected) selected.classList.remove("selected");
    selected = ticket;
    if (ticket) { ticket.classList.add("selected"); ticket.scrollIntoView({ block: "nearest", inline: "nearest" }); }
  }

  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
    if (/^[0-9]$/.test(event.key)) {
      select(tickets().find((t) => t.dataset.key === event.key) || null);
    } else if (event.key === "Enter" && selected) {
      event.preventDefault();
      const button = selected.querySelector(".bump-button");
      if (button.hasAttribute("data-blocked")) toast("Still waiting on lines: tap “Ready anyway” to override");
      else htmx.trigger(selected.querySelector("form.bump"), "submit");
    } else if (event.key === "r" || event.key === "R") {
      document.getElementById("recall").click();
    } else if (event.key === "Escape") {
      select(null);
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    const root = display();
    clockOffset = Date.parse(root.dataset.serverNow) - Date.now();
    warnSeconds = Number(root.dataset.warnSeconds);
    lateSeconds = Number(root.dataset.lateSeconds);
    document.getElementById("sound").addEventListener("click", () => {
      window.localStorage.setItem("forkflow.sound", soundOn() ? "off" : "on");
      showSound();
      chime();
    });
    showSound();
    age();
    renumber();
    window.setInterval(age, 1000);
    startSight(root);
  });
})();
