"""Visitor badges: a one-bit image at the printer's width, and the sign-out token it carries.

The badge is drawn as a picture (Pillow) and sent to the printer as a raster, so visitor text
never reaches the printer as text: no ESC/POS command can ride in on a name. Text is still
passed through :func:`kiosk.text.printable` first.

Layout, top to bottom: the category in large inverse type (VISITOR / CONTRACTOR / VOLUNTEER /
PARENT), the photo dithered with Floyd-Steinberg, the name, host, destination, date, time in,
expiry, ESCORT REQUIRED in inverse type where it applies, and a QR code (drawn with segno)
holding ``gatehouse:v1:<token>``; the token is 144 random bits, the only thing sign-out needs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFont, ImageOps

from kiosk.text import printable

#: Printable widths in dots: 58 mm paper and 80 mm paper at 203 dpi.
PAPER_DOTS = (384, 576)
QR_PREFIX = "gatehouse:v1:"
CATEGORY_TITLES = {"visitor": "VISITOR", "contractor": "CONTRACTOR", "volunteer": "VOLUNTEER",
                   "parent": "PARENT"}

_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF")


def new_token() -> str:
    """An unguessable badge token (144 bits, URL-safe base64, 24 characters)."""
    return secrets.token_urlsafe(18)


def qr_payload(token: str) -> str:
    """What the badge's QR code says."""
    return QR_PREFIX + token


def token_from_qr(text: str) -> str | None:
    """The badge token in a scanned QR text, or None when the code is not one of ours."""
    if not isinstance(text, str) or not text.startswith(QR_PREFIX):
        return None
    token = text[len(QR_PREFIX):]
    if not 16 <= len(token) <= 64 or not all(c.isalnum() or c in "-_" for c in token):
        return None
    return token


@dataclass(frozen=True)
class BadgeData:
    """Everything printed on one badge; times are already in the building's zone."""

    category: str
    name: str
    host: str
    destination: str
    time_in: datetime
    expires: datetime
    token: str
    escort_required: bool = False
    photo: Image.Image | None = None
    building: str = ""


@lru_cache(maxsize=64)
def _font(size: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in _FONT_DIRS:
        path = Path(folder) / name
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def _fit_font(draw: ImageDraw.ImageDraw, text: str, width: int, size: int, bold: bool,
              min_size: int = 14) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, str]:
    """The largest font (down to ``min_size``) that fits ``text`` in ``width``; else truncate."""
    while size > min_size and draw.textlength(text, font=_font(size, bold)) > width:
        size -= 2
    font = _font(size, bold)
    if draw.textlength(text, font=font) <= width:
        return font, text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return font, text + "…"


def dither_photo(photo: Image.Image, width: int) -> Image.Image:
    """A face photo as a one-bit image ``width`` dots wide (4:5), contrast stretched then dithered."""
    gray = ImageOps.exif_transpose(photo).convert("L")
    height = int(width * 5 / 4)
    gray = ImageOps.fit(gray, (width, height), method=Image.Resampling.LANCZOS)
    gray = ImageOps.autocontrast(gray, cutoff=2)
    return gray.convert("1", dither=Image.Dither.FLOYDSTEINBERG)


def qr_image(token: str, box_dots: int) -> Image.Image:
    """The sign-out QR code as a one-bit image about ``box_dots`` square, quiet zone included."""
    qr = segno.make_qr(qr_payload(token), error="m")
    size = qr.symbol_size(scale=1, border=4)[0]
    scale = max(2, box_dots // size)
    modules = np.array([list(row) for row in qr.matrix], dtype=np.uint8)
    modules = np.pad(modules, 4)  # the quiet zone
    dark = np.kron(modules, np.ones((scale, scale), dtype=np.uint8))
    return Image.fromarray(np.where(dark > 0, 0, 255).astype(np.uint8), mode="L").convert("1")


def render(data: BadgeData, *, paper_dots: int = 384) -> Image.Image:
    """The badge as a one-bit image exactly ``paper_dots`` wide."""
    if paper_dots not in PAPER_DOTS:
        raise ValueError(f"paper_dots must be one of {PAPER_DOTS}, not {paper_dots}")
    width = paper_dots
    margin = width // 24
    inner = width - 2 * margin
    canvas = Image.new("L", (width, width * 4), 255)
    draw = ImageDraw.Draw(canvas)
    y = margin

    def inverse_bar(text: str, size: int) -> None:
        nonlocal y
        font, fitted = _fit_font(draw, text, inner - 2 * margin, size, True)
        box = draw.textbbox((0, 0), fitted, font=font)
        bar_h = (box[3] - box[1]) + 2 * margin
        draw.rectangle((margin, y, width - margin, y + bar_h), fill=0)
        draw.text((width // 2, y + bar_h // 2), fitted, font=font, fill=255, anchor="mm")
        y += bar_h + margin

    def line(text: str, size: int, bold: bool = False) -> None:
        nonlocal y
        if not text:
            return
        font, fitted = _fit_font(draw, text, inner, size, bold)
        draw.text((width // 2, y), fitted, font=font, fill=0, anchor="ma")
        box = draw.textbbox((width // 2, y), fitted, font=font, anchor="ma")
        y = box[3] + margin // 2

    inverse_bar(CATEGORY_TITLES.get(data.category, "VISITOR"), width // 6)
    photo_w = int(width * (0.5 if width >= 576 else 0.55))
    if data.photo is not None:
        photo = dither_photo(data.photo, photo_w)
        canvas.paste(photo.convert("L"), ((width - photo_w) // 2, y))
        draw.rectangle(((width - photo_w) // 2 - 1, y - 1, (width + photo_w) // 2, y + photo.height), outline=0)
        y += photo.height + margin
    line(printable(data.name), width // 9, bold=True)
    line(("Host: " + printable(data.host)) if data.host else "", width // 18)
    line(("To: " + printable(data.destination)) if data.destination else "", width // 18)
    line(printable(data.building), width // 22)
    line(f"{data.time_in:%a %Y-%m-%d}   in {data.time_in:%H:%M}", width // 18, bold=True)
    line(f"Valid until {data.expires:%H:%M}", width // 16, bold=True)
    if data.escort_required:
        y += margin // 2
        inverse_bar("ESCORT REQUIRED", width // 11)
    qr = qr_image(data.token, int(width * 0.55))
    canvas.paste(qr.convert("L"), ((width - qr.width) // 2, y))
    y += qr.height
    line("Show this code to sign out", width // 22)
    y += margin
    return canvas.crop((0, 0, width, y)).convert("1", dither=Image.Dither.NONE)


#: escpos printer profiles whose paper is exactly this many dots wide.
PROFILE_FOR_DOTS = {384: "ZJ-5870", 576: "TM-T20II"}


def escpos_bytes(image: Image.Image, *, profile: str | None = None) -> bytes:
    """The ESC/POS job for ``image`` (raster, then a cut), as escpos's ``Dummy`` printer renders it."""
    from escpos.printer import Dummy

    printer = Dummy(profile=profile or PROFILE_FOR_DOTS.get(image.width, "TM-T20II"))
    printer.image(image, impl="bitImageRaster", center=False)
    printer.cut()
    return printer.output
