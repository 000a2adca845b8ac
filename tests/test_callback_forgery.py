"""Forged and malformed button payloads: re-authorised on press, answered, never an exception.

Callback data comes from the user's Telegram client, so anyone can send any 64 bytes. Here
the rep Li (North) replays every button the bot showed to other people — Bob (a South rep)
about his customer, visit, collection, order and discount request; the director's summary;
finance's deposits — on one of her own messages, then sends malformed variants of every
registered prefix. Each press must be answered, write nothing, show Li nothing of Bob's,
and log no error.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from jobs.runner import run_job
from models import (
    Allocation,
    Approval,
    AuditLog,
    Collection,
    Complaint,
    Customer,
    DailyReport,
    Expense,
    Outbox,
    Receivable,
    SalesReturn,
    StockLine,
    User,
    Visit,
    WorkPlan,
    WorkPlanComment,
)
from tests import factories
from tests.conftest import ZONE
from tests.harness import Harness

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"
SNAPSHOT = (
    Allocation,
    Approval,
    AuditLog,
    Collection,
    Complaint,
    Customer,
    DailyReport,
    Expense,
    Outbox,
    Receivable,
    StockLine,
    User,
    Visit,
    WorkPlan,
    WorkPlanComment,
)
BOB_SECRETS = ("Theirs", "Bob South", "BOB-INV")


def registered_prefixes() -> set[str]:
    """``feature:verb`` of every CallbackQueryHandler pattern in handlers/ (grep, as a reviewer would)."""
    prefixes: set[str] = set()
    for path in HANDLERS.rglob("*.py"):
        for pattern in re.findall(r'pattern=r"\^([^"]+)"', path.read_text()):
            words = re.findall(r"[a-z]+", pattern.split(r"\d")[0].split("(")[0].split("[")[0])
            prefixes.add(":".join(words[:2]) if len(words) > 1 else words[0])
    return prefixes


async def snapshot(harness: Harness) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a button could write to, as plain values."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    async with harness.db.reading() as session:
        for model in SNAPSHOT:
            columns = [c.key for c in model.__mapper__.column_attrs]
            if model is User:  # seeing a user again notes the time; that is not a write by the button
                columns = [c for c in columns if c not in ("last_seen_at", "menu_hash", "first_seen_at")]
            rows = await session.scalars(select(model).order_by(model.id))
            state[model.__tablename__] = [tuple(getattr(row, c) for c in columns) for row in rows]
    return state


def payloads_shown(harness: Harness, *chats: int) -> set[str]:
    return {
        button["callback_data"]
        for chat in chats
        for message in harness.api.chat(chat)
        for row in message.buttons()
        for button in row
        if "callback_data" in button
    }


@pytest.fixture
async def bobs_world(harness: Harness) -> dict[str, Any]:
    """Bob's customer with an overdue invoice; Bob visits, collects, orders and asks a discount."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    mine = await factories.customer(harness.db, now, name="Mine", rep=people.rep, code="MINE")
    theirs = await factories.customer(harness.db, now, name="Theirs", rep=people.other_rep, code="THEIRS")
    receivable = await factories.receivable(
        harness.db,
        now,
        customer=theirs,
        amount="900",
        issued_on=date(2026, 9, 1),
        due_on=date(2026, 10, 1),
        invoice_no="BOB-INV-1",
    )
    bob = harness.person(2002, "Bob")
    others = {who: harness.person(who, "Someone") for who in (7001, 6001, 5001)}
    await bob.says("/customer Theirs")
    await bob.says("/customers")
    await bob.says("/overdue Theirs")
    await bob.says("/visit Theirs: talked about prices")
    await bob.says("/collect Theirs: 100 cash")
    await bob.says("/order Theirs: 100 BOB-INV-2")
    await bob.says("/discount Theirs: 5% big order")
    await bob.says("/return Theirs: 50 BOB-INV-1 damaged")  # approved by the director below
    await bob.says("/newcustomer Theirs Too")  # South has no manager: the director gets the report
    await bob.press("Skip")
    await bob.press("Skip")
    await bob.says("Skip")
    await bob.says("/report Problems: Theirs is short of stock")
    # Bob's expense claim: South has no manager, so the director gets it with Approve/Reject/Receipt.
    await bob.says("/expense 50 meals lunch at Theirs")
    # Bob's weekly plan: South has no manager, so the director gets it with ✅ Approve / 💬 Comment.
    await bob.says("/plan")
    await bob.press("🎯 Orders target")
    await bob.says("1000")
    await bob.press("🎯 Collections target")
    await bob.says("1000")
    await bob.press("✅ Submit")
    await bob.says("/complaint Theirs: complaint quality the caps leak")  # its Answer/On site/Resolve
    # The report digest: South has no manager, so Bob's report reaches the director with its buttons.
    await run_job(harness.db, "report_digest", harness.clock.now(), ZONE)
    await harness.deliver_pushes()  # the approval request reaches the director, with its buttons
    returned = next(m for m in harness.api.chat(7001) if "Return of goods" in m.plain_text())
    await others[7001].press("✅ Approve", message_id=returned.message_id)
    await harness.deliver_pushes()  # Bob hears of it, with the certificate's print buttons
    for who, command in (
        (7001, "/summary"),
        (7001, "/team"),
        (6001, "/deposits"),
        (5001, "/missing"),
        (7001, "/users"),
        (7001, "/overdue"),
        (7001, "/customers"),
    ):
        await others[who].says(command)
    li = harness.person(2001, "Li")
    await li.says("/help")
    async with harness.db.reading() as session:
        visit = await session.scalar(select(Visit.id))
        collection = await session.scalar(select(Collection.id))
        order = await session.scalar(select(Receivable.id).where(Receivable.invoice_no == "BOB-INV-2"))
        report = await session.scalar(select(DailyReport.id))
        prospect = await session.scalar(select(Customer.id).where(Customer.name == "Theirs Too"))
        returned_id = await session.scalar(select(SalesReturn.id))
        expense = await session.scalar(select(Expense.id))
        plan = await session.scalar(select(WorkPlan.id))
        complaint = await session.scalar(select(Complaint.id))
    return {
        "people": people,
        "mine": mine,
        "theirs": theirs,
        "receivable": receivable,
        "visit": visit,
        "collection": collection,
        "order": order,
        "report": report,
        "prospect": prospect,
        "return": returned_id,
        "expense": expense,
        "plan": plan,
        "complaint": complaint,
    }


async def press_as_li(harness: Harness, data: str, caplog: pytest.LogCaptureFixture) -> str:
    """Li presses a button carrying ``data`` under her newest message; returns what she was shown."""
    before = {m.message_id: m.edits for m in harness.api.chat(2001)}
    update = harness.api.callback(2001, harness.api.last(2001).message_id, data)
    await harness.settle(update)
    query_id = update["callback_query"]["id"]
    assert query_id in harness.api.callback_answers, f"{data!r} was not answered"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, f"{data!r} raised: {errors[0].getMessage()}"
    shown = [m.plain_text() for m in harness.api.chat(2001) if before.get(m.message_id) != m.edits]
    return "\n".join([*shown, harness.api.callback_answers[query_id].get("text") or ""])


async def test_every_button_shown_to_others_is_refused_to_a_rep(
    harness: Harness, bobs_world: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    payloads = payloads_shown(harness, 2002, 7001, 6001, 5001)
    prefixes = {":".join(p.split(":")[:2]) for p in payloads}
    assert {
        "visit:undo",
        "collect:undo",
        "order:start",
        "collect:start",
        "visit:start",
        "ret:pdf",
        "ret:png",
        "due:promise",
        "sum:rep",
        "dep:one",
        "appr:yes",
        "appr:no",
        "rpt:read",
        "rpt:comment",
        "pros:act",
        "pros:merge",
        "exp:undo",
        "exp:yes",
        "exp:no",
        "exp:rcpt",
        "plan:ok",
        "plan:cm",
        "plan:rm",
        "cmp:start",
        "cmp:ans",
        "cmp:site",
        "cmp:done",
    } <= prefixes, prefixes
    before = await snapshot(harness)
    for data in sorted(payloads):
        shown = await press_as_li(harness, data, caplog)
        for secret in BOB_SECRETS:
            assert secret not in shown, f"{data!r} showed Li {secret}: {shown!r}"
        assert await snapshot(harness) == before, f"{data!r} wrote something"


def forged(world: dict[str, Any]) -> list[str]:
    """Payloads naming Bob's things that no screen of Li's would show, per registered prefix."""
    theirs, receivable = world["theirs"].id, world["receivable"].id
    bob = world["people"].other_rep.id
    return [
        f"visit:start:{theirs}",
        f"visit:pick:{theirs}",
        f"visit:note:00ff:{theirs}",
        "visit:save:00ff",
        f"visit:undo:{world['visit']}",
        "visit:kind:visit",
        "visit:search",
        "visit:back",
        "visit:add:photo",
        "visit:due:7",
        "visit:topic:price",
        f"visit:here:00ff:{theirs}",  # check-in buttons: a location's or a photo's token, a customer
        f"visit:photo:00ff:{theirs}",
        "visit:nearme",
        "route:up:00ff:0",  # /route: a draft's token and a place in it
        "route:down:00ff:0",
        "route:page:00ff:1",
        "route:save:00ff",
        "route:auto:00ff",
        f"vedit:{world['visit']}",  # ✏️ Edit of Bob's visit (handlers/field/visit_edits.py)
        "vedit:f:notes",
        "vedit:t:price",
        "vedit:due:7",
        "vedit:nodue",
        "vedit:back",
        "vedit:done",
        f"collect:start:{theirs}",
        f"collect:pick:{theirs}",
        "collect:method:cash",
        "collect:skip",
        f"collect:undo:{world['collection']}",
        "collect:over:yes:1",
        "collect:over:no:1",
        f"ret:pdf:{world['return']}",
        f"ret:png:{world['return']}",
        f"ret:pick:{theirs}",
        f"ret:inv:{receivable}",
        "ret:inv:0",
        "ret:skip",
        f"order:start:{theirs}",
        f"order:pick:{theirs}:1",
        f"order:confirm:{receivable}",
        f"order:cancel:{theirs}",
        f"order:undo:{world['order']}",
        f"order:undo:{receivable}",
        f"reverse:yes:{world['collection']}",
        f"reverse:no:{world['collection']}",
        f"cust:card:{theirs}",
        f"cust:find:{theirs}:0",
        "cust:all:0",
        f"cust:photos:{theirs}",
        f"due:cust:{theirs}",
        f"due:inv:{theirs}:0",
        f"due:rep:{bob}:0",
        "due:all:0",
        f"due:promise:{receivable}",
        f"due:dispute:{receivable}",
        f"due:undispute:{receivable}",
        f"sum:rep:{bob}:t",
        f"sum:p:w:{world['people'].south.id}:0",
        "sum:team:0",
        "sum:miss:0",
        "sum:nudge",
        f"sum:photos:{bob}:m",
        "dep:page:0",
        f"dep:one:{bob}:0",
        f"dep:rep:{bob}:0:0",
        f"disc:pick:{theirs}:1",
        "appr:yes:1",
        "appr:no:1",
        "users:0",
        "invites:1",
        "invites:revoke:1:1",
        "apq:more:0",
        "apq:mine:0",  # /approvals' "Show more": Li's own requests only, nobody else's
        "invite:team:1:1",
        f"invite:team:1:{world['people'].south.id}",
        "invite:new:1",
        "report:start",
        "report:submit:1",
        "report:edit:1",
        "report:cancel:1",
        "report:day:2026-11-21",
        f"rpt:read:{world['report']}",
        f"rpt:comment:{world['report']}",
        "newc:skip:phone",
        "newc:skip:address",
        "newc:save",
        "newc:drop",
        f"pros:act:{world['prospect']}",
        f"pros:merge:{world['prospect']}",
        "pros:code",
        "pros:grade:A",
        f"pros:into:{theirs}",
        f"pros:do:{world['prospect']}:{theirs}",
        "pros:no",
        f"plan:ok:{world['plan']}:1",
        f"plan:cm:{world['plan']}",
        f"plan:rm:{theirs}",
        f"plan:add:{theirs}",
        "plan:tg:o",
        "plan:send",
        "plan:x",
        "plan:new:w",  # opens Li's own draft: the presses below reach it and still write nothing
        f"plan:add:{theirs}",
        "plan:send",
        "trip:end",  # asks Li for her own reading: she has no trip open
        "trip:skip",
        "trip:ok",
        f"trip:tog:{theirs}",
        f"trip:add:{theirs}",
        f"grd:apply:{theirs}:CA",
        f"exp:undo:{world['expense']}",
        f"exp:yes:{world['expense']}",
        f"exp:no:{world['expense']}",
        f"exp:rcpt:{world['expense']}",
        "exp:cat:meals",
        "exp:skip",
        f"cmp:start:{theirs}",
        f"cmp:pick:{theirs}",
        "cmp:kind:complaint",
        "cmp:tag:quality",
        f"cmp:show:{world['complaint']}",
        f"cmp:ans:{world['complaint']}",
        f"cmp:site:{world['complaint']}",
        f"cmp:done:{world['complaint']}",
        f"grd:more:{world['people'].south.id}:{theirs}",
    ]


def malformed(prefix: str) -> list[str]:
    return [prefix, f"{prefix}:x", f"{prefix}:1:2:3:4", f"{prefix}:{'9' * 20}", f"{prefix}:１２"]


JUNK = [
    "",
    ":",
    "::::",
    "x" * 64,
    "é" * 32,
    "🙂" * 16,
    "\x00" * 10,
    "<b>x</b>&",
    "visit",
    "sum:p:::",
    "sum:p:" + "w" * 20 + ":1:1",
    "due:rep:99999999999999999999:0",
    "dep:rep:1:1:99999999999999",
    "sum:rep:99999999999999999999:t",
    "cust:card:" + "9" * 54,
    "order:pick:0:0",
]


async def test_forged_and_malformed_payloads_are_answered_and_ignored(
    harness: Harness, bobs_world: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    prefixes = registered_prefixes()
    covered = {":".join(p.split(":")[:2]) for p in forged(bobs_world)}
    missing = {p for p in prefixes if not any(c == p or c.startswith(p + ":") for c in covered)}
    assert not missing, f"registered prefixes without a forged payload: {missing}"
    before = await snapshot(harness)
    for data in forged(bobs_world):
        shown = await press_as_li(harness, data, caplog)
        for secret in BOB_SECRETS:
            assert secret not in shown, f"{data!r} showed Li {secret}: {shown!r}"
        assert await snapshot(harness) == before, f"{data!r} wrote something"
    for data in JUNK + [m for p in sorted(prefixes) for m in malformed(p)]:
        data = data.encode()[:64].decode(errors="ignore")  # Telegram's bound
        shown = await press_as_li(harness, data, caplog)
        assert not any(secret in shown for secret in BOB_SECRETS), (data, shown)
    assert await snapshot(harness) == before


async def test_a_forged_undo_of_bobs_collection_leaves_it_standing(
    harness: Harness, bobs_world: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    async with harness.db.reading() as session:
        collection = await session.scalar(select(Collection).where(Collection.reverses_id.is_(None)))
        visit = await session.scalar(select(Visit))
    assert collection is not None and visit is not None
    shown = await press_as_li(harness, f"collect:undo:{collection.id}", caplog)
    assert "not yours" in shown or "not one of yours" in shown, shown
    shown = await press_as_li(harness, f"visit:undo:{visit.id}", caplog)
    assert shown.strip(), "a refused press says something"
    async with harness.db.reading() as session:
        reversals = await session.scalar(select(func.count()).where(Collection.reverses_id == collection.id))
        assert reversals == 0 and await session.get(Visit, visit.id) is not None
    # Bob himself still can (the refusal was about Li, not the button)
    bob_undo = next(d for d in payloads_shown(harness, 2002) if d.startswith("collect:undo:"))
    await harness.settle(harness.api.callback(2002, harness.api.last(2002).message_id, bob_undo))
    async with harness.db.reading() as session:
        reversals = await session.scalar(select(func.count()).where(Collection.reverses_id == collection.id))
    assert reversals == 1
