"""The emergency roster: who signed in at this kiosk and has not signed out, as a printable image.

Drawn with Pillow like the badge (so no visitor text reaches the printer as bytes). It comes
from the kiosk's own roster, so it prints when the hub is away; it lists the visitors of this
kiosk only (the hub's desk page lists the whole building).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from PIL import Image, ImageDraw

from kiosk.badge import PAPER_DOTS, _fit_font, _font
from kiosk.store import RosterVisit
from kiosk.text import printable


def render(visits: Sequence[RosterVisit], *, printed_at: datetime, building: str = "",
           paper_dots: int = 384) -> Image.Image:
    """A one-bit image ``paper_dots`` wide; ``printed_at`` and the visits' times in local time."""
    if paper_dots not in PAPER_DOTS:
        raise ValueError(f"paper_dots must be one of {PAPER_DOTS}, not {paper_dots}")
    width = paper_dots
    margin = width // 24
    line_h = width // 14
    height = margin * 4 + line_h * (4 + 2 * max(1, len(visits)))
    canvas = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(canvas)
    y = margin
    title_font = _font(width // 12, True)
    draw.rectangle((margin, y, width - margin, y + line_h + margin), fill=0)
    draw.text((width // 2, y + (line_h + margin) // 2), "VISITORS ON SITE", font=title_font, fill=255, anchor="mm")
    y += line_h + 2 * margin
    small = _font(width // 22, False)
    draw.text((margin, y), f"{printable(building)}  {printed_at:%Y-%m-%d %H:%M}  ({len(visits)})", font=small, fill=0)
    y += line_h
    if not visits:
        draw.text((margin, y), "Nobody signed in at this kiosk.", font=small, fill=0)
        y += line_h
    for visit in visits:
        name_font, name = _fit_font(draw, printable(f"{visit.first} {visit.last}"), width - 2 * margin,
                                    width // 16, True)
        draw.text((margin, y), name, font=name_font, fill=0)
        y += line_h
        detail = f"{visit.category}  in {visit.signed_in_at.astimezone(printed_at.tzinfo):%H:%M}"
        if visit.host:
            detail += f"  host {printable(visit.host)}"
        if visit.state == "held":
            detail += "  HELD AT DESK"
        detail_font, detail = _fit_font(draw, detail, width - 2 * margin, width // 22, False)
        draw.text((margin, y), detail, font=detail_font, fill=0)
        y += line_h
    return canvas.crop((0, 0, width, y + margin)).convert("1", dither=Image.Dither.NONE)
