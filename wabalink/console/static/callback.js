/* The sign-up came back with #access_token=...: post it to the console (phase 1) at once,
   and drop it from the address bar and history. */
(function () {
  "use strict";
  var params = new URLSearchParams(location.hash.slice(1));
  var token = params.get("access_token");
  var form = document.getElementById("signup-callback");
  if (!token || !form) { return; }
  history.replaceState(null, "", location.pathname);
  form.querySelector('[name="signupCallback.accessToken"]').value = token;
  form.submit();
})();
