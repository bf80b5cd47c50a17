// The drawing page: strokes on a canvas, a live guess after each stroke, and
// Predict, which posts the drawing through the page's Django form.
(function () {
  "use strict";

  var form = document.getElementById("draw-form");
  var canvas = document.getElementById("canvas");
  if (!form || !canvas) return;

  var input = form.querySelector("input[name=image]");
  var liveGuess = document.getElementById("live-guess");
  var resultSlot = document.getElementById("result-slot");
  var ctx = canvas.getContext("2d");

  // The drawing's own coordinates: room for six digits written naturally. The element
  // is scaled by CSS to fit the screen (the full width of a phone); points are mapped
  // back into these coordinates, so the picture sent is the same on every screen.
  var WIDTH = 840;
  var HEIGHT = 280;
  var LINE_WIDTH = 20;      // about MNIST's stroke width once scaled to 20 px
  var GUESS_DELAY_MS = 250;

  var strokes = [];         // each stroke: array of [x, y] in CSS pixels
  var current = null;
  var activePointer = null; // the one pointer drawing `current`; others are ignored
  var guessTimer = null;
  var guessRequest = 0;

  // Crisp on high-DPI screens: the backing store has devicePixelRatio times
  // as many pixels, and drawing is scaled to match.
  function setUpResolution() {
    var ratio = Math.max(1, Math.min(window.devicePixelRatio || 1, 3));
    canvas.width = Math.round(WIDTH * ratio);
    canvas.height = Math.round(HEIGHT * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    redraw();
  }

  function drawStroke(points, context) {
    context = context || ctx;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.lineWidth = LINE_WIDTH;
    context.strokeStyle = "#000";
    context.fillStyle = "#000";
    if (points.length === 1) {
      context.beginPath();
      context.arc(points[0][0], points[0][1], LINE_WIDTH / 2, 0, 2 * Math.PI);
      context.fill();
      return;
    }
    context.beginPath();
    context.moveTo(points[0][0], points[0][1]);
    for (var i = 1; i < points.length; i++) context.lineTo(points[i][0], points[i][1]);
    context.stroke();
  }

  function redraw() {
    ctx.clearRect(0, 0, WIDTH, HEIGHT);
    strokes.forEach(function (points) { drawStroke(points); });
    if (current) drawStroke(current);
  }

  function pointFrom(event) {
    var box = canvas.getBoundingClientRect();
    return [
      (event.clientX - box.left) * (WIDTH / box.width),
      (event.clientY - box.top) * (HEIGHT / box.height),
    ];
  }

  function isEmpty() {
    return strokes.length === 0;
  }

  function updateButtons() {
    document.getElementById("undo").disabled = isEmpty();
    document.getElementById("clear").disabled = isEmpty();
    document.getElementById("predict").disabled = isEmpty();
  }

  canvas.addEventListener("pointerdown", function (event) {
    if (event.button !== undefined && event.button > 0) return;
    event.preventDefault();
    // A second finger (or a palm) while a stroke is under way must not join
    // the two fingers' points into one zigzag stroke.
    if (current) return;
    canvas.setPointerCapture(event.pointerId);
    activePointer = event.pointerId;
    current = [pointFrom(event)];
    redraw();
  });

  canvas.addEventListener("pointermove", function (event) {
    if (!current || event.pointerId !== activePointer) return;
    event.preventDefault();
    var events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    if (events.length === 0) events = [event];
    events.forEach(function (e) { current.push(pointFrom(e)); });
    redraw();
  });

  function endStroke(event) {
    if (!current || event.pointerId !== activePointer) return;
    event.preventDefault();
    strokes.push(current);
    current = null;
    redraw();
    updateButtons();
    scheduleGuess();
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  // Ends the stroke even if the browser never sends pointerup for it.
  canvas.addEventListener("lostpointercapture", endStroke);

  function clear() {
    strokes = [];
    current = null;
    redraw();
    updateButtons();
    liveGuess.textContent = "";
    guessRequest++;
  }

  function undo() {
    strokes.pop();
    redraw();
    updateButtons();
    if (isEmpty()) {
      liveGuess.textContent = "";
      guessRequest++;
    } else {
      scheduleGuess();
    }
  }

  document.getElementById("clear").addEventListener("click", clear);
  document.getElementById("undo").addEventListener("click", undo);

  canvas.addEventListener("keydown", function (event) {
    if (event.key === "Escape" || event.key === "Delete") {
      event.preventDefault();
      clear();
    } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
      event.preventDefault();
      undo();
    } else if (event.key === "Enter" && !isEmpty()) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  // The picture sent is drawn afresh from the strokes, its long side SENT_SIDE px:
  // the size the server works at (recognition/preprocessing.py, WORKING_SIDE), to
  // which it would reduce anything bigger. So it is the same picture on every screen,
  // whatever the devicePixelRatio, and the server decodes a sixth of the pixels of a
  // high-DPI backing store and reduces none (11 ms of a request at 1680x560).
  var SENT_SIDE = 512;

  function formData() {
    var scale = SENT_SIDE / Math.max(WIDTH, HEIGHT);
    var sent = document.createElement("canvas");
    sent.width = Math.round(WIDTH * scale);
    sent.height = Math.round(HEIGHT * scale);
    var context = sent.getContext("2d");
    context.setTransform(scale, 0, 0, scale, 0, 0);
    strokes.forEach(function (points) { drawStroke(points, context); });
    input.value = sent.toDataURL("image/png");
    return new FormData(form);
  }

  function post(url, data) {
    return fetch(url, {
      method: "POST",
      body: data,
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
    });
  }

  // The live guess: debounced, never stored.
  function scheduleGuess() {
    clearTimeout(guessTimer);
    guessTimer = setTimeout(guess, GUESS_DELAY_MS);
  }

  function guess() {
    if (isEmpty()) return;
    var ticket = ++guessRequest;
    post(form.dataset.guessUrl, formData())
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (ticket !== guessRequest) return;  // a newer stroke already asked
        if (body.error) {
          liveGuess.textContent = "";
        } else if (body.verdict === "no_digit") {
          liveGuess.textContent = "That doesn't look like a digit yet.";
        } else {
          var pct = (body.confidence * 100).toFixed(0) + "%";
          var what = body.digit === null
            ? body.number
            : window.recognizerWords.withArticle(body.digit);
          liveGuess.textContent = body.unsure
            ? "Not sure yet… maybe " + what + " (" + pct + ")"
            : "Looks like " + what + " (" + pct + ")";
        }
      })
      .catch(function () {
        if (ticket === guessRequest) liveGuess.textContent = "";
      });
  }

  form.addEventListener("submit", function (event) {
    if (isEmpty()) {
      event.preventDefault();
      liveGuess.textContent = "Write a number first.";
      return;
    }
    var data = formData();
    if (!window.fetch) return;  // the plain form post carries the drawing
    event.preventDefault();
    var button = document.getElementById("predict");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    post(form.action, data)
      .then(function (response) { return response.text(); })
      .then(function (html) {
        resultSlot.innerHTML = html;
        var result = resultSlot.querySelector(".result");
        if (result && result.scrollIntoView && window.innerWidth < 700) {
          result.scrollIntoView({ behavior: "smooth", block: "start" });
        }
      })
      .catch(function () {
        resultSlot.innerHTML = '<section class="result"><p class="error-message" role="alert">' +
          "The server could not be reached. Try again.</p></section>";
      })
      .then(function () {
        button.removeAttribute("aria-busy");
        updateButtons();
      });
  });

  window.addEventListener("resize", setUpResolution);
  setUpResolution();
  updateButtons();
})();
