"""/deposits: finance sees cash and cheques held by reps and confirms the hand-in."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from models import AuditLog, Collection, PaymentMethod
from tests import factories
from tests.harness import Harness


async def held_ids(harness: Harness) -> list[int]:
    async with harness.db.reading() as session:
        return list(
            await session.scalars(
                select(Collection.id).where(Collection.handed_in_at.is_(None)).order_by(Collection.id)
            )
        )


async def by_id(harness: Harness) -> dict[int, Collection]:
    async with harness.db.reading() as session:
        return {c.id: c for c in await session.scalars(select(Collection))}


async def test_finance_confirms_one_and_all_of_a_rep(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    acme = await factories.customer(harness.db, now, name="Acme Trading", rep=people.rep)
    muller = await factories.customer(harness.db, now, name="<Müller & Söhne>", rep=people.other_rep)
    for owing in (acme, muller):  # each owes more than is collected here (more would be asked first)
        await factories.receivable(
            harness.db,
            now,
            customer=owing,
            amount="5000.00",
            issued_on=now.date() - timedelta(30),
            due_on=now.date(),
        )
    li, bob = harness.person(2001, "Li"), harness.person(2002, "Bob")
    for text in (
        "/collect Acme: 100 cash R-1",
        "/collect Acme: 200",
        "/collect Acme: 300 cheque",
        "/collect Acme: 999 transfer",
        "/collect Acme: 50",
    ):
        await li.send(text)
    await li.press("Undo")  # the 50 in cash is taken back: it no longer counts as held
    await bob.send("/collect Müller: 1,000 cheque")
    ids = sorted(await by_id(harness))
    c100, c200, c300, transfer, c50, _reversal, bobs = ids

    assert "does not allow" in await li.says("/deposits")
    assert "does not allow" in await harness.person(5001, "Mia").says("/deposits")

    finance = harness.person(6001, "Fay")
    said = await finance.says("/deposits")
    assert "Cash and cheques held by reps: 4 · 1,600.00" in said
    assert "Bob South: 1 · 1,000.00" in said and "Li Wei: 3 · 600.00" in said
    assert said.index("Bob South") < said.index(f"#{bobs}") < said.index("Li Wei") < said.index(f"#{c100}")
    assert "<Müller & Söhne> · 1,000.00 cheque" in said and "100.00 cash · receipt R-1" in said
    assert f"#{transfer}" not in said and f"#{c50} " not in said
    assert finance.last.button_texts() == [
        f"✓ #{bobs} · 1,000.00",
        f"✓ #{c100} · 100.00",
        f"✓ #{c200} · 200.00",
        f"✓ #{c300} · 300.00",
        "✓ Confirm all Bob South · 1,000.00",
        "✓ Confirm all Li Wei · 600.00",
    ]

    [edited] = await finance.press(f"✓ #{c200} ")
    assert f"Confirmed #{c200} from Li Wei: 200.00." in edited.plain_text()
    assert "Li Wei: 2 · 400.00" in edited.plain_text() and f"#{c200} ·" not in edited.plain_text()
    rows = await by_id(harness)
    assert rows[c200].handed_in_at == harness.clock.now() and rows[c200].confirmed_by == people.finance.id

    # Li hands in another 70 after finance opened the list: "confirm all" covers what was shown.
    await li.send("/collect Acme: 70")
    newest = max(await by_id(harness))
    harness.clock.advance(timedelta(minutes=5))
    first = harness.api.press(6001, "Confirm all Li Wei")
    second = harness.api.press(6001, "Confirm all Li Wei")
    await harness.settle(second)
    answers = harness.api.callback_answers
    assert answers[first["callback_query"]["id"]]["text"] == "Confirmed."
    assert answers[second["callback_query"]["id"]]["text"] == "Already confirmed: nothing changed."
    assert "Confirmed 2 from Li Wei: 400.00." in finance.last.plain_text()
    # The undone 50 keeps an empty hand-in date but is not held (not listed, not confirmable).
    assert await held_ids(harness) == [c50, bobs, newest]
    rows = await by_id(harness)
    assert rows[c100].handed_in_at == rows[c300].handed_in_at == harness.clock.now()
    assert rows[transfer].confirmed_by is None and rows[transfer].method == PaymentMethod.TRANSFER
    async with harness.db.reading() as session:
        confirmations = await session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "deposit.confirm")
        )
    assert confirmations == 3

    # Pressing a confirmed collection's button again is a no-op that says so.
    stale = harness.api.callback(6001, finance.last.message_id, f"dep:one:{c100}:1")
    await harness.settle(stale)
    assert answers[stale["callback_query"]["id"]]["text"] == "Already confirmed: nothing changed."
    transfer_press = harness.api.callback(6001, finance.last.message_id, f"dep:one:{transfer}:1")
    await harness.settle(transfer_press)
    assert "needs no hand-in" in finance.last.plain_text()
    assert "was reversed: there is nothing to hand in" in await _press_data(
        harness, finance.last.message_id, f"dep:one:{c50}:1"
    )
    assert await held_ids(harness) == [c50, bobs, newest]

    # Li's undo is refused once finance has the money.
    li_undo = harness.api.callback(2001, li.chat[2].message_id, f"collect:undo:{c300}")
    await harness.settle(li_undo)
    assert "Finance has already confirmed" in li.last.plain_text()


async def _press_data(harness: Harness, message_id: int, data: str) -> str:
    await harness.settle(harness.api.callback(6001, message_id, data))
    return harness.api.last(6001).plain_text()


async def test_long_lists_page_and_empty_list(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    shop = await factories.customer(harness.db, now, name="S" * 200, rep=people.rep)
    async with harness.db.transaction() as session:
        session.add_all(
            [
                Collection(
                    rep_id=people.rep.id,
                    customer_id=shop.id,
                    amount=Decimal("1234567.89"),
                    method=PaymentMethod.CASH,
                    receipt_no="R" * 60,
                    received_at=now - timedelta(minutes=n),
                    recorded_by=people.rep.id,
                    source_key=f"seed:{n}",
                    created_at=now,
                )
                for n in range(20)
            ]
        )
    finance = harness.person(6001, "Fay")
    [listing] = await finance.send("/deposits")
    assert "20 · 24,691,357.80" in listing.plain_text()
    assert "1/3" in listing.button_texts() and "Next ›" in listing.button_texts()
    [page_two] = await finance.press("Next ›")
    assert "2/3" in page_two.button_texts() and len(page_two.text or "") < 4096
    first_on_page = page_two.button_texts()[0]
    [after] = await finance.press(first_on_page)
    assert "2/3" in after.button_texts() and "Li Wei: 19 ·" in after.plain_text()
    await finance.press("Confirm all Li Wei")
    async with harness.db.reading() as session:
        held = await session.scalar(
            select(func.count()).select_from(Collection).where(Collection.handed_in_at.is_(None))
        )
    assert held == 0
    assert "Nothing is waiting" in await finance.says("/deposits")


async def test_electronic_payments_are_never_waiting_for_a_hand_in(harness: Harness) -> None:
    """WeChat Pay, Alipay, card and transfer reach the company's account: /deposits lists only the
    cash and the cheque, and confirming an electronic one is refused as needing no hand-in."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    shop = await factories.customer(harness.db, now, name="鑫源建材", rep=people.rep)
    await factories.receivable(
        harness.db,
        now,
        customer=shop,
        amount="5000.00",  # owing more than paid here
        issued_on=now.date() - timedelta(30),
        due_on=now.date(),
    )
    li = harness.person(2001, "Li")
    for amount, method in (
        (100, "微信"),
        (200, "支付宝"),
        (300, "刷卡"),
        (400, "汇款 R-4"),
        (500, "现金"),
        (600, "支票"),
    ):
        await li.send(f"/collect 鑫源建材: {amount} {method}")
    rows = await by_id(harness)
    wechat, alipay, card, transfer, cash, cheque = sorted(rows)
    assert [rows[i].method for i in (wechat, alipay, card, transfer)] == [
        PaymentMethod.WECHAT,
        PaymentMethod.ALIPAY,
        PaymentMethod.CARD,
        PaymentMethod.TRANSFER,
    ]
    assert await held_ids(harness) == [cash, cheque]

    finance = harness.person(6001, "Fay")
    said = await finance.says("/deposits")
    assert "Cash and cheques held by reps: 2 · 1,100.00" in said and "Li Wei: 2 · 1,100.00" in said
    assert all(f"#{i} " not in said for i in (wechat, alipay, card, transfer))
    assert "needs no hand-in" in await _press_data(harness, finance.last.message_id, f"dep:one:{wechat}:1")
    await finance.press("Confirm all Li Wei")
    assert await held_ids(harness) == []
    assert [by.confirmed_by for by in (await by_id(harness)).values()] == [
        None,
        None,
        None,
        None,
        people.finance.id,
        people.finance.id,
    ]
