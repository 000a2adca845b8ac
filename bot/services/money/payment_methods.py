"""Payment methods: the words reps use for them (English and Chinese), their names, and which are held.

* **Held:** cash and cheques stay with the rep until finance confirms the hand-in.
* **Electronic:** a bank transfer, WeChat Pay, Alipay or a card payment on a POS terminal reaches the
  company's account directly. Such a collection is stored handed in when it is recorded
  (``handed_in_at = received_at``, no ``confirmed_by``): it is never held money, never listed by
  ``/deposits`` and never chased by the hand-in reminders.
* **Words:** :data:`ALIASES` is the one table of what a rep may type for each method. A word is
  looked up by :func:`method_key`: Unicode NFKC (full-width letters become ASCII), case folded,
  with spaces, dots, hyphens, underscores, slashes and middle dots left out, so ``WeChat Pay``,
  ``ｗｅｃｈａｔ``, ``we-chat`` and ``WECHATPAY`` are one word. A word that is not in the table is
  *not* a method: callers ask which method was meant, they never assume cash.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from bot.i18n import N_
from bot.text import search_key
from models import PaymentMethod

CASH, TRANSFER, CHEQUE = PaymentMethod.CASH, PaymentMethod.TRANSFER, PaymentMethod.CHEQUE
WECHAT, ALIPAY, CARD = PaymentMethod.WECHAT, PaymentMethod.ALIPAY, PaymentMethod.CARD

#: Held by the rep until finance confirms the hand-in.
HELD_METHODS: tuple[PaymentMethod, ...] = (CASH, CHEQUE)
#: Reach the company's account directly: recorded as handed in.
ELECTRONIC_METHODS: tuple[PaymentMethod, ...] = (TRANSFER, WECHAT, ALIPAY, CARD)

#: The method's name inside a sentence ("500.00 (WeChat Pay) from Acme"), in lists and exports.
LABELS: MappingProxyType[PaymentMethod, str] = MappingProxyType(
    {
        CASH: N_("cash"),
        TRANSFER: N_("transfer"),
        CHEQUE: N_("cheque"),
        WECHAT: N_("WeChat Pay"),
        ALIPAY: N_("Alipay"),
        CARD: N_("card"),
    }
)
#: The method on a button.
BUTTONS: MappingProxyType[PaymentMethod, str] = MappingProxyType(
    {
        CASH: N_("Cash"),
        TRANSFER: N_("Transfer"),
        CHEQUE: N_("Cheque"),
        WECHAT: N_("WeChat Pay"),
        ALIPAY: N_("Alipay"),
        CARD: N_("Card / POS"),
    }
)

#: What reps type for each method, English and Chinese (simplified and traditional). Spaces are
#: for reading only (see :func:`method_key`); a two-word alias such as ``bank transfer`` is also
#: recognised when typed as two words after the amount.
ALIASES: MappingProxyType[PaymentMethod, tuple[str, ...]] = MappingProxyType(
    {
        CASH: (
            "cash",
            "in cash",
            "现金",
            "現金",
            "现钞",
            "現鈔",
            "现款",
            "現款",
            "付现",
            "付現",
            "现付",
            "現付",
        ),
        TRANSFER: (
            "transfer",
            "bank",
            "bank transfer",
            "wire",
            "wire transfer",
            "telegraphic transfer",
            "TT",
            "T/T",
            "remittance",
            "online banking",
            "e-banking",
            "转账",
            "轉賬",
            "转帐",
            "轉帳",
            "银行转账",
            "銀行轉賬",
            "银行转帐",
            "銀行轉帳",
            "汇款",
            "匯款",
            "银行汇款",
            "銀行匯款",
            "电汇",
            "電匯",
            "网银",
            "網銀",
            "网上银行",
            "網上銀行",
            "对公转账",
            "對公轉賬",
            "公对公",
            "公對公",
            "银行",
            "銀行",
            "打款",
        ),
        CHEQUE: (
            "cheque",
            "check",
            "chq",
            "bank cheque",
            "支票",
            "现金支票",
            "現金支票",
            "转账支票",
            "轉賬支票",
            "银行支票",
            "銀行支票",
        ),
        WECHAT: (
            "wechat",
            "wechat pay",
            "weixin",
            "weixin pay",
            "wxpay",
            "wx",
            "微信",
            "微信支付",
            "微信付款",
            "微信转账",
            "微信轉賬",
            "微信收款",
            "微信扫码",
            "微信掃碼",
        ),
        ALIPAY: (
            "alipay",
            "ali pay",
            "zhifubao",
            "zfb",
            "支付宝",
            "支付寶",
            "支付宝支付",
            "支付寶支付",
            "支付宝付款",
            "支付寶付款",
            "支付宝转账",
            "支付寶轉賬",
            "支付宝扫码",
            "支付寶掃碼",
        ),
        CARD: (
            "card",
            "pos",
            "card pos",
            "pos card",
            "bank card",
            "credit card",
            "debit card",
            "unionpay",
            "刷卡",
            "pos机",
            "pos機",
            "银行卡",
            "銀行卡",
            "信用卡",
            "借记卡",
            "借記卡",
            "储蓄卡",
            "儲蓄卡",
            "银联",
            "銀聯",
            "银联卡",
            "銀聯卡",
        ),
    }
)

#: Left out of a method word before it is looked up: spaces and the joiners people type inside one.
_IGNORED = re.compile(r"[\s._\-/·・]+")


def method_key(text: str) -> str:
    """The lookup form of a method word: :func:`bot.text.search_key` (NFKC, case folded, nothing
    invisible), then without spaces or joiners."""
    return _IGNORED.sub("", search_key(text))


def _table() -> dict[str, PaymentMethod]:
    table: dict[str, PaymentMethod] = {}
    for method, words in ALIASES.items():
        for word in (method.value, *words):
            key = method_key(word)
            if table.setdefault(key, method) is not method:
                raise ValueError(f"{word!r} names both {table[key]} and {method}")
    return table


_BY_KEY = MappingProxyType(_table())
#: The most words one alias is written with (``telegraphic transfer``: 2).
MAX_ALIAS_WORDS = max(len(word.split()) for words in ALIASES.values() for word in words)


def parse_method(text: str) -> PaymentMethod | None:
    """The method ``text`` names (any case, full- or half-width, spaced or not), else None.

    The stored values (``cash``, ``wechat`` …) are aliases too: button payloads carry them.
    """
    key = method_key(text)
    return _BY_KEY.get(key) if key else None


def method_at(words: list[str] | tuple[str, ...], start: int) -> tuple[PaymentMethod, int] | None:
    """The method named by the words from ``start`` on, and how many words it took (the longest
    alias wins: ``bank card`` is a card, not a transfer followed by ``card``); None if none."""
    for count in range(min(MAX_ALIAS_WORDS, len(words) - start), 0, -1):
        method = parse_method("".join(words[start : start + count]))
        if method is not None:
            return method, count
    return None


def is_held(method: PaymentMethod) -> bool:
    """Whether money paid this way stays with the rep until finance confirms the hand-in."""
    return method in HELD_METHODS
