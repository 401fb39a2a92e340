// Starts Swagger UI (vendored in /static/vendor/swagger-ui/) on /openapi.json for the /docs page.
// Loaded from /static: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  // The session's CSRF token, which base.html puts on <body hx-headers='{"X-CSRF-Token": ...}'>.
  // "Try it out" requests that ride on the session cookie need it for anything but GET.
  function csrfToken() {
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      return headers["X-CSRF-Token"] || null;
    } catch (e) {
      return null;
    }
  }

  function start() {
    var container = document.getElementById("swagger-ui");
    if (!container || typeof window.SwaggerUIBundle !== "function") {
      return;
    }
    var token = csrfToken();
    window.ui = window.SwaggerUIBundle({
      url: container.getAttribute("data-spec-url") || "/openapi.json",
      domNode: container,
      deepLinking: true,
      validatorUrl: null, // never call out to an online validator
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      defaultModelsExpandDepth: 0,
      docExpansion: "list",
      tryItOutEnabled: false,
      showExtensions: true,
      requestInterceptor: function (request) {
        var method = (request.method || "GET").toUpperCase();
        if (token && method !== "GET" && method !== "HEAD") {
          request.headers["X-CSRF-Token"] = token;
        }
        return request;
      },
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
