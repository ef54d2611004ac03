// The portal's only script (served by the function; no framework, no CDN). Everything works
// without it: it only hides the format-specific fields of the formats not chosen.
(function () {
  "use strict";
  function sync(select) {
    var chosen = select.value;
    document.querySelectorAll(".format-fields").forEach(function (group) {
      var on = group.getAttribute("data-format") === chosen;
      group.classList.toggle("hidden", !on);
      group.querySelectorAll("input, select, textarea").forEach(function (field) { field.disabled = !on; });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("format");
    if (!select) { return; }
    select.addEventListener("change", function () { sync(select); });
    sync(select);
  });
})();
