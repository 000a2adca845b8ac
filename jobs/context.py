"""What a job run sees: one transaction, the moment it runs for, and a way to queue pushes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import outbox
from bot.services.calendar import next_allowed
from bot.services.company import CompanySettings
from bot.services.outbox import Buttons


@dataclass
class JobContext:
    job: str
    session: AsyncSession
    now: datetime  # UTC
    zone: ZoneInfo
    company: CompanySettings
    queued: int = 0

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    async def push(self, recipient_id: int, subject: str, text: str, buttons: Buttons | None = None) -> None:
        """Queue one push, keyed by job, recipient and subject (e.g. the local date or a level).

        It goes out now, or at the end of quiet hours / the next working day.
        """
        queued = await outbox.enqueue(
            self.session,
            recipient_id=recipient_id,
            job=self.job,
            dedup_key=f"{self.job}:{recipient_id}:{subject}",
            text=text,
            buttons=buttons,
            now=self.now,
            not_before=next_allowed(self.now, self.company, self.zone),
        )
        self.queued += int(queued)
