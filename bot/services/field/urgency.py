"""Which reps' morning plans lead the wave: those with something that cannot wait.

A big company's morning plans take minutes to send at Telegram's ~30 messages a second
(docs/PERFORMANCE.md, "Morning wave"); the outbox sends in the order queued, so
``jobs/morning_plan.py`` queues these reps' plans first. A rep is urgent when they have

* money overdue at follow-up level 3 or higher (:data:`URGENT_LEVEL`: by default 30 days or more,
  when their manager is told; the days are the company's own, ``/settings followup``), open, not
  disputed and not under a promise to pay that has not yet fallen due; or
* an A-grade customer due for a visit today (:data:`URGENT_GRADE`, the most frequently visited).
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.company import CompanySettings
from bot.services.money.ledger import is_open
from bot.services.policy import due_for_visit, grade_rules
from models import Customer, CustomerStatus, Receivable

#: Overdue money from this follow-up level up makes a rep's plan urgent.
URGENT_LEVEL = 3
#: A customer of this grade due today makes a rep's plan urgent.
URGENT_GRADE = "A"


def urgent_overdue_days(company: CompanySettings) -> int | None:
    """Days overdue from which money is urgent: the first level at or above :data:`URGENT_LEVEL`
    (None if the company has fewer levels)."""
    days = [level.days_overdue for level in company.followup_levels if level.level >= URGENT_LEVEL]
    return min(days) if days else None


async def urgent_reps(
    session: AsyncSession, rep_ids: list[int], today: date, zone: ZoneInfo, company: CompanySettings
) -> set[int]:
    """The reps among ``rep_ids`` whose plan is urgent (two indexed queries for the whole sales force)."""
    if not rep_ids:
        return set()
    urgent: set[int] = set()
    days = urgent_overdue_days(company)
    if days is not None:
        urgent.update(
            await session.scalars(
                select(Receivable.rep_id)
                .where(
                    Receivable.rep_id.in_(rep_ids),
                    Receivable.due_on <= today - timedelta(days=days),
                    ~Receivable.disputed,
                    is_open(),
                    or_(Receivable.promise_date.is_(None), Receivable.promise_date < today),
                )
                .distinct()
            )
        )
    rules = await grade_rules(session)
    urgent.update(
        await session.scalars(
            select(Customer.rep_id)
            .where(
                Customer.rep_id.in_(rep_ids),
                Customer.grade == URGENT_GRADE,
                Customer.status != CustomerStatus.INACTIVE,
                due_for_visit(rules, zone, today),
            )
            .distinct()
        )
    )
    return urgent
