"""The scheduled jobs: name, when they run, and what they do. Times are company-local and
configurable (``bot/services/company.py``); the names are what ``fieldbot jobs`` shows.

Each job's function is named by its module path (``"jobs.morning_plan:morning_plan"``) and imported
when it first runs: reading the catalogue (``fieldbot jobs list``, the schedule, a job's title in a
message) imports none of the jobs and what they use.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, time
from typing import TYPE_CHECKING

from bot.i18n import N_, Translator

if TYPE_CHECKING:
    from bot.services.company import CompanySettings
    from jobs.context import JobContext

JobFunction = Callable[["JobContext"], Awaitable[None]]
#: The days of the month the outstanding payments report runs (旬: the first, middle and last ten days).
OUTSTANDING_DAYS = (1, 11, 21)


@dataclass(frozen=True)
class JobSpec:
    name: str
    #: The job's function, or where to import it from (``"module:function"``).
    run: JobFunction | str
    working_days_only: bool
    description: str
    #: After this local time a missed run is not caught up (its pushes would be stale).
    catch_up_until: time

    #: ISO weekday the job is limited to (1 = Monday), if any.
    weekday: int | None = None
    #: Days of the month the job is limited to, if any.
    month_days: tuple[int, ...] = ()
    #: What people read for the job (English source, translated when shown): ``name`` is the keyword
    #: typed in ``/settings time JOB HH:MM`` and stays as it is.
    label: str = ""

    def function(self) -> JobFunction:
        """The job's function, imported the first time it is asked for."""
        if isinstance(self.run, str):
            module, _, name = self.run.partition(":")
            found: JobFunction = getattr(importlib.import_module(module), name)
            return found
        return self.run

    def title(self, t: Translator) -> str:
        """The job's name for people, in their language (its keyword when it has no label)."""
        return t.gettext(self.label) if self.label else self.name

    @property
    def days(self) -> str:
        """When it runs, for operators (``fieldbot jobs list``)."""
        if self.weekday is not None:
            return date(2026, 11, 22 + self.weekday).strftime("%As")  # 2026-11-23 is a Monday
        if self.month_days:
            return "day" + ("s " if len(self.month_days) > 1 else " ") + ",".join(map(str, self.month_days))
        return "working days" if self.working_days_only else "every day"

    def runs_on(self, day: date, company: CompanySettings) -> bool:
        if self.weekday is not None and day.isoweekday() != self.weekday:
            return False
        if self.month_days and day.day not in self.month_days:
            return False
        return company.is_working_day(day) or not self.working_days_only


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec(
            "morning_plan",
            "jobs.morning_plan:morning_plan",
            True,
            N_("each rep's plan: visits due, follow-ups, overdue money, missing report"),
            time(12, 0),
            label=N_("Morning plan"),
        ),
        JobSpec(
            "report_reminder",
            "jobs.report_nudges:report_reminder",
            True,
            N_("nudge reps whose daily report is not in"),
            time(21, 0),
            label=N_("Daily report reminder"),
        ),
        JobSpec(
            "report_digest",
            "jobs.report_digest:report_digest",
            True,
            N_("the day's reports and who is missing, to managers (the director: every team)"),
            time(23, 59),
            label=N_("Daily reports digest"),
        ),
        JobSpec(
            "overdue_followup",
            "jobs.overdue_followup:overdue_followup",
            False,
            N_("chase overdue receivables level by level"),
            time(23, 59),
            label=N_("Overdue follow-up"),
        ),
        JobSpec(
            "cash_handin",
            "jobs.cash_handin:cash_handin",
            True,
            N_("remind reps to hand cash and cheques to finance"),
            time(21, 0),
            label=N_("Cash hand-in reminder"),
        ),
        JobSpec(
            "weekly_outstanding",
            "jobs.weekly_outstanding:weekly_outstanding",
            False,
            N_("Mondays: outstanding payments by age, to reps, managers and finance"),
            time(21, 0),
            weekday=1,
            label=N_("Weekly outstanding payments"),
        ),
        JobSpec(
            "month_end",
            "jobs.month_end:month_end",
            False,
            N_("the 1st: last month's figures to the director and managers"),
            time(21, 0),
            month_days=(1,),
            label=N_("Month-end figures"),
        ),
        # Every day: a day off's collections are reported too (the push waits for the next working day).
        JobSpec(
            "collections_daily",
            "jobs.collections_daily:collections_daily",
            False,
            N_("the day's collections by rep and method, handed in or held, to finance"),
            time(23, 59),
            label=N_("Daily collections report"),
        ),
        JobSpec(
            "outstanding_report",
            "jobs.outstanding_report:outstanding_report",
            False,
            N_("the 1st, 11th and 21st: outstanding payments by customer and age, to finance and managers"),
            time(21, 0),
            month_days=OUTSTANDING_DAYS,
            label=N_("Outstanding payments report"),
        ),
        JobSpec(
            "grade_suggestions",
            "jobs.grade_suggestions:grade_suggestions",
            False,
            N_("the 1st: grade changes the last three months' sales suggest, to managers"),
            time(21, 0),
            month_days=(1,),
            label=N_("Grade suggestions"),
        ),
        JobSpec(
            "market_digest",
            "jobs.market_digest:market_digest",
            False,
            N_("Mondays: last week's market feedback by topic, to managers, the director and marketing"),
            time(21, 0),
            weekday=1,
            label=N_("Weekly market feedback digest"),
        ),
        # Every day: the job picks the plan coming due (Friday and Monday for the week; three days
        # before and on the monthly deadline). Not caught up after the 10:00 cutoff.
        JobSpec(
            "plan_reminder",
            "jobs.plan_reminders:plan_reminder",
            False,
            N_("remind reps whose weekly or monthly plan is coming due and not filed"),
            time(10, 0),
            label=N_("Work plan reminder"),
        ),
        JobSpec(
            "plan_missing",
            "jobs.plan_reminders:plan_missing",
            False,
            N_("on a plan's deadline day: who filed no plan, to managers (the director: reps without one)"),
            time(23, 59),
            label=N_("Missing work plans"),
        ),
        # Every day: the deadlines are calendar days (regulations part 3 art. 16); a push made on a day
        # off waits for the next working day.
        JobSpec(
            "complaint_clock",
            "jobs.complaint_clock:complaint_clock",
            False,
            N_("letters and complaints: the owner reminded, then the manager and the director"),
            time(21, 0),
            label=N_("Letters and complaints clock"),
        ),
        # Working days: a claim waits working days (2 to remind its approvers, 4 to go a level up).
        JobSpec(
            "expense_followup",
            "jobs.expense_followup:expense_followup",
            True,
            N_("expense claims nobody decided: the approvers reminded, then the next level up"),
            time(21, 0),
            label=N_("Expense claims follow-up"),
        ),
    )
}


def job_title(name: str, t: Translator) -> str:
    """The job called ``name`` as people read it, in their language (an unknown name as it is)."""
    spec = JOBS.get(name)
    return spec.title(t) if spec else name
