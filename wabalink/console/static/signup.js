/* Meta's embedded sign-up (simulated): hand the result back to the opener window, as Meta's
   does, or follow the redirect with the token in the fragment. */
(function () {
  "use strict";
  var element = document.getElementById("signup-result");
  if (!element) { return; }
  var result = JSON.parse(element.getAttribute("data-result"));
  var next = element.getAttribute("data-continue");
  if (window.opener && window.opener !== window) {
    try {
      window.opener.postMessage(result, location.origin);
      window.close();
      return;
    } catch (error) { /* fall back to the redirect */ }
  }
  if (next) { location.replace(next); }
})();
