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
