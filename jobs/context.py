"""What a job run sees: one transaction, the moment it runs for, and a way to queue pushes.

Pushes are queued :data:`PUSHES_PER_STATEMENT` at a time (in the order pushed: the outbox sends in
that order), and the rest when the job returns (:meth:`JobContext.flush`, called by the runner).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import outbox
from bot.services.calendar import next_allowed
from bot.services.company import CompanySettings
from bot.services.outbox import Buttons

#: Pushes queued by one ``INSERT`` (eight values each: well within what a statement may bind).
PUSHES_PER_STATEMENT = 500


@dataclass
class JobContext:
    job: str
    session: AsyncSession
    now: datetime  # UTC
    zone: ZoneInfo
    company: CompanySettings
    queued: int = 0  # pushes queued by this run (a key queued before does not count)
    _pending: list[dict[str, Any]] = field(default_factory=list)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    async def push(self, recipient_id: int, subject: str, text: str, buttons: Buttons | None = None) -> None:
        """Queue one push, keyed by job, recipient and subject (e.g. the local date or a level).

        It goes out now, or at the end of quiet hours / the next working day.
        """
        self._pending.append(
            outbox.row(
                recipient_id=recipient_id,
                job=self.job,
                dedup_key=f"{self.job}:{recipient_id}:{subject}",
                text=text,
                buttons=buttons,
                now=self.now,
                not_before=next_allowed(self.now, self.company, self.zone),
            )
        )
        if len(self._pending) >= PUSHES_PER_STATEMENT:
            await self.flush()

    async def flush(self) -> None:
        """Queue the pushes not queued yet."""
        self.queued += await outbox.enqueue_many(self.session, self._pending)
        self._pending.clear()
