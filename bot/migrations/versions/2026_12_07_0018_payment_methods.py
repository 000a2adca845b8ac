"""Payment methods people use: WeChat Pay, Alipay, card; electronic ones count as handed in.

Schema: nothing changes. ``collections.method`` holds the enum's value in a ``VARCHAR(16)``
(``models.base.str_enum``: ``native_enum=False``, and SQLAlchemy 2 creates no CHECK constraint
for it), on PostgreSQL as on SQLite. ``wechat``, ``alipay`` and ``card`` therefore fit as they
are: there is no ``ALTER TYPE … ADD VALUE`` (which older PostgreSQL servers refuse inside a
transaction block) and no table rebuild.

Data: until now ``/collect Acme: 500 微信`` recorded *cash* with the receipt number ``微信``. The
bot did not know the word, took it for a receipt number, and defaulted the method to cash. Such a
collection showed as cash held by the rep: listed by /deposits, chased by the hand-in reminders
and counted as held money, although the money was in the company's account. This step corrects
exactly those rows. A row qualifies when its method is ``cash`` and its whole receipt number is a
word for another method, read as the bot now reads method words (NFKC, case folded, spaces, dots,
hyphens, underscores, slashes and middle dots left out). The table below is written out, not
imported, so that this step keeps meaning what it meant whatever the aliases become later.

For each such row:

* the method becomes the named one, and the receipt number is emptied (it never was one);
* an electronic payment not yet handed in gets ``handed_in_at = received_at`` and no
  ``confirmed_by``, as the bot records electronic payments from now on. A hand-in finance
  already confirmed is kept as it is;
* a reversal has its original's method and receipt number, so it is corrected the same way;
* an audit entry ``collection.method_corrected`` (no actor: the upgrade) names the method,
  receipt number and hand-in before and after.

Amounts and allocations are never touched.

Downgrade: the older code cannot load ``wechat``, ``alipay`` or ``card``. Those rows become
``transfer``, the electronic method it knows (still handed in, still not held), each with an
audit entry ``collection.method_downgraded`` naming the method it had.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BATCH = 2_000
#: Methods that reach the company's account directly: recorded as handed in.
ELECTRONIC = frozenset({"transfer", "wechat", "alipay", "card"})
NEW_METHODS = ("wechat", "alipay", "card")
#: Words for each method other than cash, as of this revision (bot/services/money/payment_methods.py).
ALIASES: dict[str, tuple[str, ...]] = {
    "transfer": (
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
    "cheque": (
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
    "wechat": (
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
    "alipay": (
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
    "card": (
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
_IGNORED = re.compile(r"[\s._\-/·・]+")

_COLLECTIONS = sa.table(
    "collections",
    sa.column("id", sa.Integer()),
    sa.column("method", sa.String()),
    sa.column("receipt_no", sa.String()),
    sa.column("received_at", UTCDateTime()),
    sa.column("handed_in_at", UTCDateTime()),
    sa.column("confirmed_by", sa.Integer()),
    sa.column("reverses_id", sa.Integer()),
)
_AUDIT = sa.table(
    "audit_log",
    sa.column("actor_id", sa.Integer()),
    sa.column("action", sa.String()),
    sa.column("entity", sa.String()),
    sa.column("entity_id", sa.Integer()),
    sa.column("before", sa.JSON()),
    sa.column("after", sa.JSON()),
    sa.column("at", UTCDateTime()),
)


def method_key(text: str) -> str:
    """NFKC, case folded (twice: a fold can undo a normalisation), nothing invisible, no joiners."""
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", visible).casefold())
    return _IGNORED.sub("", folded)


METHOD_OF_WORD = {method_key(word): method for method, words in ALIASES.items() for word in (method, *words)}
LONGEST_WORD = max(len(word) for word in METHOD_OF_WORD) * 4  # room for spaces and joiners


def _without_digits(bind: sa.Connection) -> sa.ColumnElement[bool]:
    """A receipt number with no ASCII digit (every alias has none; the rest are real receipts)."""
    receipt = _COLLECTIONS.c.receipt_no
    if bind.dialect.name == "sqlite":
        return receipt.op("NOT GLOB")(sa.literal("*[0-9]*"))
    return receipt.op("!~")(sa.literal("[0-9]"))


def _candidates(bind: sa.Connection) -> list[sa.Row[Any, Any, Any, Any]]:
    """Cash collections whose receipt number may be a method's word, read in batches by id:
    (id, receipt_no, handed_in_at, received_at)."""
    c = _COLLECTIONS.c
    rows: list[sa.Row[Any, Any, Any, Any]] = []
    after = 0
    while True:
        batch = bind.execute(
            sa.select(c.id, c.receipt_no, c.handed_in_at, c.received_at)
            .where(
                c.id > after,
                c.method == "cash",
                c.receipt_no.is_not(None),
                sa.func.length(c.receipt_no) <= LONGEST_WORD,
                _without_digits(bind),
            )
            .order_by(c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return rows
        rows += [row for row in batch if METHOD_OF_WORD.get(method_key(row.receipt_no), "cash") != "cash"]
        after = batch[-1].id


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def upgrade() -> None:
    bind = op.get_bind()
    c = _COLLECTIONS.c
    now = datetime.now(UTC)
    entries = []
    for row in _candidates(bind):
        method = METHOD_OF_WORD[method_key(row.receipt_no)]
        handed_in_at = row.handed_in_at
        if handed_in_at is None and method in ELECTRONIC:
            handed_in_at = row.received_at
        bind.execute(
            sa.update(_COLLECTIONS)
            .where(c.id == row.id)
            .values(method=method, receipt_no=None, handed_in_at=handed_in_at)
        )
        entries.append(
            {
                "actor_id": None,
                "action": "collection.method_corrected",
                "entity": "collection",
                "entity_id": row.id,
                "at": now,
                "before": {
                    "method": "cash",
                    "receipt_no": row.receipt_no,
                    "handed_in_at": _iso(row.handed_in_at),
                },
                "after": {
                    "method": method,
                    "receipt_no": None,
                    "handed_in_at": _iso(handed_in_at),
                    "why": "the receipt number named the payment method (upgrade 0018)",
                },
            }
        )
    if entries:
        bind.execute(sa.insert(_AUDIT), entries)


def downgrade() -> None:
    bind = op.get_bind()
    c = _COLLECTIONS.c
    now = datetime.now(UTC)
    rows = bind.execute(sa.select(c.id, c.method).where(c.method.in_(NEW_METHODS)).order_by(c.id)).all()
    if not rows:
        return
    bind.execute(sa.update(_COLLECTIONS).where(c.method.in_(NEW_METHODS)).values(method="transfer"))
    bind.execute(
        sa.insert(_AUDIT),
        [
            {
                "actor_id": None,
                "action": "collection.method_downgraded",
                "entity": "collection",
                "entity_id": row.id,
                "at": now,
                "before": {"method": row.method},
                "after": {"method": "transfer", "why": "downgrade below 0018"},
            }
            for row in rows
        ],
    )
