"""The site in a real browser: headless Chromium (Debian's package) driven by
Playwright against the real server, started by scripts/start-web exactly as
`make run` and the Docker image start it, with its own Cassandra keyspace.

Every page these tests open is watched for console errors, uncaught exceptions
and Content Security Policy violations. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import base64
import io
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from recognizer.tests.support.browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    REPORT_CSP,
    Site,
    digit_png,
)
from recognizer.tests.support.factories import number_strokes

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

# A time zone with a half-hour offset, so that local times cannot match UTC by chance.
TIME_ZONE = "Asia/Kolkata"
DESKTOP = {"width": 1100, "height": 800}
PHONE = {"width": 390, "height": 844}
# The drawing's own coordinates (draw.js): room for six digits. On a desktop the canvas
# shows at this size in CSS pixels; on a phone it is scaled down to the screen's width.
CANVAS_WIDTH, CANVAS_HEIGHT = 840, 280
CLOCK_START = datetime(2030, 1, 1, tzinfo=UTC)

# Strokes in canvas coordinates (0..840 x 0..280).
ONE = [[(140, 45), (140, 235)]]
ZERO = [
    [(140, 45), (195, 80), (205, 140), (195, 200), (140, 235)]
    + [(85, 200), (75, 140), (85, 80), (140, 45)]
]
SEVEN = [[(75, 55), (205, 55), (125, 240)]]


# --- fixtures ---------------------------------------------------------------------


# Both fixtures live only as long as this module's tests: gunicorn with the
# model loaded is too big to keep idle through the rest of a test run, and while
# Playwright's sync API is active an asyncio loop runs in this thread, so
# Django's ORM in later tests would raise SynchronousOnlyOperation.


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """The site under gunicorn, from scripts/start-web; its keyspace is dropped afterwards."""
    server = Site()
    server.start(timeout=120)
    try:
        yield server
    finally:
        server.stop()
        server.remove_files(keep_log=ARTIFACTS / "server.log")


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


class Problems:
    """Console errors, uncaught exceptions and CSP violations seen by a context's pages."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, context) -> None:
        context.expose_binding(
            "__reportCspViolation", lambda source, text: self.seen.append(f"CSP: {text}")
        )
        context.add_init_script(REPORT_CSP)
        context.on("page", self.watch_page)

    def watch_page(self, page) -> None:
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                and self.seen.append(f"console error on {page.url}: {message.text}")
            ),
        )
        page.on("pageerror", lambda error: self.seen.append(f"uncaught on {page.url}: {error}"))


@pytest.fixture
def open_context(browser, site):
    """``open_context(**options)``: a new browser context whose pages are watched;
    at the end of the test, any problem they saw fails it."""
    problems = Problems()
    contexts = []

    def open_(**options):
        options = {
            "viewport": DESKTOP,
            "locale": "en-US",
            "timezone_id": TIME_ZONE,
            "base_url": site.url,
            **options,
        }
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        problems.watch(context)
        contexts.append(context)
        return context

    yield open_
    for context in contexts:
        context.close()
    assert problems.seen == [], "\n".join(problems.seen)


@pytest.fixture
def page(open_context):
    return open_context().new_page()


# --- helpers ----------------------------------------------------------------------


def screenshot(page, name: str, full_page: bool = True) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page, scale="css")


def canvas_origin(page) -> tuple[float, float, float]:
    """Where the canvas is on the screen, and CSS pixels per canvas unit."""
    box = page.locator("#canvas").bounding_box()
    assert box and abs(box["width"] - 3 * box["height"]) <= 2, box
    return box["x"], box["y"], box["width"] / CANVAS_WIDTH


def path_points(stroke, step: float = 8.0) -> list[tuple[float, float]]:
    """The stroke's corners joined by points at most ``step`` pixels apart."""
    points = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
        n = max(1, int(max(abs(x1 - x0), abs(y1 - y0)) / step))
        points += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    return points


def draw_with_mouse(page, strokes) -> None:
    left, top, scale = canvas_origin(page)
    for stroke in strokes:
        points = path_points(stroke)
        page.mouse.move(left + points[0][0] * scale, top + points[0][1] * scale)
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(left + x * scale, top + y * scale)
        page.mouse.up()


def draw_with_touch(page, cdp, strokes) -> None:
    """Real touch input (Input.dispatchTouchEvent): the browser turns it into
    pointer events of type "touch" and would scroll the page if allowed."""
    left, top, scale = canvas_origin(page)
    for stroke in strokes:
        points = [{"x": left + x * scale, "y": top + y * scale} for x, y in path_points(stroke)]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points[:1]})
        for point in points[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def wait_until_scrolling_stops(page) -> None:
    last = None
    for _ in range(50):
        now = page.evaluate("() => window.scrollY")
        if now == last:
            return
        last = now
        page.wait_for_timeout(100)


def swipe_up(cdp, x: float, y: float, distance: float = 160) -> None:
    points = [{"x": x, "y": y - distance * i / 20} for i in range(21)]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points[:1]})
    for point in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


INKED_PIXELS = """(region) => {
  const canvas = document.getElementById("canvas");
  const scale = canvas.width / canvas.getBoundingClientRect().width;
  const [x, y, w, h] = region ? region.map((v) => Math.round(v * scale))
                              : [0, 0, canvas.width, canvas.height];
  const data = canvas.getContext("2d").getImageData(x, y, w, h).data;
  let inked = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) inked++;
  return inked;
}"""


def inked_pixels(page, region=None) -> int:
    """How many canvas pixels (in ``region``: x, y, w, h in CSS pixels) are not transparent."""
    return page.evaluate(INKED_PIXELS, region)


def wait_for_live_guess(page) -> str:
    guess = page.locator("#live-guess")
    expect(guess).to_have_text(re.compile(r"(Looks like|maybe) (an? )?\d"))
    return guess.inner_text()


def predict_and_wait(page) -> None:
    page.locator("#predict").click()
    expect(page.locator("#result .result-number")).to_be_visible()


# The picture the draw page sends: drawn afresh at the size the server works at
# (preprocessing.WORKING_SIDE on its long side), whatever the screen.
SENT_SIZE = (512, 171)


def sent_picture_size(request) -> tuple[int, int]:
    """The size of the drawing a draw-page POST carries (a PNG data URL in the form)."""
    found = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", request.post_data or "")
    assert found, "the POST carries no PNG drawing"
    return Image.open(io.BytesIO(base64.b64decode(found[1]))).size


def check_result_panel(page) -> int:
    """The result panel of one digit is complete; returns the digit it shows."""
    result = page.locator("#result")
    digit = result.locator(".result-number")
    expect(digit).to_have_text(re.compile(r"^\d$"))
    expect(result.locator(".result-confidence")).to_have_text(re.compile(r"Confidence \d+\.\d%"))
    expect(result.locator("ol.probabilities meter")).to_have_count(10)
    values = [float(v) for v in result.locator("meter").evaluate_all("ms => ms.map(m => m.value)")]
    # The ten digits' share; with an eleven-output model the rest is "no digit".
    assert 0.5 < sum(values) < 1.01, values
    assert values.index(max(values)) == int(digit.inner_text())
    check_digit_cells(page, digit.inner_text())
    return int(digit.inner_text())


def check_digit_cells(page, number: str) -> None:
    """Each digit of ``number`` under its own box: digit, 28x28 image, confidence."""
    cells = page.locator("#result li.number-digit")
    expect(cells).to_have_count(len(number))
    expect(page.locator("#result .number-digits-caption")).to_contain_text("What the model saw")
    for index, char in enumerate(number):
        cell = cells.nth(index)
        expect(cell.locator(".number-digit-value")).to_have_text(char)
        expect(cell.locator(".number-digit-confidence")).to_have_text(re.compile(r"\d+\.\d%"))
        seen = cell.locator("img")
        natural = seen.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
        assert natural == [True, 28, 28]
        assert seen.get_attribute("src").startswith("data:image/png;base64,")


def newest_record(site: Site) -> dict:
    records = site.records(limit=1)
    assert records, "the API lists no records"
    return records[0]


# --- the tests ----------------------------------------------------------------------


def test_draw_with_mouse_and_predict(site, page):
    guesses = []
    page.on("request", lambda request: "/guess/" in request.url and guesses.append(request))
    page.clock.install(time=CLOCK_START)
    before = len(site.records())
    page.goto("/")
    # From here on the page's timers run only when the test moves its clock.
    page.clock.pause_at(CLOCK_START + timedelta(seconds=10))
    expect(page.locator("#predict")).to_be_disabled()

    # A 1 in two strokes: the live guess waits until the drawing pauses.
    top, bottom = [(140, 45), (140, 150)], [(140, 140), (140, 235)]
    draw_with_mouse(page, [top])
    page.clock.run_for(200)
    draw_with_mouse(page, [bottom])
    page.clock.run_for(200)
    assert guesses == [], "the live guess did not wait for the drawing to pause"
    page.clock.run_for(100)
    guess = wait_for_live_guess(page)
    assert len(guesses) == 1
    # The live guess is a prediction only: nothing is stored until Predict.
    assert len(site.records()) == before
    expect(page.locator("#predict")).to_be_enabled()

    predict_and_wait(page)
    shown = check_result_panel(page)
    screenshot(page, "draw-result")

    records = site.records()
    assert len(records) == before + 1
    record = records[0]
    assert record["source"] == "canvas"
    assert record["filename"] is None
    assert record["digit"] == shown
    # Only a good model passes this; the committed one is ~99.6% accurate.
    assert shown == 1, f"a clearly drawn 1 was read as {shown} (live guess: {guess!r})"


def test_draw_with_touch_does_not_scroll(site, open_context):
    context = open_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=3)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    page.goto("/")
    # The canvas's backing store follows devicePixelRatio, for crisp strokes.
    assert page.evaluate("() => document.getElementById('canvas').width") == CANVAS_WIDTH * 3

    draw_with_touch(page, cdp, ZERO)
    wait_for_live_guess(page)
    assert page.evaluate("() => window.scrollY") == 0
    assert inked_pixels(page) > 0
    before = len(site.records())
    with page.expect_request(lambda request: request.method == "POST") as posted:
        page.locator("#predict").tap()
    # Three times as many pixels on screen, the same picture sent.
    assert sent_picture_size(posted.value) == SENT_SIZE
    expect(page.locator("#result .result-number")).to_be_visible()
    check_result_panel(page)
    wait_until_scrolling_stops(page)  # draw.js scrolls the result into view
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert len(site.records()) == before + 1
    assert newest_record(site)["source"] == "canvas"

    # Now the page is taller than the screen: a swipe on the canvas draws and
    # must not scroll, while the same swipe elsewhere does scroll.
    page.evaluate("() => window.scrollTo(0, 40)")
    expect(page.locator("#canvas")).to_be_in_viewport(ratio=1)
    scroll_y = page.evaluate("() => window.scrollY")
    inked = inked_pixels(page)
    draw_with_touch(page, cdp, [[(60, 250), (60, 40)]])
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.scrollY") == scroll_y
    assert inked_pixels(page) > inked
    heading = page.locator("h1").bounding_box()
    swipe_up(cdp, heading["x"] + 10, heading["y"] + heading["height"] / 2)
    page.wait_for_function("(y) => window.scrollY > y", arg=scroll_y)
    screenshot(page, "phone-touch-result", full_page=False)


def test_a_four_digit_number_drawn_with_the_mouse_is_read(site, page):
    page.goto("/")
    left, top, scale = canvas_origin(page)
    assert round(scale * CANVAS_WIDTH) == CANVAS_WIDTH  # room for six digits on a desktop

    draw_with_mouse(page, number_strokes("2026", left=40, top=50, height=180, gap=0.5))
    expect(page.locator("#live-guess")).to_have_text(re.compile(r"2026"))
    with page.expect_request(lambda request: request.method == "POST") as posted:
        predict_and_wait(page)
    assert sent_picture_size(posted.value) == SENT_SIZE

    expect(page.locator("#result .result-number")).to_have_text("2026")
    check_digit_cells(page, "2026")
    record = newest_record(site)
    assert (record["number"], record["digit"]) == ("2026", None)
    screenshot(page, "draw-number-result")


def test_a_four_digit_number_drawn_by_touch_on_a_phone_is_read(site, open_context):
    context = open_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=3)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    page.goto("/")
    box = page.locator("#canvas").bounding_box()
    assert box["width"] >= 0.9 * PHONE["width"], box  # the full width of the phone

    draw_with_touch(page, cdp, number_strokes("1995", left=40, top=50, height=180, gap=0.5))
    assert page.evaluate("() => window.scrollY") == 0
    expect(page.locator("#live-guess")).to_have_text(re.compile(r"1995"))
    page.locator("#predict").tap()

    expect(page.locator("#result .result-number")).to_have_text("1995")
    check_digit_cells(page, "1995")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "phone-number-result", full_page=False)


def test_a_second_finger_does_not_join_the_stroke(open_context):
    """A palm or second finger on the canvas mid-stroke is ignored."""
    context = open_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    page.goto("/")
    left, top, scale = canvas_origin(page)

    def touch(kind, *fingers):
        points = [{"x": left + x * scale, "y": top + y * scale, "id": i} for i, (x, y) in fingers]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", (0, (50, 40)))
    for y in range(50, 130, 10):
        touch("touchMove", (0, (50, y)))
    touch("touchStart", (0, (50, 130)), (1, (230, 40)))
    for y in range(50, 240, 10):
        touch("touchMove", (0, (50, min(y + 90, 240))), (1, (230, y)))
    touch("touchEnd")
    expect(page.locator("#undo")).to_be_enabled()

    def ink(*region):  # a region in canvas coordinates
        return inked_pixels(page, [v * scale for v in region])

    assert ink(30, 20, 40, 240) > 0, "the first finger drew nothing"
    assert ink(100, 0, 80, 280) == 0, "the two fingers' points were joined"
    assert ink(210, 0, 40, 280) == 0, "the second finger drew"


def test_clear_and_undo(page):
    page.goto("/")
    assert inked_pixels(page) == 0
    first = [(70, 40), (70, 240)]
    second = [(210, 40), (210, 240)]
    draw_with_mouse(page, [first, second])
    left_region = [40, 20, 60, 240]
    right_region = [180, 20, 60, 240]
    assert inked_pixels(page, left_region) > 0
    assert inked_pixels(page, right_region) > 0

    page.locator("#undo").click()
    assert inked_pixels(page, left_region) > 0, "Undo removed the first stroke too"
    assert inked_pixels(page, right_region) == 0, "Undo did not remove the last stroke"
    expect(page.locator("#predict")).to_be_enabled()

    draw_with_mouse(page, [second])
    page.locator("#clear").click()
    assert inked_pixels(page) == 0
    for button in ("#predict", "#undo", "#clear"):
        expect(page.locator(button)).to_be_disabled()
    expect(page.locator("#live-guess")).to_have_text("")


def tab_until(page, selector: str, limit: int = 15) -> list[str]:
    """Press Tab until ``selector`` has focus; returns what got focus on the way."""
    visited = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        visited.append(
            page.evaluate(
                "() => { const e = document.activeElement;"
                " return e.id ? '#' + e.id : e.tagName.toLowerCase() + ':' + e.textContent; }"
            )
        )
        if page.locator(selector).evaluate("e => e === document.activeElement"):
            return visited
    raise AssertionError(f"Tab never reached {selector}; it visited {visited}")


def test_keyboard(site, page):
    page.goto("/")
    visited = tab_until(page, "#canvas")
    header = ["a:Digit recognizer", "a:Draw", "a:Upload", "a:History", "a:Admin"]
    assert visited == [*header, "#canvas"], visited
    # Nothing drawn yet: the disabled buttons are skipped.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") != "clear"

    draw_with_mouse(page, ONE)
    page.locator("#canvas").focus()
    for button in ("clear", "undo", "predict"):
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.id") == button
    for _ in range(3):
        page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => document.activeElement.id") == "canvas"

    page.keyboard.press("Escape")
    assert inked_pixels(page) == 0
    expect(page.locator("#predict")).to_be_disabled()

    # Ctrl+Z undoes the last stroke; Enter predicts.
    draw_with_mouse(page, [[(100, 40), (100, 240)], [(180, 40), (180, 240)]])
    page.locator("#canvas").focus()
    page.keyboard.press("Control+z")
    assert inked_pixels(page, [160, 20, 40, 240]) == 0
    assert inked_pixels(page, [80, 20, 40, 240]) > 0
    before = len(site.records())
    page.keyboard.press("Enter")
    expect(page.locator("#result .result-number")).to_be_visible()
    assert len(site.records()) == before + 1


def test_upload(site, page):
    page.goto("/upload/")
    page.locator("input[type=file]").set_input_files(
        {"name": "seven.png", "mimeType": "image/png", "buffer": digit_png("7")}
    )
    expect(page.locator("img[data-preview]")).to_be_visible()
    page.locator("form.upload-form button[type=submit]").click()
    shown = check_result_panel(page)
    check_picture_with_box(page)
    screenshot(page, "upload-result")

    record = newest_record(site)
    assert record["source"] == "upload"
    assert record["filename"] == "seven.png"
    assert record["digit"] == shown
    assert shown == 7, f"a clearly drawn 7 was read as {shown}"


def check_picture_with_box(page) -> None:
    """After the answer the picture is shown, with a box drawn around the ink."""
    picture = page.locator("#result figure.ink-read img[data-ink-box]")
    expect(picture).to_be_visible()
    assert picture.get_attribute("src").startswith("data:image/jpeg;base64,")
    # The box is drawn in red on black-and-white paper: some pixels must be red.
    red = picture.evaluate(
        """img => { const c = document.createElement("canvas");
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        const g = c.getContext("2d"); g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 150 && d[i + 1] < 90) n++;
        return n; }"""
    )
    assert red > 50, f"only {red} red pixels: no box around the ink"


# A file handed to the page as a drop or a paste would hand it (Playwright cannot
# drag from the desktop or fill the system clipboard in headless Chromium).
HAND_OVER = """([kind, b64]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], kind === "drop" ? "dropped.png" : "", {type: "image/png"}));
  if (kind === "drop") {
    document.querySelector("[data-drop-zone]").dispatchEvent(
      new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
  } else {
    document.dispatchEvent(
      new ClipboardEvent("paste", {clipboardData: transfer, bubbles: true, cancelable: true}));
  }
}"""


@pytest.mark.parametrize("kind", ["drop", "paste"])
def test_upload_by_dropping_or_pasting_a_picture(site, page, kind):
    import base64

    page.goto("/upload/")
    page.evaluate(HAND_OVER, [kind, base64.b64encode(digit_png("7")).decode()])
    expect(page.locator("img[data-preview]")).to_be_visible()
    assert page.locator("input[type=file]").evaluate("i => i.files.length") == 1
    page.locator("form.upload-form button[type=submit]").click()
    assert check_result_panel(page) == 7
    check_picture_with_box(page)
    assert newest_record(site)["source"] == "upload"


def test_the_upload_form_works_without_javascript(open_context):
    page = open_context(java_script_enabled=False).new_page()
    page.goto("/upload/")
    file_input = page.locator("input[type=file]")
    assert file_input.get_attribute("accept") == "image/*"
    assert file_input.get_attribute("capture") is not None
    file_input.set_input_files(
        {"name": "seven.png", "mimeType": "image/png", "buffer": digit_png("7")}
    )
    with page.expect_navigation():
        page.locator("form.upload-form button[type=submit]").click()
    # Only the DOM is read here: evaluating scripts needs JavaScript.
    expect(page.locator("#result .result-number")).to_have_text("7")
    expect(page.locator("#result figure.ink-read img")).to_be_visible()


def test_correct_a_prediction(site, page):
    page.goto("/")
    draw_with_mouse(page, SEVEN)
    predict_and_wait(page)
    record_id = newest_record(site)["id"]
    assert newest_record(site)["label"] is None

    correction = page.locator("#result form[data-feedback]").filter(
        has=page.locator("input[name=number]:not([type=hidden])")
    )
    correction.locator("input[name=number]").fill("7")
    correction.get_by_role("button", name="Save correction").click()
    expect(correction.locator("[data-feedback-status]")).to_have_text(
        re.compile(r"Saved: it was a 7")
    )
    screenshot(page, "draw-corrected")

    record = site.api(f"/api/predictions/{record_id}/")
    assert record["label"] == 7

    # The record page shows the correction too.
    page.goto(f"/history/{record_id}/")
    expect(page.locator(".feedback-question")).to_have_text("Saved: it was a 7.")


def test_history(site, page):
    # Both sources, whatever ran before.
    draw_and_upload_via_pages(page)
    records = site.records(limit=20)
    page.goto("/history/")
    rows = page.locator("table.history-table tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() == len(records)

    # Newest first, as the API lists them.
    links = rows.locator("td.when a").evaluate_all("as => as.map(a => a.pathname)")
    assert links == [f"/history/{r['id']}/" for r in records]
    stamps = rows.locator("time").evaluate_all("ts => ts.map(t => t.getAttribute('datetime'))")
    assert stamps == sorted(stamps, reverse=True)

    # Thumbnails: PNGs inline, 28 px high, 28 px wide per digit read.
    thumbs = rows.locator("img.thumb").evaluate_all(
        "imgs => imgs.map(i => [i.src.slice(0, 22), i.complete, i.naturalHeight])"
    )
    assert thumbs == [["data:image/png;base64,", True, 28]] * len(records)
    widths = rows.locator("img.thumb").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert [width % 28 for width in widths] == [0] * len(records)

    # history.js shows times in the viewer's zone; the UTC text moves to the title.
    first_time = rows.first.locator("time")
    created = datetime.fromisoformat(records[0]["created_at"].replace("Z", "+00:00"))
    local = created.astimezone(ZoneInfo(TIME_ZONE))
    text = first_time.inner_text()
    assert "UTC" not in text
    assert local.strftime("%I:%M:%S") in text, (text, local)
    assert first_time.get_attribute("title") == created.strftime("%Y-%m-%d %H:%M:%S UTC")
    screenshot(page, "history")

    # Filter by source.
    page.locator("select[name=source]").select_option("upload")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"source=upload"))
    sources = rows.locator("td.source").all_inner_texts()
    uploads = site.records(limit=20, source="upload")
    assert sources == ["upload"] * len(uploads)
    expect(rows.first.locator("td.filename")).to_have_text(uploads[0]["filename"])

    # One record's page.
    rows.first.locator("td.when a").click()
    page.wait_for_url(re.compile(r"/history/[0-9a-f-]{36}/$"))
    record_id = uuid.UUID(page.url.rstrip("/").rsplit("/", 1)[1])
    assert str(record_id) == uploads[0]["id"]
    expect(page.locator(".record-facts code")).to_have_text(str(record_id))
    expect(page.locator(".record-facts .filename")).to_have_text(uploads[0]["filename"])
    check_result_panel(page)
    screenshot(page, "record")


def draw_and_upload_via_pages(page) -> None:
    """One canvas record and one uploaded record, made through the pages."""
    page.goto("/upload/")
    page.locator("input[type=file]").set_input_files(
        {"name": "zero.png", "mimeType": "image/png", "buffer": digit_png("0")}
    )
    page.locator("form.upload-form button[type=submit]").click()
    expect(page.locator("#result .result-number")).to_be_visible()
    page.goto("/")
    draw_with_mouse(page, ZERO)
    predict_and_wait(page)


@pytest.mark.parametrize("path", ["/", "/upload/", "/history/"])
def test_phone_layout(open_context, path):
    context = open_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
    page = context.new_page()
    page.goto(path)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    if path == "/":
        box = page.locator("#canvas").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        expect(page.locator("#canvas")).to_be_in_viewport(ratio=1)
        expect(page.locator("#predict")).to_be_in_viewport()
    name = {"/": "draw", "/upload/": "upload", "/history/": "history"}[path]
    screenshot(page, f"phone-{name}")


def test_no_console_errors_or_csp_violations(site, open_context):
    """Every page, the admin's included; the fixture fails the test on any problem."""
    page = open_context().new_page()
    newest = site.records(limit=1)
    paths = ["/", "/upload/", "/history/", "/history/?source=canvas&digit=1", "/admin/login/"]
    paths += [f"/history/{record['id']}/" for record in newest]
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, path


def test_the_watch_sees_csp_violations(browser, site):
    """The check above would notice: an image from elsewhere breaks img-src."""
    problems = Problems()
    context = browser.new_context(base_url=site.url)
    try:
        problems.watch(context)
        page = context.new_page()
        page.goto("/upload/")
        page.evaluate(
            """() => { const img = document.createElement("img");
                       img.src = "http://example.invalid/x.png"; document.body.append(img); }"""
        )
        deadline = time.monotonic() + 5
        while not any(p.startswith("CSP: img-src") for p in problems.seen):
            assert time.monotonic() < deadline, problems.seen
            page.wait_for_timeout(50)
    finally:
        context.close()


def test_admin_list(site, page):
    page.goto("/admin/recognizer/predictrecord/")
    page.wait_for_url(re.compile(r"/admin/login/"))
    page.locator("#id_username").fill(site.admin_user)
    page.locator("#id_password").fill(site.admin_password)
    page.locator("input[type=submit]").click()
    page.wait_for_url(re.compile(r"/admin/recognizer/predictrecord/$"))

    rows = page.locator("#result_list tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() == len(site.records())
    thumbs = rows.locator("img").evaluate_all(
        "imgs => imgs.map(i => [i.src.slice(0, 22), i.complete, i.naturalHeight])"
    )
    assert thumbs == [["data:image/png;base64,", True, 28]] * rows.count()
    widths = rows.locator("img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert [width % 28 for width in widths] == [0] * rows.count()  # 28 px per digit
    screenshot(page, "admin-list")

    rows.first.locator("th a").click()
    expect(page.locator(".field-thumbnail img")).to_be_visible()
    expect(page.locator(".field-id")).to_contain_text(newest_record(site)["id"])
    screenshot(page, "admin-record")


def test_server_logged_no_errors(site):
    """Runs last: nothing the browser did made the server fail or log an error."""
    log = site.output(tail=None).splitlines()
    errors = [line for line in log if " ERROR " in line or "[ERROR]" in line]
    server_errors = [line for line in log if re.search(r'" 5\d\d ', line)]
    assert errors == [] and server_errors == [], "\n".join(errors + server_errors)
