"""Keep the translation catalogues in step with the code.

    python -m bot.catalogues

extracts every marked string (``_``, ``N_``, ``gettext``, ``ngettext``) from
the packages into ``bot/locale/messages.pot`` and merges it into each
language's ``messages.po``. English copies the source text, so wording can be
edited in ``en`` without touching code; new Chinese entries stay empty until
translated, and the test suite fails until they are.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "bot" / "locale"
PACKAGES = ("bot", "handlers", "models", "jobs")
LOCALES = {"en": "en", "zh": "zh_Hans"}


def extract() -> Catalog:
    """Every translatable message in the source, as a template catalogue."""
    template = Catalog(project="fieldbot", fuzzy=False)
    for package in PACKAGES:
        for _file, lineno, message, comments, context in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")]
        ):
            template.add(
                message, locations=[(f"{package}/{_file}", lineno)], auto_comments=comments, context=context
            )
    return template


def _written(string: str | Sequence[str] | None) -> bool:
    """Whether a translation is there: a plural entry's string is a tuple of forms, empty or not."""
    return bool(string) if string is None or isinstance(string, str) else all(string)


def merge(template: Catalog, language: str) -> Catalog:
    path = LOCALE / language / "LC_MESSAGES" / "messages.po"
    if path.exists():
        with path.open("rb") as po:
            catalog = read_po(po, locale=LOCALES[language])
    else:
        catalog = Catalog(locale=LOCALES[language], project="fieldbot")
    catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
    if language == "en":
        for message in catalog:
            if message.id and not _written(message.string):  # a plural entry: copy both forms
                message.string = message.id
    return catalog


def main() -> None:
    template = extract()
    LOCALE.mkdir(parents=True, exist_ok=True)
    with (LOCALE / "messages.pot").open("wb") as pot:
        write_po(pot, template, omit_header=True, sort_output=True, no_location=True)
    for language in LOCALES:
        catalog = merge(template, language)
        path = LOCALE / language / "LC_MESSAGES" / "messages.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as po:
            write_po(po, catalog, sort_output=True, no_location=True, ignore_obsolete=True)
        missing = sum(1 for m in catalog if m.id and not _written(m.string))
        print(f"{language}: {len(catalog)} messages, {missing} untranslated")


if __name__ == "__main__":
    main()
