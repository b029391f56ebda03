"""The emergency roster: who signed in at this kiosk and has not signed out, as a printable image.

Drawn with Pillow like the badge (so no visitor text reaches the printer as bytes). It comes
from the kiosk's own roster, so it prints when the hub is away; it lists the visitors of this
kiosk only (the hub's desk page lists the whole building). Each row has the visitor's photo
as a small dithered thumbnail (from the kiosk's store, kept only while the visit is open)
beside the name, category, time in and host; a visit without a usable photo gets a framed
"NO PHOTO" box instead, so a responder sees at once whom to look for by description.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache

from PIL import Image, ImageDraw, UnidentifiedImageError

from kiosk.badge import PAPER_DOTS, _fit_font, _font, dither_photo
from kiosk.store import RosterVisit
from kiosk.text import printable

log = logging.getLogger("gatehouse.kiosk.roster")


def thumb_size(paper_dots: int) -> tuple[int, int]:
    """(width, height) in dots of one photo thumbnail: a fifth of the paper, 4:5."""
    width = paper_dots // 5
    return width, width * 5 // 4


def thumbnail(jpeg: bytes | None, paper_dots: int) -> Image.Image:
    """The one-bit thumbnail of a JPEG, or the framed NO PHOTO placeholder when there is none."""
    width, height = thumb_size(paper_dots)
    if jpeg:
        try:
            with Image.open(io.BytesIO(jpeg)) as photo:
                photo.load()
                return dither_photo(photo, width)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            log.warning("roster photo unreadable error=%s", type(exc).__name__)
    return _placeholder(paper_dots)


@lru_cache(maxsize=4)
def _placeholder(paper_dots: int) -> Image.Image:
    width, height = thumb_size(paper_dots)
    box = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(box)
    draw.rectangle((0, 0, width - 1, height - 1), outline=0, width=2)
    draw.line((0, 0, width - 1, height - 1), fill=0, width=1)
    draw.line((0, height - 1, width - 1, 0), fill=0, width=1)
    font = _font(max(10, width // 6), True)
    for i, word in enumerate(("NO", "PHOTO")):
        y = height // 2 + (i * 2 - 1) * (width // 7)
        text_box = draw.textbbox((width // 2, y), word, font=font, anchor="mm")
        draw.rectangle((text_box[0] - 2, text_box[1] - 1, text_box[2] + 2, text_box[3] + 1), fill=255)
        draw.text((width // 2, y), word, font=font, fill=0, anchor="mm")
    return box.convert("1", dither=Image.Dither.NONE)


def render(visits: Sequence[RosterVisit], *, printed_at: datetime, building: str = "",
           paper_dots: int = 384, photos: Mapping[str, bytes | None] | None = None) -> Image.Image:
    """A one-bit image ``paper_dots`` wide; ``printed_at`` and the visits' times in local time.

    ``photos`` maps visit ids to their JPEG; a visit missing from it prints the placeholder.
    """
    if paper_dots not in PAPER_DOTS:
        raise ValueError(f"paper_dots must be one of {PAPER_DOTS}, not {paper_dots}")
    photos = photos or {}
    width = paper_dots
    margin = width // 24
    line_h = width // 14
    thumb_w, thumb_h = thumb_size(width)
    row_h = max(thumb_h, 3 * line_h) + margin
    height = margin * 4 + line_h * 4 + row_h * max(1, len(visits))
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
    text_x = margin + thumb_w + margin
    text_w = width - text_x - margin
    for visit in visits:
        canvas.paste(thumbnail(photos.get(visit.visit), width).convert("L"), (margin, y))
        ty = y
        name_font, name = _fit_font(draw, printable(f"{visit.first} {visit.last}"), text_w, width // 16, True)
        draw.text((text_x, ty), name, font=name_font, fill=0)
        ty += line_h
        detail = f"{visit.category}  in {visit.signed_in_at.astimezone(printed_at.tzinfo):%H:%M}"
        if visit.state == "held":
            detail += "  HELD AT DESK"
        detail_font, detail = _fit_font(draw, detail, text_w, width // 22, False)
        draw.text((text_x, ty), detail, font=detail_font, fill=0)
        ty += line_h
        if visit.host:
            host_font, host = _fit_font(draw, f"host {printable(visit.host)}", text_w, width // 22, False)
            draw.text((text_x, ty), host, font=host_font, fill=0)
        y += row_h
    return canvas.crop((0, 0, width, y + margin)).convert("1", dither=Image.Dither.NONE)
