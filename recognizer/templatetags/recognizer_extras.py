import base64

from django import template

register = template.Library()


@register.filter
def png_data_url(data: bytes | None) -> str:
    """A record's 28x28 thumbnail inline: a few hundred bytes, no extra request."""
    if not data:
        return ""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


@register.filter
def percent(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value * 100:.1f}%"


@register.filter
def probability_rows(probabilities) -> list[tuple[int, float]]:
    return list(enumerate(probabilities or []))


@register.filter
def with_article(number: int) -> str:
    """ "a 7", "an 8", "an 11": the article English needs before a number said
    aloud (static/recognizer/js/words.js has the same rule for the scripts)."""
    text = str(abs(number))
    leading_group = text[: (len(text) - 1) % 3 + 1]  # "11" in 11,000 ("eleven thousand")
    vowel_sound = text.startswith("8") or leading_group in ("11", "18")
    return f"{'an' if vowel_sound else 'a'} {number}"


@register.filter
def digit_cells(record) -> list[tuple[dict, str]]:
    """Each digit's result with its own 28x28 image, cut from the record's image (the
    digits' inputs side by side, as stored by recognizer.recognition.pipeline)."""
    from recognizer.recognition.pipeline import model_inputs_of
    from recognizer.recognition.preprocessing import encode_png

    results = record.digit_results()
    images = model_inputs_of(record.image) if results else []
    if len(images) != len(results):
        # Not one image per digit (an unreadable thumbnail): show the digits alone.
        return [(result, "") for result in results]
    return [
        (result, png_data_url(encode_png(image)))
        for result, image in zip(results, images, strict=True)
    ]
