"""Both catalogues are complete and consistent with the code."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from bot.catalogues import extract
from bot.i18n import Translator, catalogue_path, fmt, language_for

PLACEHOLDER = re.compile(r"\{(\w*)\}")


def catalogue(language: str) -> dict[str, str]:
    """msgid → msgstr; a plural entry (ngettext) gives its singular and its plural, each mapped to
    the last of its translated forms, and to "" while any form is still empty."""
    entries: dict[str, str] = {}
    with catalogue_path(language).open("rb") as po:
        for m in read_po(po):
            if not m.id or m.fuzzy:
                continue
            if isinstance(m.id, tuple):
                forms = m.string if isinstance(m.string, tuple) else (m.string,)
                entries |= dict.fromkeys(m.id, forms[-1] if all(forms) else "")
            else:
                entries[m.id] = m.string
    return entries


def source_ids() -> set[str]:
    """Every message id marked in the code (both forms of a plural)."""
    ids: set[str] = set()
    for m in extract():
        if m.id:
            ids |= set(m.id) if isinstance(m.id, tuple) else {m.id}
    return ids


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_message_in_the_code_is_translated(language: str) -> None:
    translated = catalogue(language)
    source = source_ids()
    missing = sorted(m for m in source if not translated.get(m))
    assert not missing, f"run `python -m bot.catalogues` and translate: {missing}"


def test_chinese_is_chinese_and_keeps_placeholders() -> None:
    for message, translation in catalogue("zh").items():
        assert sorted(PLACEHOLDER.findall(message)) == sorted(PLACEHOLDER.findall(translation)), message
        words = re.sub(r"\{\w*\}|<[^>]+>", "", message)  # placeholders and tags are not prose
        if re.search(r"[A-Za-z]{4,}", words):
            assert re.search(r"[\u4e00-\u9fff]", translation), f"not translated: {message!r}"


def test_language_codes() -> None:
    assert language_for("zh-hans") == "zh" and language_for("zh-TW") == "zh"
    assert language_for("en-GB") == "en" and language_for(None) == "en" and language_for("de") == "en"


def test_formatting_escapes_values() -> None:
    assert fmt("Hi {name}", name="<b>&") == "Hi &lt;b&gt;&amp;"
    assert Translator("zh")("Nobody matches {query}.", query="<x>") == "没有人与 &lt;x&gt; 匹配。"


def test_no_translated_strings_hidden_in_f_strings() -> None:
    """Babel does not look inside f-strings: ``f"{t(N_('x'))}"`` would never reach the catalogue."""
    import pathlib

    hidden = re.compile(r"""f(["'])[^"'\n]*\{[^}\n]*\b(?:N_|_|gettext)\(\s*["']""")
    root = pathlib.Path(__file__).resolve().parent.parent
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for package in ("bot", "handlers", "jobs")
        for path in (root / package).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if hidden.search(line)
    ]
    assert not offenders
