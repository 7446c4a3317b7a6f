// Sign-up suggests the studio's country (for phone numbers) and time zone from this browser; both can be changed
// later in Settings. Without JavaScript the server uses its defaults.
(function () {
  "use strict";
  var form = document.querySelector("form[data-suggest-studio]");
  if (!form) return;
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  var language = navigator.language || "";
  var region = (language.split("-")[1] || "").toUpperCase();
  if (!/^[A-Z]{2}$/.test(region)) region = "";
  form.elements.namedItem("timezone").value = zone;
  form.elements.namedItem("region").value = region;
})();
