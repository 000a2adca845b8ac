"""Counted phrases ("1 invoice", "3 invoices"; Chinese "3 张发票") to put inside a longer message.

A message that counts one thing is one ``ngettext`` entry of its own. A message that counts two
things at once ("12,000.00 on 3 invoices of 2 customers") cannot choose one plural form for both:
it takes these phrases as values instead, each in the form its own number needs.
"""

from __future__ import annotations

from bot.i18n import Translator


def invoices(t: Translator, count: int) -> str:
    return t.ngettext("{count} invoice", "{count} invoices", count, count=count)


def customers(t: Translator, count: int) -> str:
    return t.ngettext("{count} customer", "{count} customers", count, count=count)


def days(t: Translator, count: int) -> str:
    return t.ngettext("{count} day", "{count} days", count, count=count)
