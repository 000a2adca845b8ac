"""Play people against the real bot: the Application long-polls the in-process fake Bot API over HTTP.

Like the tests' harness, waiting is exact: an action counts as done once the bot has confirmed
its update to the server and drained its update queue; pushes are sent by draining the outbox
at the moment the script chooses. Everything the bot shows goes into the :class:`Transcript`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.clock import FixedClock
from bot.config import Settings
from bot.db import Database
from bot.demo.company import Member
from bot.demo.transcript import Speaker, Transcript
from bot.devserver import FakeBotApi, SentMessage
from bot.devserver.running import RunningBot
from jobs.runner import run_job

SETTLE_TIMEOUT = 20.0


class DemoError(RuntimeError):
    """The scripted day could not go on (a button missing, the bot not answering)."""


class Driver(RunningBot):
    def __init__(
        self,
        api: FakeBotApi,
        db: Database,
        clock: FixedClock,
        settings: Settings,
        transcript: Transcript,
        people: list[Member],
        language_code: str,
        spotlight: set[int],
    ) -> None:
        super().__init__(api, db, clock, settings)
        self.transcript = transcript
        self.people = {m.telegram_id: m for m in people}
        self.spotlight = spotlight
        for member in people:
            first, *rest = member.name.split(maxsplit=1)
            api.add_user(
                member.telegram_id, first, last_name=rest[0] if rest else None, language_code=language_code
            )

    # -- time ---------------------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        return self.clock.local_now()

    def at(self, hour: int, minute: int = 0) -> None:
        local = self.clock.local_now().replace(hour=hour, minute=minute, second=0, microsecond=0)
        self.clock.set(local)

    # -- what the bot shows -------------------------------------------------------------------
    def _state(self) -> dict[tuple[int, int], int]:
        return {(chat, m.message_id): m.edits for chat, sent in self.api.sent.items() for m in sent}

    def _changed(self, before: dict[tuple[int, int], int]) -> list[tuple[SentMessage, bool]]:
        """Messages that appeared (False) or were edited (True) since ``before``: chat by chat in
        the order of the cast (pushes to several people go out concurrently, in no fixed order),
        each chat's oldest first."""
        cast = {telegram_id: index for index, telegram_id in enumerate(self.people)}
        chats = sorted(self.api.sent.items(), key=lambda item: cast.get(item[0], len(cast)))
        return [
            (m, (chat, m.message_id) in before)
            for chat, sent in chats
            for m in sent
            if before.get((chat, m.message_id)) != m.edits
        ]

    def speaker(self, telegram_id: int) -> Speaker:
        member = self.people[telegram_id]
        return Speaker(member.name, member.role)

    def _show(self, actor: int | None, changed: list[tuple[SentMessage, bool]]) -> list[SentMessage]:
        for message, edited in changed:
            if message.chat_id == actor:
                self.transcript.bot(message, edited=edited)
            else:
                self.transcript.push(
                    self.now,
                    self.speaker(message.chat_id),
                    message,
                    condensed=message.chat_id not in self.spotlight,
                )
        return [m for m, _ in changed if m.chat_id == actor]

    async def deliver(self) -> list[SentMessage]:
        """Send what the outbox holds now, and show it as pushes."""
        before = self._state()
        await self.deliver_pushes()
        changed = self._changed(before)
        self._show(None, changed)
        return [m for m, _ in changed]

    async def _settle(self, update: dict[str, Any], actor: int) -> list[SentMessage]:
        before = self._state()
        try:
            await self.settle(update, SETTLE_TIMEOUT)
        except TimeoutError as error:
            raise DemoError(f"the bot did not finish update {update['update_id']}") from error
        replies = self._show(actor, self._changed(before))
        await self.deliver()  # what the action queued for others (approvals, decisions)
        return replies

    # -- what people do -----------------------------------------------------------------------
    async def say(self, who: Member, text: str) -> list[SentMessage]:
        self.transcript.said(self.now, self.speaker(who.telegram_id), text)
        return await self._settle(self.api.message(who.telegram_id, text), who.telegram_id)

    async def share_location(self, who: Member, lat: float, lon: float) -> list[SentMessage]:
        self.transcript.shared_location(self.now, self.speaker(who.telegram_id), lat, lon)
        update = self.api.message(who.telegram_id, None, location=(lat, lon))
        return await self._settle(update, who.telegram_id)

    async def press(self, who: Member, data: str) -> list[SentMessage]:
        """Press the newest button whose callback data matches the regular expression ``data``."""
        pattern = re.compile(data)
        for message in reversed(self.api.chat(who.telegram_id)):
            if message.deleted:
                continue
            for button in (b for row in message.buttons() for b in row):
                if pattern.fullmatch(button.get("callback_data", "")):
                    self.transcript.pressed(self.now, self.speaker(who.telegram_id), button["text"])
                    update = self.api.callback(who.telegram_id, message.message_id, button["callback_data"])
                    return await self._settle(update, who.telegram_id)
        raise DemoError(f"{who.name} has no button matching {data!r}")

    async def job(self, name: str) -> None:
        outcome = await run_job(self.db, name, self.clock.now(), self.clock.zone)
        if not outcome.ran:
            raise DemoError(f"job {name} did not run: {outcome.reason}")
        self.transcript.job(self.now, name, outcome.pushes)
        await self.deliver()

    def refused(self) -> list[str]:
        """Calls the fake Telegram refused, other than its own state (blocked users, flood control)."""
        return [
            f"{c.method} {c.status} {c.description}"
            for c in self.api.refused_calls()
            if c.status not in (403, 429)
        ]
