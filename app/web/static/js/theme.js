// The colour theme, applied before the page is first painted: a classic script loaded
// blocking from <head> (the CSP allows no inline script), so a night shift never sees a
// white flash. The choice (System, Light, Dark) is a preference kept in localStorage
// ("relay247.theme"), like the alert switch: nothing of the session. "System" follows
// prefers-color-scheme, live. The header's select (base.html) changes it on every page.
(function () {
  "use strict";
  var KEY = "relay247.theme";
  var CHOICES = ["system", "light", "dark"];
  var system = window.matchMedia("(prefers-color-scheme: dark)");
  var unkept = null; // a choice storage refused to keep: it holds for this page

  function choice() {
    if (unkept) return unkept;
    var stored = null;
    try {
      stored = window.localStorage.getItem(KEY);
    } catch (blocked) {
      stored = null; // storage refused (a locked-down profile): follow the system
    }
    return CHOICES.indexOf(stored) >= 0 ? stored : "system";
  }

  function apply() {
    var chosen = choice();
    var theme = chosen === "system" ? (system.matches ? "dark" : "light") : chosen;
    document.documentElement.dataset.theme = theme;
    document.documentElement.dataset.themeChoice = chosen;
    var select = document.getElementById("theme-choice");
    if (select) select.value = chosen;
  }

  apply();
  system.addEventListener("change", apply);
  // Another tab changed it: follow.
  window.addEventListener("storage", function (event) {
    if (event.key === KEY) apply();
  });
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("theme-choice");
    if (!select) return;
    select.value = choice();
    select.addEventListener("change", function () {
      try {
        window.localStorage.setItem(KEY, select.value);
      } catch (blocked) {
        unkept = select.value;
      }
      apply();
    });
  });
})();
