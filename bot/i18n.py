"""Translations: gettext catalogues (Babel), English and Simplified Chinese.

The ``.po`` files under ``bot/locale`` are the source of truth; they are
compiled in memory at start-up so no build step or binary file is needed.
Messages are English source strings; ``N_`` marks a string for extraction
where it is translated later (menus, service errors).
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from bot.text import isolate

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a string for translation without translating it here."""
    return message


def language_for(code: str | None) -> str:
    """Map a Telegram ``language_code`` (``zh-hans``, ``en-GB``, …) to a supported language."""
    if code and code.lower().startswith("zh"):
        return "zh"
    return DEFAULT_LANGUAGE


def catalogue_path(language: str) -> Any:
    return files("bot") / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue for ``language`` (English falls back to the source strings)."""
    path = catalogue_path(language)
    if not path.is_file():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language if language != "zh" else "zh_Hans")
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@cache
def known_messages() -> frozenset[str]:
    """Every message id of the Chinese catalogue (the one that must be complete)."""
    catalogue = getattr(translations("zh"), "_catalog", {})
    return frozenset(key if isinstance(key, str) else key[0] for key in catalogue)


class UntranslatedMessage(KeyError):
    """A message reached the user without being in the catalogue (strict mode only)."""


class Translator:
    """The gettext functions for one language, plus HTML-safe formatting."""

    #: Tests switch this on: any message missing from the Chinese catalogue then fails loudly,
    #: which catches strings passed to ``t()`` without an ``N_`` marker.
    strict = False

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        self._t = translations(self.language)

    def gettext(self, message: str) -> str:
        if Translator.strict and message not in known_messages():
            raise UntranslatedMessage(message)
        return self._t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        """The form of a counted message that fits ``n`` ("1 invoice", "2 invoices"; Chinese has one
        form). With ``values``, its ``{placeholders}`` are filled, HTML-escaped, as by ``t(...)``;
        without, the template comes back as it is."""
        if Translator.strict and singular not in known_messages():
            raise UntranslatedMessage(singular)
        template = self._t.ngettext(singular, plural, n)
        return fmt(template, **values) if values else template

    def __call__(self, message: str, **values: Any) -> str:
        """Translate ``message`` and fill its ``{placeholders}`` with HTML-escaped values."""
        return fmt(self.gettext(message), **values)


def fmt(template: str, **values: Any) -> str:
    """``str.format`` with every value HTML-escaped: user text can never become markup."""
    return template.format(**{k: escape(v) for k, v in values.items()})


def fmt_map(template: str, values: Mapping[str, Any]) -> str:
    return fmt(template, **dict(values))


def escape(value: Any) -> str:
    """``value`` as HTML text to put in a message among other text: markup escaped, and laid out on
    its own (:func:`bot.text.isolate`: no bidi controls, right-to-left text isolated), so that no
    name, note or code can reorder the figures around it. Every value of :func:`fmt` goes through
    here, as does every piece of user text the views join themselves."""
    return html.escape(isolate(str(value)), quote=False)


#: Longest piece of what a user typed that a reply quotes back (a reply is at most 4,096 characters).
ECHO_LIMIT = 100


def echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """What the user typed, cut to ``limit`` characters (with "…") to quote in a reply."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
