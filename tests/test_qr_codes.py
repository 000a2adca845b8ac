"""QR codes per outlet (issue 21): printed by /qr and `fieldbot export qr`, scanned to open the visit.

The code's deep link carries an opaque start parameter: it opens the guided visit for its
customer for a user whose scope includes that customer, and for anyone else it is exactly an
unknown code.
"""

from __future__ import annotations

import asyncio
import io
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
import segno
from PIL import Image
from sqlalchemy import select

from bot.cli import main
from bot.db import Database
from bot.devserver import FakeBotApi
from bot.services.field import qr, qr_sheet
from models import AuditLog, Customer, Visit, VisitKind
from tests import factories
from tests.harness import TOKEN, Harness, Person

BOT = "fieldbot_test_bot"  # the fake Bot API's getMe


async def token_of(db: Database, customer: Customer) -> str | None:
    async with db.reading() as session:
        return await session.scalar(select(Customer.qr_token).where(Customer.id == customer.id))


def unknown_param() -> str:
    return qr.PREFIX + secrets.token_urlsafe(qr.TOKEN_BYTES)


@pytest.fixture
async def company(harness: Harness) -> factories.Company:
    return await factories.company(harness.db, harness.clock.now())


@pytest.fixture
async def acme(harness: Harness, company: factories.Company) -> Customer:
    return await factories.customer(
        harness.db, harness.clock.now(), name="Acme Trading", code="ACME-77", rep=company.rep
    )


# -- reading a code back from the sheet's pixels --------------------------------------------------


def read_code(png: bytes, index: int = 0) -> list[list[bool]]:
    """The modules of the ``index``-th code on a page, read from the pixels (no layout assumed
    beyond the page's grid of cells): the top-left finder pattern gives the corner and the module
    size, the top-right one the symbol's width."""
    page = Image.open(io.BytesIO(png)).convert("L")
    cell_w = (qr_sheet.PAGE[0] - 2 * qr_sheet.MARGIN) // qr_sheet.COLUMNS
    cell_h = (qr_sheet.PAGE[1] - 2 * qr_sheet.MARGIN) // qr_sheet.ROWS
    left = qr_sheet.MARGIN + (index % qr_sheet.COLUMNS) * cell_w
    top = qr_sheet.MARGIN + (index // qr_sheet.COLUMNS) * cell_h

    def dark(x: int, y: int) -> bool:
        return page.getpixel((x, y)) < 128  # type: ignore[operator]

    y0 = next(y for y in range(top, top + cell_h) if any(dark(x, y) for x in range(left, left + cell_w)))
    x0 = next(x for x in range(left, left + cell_w) if dark(x, y0))
    run = next(x for x in range(x0, left + cell_w) if not dark(x, y0)) - x0
    scale = run // 7  # the finder pattern's top edge is 7 modules
    x1 = max(x for x in range(left, left + cell_w) if dark(x, y0))
    size = (x1 - x0 + 1) // scale
    return [
        [dark(x0 + column * scale + scale // 2, y0 + row * scale + scale // 2) for column in range(size)]
        for row in range(size)
    ]


def modules_of(link: str) -> list[list[bool]]:
    return [[bool(cell) for cell in row] for row in segno.make(link, error="m", micro=False).matrix]


# -- printing -------------------------------------------------------------------------------------


async def test_a_manager_prints_a_customers_code_and_the_param_hides_the_customer(
    harness: Harness, company: factories.Company, acme: Customer
) -> None:
    manager = harness.person(5001, "Mia")
    await manager.send("/qr Acme")
    sheet = harness.api.last(5001)
    assert sheet.kind == "document" and sheet.file_name == "qr-code.pdf"
    assert sheet.file_bytes is not None and sheet.file_bytes.startswith(b"%PDF-")
    assert "QR code for Acme Trading" in sheet.plain_text()
    token = await token_of(harness.db, acme)
    assert token is not None and qr.is_param(token) and len(token) <= 64
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert "acme" not in token.lower() and "ACME-77" not in token and "Acme Trading" not in token
    # Printed again, the code is the same: the sticker already on the wall keeps working.
    await manager.send("/qr ACME-77")
    assert await token_of(harness.db, acme) == token


async def test_a_rep_prints_their_own_customers_only(
    harness: Harness, company: factories.Company, acme: Customer
) -> None:
    now = harness.clock.now()
    await factories.customer(harness.db, now, name="South Shop", code="SOUTH-1", rep=company.other_rep)
    li = harness.person(2001, "Li")
    await li.send("/qr")
    sheet = harness.api.last(2001)
    assert sheet.kind == "document" and sheet.file_bytes is not None and sheet.file_bytes[:5] == b"%PDF-"
    assert "QR codes: 1 customer." in sheet.plain_text()
    said = await li.says("/qr South Shop")
    assert "No customer matches" in said and "SOUTH-1" not in said
    assert "does not allow" in await li.says("/qr renew Acme")  # renewing is the manager's
    finance = harness.person(6001, "Fay")
    assert "does not allow" in await finance.says("/qr Acme")


# -- scanning -------------------------------------------------------------------------------------


async def scan(person: Person, token: str) -> str:
    return await person.says(f"/start {token}")


async def test_scanning_the_code_opens_the_visit_for_that_customer(
    harness: Harness, company: factories.Company, acme: Customer
) -> None:
    li = harness.person(2001, "Li")
    await li.send("/qr Acme")
    token = await token_of(harness.db, acme)
    assert token is not None
    said = await scan(li, token)
    assert "Customer: Acme Trading (ACME-77)" in said and "What kind of contact was it?" in said
    await li.press("On-site visit")
    await li.send("Checked the shelf, restocked glue")
    await li.press("✅ Save")
    assert "Visit saved: Acme Trading" in li.last.plain_text()
    async with harness.db.reading() as session:
        visit = await session.scalar(select(Visit))
    assert visit is not None
    assert (visit.customer_id, visit.kind, visit.notes) == (
        acme.id,
        VisitKind.VISIT,
        "Checked the shelf, restocked glue",
    )


async def test_scanning_in_chinese(harness: Harness, company: factories.Company, acme: Customer) -> None:
    li = harness.person(2001, "Li", language_code="zh")
    await li.says("/lang zh")
    await li.send("/qr Acme")
    assert "二维码" in harness.api.last(2001).plain_text()
    token = await token_of(harness.db, acme)
    assert token is not None
    said = await scan(li, token)
    assert "Acme Trading (ACME-77)" in said and "客户" in said
    refused = await scan(li, unknown_param())
    assert "这个二维码" in refused


async def test_a_code_is_an_unknown_code_for_anyone_outside_its_scope(
    harness: Harness, company: factories.Company, acme: Customer
) -> None:
    manager = harness.person(5001, "Mia")
    await manager.send("/qr Acme")
    token = await token_of(harness.db, acme)
    assert token is not None

    bob = harness.person(2002, "Bob")  # South's rep: Acme is North's
    as_unknown = await scan(bob, unknown_param())
    said = await scan(bob, token)
    assert said == as_unknown and "does not open a visit for you" in said
    for secret in ("Acme", "ACME-77"):
        assert secret not in said

    stranger = harness.person(4001, "Sam")
    as_unknown = await scan(stranger, unknown_param())
    said = await scan(stranger, token)
    assert said == as_unknown and "invite link is not valid" in said
    assert "Acme" not in said
    async with harness.db.reading() as session:
        assert await session.scalar(select(Visit.id)) is None

    # Invite links still work beside the codes (their tokens have another shape).
    admin = await harness.admin()
    await admin.send("/invite rep North")
    link = re.search(r"start=([A-Za-z0-9_-]+)", harness.api.last(1001).plain_text())
    assert link is not None and not qr.is_param(link.group(1))
    assert "registered as" in await harness.person(4002, "Neo").says(f"/start {link.group(1)}")


async def test_a_renewed_code_revokes_the_printed_one(
    harness: Harness, company: factories.Company, acme: Customer
) -> None:
    manager = harness.person(5001, "Mia")
    await manager.send("/qr Acme")
    old = await token_of(harness.db, acme)
    await manager.send("/qr renew Acme")
    assert "the code printed before opens nothing" in harness.api.last(5001).plain_text()
    new = await token_of(harness.db, acme)
    assert old is not None and new is not None and new != old
    li = harness.person(2001, "Li")
    assert "does not open a visit for you" in await scan(li, old)
    assert "Customer: Acme Trading" in await scan(li, new)
    async with harness.db.reading() as session:
        renewals = list(await session.scalars(select(AuditLog).where(AuditLog.action == qr.ACTION_RENEW)))
    assert [(entry.entity, entry.entity_id) for entry in renewals] == [("customer", acme.id)]


# -- the command line -----------------------------------------------------------------------------


async def test_fieldbot_export_qr_writes_a_sheet_whose_codes_read_back_as_the_links(
    db: Database,
    database_url: str,
    api: FakeBotApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    people = await factories.company(db, now)
    acme = await factories.customer(db, now, name="Acme Trading", code="ACME-77", rep=people.rep)
    chinese = await factories.customer(db, now, name="上海华联超市", code="SH-01", rep=people.rep)
    await factories.customer(db, now, name="South Shop", code="SOUTH-1", rep=people.other_rep)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", database_url)
    monkeypatch.setenv("FIELDBOT_TOKEN", TOKEN)
    monkeypatch.setenv("FIELDBOT_API_URL", api.base_url)

    assert await asyncio.to_thread(main, ["export", "qr", "--team", "North", "--out", "north.png"]) == 0
    out = capsys.readouterr().out
    assert "2 customers, 1 page" in out and f"@{BOT}" in out
    png = (tmp_path / "north.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # Sorted by name: Acme first, then 上海华联超市; each code reads back as its customer's link.
    for index, customer in enumerate((acme, chinese)):
        token = await token_of(db, customer)
        assert token is not None
        assert read_code(png, index) == modules_of(f"https://t.me/{BOT}?start={token}")
    assert read_code(png, 0) != read_code(png, 1)
    assert qr_sheet._font_path() is not None  # 上海华联超市 is drawn in the charts' CJK font

    assert await asyncio.to_thread(main, ["export", "qr"]) == 0
    assert "3 customers" in capsys.readouterr().out
    assert (tmp_path / "fieldbot-qr.pdf").read_bytes().startswith(b"%PDF-")
    assert await token_of(db, acme) is not None  # the same code as on the PNG: kept, not remade

    assert await asyncio.to_thread(main, ["export", "qr", "--team", "Nowhere"]) == 1
    assert "no team called Nowhere" in capsys.readouterr().err
