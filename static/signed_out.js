// Shared by the pages that hold an event stream (kitchen display, till, console). A stream the
// server ends (its lifetime is up, or a credential changed) is reopened by the browser by itself.
// When the reopened stream is refused instead (the server answered, not with a stream: the
// session was signed out, expired or disabled), ask the page itself whether we are still signed
// in; if it sends us to sign in, go there, and come back here afterwards.
(function () {
  "use strict";

  let checking = false;

  document.addEventListener("htmx:sseError", (event) => {
    const source = event.detail && event.detail.source;
    if (!source || source.readyState !== EventSource.CLOSED || checking) return;
    checking = true;
    const here = window.location.pathname + window.location.search;
    fetch(here, { redirect: "manual", cache: "no-store", headers: { accept: "text/html" } })
      .then((response) => {
        if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
          window.location.assign("/login?next=" + encodeURIComponent(here));
        }
      })
      .catch(() => { /* the server is away: htmx keeps reconnecting */ })
      .finally(() => { checking = false; });
  });
})();
