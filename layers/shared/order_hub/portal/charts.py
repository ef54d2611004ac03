"""The overview's charts as plain numbers for an inline SVG (drawn by the template, no script)."""

from __future__ import annotations

from dataclasses import dataclass, replace

WIDTH = 560
HEIGHT = 200
PAD_BOTTOM = 40
PAD_TOP = 20


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    label: str
    value: str
    tone: str = "ok"


def bars(values: list[tuple[str, float]], maximum: float, formatter: str = "{:g}", tones: list[str] | None = None) -> list[Bar]:
    """One bar per value, scaled to ``maximum`` (at least 1), evenly spread over the chart's width."""
    if not values:
        return []
    top = max(maximum, 1.0)
    slot = WIDTH // len(values)
    width = max(8, int(slot * 0.6))
    usable = HEIGHT - PAD_BOTTOM - PAD_TOP
    out = []
    for index, (label, value) in enumerate(values):
        height = round(usable * value / top)
        out.append(
            Bar(
                x=index * slot + (slot - width) // 2,
                y=HEIGHT - PAD_BOTTOM - height,
                width=width,
                height=height,
                label=label,
                value=formatter.format(value),
                tone=(tones[index] if tones else "ok"),
            )
        )
    return out


def orders_chart(per_day: list[tuple[str, int]]) -> list[Bar]:
    return bars([(day[5:], float(n)) for day, n in per_day], max((n for _, n in per_day), default=0))


def success_chart(success: list[tuple[str, int, int]]) -> list[Bar]:
    values = [(endpoint, 100.0 * delivered / settled if settled else 0.0) for endpoint, delivered, settled in success]
    tones = ["none" if settled == 0 else ("ok" if delivered == settled else "bad") for _, delivered, settled in success]
    drawn = bars(values, 100.0, "{:.0f}%", tones)
    # An endpoint with nothing settled in the window has no rate (not 0%).
    return [replace(bar, value="no deliveries") if bar.tone == "none" else bar for bar in drawn]
