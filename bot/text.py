"""Text people typed, made safe to show next to other text and to look up.

Two hazards of Unicode that names carry into every view, push and export:

* **Bidirectional controls.** A right-to-left override (U+202E) in a rep's name reverses
  everything after it on the line, figures included; embeddings, isolates and the
  direction marks misbehave the same way, more quietly. No name needs them: they are
  removed where names come in (:func:`one_line`) and again wherever text is shown
  (:func:`isolate`, through :func:`bot.i18n.escape`), for rows stored before.
* **Right-to-left names.** A legitimate Arabic or Hebrew name is enough to reorder what
  follows it: in ``• محمد — visits 3`` the bidi algorithm carries the dash and the 3
  into the name's right-to-left run. Text with right-to-left characters is shown
  inside a *first strong isolate* (U+2068 … U+2069), so it is laid out on its own and
  the rest of the line keeps its order.

And one of comparison: SQLite's ``lower()`` folds A-Z only, so ``Élan`` ≠ ``élan`` and
``ＡＢＣ`` ≠ ``abc`` there. :func:`search_key` folds in Python, the same on both databases;
customers store it (``code_key``, ``name_key``) and are looked up by it.
"""

from __future__ import annotations

import unicodedata

#: Embeddings and overrides (U+202A-202E), isolates (U+2066-2069), and the marks LRM, RLM, ALM.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
FIRST_STRONG_ISOLATE, POP_DIRECTIONAL_ISOLATE = "\u2068", "\u2069"
_WITHOUT_BIDI_CONTROLS = dict.fromkeys(map(ord, BIDI_CONTROLS))
#: Bidi classes that start a right-to-left run, or join one (Arabic-Indic digits).
_RIGHT_TO_LEFT = frozenset(("R", "AL", "AN"))

#: Longest search key stored. Ordinary text keeps its length (a 200-character name, a 200-character
#: key), but compatibility characters expand (U+FDFA is 18 characters in NFKC): capped, a key stays
#: within PostgreSQL's limit on a B-tree entry (2,704 bytes) whatever the name.
SEARCH_KEY_LENGTH = 600
#: :func:`search_key` repeats its steps until nothing changes; real text settles in one or two.
_FOLD_ROUNDS = 4


def strip_bidi_controls(text: str) -> str:
    """``text`` without bidirectional controls (:data:`BIDI_CONTROLS`)."""
    return text if text.isascii() else text.translate(_WITHOUT_BIDI_CONTROLS)


def one_line(text: str) -> str:
    """A name as stored: bidi controls removed, runs of whitespace (newlines too) one space."""
    return " ".join(strip_bidi_controls(text).split())


def has_right_to_left(text: str) -> bool:
    """Whether ``text`` has a character that the bidi algorithm lays out right to left."""
    return not text.isascii() and any(unicodedata.bidirectional(ch) in _RIGHT_TO_LEFT for ch in text)


def isolate(text: str) -> str:
    """``text`` to show in a line with other content: no bidi controls, and right-to-left text
    wrapped in an isolate, so nothing in it can move what comes before or after it.

    Text without right-to-left characters comes back unchanged (controls aside): codes, numbers,
    links and Latin or Chinese names keep exactly their characters.
    """
    if text.isascii():
        return text
    text = text.translate(_WITHOUT_BIDI_CONTROLS)
    if has_right_to_left(text):
        return FIRST_STRONG_ISOLATE + text + POP_DIRECTIONAL_ISOLATE
    return text


def _fold(text: str) -> str:
    if text.isascii():  # NFKC leaves ASCII alone and casefold is lower(): the common case, fast
        return " ".join(text.lower().split())[:SEARCH_KEY_LENGTH]
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")  # bidi, zero-width, BOM
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", visible).casefold())
    return " ".join(folded.split())[:SEARCH_KEY_LENGTH]


def search_key(text: str) -> str:
    """What two spellings of one code or name have in common: compatibility-normalised (NFKC:
    full-width ``ＡＢＣ`` is ``ABC``, ``①`` is ``1``), case-folded (``Ä`` is ``ä``, ``ß`` is ``ss``),
    invisible format characters (bidi controls, zero-width spaces) dropped, whitespace collapsed.

    A pure function, computed in Python the same way for every database; applying it again
    changes nothing.
    """
    key = _fold(text)
    for _round in range(_FOLD_ROUNDS):
        again = _fold(key)
        if again == key:
            break
        key = again
    return key


#: Longest phone key stored (a phone number is at most 40 characters as typed).
PHONE_KEY_LENGTH = 40
#: Fewer digits than this is no phone number anyone would dial (an extension, a typo): no key.
_PHONE_KEY_MIN_DIGITS = 5


def phone_key(text: str | None) -> str | None:
    """What two spellings of one phone number have in common: its digits, of any width or script
    (``１３８-0013 8000`` is ``13800138000``). A number written with China's country code (``+86``,
    ``0086``) is keyed as it is dialled at home: ``+86 138 0013 8000`` is ``13800138000`` and
    ``+86 21 5555 1234`` is ``02155551234``, like ``021 5555 1234``. None for text with fewer than
    five digits. A pure function: applying it to its own result changes nothing.
    """
    if not text:
        return None
    normal = unicodedata.normalize("NFKC", text).strip()
    digits = "".join(str(unicodedata.decimal(ch)) for ch in normal if ch.isdecimal())
    international = normal.startswith("+")
    if not international and digits.startswith("00"):
        digits, international = digits[2:], True
    if international and digits.startswith("86") and len(digits) > 2:
        digits = digits[2:]
        if not digits.startswith(("0", "1")):
            digits = "0" + digits  # a landline's area code: the trunk prefix dialled at home
    return digits[:PHONE_KEY_LENGTH] if len(digits) >= _PHONE_KEY_MIN_DIGITS else None
