// Show record times in the viewer's own time zone (the server renders UTC).
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  document.querySelectorAll("time[data-local-time]").forEach(function (node) {
    var when = new Date(node.getAttribute("datetime"));
    if (!isNaN(when)) {
      node.title = node.textContent;
      node.textContent = format.format(when);
    }
  });
})();
