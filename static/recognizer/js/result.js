// The result panel's "Right? / It was actually ..." buttons: store the
// user's correction without leaving the page (the form also works without JS).
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-feedback]") || !window.fetch) return;
    event.preventDefault();
    var data = new FormData(form);
    var status = form.querySelector("[data-feedback-status]");
    fetch(form.action, {
      method: "POST",
      body: data,
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
    })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        // One digit is said as on the page ("a 7", "an 8"); a number as it is.
        var what = body.label === null
          ? body.number
          : window.recognizerWords.withArticle(body.label);
        status.textContent = body.error
          ? body.error
          : "Thanks! Saved: it was " + what + ".";
        form.classList.toggle("saved", !body.error);
      })
      .catch(function () {
        status.textContent = "The correction could not be saved. Try again.";
      });
  });
})();
