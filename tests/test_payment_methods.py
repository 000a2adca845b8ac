"""Payment methods people use (issue 19): WeChat Pay, Alipay, card, transfer, cheque and cash, typed in
English or Chinese; electronic ones handed in as they are recorded; an unknown word asked about, never
taken for cash; the upgrade that corrects collections recorded before as "cash, receipt no. 微信"."""

from __future__ import annotations

import asyncio
import importlib.util
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import command
from sqlalchemy import select

from bot.clock import FixedClock
from bot.config import Settings
from bot.db import Database, alembic_config
from bot.devserver import FakeBotApi
from bot.i18n import Translator
from bot.services.money.payment_methods import ALIASES, ELECTRONIC_METHODS, HELD_METHODS, LABELS, parse_method
from jobs.runner import run_job
from models import AuditLog, Collection, Customer, PaymentMethod
from models.base import Money, UTCDateTime
from tests import factories
from tests.conftest import MONDAY_MORNING, ZONE
from tests.factories import Company
from tests.harness import Harness
from tests.test_exports import open_book, records, summary_of
from tests.test_jobs import local
from tests.test_persistence import acme_company

TODAY = date(2026, 11, 23)
WECHAT, ALIPAY, CARD = PaymentMethod.WECHAT, PaymentMethod.ALIPAY, PaymentMethod.CARD
CASH, TRANSFER, CHEQUE = PaymentMethod.CASH, PaymentMethod.TRANSFER, PaymentMethod.CHEQUE
ALL_BUTTONS = ["Cash", "Transfer", "Cheque", "WeChat Pay", "Alipay", "Card / POS"]
EXPIRED = "This button has expired. Start again from the command."


async def collections_in(db: Database) -> list[Collection]:
    async with db.reading() as session:
        return list(await session.scalars(select(Collection).order_by(Collection.id)))


async def setup(harness: Harness) -> tuple[Company, Customer]:
    """A company and the rep Li's customer 鑫源建材 (code XY01), owing one invoice of 3,000."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    customer = await factories.customer(harness.db, now, name="鑫源建材", rep=people.rep, code="XY01")
    await factories.receivable(
        harness.db,
        now,
        customer=customer,
        amount="3000.00",
        invoice_no="INV-1",
        issued_on=TODAY - timedelta(30),
        due_on=TODAY,
    )
    return people, customer


# -- one line, English and Chinese --------------------------------------------------------------------


async def test_wechat_in_chinese_is_recorded_handed_in_and_never_held(harness: Harness) -> None:
    people, _ = await setup(harness)
    rep = harness.person(2001, "Li")
    await rep.send("/lang zh")
    said = await rep.says("/collect 鑫源建材: 500 微信")
    assert "✅ 收款 #1：鑫源建材 付款 500.00（微信支付）。" in said
    assert "通过微信支付收款，无需上交。" in said and "由你保管" not in said and "收据号" not in said

    [collection] = await collections_in(harness.db)
    assert (collection.method, collection.receipt_no, collection.amount) == (WECHAT, None, Decimal("500.00"))
    # Handed in as it was recorded, by nobody: finance confirmed nothing.
    assert collection.handed_in_at == collection.received_at and collection.confirmed_by is None
    async with harness.db.reading() as session:
        entry = await session.scalar(select(AuditLog).where(AuditLog.action == "collection.record"))
    assert entry is not None and entry.after is not None
    assert entry.after["method"] == "wechat" and entry.after["held"] is False
    assert entry.after["handed_in"] == "automatic: electronic payment"
    assert entry.after["handed_in_at"] == collection.received_at.isoformat()

    # Not in /deposits, not in the hand-in reminder, not held in the summary.
    finance = harness.person(6001, "Fay")
    assert "Nothing is waiting" in await finance.says("/deposits")
    before = len(harness.api.chat(2001))
    harness.clock.set(local(TODAY, 17))
    outcome = await run_job(harness.db, "cash_handin", harness.clock.now(), ZONE)
    await harness.deliver_pushes()
    assert outcome.pushes == 0 and len(harness.api.chat(2001)) == before
    summary = await rep.says("/summary today")
    assert "微信支付 500.00" in summary and "你手中未上交：0.00" in summary  # the rep's own wording
    assert people.rep.id == collection.rep_id


async def test_alipay_card_transfer_and_cash_with_receipts(harness: Harness) -> None:
    await setup(harness)
    rep = harness.person(2001, "Li")
    lines = [
        ("/collect XY01: 100 alipay", ALIPAY, None, "Alipay"),
        ("/collect 鑫源: 200 刷卡", CARD, None, "card"),
        ("/collect 鑫源建材：300 转账 R-1", TRANSFER, "R-1", "transfer"),
        ("/collect 鑫源建材: 400 R-2 POS机", CARD, "R-2", "card"),
        ("/collect 鑫源建材: 50 R-3", CASH, "R-3", "cash"),
    ]  # no method word: cash, as the reply says
    for text, method, receipt, label in lines:
        said = await rep.says(text)
        assert f"({label}) from 鑫源建材." in said, text
        assert (f"Receipt no. {receipt}" in said) == (receipt is not None)
        held = "Held by you until finance confirms the hand-in." in said
        assert held == (method in HELD_METHODS), text
        assert (f"Paid by {label}: nothing to hand in." in said) == (method in ELECTRONIC_METHODS), text
    rows = await collections_in(harness.db)
    assert [(c.method, c.receipt_no) for c in rows] == [(m, r) for _, m, r, _ in lines]
    assert [c.handed_in_at is None for c in rows] == [False, False, False, False, True]
    summary = await rep.says("/summary today")
    assert "Collected: 1,050.00 (cash 50.00, transfer 300.00, Alipay 100.00, card 600.00)" in summary
    assert "Still held by you: 50.00" in summary  # the rep's own summary


# -- an unknown word: asked, with a button per method -------------------------------------------------


async def test_an_unknown_method_is_asked_and_one_press_records_once(harness: Harness) -> None:
    await setup(harness)
    rep = harness.person(2001, "Li")
    [question] = await rep.send("/collect 鑫源建材: 500 paypal R-7")
    assert question.plain_text() == (
        "I don't know the payment method paypal, so nothing is recorded yet. "
        "How did 鑫源建材 pay 500.00?\nReceipt no. R-7"
    )
    assert question.button_texts() == ALL_BUTTONS
    assert await collections_in(harness.db) == []  # never cash meanwhile

    first = harness.api.press(2001, "WeChat Pay", message_id=question.message_id)
    second = harness.api.press(2001, "WeChat Pay", message_id=question.message_id)  # a double tap
    await harness.settle(second)
    [collection] = await collections_in(harness.db)
    assert (collection.method, collection.receipt_no, collection.amount) == (WECHAT, "R-7", Decimal("500.00"))
    assert collection.handed_in_at == collection.received_at
    # The question became the reply the one-liner gives, with its Undo.
    edited = harness.api.chat(2001)[-1]
    assert edited.message_id == question.message_id
    assert edited.plain_text() == (
        f"✅ Collection #{collection.id}: 500.00 (WeChat Pay) from 鑫源建材.\nReceipt no. R-7\n\n"
        "Settled, oldest first:\n• INV-1: 500.00 applied, 2,500.00 still open\n\n"
        "Paid by WeChat Pay: nothing to hand in."
    )
    assert edited.button_texts() == ["↩ Undo (10 minutes)"]
    assert harness.api.callback_answers[second["callback_query"]["id"]]["text"] == EXPIRED
    assert first["callback_query"]["id"] in harness.api.callback_answers


async def test_same_reply_as_the_one_liner(harness: Harness) -> None:
    """Pressing a method after an unknown word gives exactly the reply of the line that names it."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    for name in ("Shop A", "Shop B"):
        await factories.customer(harness.db, now, name=name, rep=people.rep)
    rep = harness.person(2001, "Li")
    direct = await rep.says("/collect Shop A: 80 支付宝 R-5")
    await rep.send("/collect Shop B: 80 zelle R-5")
    [pressed] = await rep.press("Alipay")
    assert pressed.plain_text() == direct.replace("#1", "#2").replace("Shop A", "Shop B")


async def test_an_unknown_method_after_choosing_the_customer_and_typed_answers(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    for name in ("Star Shop North", "Star Shop South"):  # each owing more than it pays here
        shop = await factories.customer(harness.db, now, name=name, rep=people.rep)
        await factories.receivable(
            harness.db, now, customer=shop, amount="1000.00", issued_on=TODAY - timedelta(30), due_on=TODAY
        )
    rep = harness.person(2001, "Li")
    assert "Several customers match Star Shop" in await rep.says("/collect Star Shop: 300 venmo")
    [asked] = await rep.press("Star Shop North")
    assert "I don't know the payment method venmo" in asked.plain_text()
    assert asked.button_texts() == ALL_BUTTONS
    [recorded] = await rep.press("Cash")
    assert "300.00 (cash) from Star Shop North" in recorded.plain_text()
    assert "Held by you until finance confirms the hand-in." in recorded.plain_text()

    # Typed instead of pressed: a word the bot knows records; another unknown one asks again.
    await rep.send("/collect Star Shop South: 70 zelle")
    [again] = await rep.send("bitcoin")
    assert again.plain_text() == "I don't know the payment method bitcoin. Press one of these:"
    assert again.button_texts() == ALL_BUTTONS
    said = await rep.says("ｗｅｃｈａｔ")
    assert "70.00 (WeChat Pay) from Star Shop South" in said
    assert [(c.amount, c.method) for c in await collections_in(harness.db)] == [
        (Decimal("300.00"), CASH),
        (Decimal("70.00"), WECHAT),
    ]


async def test_the_question_survives_a_restart(
    api: FakeBotApi, db: Database, clock: FixedClock, settings: Settings
) -> None:
    await acme_company(api, db, clock.now())
    async with Harness(api, db, clock, settings) as first:
        rep = first.person(2001, "Li")
        assert "I don't know the payment method paypal" in await rep.says("/collect Acme: 500 paypal R-9")
    async with Harness(api, db, clock, settings) as second:
        rep = second.person(2001, "Li")
        [asked] = await rep.press("Alipay")  # Acme owes nothing: the excess is confirmed first
        assert "Acme Trading owes nothing; all 500.00 will be kept as credit" in asked.plain_text()
    async with Harness(api, db, clock, settings) as third:  # and the question survives a restart too
        rep = third.person(2001, "Li")
        [recorded] = await rep.press("Confirm")
        assert "500.00 (Alipay) from Acme Trading" in recorded.plain_text()
        assert "Receipt no. R-9" in recorded.plain_text()
    [collection] = await collections_in(db)
    assert (collection.method, collection.receipt_no) == (ALIPAY, "R-9")
    assert not api.refused_calls()


async def test_the_guided_flow_offers_every_method(harness: Harness) -> None:
    await setup(harness)
    rep = harness.person(2001, "Li")
    await rep.send("/collect")
    await rep.send("鑫源建材")
    assert "How was it paid?" in await rep.says("800")
    assert rep.last.button_texts() == ALL_BUTTONS
    [asked] = await rep.press("Card / POS")
    assert "800.00 (card) from 鑫源建材. Receipt number?" in asked.plain_text()
    [recorded] = await rep.press("Skip")
    assert "Paid by card: nothing to hand in." in recorded.plain_text()
    [collection] = await collections_in(harness.db)
    assert collection.method == CARD and collection.handed_in_at == collection.received_at


# -- the export names the method -----------------------------------------------------------------------


async def test_the_export_names_each_method(harness: Harness) -> None:
    await setup(harness)
    rep = harness.person(2001, "Li")
    for text in ("/collect XY01: 500 微信", "/collect XY01: 200 alipay", "/collect XY01: 100 cash R-1"):
        await rep.send(text)
    manager = harness.person(5001, "Mia")
    await manager.send("/export 2026-11")
    book = open_book(harness.api.last(5001).file_bytes or b"")
    rows = records(book["Collections"])
    assert [(r["Method"].value, r["Held by rep"].value) for r in rows] == [
        ("WeChat Pay", "No"),
        ("Alipay", "No"),
        ("cash", "Yes"),
    ]  # yes/no in the export's language
    summary = summary_of(book)
    assert summary["Collected by WeChat Pay"] == 500 and summary["Collected by Alipay"] == 200
    assert summary["Collected in cash"] == 100 and summary["Of which still held by reps"] == 100
    zh = Translator("zh")
    assert [zh.gettext(LABELS[method]) for method in PaymentMethod] == [
        "现金",
        "银行转账",
        "支票",
        "微信支付",
        "支付宝",
        "刷卡",
    ]


# -- the upgrade ---------------------------------------------------------------------------------------

_COLLECTIONS = sa.table(
    "collections",
    sa.column("id", sa.Integer()),
    sa.column("rep_id", sa.Integer()),
    sa.column("customer_id", sa.Integer()),
    sa.column("amount", Money()),
    sa.column("method", sa.String()),
    sa.column("receipt_no", sa.String()),
    sa.column("received_at", UTCDateTime()),
    sa.column("handed_in_at", UTCDateTime()),
    sa.column("confirmed_by", sa.Integer()),
    sa.column("reverses_id", sa.Integer()),
    sa.column("recorded_by", sa.Integer()),
    sa.column("source_key", sa.String()),
    sa.column("created_at", UTCDateTime()),
)


def migration() -> ModuleType:
    path = Path(__file__).parent.parent / "bot/migrations/versions/2026_12_07_0018_payment_methods.py"
    spec = importlib.util.spec_from_file_location("migration_0018", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_upgrade_reads_method_words_as_the_bot_does() -> None:
    """Every word the upgrade corrects is read as the same method by the bot today."""
    step = migration()
    for method, words in step.ALIASES.items():
        for word in words:
            assert parse_method(word) == PaymentMethod(method), word
    assert set(step.ALIASES) == {m.value for m in PaymentMethod} - {"cash"}
    assert all(set(step.ALIASES[m.value]) <= set(ALIASES[m]) for m in PaymentMethod if m != CASH)


async def test_the_upgrade_corrects_methods_recorded_as_receipt_numbers(
    db: Database, database_url: str
) -> None:
    at = MONDAY_MORNING
    people = await factories.company(db, at)
    customer = await factories.customer(db, at, name="鑫源建材", rep=people.rep)
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0017")
    before = [  # (method, receipt, handed in, confirmed by finance, reverses)
        ("cash", "微信", None, None, None),  # 1 → WeChat, handed in automatically
        ("cash", "ＡｌｉＰａｙ", None, None, None),  # 2 → Alipay (full-width, any case)
        ("cash", "刷卡", at, people.finance.id, None),  # 3 → card; finance's confirmation kept
        ("cash", "R-1029", None, None, None),  # 4 a receipt number: unchanged
        ("cash", "paypal", None, None, None),  # 5 not a known method: unchanged
        ("cash", "汇款", None, None, None),  # 6 → transfer
        ("transfer", "微信", at, None, None),  # 7 not recorded as cash: unchanged
        ("cash", "微信", at, None, 1),  # 8 the reversal of 1 → WeChat too
        ("cash", "转账支票", None, None, None),  # 9 → cheque, still held
    ]
    async with db.transaction() as session:
        for n, (method, receipt, handed_in, confirmed, reverses) in enumerate(before, start=1):
            await session.execute(
                sa.insert(_COLLECTIONS).values(
                    id=n,
                    rep_id=people.rep.id,
                    customer_id=customer.id,
                    amount=Decimal("-500.00" if reverses else "500.00"),
                    method=method,
                    receipt_no=receipt,
                    received_at=at + timedelta(minutes=n),
                    handed_in_at=handed_in,
                    confirmed_by=confirmed,
                    reverses_id=reverses,
                    recorded_by=people.rep.id,
                    source_key=f"old:{n}",
                    created_at=at + timedelta(minutes=n),
                )
            )
    await asyncio.to_thread(command.upgrade, config, "heads")

    rows = {c.id: c for c in await collections_in(db)}
    after = {n: (c.method, c.receipt_no) for n, c in rows.items()}
    assert after == {
        1: (WECHAT, None),
        2: (ALIPAY, None),
        3: (CARD, None),
        4: (CASH, "R-1029"),
        5: (CASH, "paypal"),
        6: (TRANSFER, None),
        7: (TRANSFER, "微信"),
        8: (WECHAT, None),
        9: (CHEQUE, None),
    }
    assert rows[1].handed_in_at == rows[1].received_at and rows[1].confirmed_by is None
    assert rows[6].handed_in_at == rows[6].received_at
    assert rows[3].handed_in_at == at and rows[3].confirmed_by == people.finance.id
    assert rows[8].handed_in_at == at
    assert rows[4].handed_in_at is None and rows[5].handed_in_at is None and rows[9].handed_in_at is None
    async with db.reading() as session:
        entries = {
            e.entity_id: e
            for e in await session.scalars(
                select(AuditLog).where(AuditLog.action == "collection.method_corrected")
            )
        }
    assert sorted(entries) == [1, 2, 3, 6, 8, 9]
    assert entries[1].actor_id is None and entries[1].before == {
        "method": "cash",
        "receipt_no": "微信",
        "handed_in_at": None,
    }
    assert entries[1].after is not None and entries[1].after["method"] == "wechat"
    assert entries[1].after["handed_in_at"] == rows[1].received_at.isoformat()

    # Down again: the older code knows none of the new methods; they become transfers, audited.
    await asyncio.to_thread(command.downgrade, config, "0017")
    async with db.reading() as session:
        methods = dict((await session.execute(sa.select(_COLLECTIONS.c.id, _COLLECTIONS.c.method))).all())
        downgraded = set(
            await session.scalars(
                select(AuditLog.entity_id).where(AuditLog.action == "collection.method_downgraded")
            )
        )
    assert methods == {
        1: "transfer",
        2: "transfer",
        3: "transfer",
        4: "cash",
        5: "cash",
        6: "transfer",
        7: "transfer",
        8: "transfer",
        9: "cheque",
    }
    assert downgraded == {1, 2, 3, 8}
    await asyncio.to_thread(command.upgrade, config, "heads")


async def test_a_redelivered_collect_after_the_hand_in_says_finance_has_it(harness: Harness) -> None:
    """The same update again, after finance confirmed the cash: nothing new, and not "paid by transfer"."""
    await setup(harness)
    rep = harness.person(2001, "Li")
    update = harness.api.message(2001, "/collect 鑫源建材: 900 现金", queue=False)
    await harness.process_directly(update)
    assert "Held by you until finance confirms the hand-in." in rep.last.plain_text()
    finance = harness.person(6001, "Fay")
    await finance.send("/deposits")
    await finance.press("Confirm all Li Wei")
    await harness.process_directly(update)
    again = rep.last.plain_text()
    assert "900.00 (cash)" in again and again.endswith("Finance has confirmed the hand-in.")
    assert len(await collections_in(harness.db)) == 1
