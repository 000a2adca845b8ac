"""The one door every update comes through.

``@action`` turns a small function of a :class:`Request` into a
python-telegram-bot callback. It recognises the sender, opens one database
transaction for the whole action, and sends the replies only after the
commit, so a user is never told "saved" about something that was not. A
:class:`ServiceError` rolls the action back and becomes a translated reply.
Strangers and deactivated users get one polite explanation and nothing else.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial, wraps
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Message, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.error import BadRequest, TelegramError

from bot import logs
from bot.i18n import N_, Translator, language_for
from bot.menus import menu_hash
from bot.runtime import Context
from bot.services.errors import ServiceError
from bot.services.people import users
from bot.services.people.access import Caller
from bot.services.people.users import Identity
from bot.telegram_menus import set_chat_menu
from handlers import errors
from models import Role

log = logging.getLogger(__name__)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
LAST_EDITS = "fieldbot.last_edits"
MAX_REMEMBERED_EDITS = 50
AfterCommit = Callable[[], Awaitable[None]]

STRANGER = N_(
    "Hello! This bot is for our company's sales team, and I don't know you yet.\n"
    "Ask your manager or the office for an invite link and open it: it brings you back "
    "here, registered."
)


@dataclass
class Reply:
    text: str
    markup: Markup | None = None
    edit: bool = False  # replace the pressed message instead of sending a new one


@dataclass
class Request:
    """One update being handled: who sent it, in what language, inside which transaction."""

    update: Update
    context: Context
    session: AsyncSession
    identity: Identity
    now: datetime
    t: Translator
    caller: Caller | None = None
    #: What ``prepare`` fetched before the transaction began (e.g. a downloaded file).
    prepared: object = None
    replies: list[Reply] = field(default_factory=list)
    after_commit: list[AfterCommit] = field(default_factory=list)
    toast: str | None = None

    @property
    def me(self) -> Caller:
        """The registered caller (``@action`` guarantees one unless ``registered=False``)."""
        assert self.caller is not None
        return self.caller

    @property
    def args(self) -> list[str]:
        return list(self.context.args or [])

    @property
    def user_data(self) -> dict[Any, Any]:
        """The sender's ``user_data`` (every update the bot handles has a sender)."""
        data = self.context.user_data
        assert data is not None
        return data

    @property
    def zone(self) -> ZoneInfo:
        """The company's time zone."""
        return self.context.runtime.clock.zone

    @property
    def text_after_command(self) -> str:
        """Everything typed after ``/command``, spaces kept (names may contain spaces)."""
        message = self.update.effective_message
        parts = ((message.text or "") if message else "").strip().split(maxsplit=1)
        return parts[1].strip() if len(parts) == 2 else ""

    @property
    def source_key(self) -> str:
        """The id of what caused this action: a redelivered update maps to the same key."""
        query = self.update.callback_query
        if query is not None:
            return f"cb:{query.id}"
        message = self.update.effective_message
        chat = self.update.effective_chat
        if message is not None and chat is not None:
            return f"msg:{chat.id}:{message.message_id}"
        return f"upd:{self.update.update_id}"

    def reply(self, text: str, markup: Markup | None = None) -> None:
        self.replies.append(Reply(text, markup))

    def edit(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        self.replies.append(Reply(text, markup, edit=True))


#: A handler may return a ConversationHandler state; ``@action`` passes it through.
Handler = Callable[[Request], Awaitable[object]]


def identity_of(update: Update) -> Identity | None:
    user = update.effective_user
    if user is None:
        return None
    return Identity(user.id, user.first_name, user.last_name, user.username, user.language_code)


Prepare = Callable[[Update, Context], Awaitable[object]]


def action(
    *, registered: bool = True, prepare: Prepare | None = None, heavy: bool = False, report: bool = False
) -> Callable[[Handler], Callable[[Update, Context], Any]]:
    """Wrap a handler: recognise the sender, run it in one transaction, reply after commit.

    ``prepare`` runs first, outside the transaction, for slow network work
    (downloading a file) that must not hold a database lock. The transaction is a
    short one (``Database.transaction(inline=True)``) unless ``heavy``: an action
    that writes in bulk (an import) keeps the database's thread, so other updates
    are served while its statements run. A ``report`` (a company summary, the
    overdue list) keeps the thread too, and its aggregates are planned for their
    parameters (``Database.transaction(report=True)``).
    """

    def decorate(handler: Handler) -> Callable[[Update, Context], Any]:
        name = f"{handler.__module__.removeprefix('handlers.')}.{handler.__qualname__}"

        @wraps(handler)
        async def callback(update: Update, context: Context) -> object:
            logs.bind_handler(name)
            identity = identity_of(update)
            if identity is None:
                return None
            runtime = context.runtime
            now = runtime.clock.now()
            stale_menu = False
            request: Request | None = None
            result: object = None
            prepared = await prepare(update, context) if prepare is not None else None
            try:
                async with runtime.db.transaction(inline=not (heavy or report), report=report) as session:
                    request = Request(
                        update,
                        context,
                        session,
                        identity,
                        now,
                        Translator(language_for(identity.language_code)),
                        prepared=prepared,
                    )
                    recognised = await users.recognise(session, identity, now)
                    if recognised is not None:
                        request.caller = recognised.caller
                        request.t = Translator(recognised.caller.language)
                        stale_menu = recognised.menu_hash != menu_hash(
                            recognised.caller.role, recognised.caller.language
                        )
                    if recognised is None and registered:
                        request.reply(request.t(STRANGER))
                    else:
                        result = await handler(request)
            except ServiceError as error:
                assert request is not None
                request.replies = [Reply(request.t(error.message, **error.params))]
                request.after_commit.clear()
                result = None
            await finish(request, update, stale_menu)
            return result

        return callback

    return decorate


async def finish(request: Request, update: Update, stale_menu: bool) -> None:
    """Everything after the commit: the action is saved, so nothing here may undo or hide that.

    Failures are logged once with context and never raised: raising would lose a
    conversation's next state and have the error handler claim nothing was saved.
    """
    await deliver(request, update)
    if request.caller is not None and stale_menu:
        try:
            await refresh_menu(request)
        except Exception as error:  # cosmetic: the menu is refreshed on a later update
            log.warning("menu not refreshed%s: %s", errors.where(update), errors.one_line(error))
    for step in request.after_commit:
        try:
            await step()
        except Exception as error:
            await errors.after_commit_failed(update, request.context, _name(step), error)


async def deliver(request: Request, update: Update) -> None:
    """Send (or edit) the replies, and always answer a pressed button.

    A reply Telegram fails to take (5xx, timeout, dropped connection) is tried again
    a few times; if it still fails it is logged and the rest are not tried. It is
    not resent later: the action is saved, and a late answer out of context would confuse.
    Flood control (429) is the rate limiter's: it holds a reply as long as Telegram says,
    in line ahead of pushes, up to ``bot.ratelimit.REPLY_DEADLINE`` (five minutes). The
    replies go one after another, each once the last was taken, so they arrive in order.
    """
    query = update.callback_query
    chat = update.effective_chat
    for index, reply in enumerate(request.replies):
        method = "editMessageText" if reply.edit and query is not None else "sendMessage"
        try:
            if reply.edit and query is not None and isinstance(query.message, Message):
                await with_retries(partial(_edit, request, query.message, reply))
            elif chat is not None:
                await with_retries(
                    partial(request.context.bot.send_message, chat.id, reply.text, reply_markup=reply.markup)
                )
        except TelegramError as error:
            await errors.reply_not_delivered(
                update, request.context, method, error, unsent=len(request.replies) - index - 1
            )
            break
    if query is not None:
        try:
            await with_retries(partial(query.answer, request.toast))
        except BadRequest as error:  # answered too late (a slow reply): the spinner just stops
            log.info("button not answered%s: %s", errors.where(update, "answerCallbackQuery"), error)
        except TelegramError as error:
            await errors.reply_not_delivered(update, request.context, "answerCallbackQuery", error)


#: Pauses before each further try of a reply Telegram failed to take (a 429 is the rate limiter's:
#: it waits and tries again itself, and raises only once the reply's deadline is past).
REPLY_RETRY_DELAYS: tuple[float, ...] = (0.5, 2.0)


async def with_retries(call: Callable[[], Awaitable[object]]) -> None:
    """Run ``call``; again after a transient Telegram failure, a bounded number of times.

    A timeout may hide a message Telegram did deliver, so a retried reply can
    arrive twice; edits are safe (a repeated edit is "not modified").
    """
    for delay in (*REPLY_RETRY_DELAYS, None):
        try:
            await call()
            return
        except TelegramError as error:
            if delay is None or not errors.transient(error):
                raise
            log.debug("reply failed, trying again in %.1f s: %s", delay, error)
            await asyncio.sleep(delay)


def _name(step: AfterCommit) -> str:
    return getattr(step, "__qualname__", repr(step)).replace(".<locals>", "")


async def _edit(request: Request, message: Message, reply: Reply) -> None:
    """Edit the pressed message, unless that would change nothing (Telegram refuses such edits).

    The message a button press carries is as it was when pressed, so a double
    tap would compare against stale content: the last edit made to each
    message is remembered per chat as well.
    """
    assert reply.markup is None or isinstance(reply.markup, InlineKeyboardMarkup)
    markup_data = reply.markup.to_dict() if reply.markup else None
    fingerprint = hashlib.sha256(repr((reply.text, markup_data)).encode()).hexdigest()
    chat_data = request.context.chat_data
    last_edits: dict[int, str] = chat_data.setdefault(LAST_EDITS, {}) if chat_data is not None else {}
    pressed = message.reply_markup.to_dict() if message.reply_markup else None
    unchanged = message.text == _plain(reply.text) and markup_data == pressed
    if unchanged or last_edits.get(message.message_id) == fingerprint:
        return
    try:
        await message.edit_text(reply.text, reply_markup=reply.markup)
    except BadRequest as error:
        if "not modified" not in error.message.lower():
            raise
    last_edits[message.message_id] = fingerprint
    while len(last_edits) > MAX_REMEMBERED_EDITS:
        last_edits.pop(next(iter(last_edits)))


def _plain(html_text: str) -> str:
    """Rough plain text of an HTML reply, only to skip edits that change nothing."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


async def give_menu(context: Context, user_id: int, telegram_id: int, role: Role, language: str) -> None:
    """Set a user's command menu for their role, then remember that we did."""
    new_hash = await set_chat_menu(context.bot, telegram_id, role, language)
    if new_hash is None:
        return
    async with context.runtime.db.transaction(inline=True) as session:
        await users.remember_menu(session, user_id, new_hash)


async def refresh_menu(request: Request) -> None:
    caller = request.me
    await give_menu(request.context, caller.id, caller.telegram_id, caller.role, caller.language)
