"""How each model version does in use, per day: the data and the SVG geometry
for the admin's chart (drawn on the server: no script, no CDN).

Reads only the per-day counters (storage.day_counts), never the records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from recognizer.storage import day_counts

WIDTH, HEIGHT, PAD = 640, 170, 36
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
METRICS = (
    ("predictions", "Predictions"),
    ("corrections", "Corrections"),
    ("share_corrected", "Share corrected"),
    ("share_unsure", "Share marked \u201cnot sure\u201d"),
)


@dataclass(frozen=True)
class Series:
    version: str
    colour: str
    points: str  # "x,y x,y ..." for an SVG polyline
    values: list[float | None]


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    top: str  # the y axis' top label
    series: list[Series]


def _value(counts: dict[str, int] | None, key: str) -> float | None:
    if not counts:
        return None
    predictions = counts["predictions"]
    if key == "share_corrected":
        return counts["corrections"] / predictions if predictions else None
    if key == "share_unsure":
        return counts["unsure"] / predictions if predictions else None
    return float(counts[key])


def build(days: int, today: datetime | None = None) -> tuple[list[datetime], list[Chart]]:
    """The days shown and one chart per metric, a line per model version."""
    today = (today or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=days - 1)
    dates = [first + timedelta(days=i) for i in range(days)]
    counts = day_counts.daily(first, days)
    charts = []
    for key, title in METRICS:
        table = {
            version: [_value(per_day.get(day), key) for day in dates]
            for version, per_day in sorted(counts.items())
        }
        share = key.startswith("share")
        peak = 1.0 if share else max([v for vs in table.values() for v in vs if v] or [1.0])
        series = [
            Series(version, COLOURS[i % len(COLOURS)], _points(values, peak), values)
            for i, (version, values) in enumerate(table.items())
        ]
        charts.append(Chart(key, title, "100%" if share else f"{peak:.0f}", series))
    return dates, charts


def _points(values: list[float | None], peak: float) -> str:
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)
    return " ".join(
        f"{PAD + i * step:.1f},{HEIGHT - PAD - (value / peak) * (HEIGHT - 2 * PAD):.1f}"
        for i, value in enumerate(values)
        if value is not None
    )
