// The upload page: choose, drop or paste a picture, see it before sending, then
// the answer arrives in place with the picture and the box of the ink the model
// read. Without JavaScript the plain form posts the file and the page comes back
// with the same answer.
(function () {
  "use strict";

  var form = document.querySelector("form[data-upload]");
  if (!form) return;
  var input = form.querySelector("input[type=file]");
  var zone = form.querySelector("[data-drop-zone]");
  var preview = form.querySelector("[data-preview]");
  var slot = document.getElementById("result-slot");
  var previewUrl = null;
  var hint = form.querySelector("[data-js-hint]");
  if (hint) hint.hidden = false;  // dropping and pasting need this script

  function usePicture(file) {
    if (!file || !/^image\//.test(file.type)) return false;
    // The file input stays the one source of truth, so the plain form post works too.
    if (input.files[0] !== file) {
      var transfer = new DataTransfer();
      transfer.items.add(file);
      input.files = transfer.files;
    }
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(file);
    preview.src = previewUrl;
    preview.hidden = false;
    return true;
  }

  input.addEventListener("change", function () {
    usePicture(input.files[0]);
  });

  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) usePicture(files[0]);
  });

  // Pasting anywhere on the page: a screenshot or a copied image.
  document.addEventListener("paste", function (event) {
    var items = (event.clipboardData && event.clipboardData.items) || [];
    for (var i = 0; i < items.length; i++) {
      if (items[i].kind === "file" && /^image\//.test(items[i].type)) {
        var file = items[i].getAsFile();
        if (file && !file.name) {
          file = new File([file], "pasted." + file.type.split("/")[1], { type: file.type });
        }
        if (usePicture(file)) {
          event.preventDefault();
          return;
        }
      }
    }
  });

  form.addEventListener("submit", function (event) {
    if (!window.fetch || !input.files.length) return;  // the plain post says what is missing
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
    })
      .then(function (response) { return response.text(); })
      .then(function (html) { slot.innerHTML = html; })
      .catch(function () {
        slot.innerHTML = '<section class="result"><p class="error-message" role="alert">' +
          "The server could not be reached. Try again.</p></section>";
      })
      .then(function () {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      });
  });
})();
