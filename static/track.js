// The tracking page's client side. The status panel is swapped in by htmx's SSE extension
// (`status` fragments rendered by the server); this file
// - raises the ready alert when the order turns ready while the page is open: the banner is in the
//   fragment; a chime (Web Audio) and a buzz (navigator.vibrate) follow once the customer has
//   tapped "Alert me" (browsers only allow sound after a tap), and the tab's title changes;
// - shows a banner while the stream is down (it resyncs by itself on reconnecting).
(function () {
  "use strict";

  let alertsOn = false;
  let audio = null;
  let lastStatus = null;
  let title = document.title;

  function currentStatus() {
    const panel = document.querySelector("#track-status [data-status]");
    return panel ? panel.dataset.status : null;
  }

  function beep(at, frequency, length) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.type = "sine";
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
    tone.connect(gain).connect(audio.destination);
    tone.start(at);
    tone.stop(at + length);
  }

  function chime() {
    if (!audio) return;
    if (audio.state === "suspended") audio.resume();
    const now = audio.currentTime;
    beep(now, 660, 0.25);
    beep(now + 0.3, 880, 0.25);
    beep(now + 0.6, 1320, 0.45);
  }

  function buzz(pattern) {
    if (typeof navigator.vibrate === "function") navigator.vibrate(pattern);
  }

  function ringReady() {
    document.title = "Ready! · " + title;
    const banner = document.querySelector("#track-status .ready-banner");
    if (banner) banner.classList.add("ringing");
    if (alertsOn) {
      chime();
      buzz([300, 150, 300, 150, 300]);
    }
  }

  function showAlertButton() {
    const button = document.getElementById("alert-me");
    const status = currentStatus();
    const done = status === "completed" || status === "cancelled";
    button.hidden = done;
    document.getElementById("alert-hint").hidden = done;
    button.setAttribute("aria-pressed", String(alertsOn));
    button.textContent = alertsOn ? "Alerts on: we will beep and buzz" : "Alert me when it’s ready";
  }

  document.addEventListener("htmx:sseMessage", (event) => {
    if (event.detail.type !== "status") return;
    const status = currentStatus();
    if (status === "ready" && lastStatus !== null && lastStatus !== "ready") ringReady();
    if (status !== "ready") document.title = title;
    lastStatus = status;
    showAlertButton();
  });

  document.addEventListener("htmx:sseError", () => {
    document.getElementById("connection").hidden = false;
  });
  document.addEventListener("htmx:sseOpen", () => {
    document.getElementById("connection").hidden = true;
  });

  document.addEventListener("DOMContentLoaded", () => {
    title = document.title;
    lastStatus = currentStatus();
    document.getElementById("alert-me").addEventListener("click", () => {
      alertsOn = !alertsOn;
      if (alertsOn) {
        // Made inside the tap, so the browser lets it play; a short tone says it works.
        const Context = window.AudioContext || window.webkitAudioContext;
        if (!audio && Context) audio = new Context();
        if (audio) {
          if (audio.state === "suspended") audio.resume();
          beep(audio.currentTime, 880, 0.15);
        }
        buzz(80);
        if (currentStatus() === "ready") ringReady();
      }
      showAlertButton();
    });
    showAlertButton();
  });
})();
