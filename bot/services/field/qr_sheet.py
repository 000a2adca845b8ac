"""The printable QR sheet: A4 pages of customers' codes, each with the customer's name under it.

Drawn with Pillow, module by module at a whole number of pixels each (a printer or a phone camera
reads crisp edges best), at 150 dpi: 3 × 4 codes a page. The codes are made by segno
(BSD-3-Clause); the names are drawn in the charts' CJK font
(:func:`bot.services.reporting.charts.cjk_font_name`: a system font, else the packaged Noto Sans
SC), so Chinese names never become empty boxes.

One page is a PNG; a sheet is a PDF of its pages (Pillow writes each page as an image).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import segno
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

from bot.services.field.qr import QrCode, deep_link
from bot.services.reporting import charts

DPI = 150
PAGE = (1240, 1754)  # A4 at 150 dpi
MARGIN = 70
COLUMNS, ROWS = 3, 4
PER_PAGE = COLUMNS * ROWS
#: Quiet zone around each code, in modules (the QR standard asks for 4).
BORDER = 4
NAME_PX = 26
TITLE_PX = 22
NAME_ROOM = 70  # below each code: the name


@dataclass(frozen=True)
class Sheet:
    """What the caller asked for, drawn: the pages, and how to write them."""

    pages: tuple[Image.Image, ...]

    def pdf(self) -> bytes:
        out = io.BytesIO()
        first, *rest = self.pages
        first.save(out, "PDF", save_all=True, append_images=rest, resolution=DPI)
        return out.getvalue()

    def png(self, page: int = 0) -> bytes:
        out = io.BytesIO()
        self.pages[page].save(out, "PNG", dpi=(DPI, DPI))
        return out.getvalue()


@cache
def _font_path() -> str | None:
    name = charts.cjk_font_name()
    if name is None:
        return None
    try:
        return font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False)
    except ValueError:
        return None


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _font_path()
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)


def _fitted(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int
) -> str:
    """``text``, shortened with … until it fits ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def code_image(link: str, scale: int) -> Image.Image:
    """The QR code of ``link``, ``scale`` pixels a module, with its quiet zone, black on white."""
    matrix = [
        list(row) for row in segno.make(link, error="m", micro=False).matrix_iter(scale=1, border=BORDER)
    ]
    size = len(matrix)
    image = Image.new("L", (size, size), 255)
    image.putdata([0 if dark else 255 for row in matrix for dark in row])
    return image.resize((size * scale, size * scale), Image.Resampling.NEAREST)


def draw_sheet(bot_username: str, codes: Sequence[QrCode], title: str) -> Sheet:
    """Pages of ``codes`` (at least one page: an empty sheet says so in its title)."""
    cell_w = (PAGE[0] - 2 * MARGIN) // COLUMNS
    cell_h = (PAGE[1] - 2 * MARGIN) // ROWS
    name_font, title_font = _font(NAME_PX), _font(TITLE_PX)
    pages = []
    chunks = [codes[i : i + PER_PAGE] for i in range(0, len(codes), PER_PAGE)] or [[]]
    for number, chunk in enumerate(chunks, start=1):
        page = Image.new("L", PAGE, 255)
        draw = ImageDraw.Draw(page)
        heading = f"{title} · {number}/{len(chunks)}"
        draw.text(
            (MARGIN, MARGIN // 3),
            _fitted(draw, heading, title_font, PAGE[0] - 2 * MARGIN),
            font=title_font,
            fill=0,
        )
        for index, code in enumerate(chunk):
            left = MARGIN + (index % COLUMNS) * cell_w
            top = MARGIN + (index // COLUMNS) * cell_h
            modules = int(  # segno types sizes as floats too (for a float scale); at scale 1 an int
                segno.make(deep_link(bot_username, code.token), error="m", micro=False).symbol_size(
                    scale=1, border=BORDER
                )[0]
            )
            scale = max(1, min(cell_w - 20, cell_h - NAME_ROOM - 10) // modules)
            image = code_image(deep_link(bot_username, code.token), scale)
            page.paste(image, (left + (cell_w - image.width) // 2, top))
            name = _fitted(draw, code.name, name_font, cell_w - 16)
            width = draw.textlength(name, font=name_font)
            draw.text((left + (cell_w - width) / 2, top + image.height + 6), name, font=name_font, fill=0)
        pages.append(page)
    return Sheet(tuple(pages))
