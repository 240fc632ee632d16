/* wabalink console: live regions refreshed on server-sent events, and the embedded sign-up's
   hand-back when it was opened as a window. No build step, no dependencies. */
(function () {
  "use strict";

  function refresher() {
    var busy = false, again = false;
    return function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-live-region]").forEach(function (region) {
            var name = region.getAttribute("data-live-region");
            var replacement = fresh.querySelector('[data-live-region="' + name + '"]');
            if (replacement) { region.innerHTML = replacement.innerHTML; }
          });
        })
        .catch(function () { /* the next change event retries */ })
        .then(function () {
          busy = false;
          if (again) { again = false; refresh(); }
        });
    };
  }

  if (window.EventSource) {
    document.querySelectorAll("[data-live]").forEach(function (element) {
      var source = new EventSource(element.getAttribute("data-live"));
      source.addEventListener("changed", refresher());
      window.addEventListener("pagehide", function () { source.close(); });
    });
  }

  // Meta's sign-up opened as a window answers its opener with postMessage (same origin only).
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.origin !== location.origin || !data || data.type !== "WA_EMBEDDED_SIGNUP" ||
        data.event !== "FINISH" || typeof data.access_token !== "string") { return; }
    location.assign("/console/signup/callback#access_token=" + encodeURIComponent(data.access_token));
  });
})();
