"""Units of stock as reps type them (``10箱``, ``3 boxes``, ``12 ctn``), and as they are shown.

A stock line stores its quantity and its unit (``stock_lines.unit``): a known unit word, in either
language, is stored as its canonical English key (``箱``, ``box``, ``boxes`` and ``ctn`` are all
``box``) so that counts of one product compare; an unknown word is kept as typed (cut to
:data:`MAX_UNIT_CHARS`), and shown as typed. No unit at all (``Product A 12``) is None: a count.
"""

from __future__ import annotations

import unicodedata

from bot.i18n import Translator, escape

MAX_UNIT_CHARS = 20

#: Canonical unit → the words reps type for it (compared lower-cased, full-width folded).
UNIT_WORDS: dict[str, tuple[str, ...]] = {
    "box": ("箱", "box", "boxes", "bx", "ctn", "ctns", "carton", "cartons", "case", "cases"),
    "pcs": ("个", "個", "只", "pc", "pcs", "piece", "pieces", "ea", "each", "unit", "units"),
    "bottle": ("瓶", "bottle", "bottles", "btl", "btls"),
    "bag": ("袋", "bag", "bags", "sack", "sacks"),
    "pack": ("包", "pack", "packs", "pk", "pkt", "packet", "packets"),
    "can": ("罐", "听", "聽", "can", "cans", "tin", "tins"),
    "barrel": ("桶", "barrel", "barrels", "drum", "drums", "bucket", "buckets"),
    "roll": ("卷", "捲", "roll", "rolls"),
    "tube": ("支", "管", "tube", "tubes", "stick", "sticks"),
    "sheet": ("张", "張", "sheet", "sheets"),
    "set": ("套", "set", "sets"),
    "kg": ("kg", "kgs", "kilo", "kilos", "公斤", "千克"),
    "dozen": ("打", "dozen", "dozens", "doz", "dz"),
}
_CANONICAL = {word: unit for unit, words in UNIT_WORDS.items() for word in words}


def _folded(word: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", word).split()).lower().rstrip(".")


def known_unit(word: str) -> str | None:
    """The canonical key of a unit word (``箱``, ``Boxes``, ``CTN`` → ``box``), None if unknown."""
    return _CANONICAL.get(_folded(word))


def normalise_unit(word: str | None) -> str | None:
    """What is stored for the unit a rep typed: the canonical key, else the word as typed (cut)."""
    if word is None or not word.strip():
        return None
    return known_unit(word) or " ".join(word.split())[:MAX_UNIT_CHARS]


def unit_name(t: Translator, unit: str | None, count: int) -> str:
    """The unit for people (plain text), in the form ``count`` needs: ``boxes``, ``箱``; "" for none."""
    if unit is None:
        return ""
    labels = {
        "box": t.ngettext("box", "boxes", count),
        "pcs": t.ngettext("pc", "pcs", count),
        "bottle": t.ngettext("bottle", "bottles", count),
        "bag": t.ngettext("bag", "bags", count),
        "pack": t.ngettext("pack", "packs", count),
        "can": t.ngettext("can", "cans", count),
        "barrel": t.ngettext("barrel", "barrels", count),
        "roll": t.ngettext("roll", "rolls", count),
        "tube": t.ngettext("tube", "tubes", count),
        "sheet": t.ngettext("sheet", "sheets", count),
        "set": t.ngettext("set", "sets", count),
        "kg": t.ngettext("kg", "kg", count),
        "dozen": t.ngettext("dozen", "dozen", count),
    }
    return labels.get(unit) or unit


def quantity_text(t: Translator, count: int, unit: str | None, *, bold: bool = False) -> str:
    """``<b>10</b> boxes`` / ``<b>10</b> 箱`` / ``12`` (no unit), as HTML."""
    number = f"<b>{count}</b>" if bold else str(count)
    label = unit_name(t, unit, count)
    return f"{number} {escape(label)}" if label else number
