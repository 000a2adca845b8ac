"""Setting each user's Telegram command menu (``setMyCommands`` scoped to their chat)."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import select, update
from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.db import Database
from bot.menus import menu_for, menu_hash
from models import Role, User

log = logging.getLogger(__name__)


async def set_chat_menu(bot: Any, chat_id: int, role: Role, language: str) -> str | None:
    """Set the menu for one chat; returns its hash, or None if Telegram would not take it."""
    commands = [BotCommand(name, description) for name, description in menu_for(role, language)]
    try:
        await bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id))
    except (BadRequest, Forbidden) as error:
        log.info("menu for chat %s not set: %s", chat_id, error.message)
        return None
    return menu_hash(role, language)


async def clear_chat_menu(bot: Any, chat_id: int) -> None:
    try:
        await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id))
    except (BadRequest, Forbidden) as error:
        log.info("menu for chat %s not cleared: %s", chat_id, error.message)


async def sync_all_menus(bot: Any, db: Database) -> int:
    """At start-up: no menu for strangers, and the right one for every user whose menu is stale.

    Only users who have written to the bot are touched (Telegram has no chat
    for the others yet); their menu is set on their first message instead.
    Deactivated users lose theirs. Returns how many menus changed.
    """
    try:
        await bot.delete_my_commands(scope=BotCommandScopeDefault())
    except TelegramError as error:
        log.warning("could not clear the default menu: %s", error)
    async with db.reading() as session:
        rows = (
            await session.execute(
                select(User.id, User.telegram_id, User.role, User.language, User.menu_hash, User.active)
                .where(User.first_seen_at.is_not(None))
                .where(User.active | User.menu_hash.is_not(None))
            )
        ).all()
    changed: dict[str | None, list[int]] = defaultdict(list)
    for user_id, telegram_id, role, language, current, active in rows:
        if not active:
            await clear_chat_menu(bot, telegram_id)
            changed[None].append(user_id)
            continue
        language = language or "en"
        if current == menu_hash(role, language):
            continue
        new_hash = await set_chat_menu(bot, telegram_id, role, language)
        if new_hash is not None:
            changed[new_hash].append(user_id)
    if changed:
        async with db.transaction() as session:
            for new_hash, user_ids in changed.items():
                await session.execute(update(User).where(User.id.in_(user_ids)).values(menu_hash=new_hash))
    return sum(len(ids) for ids in changed.values())
