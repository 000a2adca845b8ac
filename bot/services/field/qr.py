"""QR codes per outlet: a printed code in the shop that opens the visit for that customer.

Each customer gets an opaque ``/start`` parameter (``customers.qr_token``): ``qr`` and 40 random
URL-safe characters, made the first time a sheet with the customer is printed and kept, so a
sheet printed again carries the same codes as the one already on the shop's wall. It is never
derived from the customer's code or id, so a photo of the sticker tells nobody which customer it
is. A manager renews a customer's code (``/qr renew``) to revoke a printed one: the old code then
opens nothing.

A code opens the visit only for a registered, active user who may log visits and whose scope
includes the customer (:func:`customer_for`); for anyone else it is exactly as if the code did not
exist (the handler gives an unknown code's answer), so a code reveals nothing to a stranger or to
another team's rep. The parameter is 42 characters, the invite links' tokens 32
(bot/services/people/invites.py), so ``/start`` tells the two apart by shape alone.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit
from bot.services.errors import Invalid, NotFound
from bot.services.field import customers
from bot.services.field.customers import CustomerRef, Resolution
from bot.services.people.access import Caller, Permission, require
from models import Customer, CustomerStatus, Team

PREFIX = "qr"
#: 30 random bytes: 40 URL-safe characters (Telegram allows 64 of ``A-Za-z0-9_-`` after ``?start=``).
TOKEN_BYTES = 30
PARAM = re.compile(rf"{PREFIX}[A-Za-z0-9_-]{{40}}")
#: The most codes one sheet sent in the chat holds; ``fieldbot export qr`` has no limit.
MAX_IN_CHAT = 300
ACTION_RENEW = "customer.qr_renew"


@dataclass(frozen=True)
class QrCode:
    """One customer's code on a sheet."""

    customer_id: int
    name: str
    token: str


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def is_param(text: str) -> bool:
    """Whether ``text`` has the shape of a QR start parameter (not whether one exists)."""
    return PARAM.fullmatch(text) is not None


def deep_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={token}"


async def _with_tokens(session: AsyncSession, rows: list[Customer]) -> list[QrCode]:
    """The customers' codes, giving one to each customer who has none yet."""
    codes = []
    for row in rows:
        if row.qr_token is None:
            token = new_token()
            await session.execute(
                update(Customer)
                .where(Customer.id == row.id, Customer.qr_token.is_(None))
                .values(qr_token=token)
                .execution_options(synchronize_session=False)
            )
            # Another process may have given it one meanwhile: print whichever is stored.
            stored = await session.scalar(select(Customer.qr_token).where(Customer.id == row.id))
            row_token = stored or token
        else:
            row_token = row.qr_token
        codes.append(QrCode(row.id, row.name, row_token))
    return codes


async def codes_in_scope(session: AsyncSession, caller: Caller) -> list[QrCode]:
    """``/qr``: every customer the caller may log visits for (a rep: their own), by name."""
    require(caller, Permission.LOG_VISIT)
    scope = customers.in_scope(caller) & (Customer.status != CustomerStatus.INACTIVE)
    count = len(list(await session.scalars(select(Customer.id).where(scope).limit(MAX_IN_CHAT + 1))))
    if count > MAX_IN_CHAT:
        raise Invalid(
            N_(
                "More than {count} customers: name one (/qr CUSTOMER), or ask the office for "
                "`fieldbot export qr --team TEAM`."
            ),
            count=MAX_IN_CHAT,
        )
    rows = list(await session.scalars(select(Customer).where(scope).order_by(Customer.name, Customer.code)))
    return await _with_tokens(session, rows)


async def code_for(session: AsyncSession, caller: Caller, text: str) -> Resolution | QrCode:
    """``/qr <customer>``: that customer's code, or the candidates when the text names several."""
    require(caller, Permission.LOG_VISIT)
    resolution = await customers.resolve_one(session, caller, text)
    if resolution.customer is None:
        return resolution
    row = await customers.get_in_scope(session, caller, resolution.customer.id)
    return (await _with_tokens(session, [row]))[0]


async def renew(session: AsyncSession, caller: Caller, text: str, *, now: datetime) -> Resolution | QrCode:
    """``/qr renew <customer>``: a new code for the customer; the printed one opens nothing any more."""
    require(caller, Permission.REVIEW_CUSTOMERS)
    resolution = await customers.resolve_one(session, caller, text)
    if resolution.customer is None:
        return resolution
    row = await customers.get_in_scope(session, caller, resolution.customer.id)
    had_code = row.qr_token is not None
    token = new_token()
    await session.execute(
        update(Customer)
        .where(Customer.id == row.id)
        .values(qr_token=token)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        actor_id=caller.id,
        action=ACTION_RENEW,
        entity="customer",
        entity_id=row.id,
        at=now,
        before={"had_code": had_code},
        after={"had_code": True},
    )
    return QrCode(row.id, row.name, token)


async def codes_for_export(session: AsyncSession, team: str | None) -> list[QrCode]:
    """``fieldbot export qr [--team T]``: the operator's whole scope, or one team's customers."""
    condition = Customer.status != CustomerStatus.INACTIVE
    if team is not None:
        team_id = await session.scalar(select(Team.id).where(Team.name == team))
        if team_id is None:
            raise NotFound(N_("There is no team called {name}."), name=team)
        condition = condition & (Customer.team_id == team_id)
    rows = list(
        await session.scalars(select(Customer).where(condition).order_by(Customer.name, Customer.code))
    )
    return await _with_tokens(session, rows)


async def customer_for(session: AsyncSession, caller: Caller | None, param: str) -> CustomerRef | None:
    """The customer whose code ``param`` is, if the caller may log a visit to them; else None.

    None alike for an unknown or renewed code, a customer out of the caller's scope or no longer
    worked, and a caller who logs no visits: the answer must not tell these apart.
    """
    if caller is None or not caller.can(Permission.LOG_VISIT) or not is_param(param):
        return None
    row = await session.scalar(
        select(Customer).where(
            Customer.qr_token == param,
            customers.in_scope(caller),
            Customer.status != CustomerStatus.INACTIVE,
        )
    )
    return CustomerRef.of(row) if row is not None else None
