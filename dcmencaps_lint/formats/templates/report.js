// Filters by severity and by rule. Plain DOM code, no network, runs from file://.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var inputs = Array.prototype.slice.call(document.querySelectorAll("input[data-filter]"));
  var files = Array.prototype.slice.call(document.querySelectorAll("details.file"));
  var shown = document.getElementById("shown");

  function apply() {
    var on = {};
    inputs.forEach(function (box) {
      on[box.getAttribute("data-filter") + ":" + box.value] = box.checked;
    });
    var visible = 0;
    files.forEach(function (file) {
      var any = false;
      file.querySelectorAll(".finding").forEach(function (finding) {
        var show = on["sev:" + finding.getAttribute("data-sev")] !== false &&
          on["code:" + finding.getAttribute("data-code")] !== false;
        finding.hidden = !show;
        any = any || show;
      });
      file.hidden = !any;
      visible += any ? 1 : 0;
    });
    if (shown) {
      shown.textContent = visible + " of " + files.length + " files shown";
    }
  }

  document.addEventListener("change", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-filter")) {
      apply();
    }
  });
  document.querySelectorAll("button[data-all]").forEach(function (button) {
    button.addEventListener("click", function () {
      var group = button.getAttribute("data-all");
      inputs.forEach(function (box) {
        if (box.getAttribute("data-filter") === group) {
          box.checked = button.getAttribute("data-value") === "1";
        }
      });
      apply();
    });
  });

  // A link to a rule or a file opens its <details>.
  function openTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id ? document.getElementById(id) : null;
    if (target && target.tagName === "DETAILS") {
      target.open = true;
    }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  apply();
})();
