"""Drive the real bot as people would: through the fake Bot API, over HTTP.

A :class:`Harness` runs the real ``Application`` (long polling, rate limiter,
handlers, services, database) against :class:`bot.devserver.FakeBotApi`.
A :class:`Person` types messages and presses buttons and gets back what the
bot showed them. Waiting is exact, not timed: an update counts as handled
once the bot has confirmed it to the server and its update queue is drained.
"""

from __future__ import annotations

from typing import Any

from telegram import Update

from bot.devserver import SentMessage
from bot.devserver.running import RunningBot
from bot.services.people import users

TOKEN = "4242:fieldbot-test-token"


class Harness(RunningBot):
    """The real bot against the fake Bot API, with people to act as."""

    def person(
        self,
        telegram_id: int,
        first_name: str,
        *,
        language_code: str | None = "en",
        username: str | None = None,
        last_name: str | None = None,
    ) -> Person:
        self.api.add_user(
            telegram_id, first_name, last_name=last_name, username=username, language_code=language_code
        )
        return Person(self, telegram_id)

    async def admin(self, telegram_id: int = 1001, name: str = "Ada Admin", **kwargs: Any) -> Person:
        """An admin made the way an operator makes one: ``fieldbot admin add``'s service."""
        person = self.person(telegram_id, name.split()[0], **kwargs)
        async with self.db.transaction() as session:
            await users.bootstrap_admin(session, telegram_id, name, self.clock.now())
        return person

    async def process_directly(self, update: dict[str, Any]) -> None:
        """Skip polling: hand the update straight to the Application (fast unit-style tests)."""
        await self.app.process_update(Update.de_json(update, self.app.bot))


class Person:
    """Someone chatting with the bot in their private chat."""

    def __init__(self, harness: Harness, telegram_id: int) -> None:
        self.harness = harness
        self.id = telegram_id

    @property
    def chat(self) -> list[SentMessage]:
        return self.harness.api.chat(self.id)

    @property
    def last(self) -> SentMessage:
        return self.harness.api.last(self.id)

    async def _after(self, update: dict[str, Any]) -> list[SentMessage]:
        before = {m.message_id: m.edits for m in self.chat}
        await self.harness.settle(update)
        return [m for m in self.chat if before.get(m.message_id) != m.edits]

    async def send(self, text: str, **kwargs: Any) -> list[SentMessage]:
        """Type ``text``; returns the bot messages that appeared or changed in answer."""
        return await self._after(self.harness.api.message(self.id, text, **kwargs))

    async def press(self, button_text: str, *, message_id: int | None = None) -> list[SentMessage]:
        return await self._after(self.harness.api.press(self.id, button_text, message_id=message_id))

    async def says(self, text: str, **kwargs: Any) -> str:
        """Send ``text`` and return the plain text of everything the bot answered."""
        return "\n".join(m.plain_text() for m in await self.send(text, **kwargs))
