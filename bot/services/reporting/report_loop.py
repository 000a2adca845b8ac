"""Daily reports reach the supervisor and come back answered (regulations part 4, art. 29: every
working day the rep's report goes to the unit's supervisor).

Rules decided here:

* **Who reads what.** A rep reads their own reports, a manager their team's, the director and
  admins everyone's (``/reports``). Finance does not: a report is between a rep and the line above.
* **Who answers.** The rep's supervisors — the managers of the rep's team, the director and
  admins — may mark a report read and comment on it. A button press is checked again: a report
  outside the presser's reach is answered as one that does not exist.
* **The digest.** At the report deadline (the ``report_digest`` job, 19:00 by default) each
  manager gets one message with the team's reports of the day (each rep's lines, late ones
  marked) and who is missing. The director gets one compact line per managed team; a team with
  no manager who can be reached (and reps in no team) goes to the director in full instead, one
  message per team. The digest replaced the 20:30 ``missing_reports`` push: the digest already
  says who is missing, and a report filed later comes on its own (below), so a second list of the
  same names would tell the manager nothing new.
* **A report the digest will not carry** is pushed to the supervisors on its own when filed:
  one for a past day, one filed (or replaced) after that day's digest ran, or one filed on a day
  with no digest (a day off). Before the digest runs, a report simply waits for it.
  On PostgreSQL a filing and the digest take turns on a transaction-level advisory lock
  (:func:`hold_digest`): otherwise a report committed while the digest's transaction ran would be
  in neither (the digest's snapshot missed it, and its run was not yet visible to the filing).
  SQLite runs one writing transaction at a time already.
* **Read receipts** are per reader and per version: a report replaced after it was read shows
  as unread until it is marked again. Commenting marks the report read. The rep sees "read by"
  and every comment with ``/reports``; each comment is pushed to the rep as it is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, false, func, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from bot.db import insert_for
from bot.i18n import N_, Translator, escape
from bot.services import audit, company, outbox
from bot.services.calendar import next_allowed
from bot.services.errors import AccessDenied, Invalid, NotFound
from bot.services.outbox import Buttons
from bot.services.people.access import Caller, Permission, require
from bot.services.reporting import reports
from bot.services.reporting.reports import FIELD_LABELS, ReportHours, ReportLines, Submitted, stored_lines
from models import DailyReport, JobRun, ReportComment, ReportRead, Role, Team, User

DIGEST_JOB = "report_digest"
#: The advisory lock a filing (shared) and the digest (exclusive) take on PostgreSQL: the bytes of
#: "fbreport" as a signed 64-bit integer (the leader lock is "fieldbot").
DIGEST_LOCK_KEY = int.from_bytes(b"fbreport", "big", signed=True)
LATE_JOB = "report_late"
COMMENT_JOB = "report_comment"
#: A comment is an answer, not a second report.
MAX_COMMENT = 1000
#: Reports in one history (``/reports`` for a rep, ``/reports NAME``).
HISTORY_SIZE = 10
#: Telegram allows 4096 characters (UTF-16 units) once the markup is parsed; the budget counts the
#: markup too, with room to spare.
MESSAGE_BUDGET = 3800
#: Reports with buttons in one message: two buttons each, well under Telegram's 100.
MAX_REPORTS_SHOWN = 25
MISSING_SHOWN = 30
NAME_SHOWN = 40
BUTTON_NAME = 20
FIELD_SHOWN = 300  # each of a rep's lines, in a digest or a history
ONE_FIELD_SHOWN = 900  # in a message about one report
COMMENT_SHOWN = 300
MAX_CANDIDATES = 8

NO_SUCH_REPORT = N_("There is no such report.")
OWN_ONLY = N_("You can read only your own reports: /reports shows them.")


# -- what is shown --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    reader_id: int
    reader: str
    at: datetime  # local


@dataclass(frozen=True)
class Comment:
    author: str
    text: str
    at: datetime  # local


@dataclass(frozen=True)
class ReportView:
    id: int
    rep_id: int
    rep: str
    team_id: int | None
    team: str | None
    day: date
    submitted_at: datetime  # local
    late: bool
    lines: ReportLines
    summary: str
    #: Readers of this version of the report (a replacement is read anew).
    reads: tuple[Read, ...]
    comments: tuple[Comment, ...]

    def read_by(self, user_id: int) -> bool:
        return any(read.reader_id == user_id for read in self.reads)


@dataclass(frozen=True)
class TeamReports:
    """One team's reports of a day (``team_id`` None: reps in no team) and who is missing."""

    team_id: int | None
    team: str | None
    reports: tuple[ReportView, ...]
    missing: tuple[str, ...]

    @property
    def expected(self) -> int:
        return len(self.reports) + len(self.missing)

    @property
    def late(self) -> int:
        return sum(1 for report in self.reports if report.late)


@dataclass(frozen=True)
class DayReports:
    day: date
    working_day: bool
    teams: tuple[TeamReports, ...]

    def team(self, team_id: int | None) -> TeamReports | None:
        return next((team for team in self.teams if team.team_id == team_id), None)


@dataclass(frozen=True)
class RepRef:
    id: int
    name: str
    team: str | None


@dataclass(frozen=True)
class History:
    rep: RepRef
    reports: tuple[ReportView, ...]
    #: The day of the newest report older than those shown, if any.
    older: date | None


@dataclass(frozen=True)
class Marked:
    report: ReportView
    already: bool  # this reader had marked this version read before


@dataclass(frozen=True)
class Commented:
    report: ReportView
    text: str
    repeated: bool  # the same update again: stored and pushed the first time


@dataclass(frozen=True)
class Filed:
    submitted: Submitted
    #: The supervisors the report was pushed to on its own (it missed the day's digest).
    told: tuple[str, ...]


@dataclass(frozen=True)
class Supervisor:
    id: int
    name: str
    language: str


# -- scope ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """Whose reports: everyone, one team's reps, one rep, or nobody (a manager without a team)."""

    team_id: int | None = None
    rep_id: int | None = None
    nobody: bool = False

    def people(self, column: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        if self.nobody:
            return false()
        if self.rep_id is not None:
            return column == self.rep_id
        if self.team_id is not None:
            member = aliased(User)
            return column.in_(select(member.id).where(member.team_id == self.team_id))
        return true()


def own_only(caller: Caller) -> bool:
    """Whether the caller reads only their own reports (a rep); refuses those who read none."""
    require(caller, Permission.READ_REPORTS)
    return caller.role == Role.REP


def _scope_of(caller: Caller) -> _Scope:
    if own_only(caller):
        return _Scope(rep_id=caller.id)
    if caller.sees_all_teams:
        return _Scope()
    if caller.role == Role.MANAGER and caller.team_id is not None:
        return _Scope(team_id=caller.team_id)
    return _Scope(nobody=True)


def _may_answer(caller: Caller, team_id: int | None) -> bool:
    if caller.sees_all_teams:
        return True
    return caller.role == Role.MANAGER and caller.team_id is not None and caller.team_id == team_id


def _reachable() -> ColumnElement[bool]:
    return User.active & User.blocked_at.is_(None) & User.first_seen_at.is_not(None)


async def supervisors(session: AsyncSession, team_id: int | None) -> list[Supervisor]:
    """Who a rep of ``team_id`` reports to: the team's managers who can be reached; without one
    (or for a rep in no team), the directors."""
    candidates: list[ColumnElement[bool]] = [User.role == Role.DIRECTOR]
    if team_id is not None:
        candidates.insert(0, (User.role == Role.MANAGER) & (User.team_id == team_id))
    for who in candidates:
        rows = await session.execute(
            select(User.id, User.name, User.language).where(who, _reachable()).order_by(User.id)
        )
        found = [Supervisor(id_, name, language or "en") for id_, name, language in rows]
        if found:
            return found
    return []


# -- queries --------------------------------------------------------------------------------------


def _day_end(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


async def _views(
    session: AsyncSession,
    condition: ColumnElement[bool],
    zone: ZoneInfo,
    *,
    newest_first: bool = False,
    limit: int | None = None,
) -> list[ReportView]:
    """Reports matching ``condition`` with their rep, team, current readers and comments."""
    order = (
        (DailyReport.day.desc(), DailyReport.id.desc())
        if newest_first
        else (Team.name, User.name, DailyReport.id)
    )
    rows = (
        await session.execute(
            select(DailyReport, User.name, User.team_id, Team.name)
            .join(User, User.id == DailyReport.rep_id)
            .outerjoin(Team, Team.id == User.team_id)
            .where(condition)
            .order_by(*order)
            .limit(limit)
        )
    ).all()
    ids = [row[0].id for row in rows]
    reads: dict[int, list[tuple[int, str, datetime]]] = defaultdict(list)
    comments: dict[int, list[Comment]] = defaultdict(list)
    if ids:
        for report_id, reader_id, name, at in await session.execute(
            select(ReportRead.report_id, ReportRead.reader_id, User.name, ReportRead.read_at)
            .join(User, User.id == ReportRead.reader_id)
            .where(ReportRead.report_id.in_(ids))
            .order_by(ReportRead.read_at, ReportRead.id)
        ):
            reads[report_id].append((reader_id, name, at))
        for report_id, name, text, at in await session.execute(
            select(ReportComment.report_id, User.name, ReportComment.text, ReportComment.at)
            .join(User, User.id == ReportComment.author_id)
            .where(ReportComment.report_id.in_(ids))
            .order_by(ReportComment.at, ReportComment.id)
        ):
            comments[report_id].append(Comment(name, text, at.astimezone(zone)))
    views = []
    for report, rep, team_id, team in rows:
        current = tuple(
            Read(reader_id, name, at.astimezone(zone))
            for reader_id, name, at in reads[report.id]
            if at >= report.submitted_at
        )
        views.append(
            ReportView(
                report.id,
                report.rep_id,
                rep,
                team_id,
                team,
                report.day,
                report.submitted_at.astimezone(zone),
                report.late,
                stored_lines(report),
                report.summary,
                current,
                tuple(comments[report.id]),
            )
        )
    return views


async def _day(session: AsyncSession, scope: _Scope, day: date, zone: ZoneInfo) -> DayReports:
    reports = await _views(session, (DailyReport.day == day) & scope.people(DailyReport.rep_id), zone)
    working = (await company.load(session)).is_working_day(day)
    missing: list[tuple[int | None, str | None, str]] = []
    if working:
        filed = exists().where(DailyReport.rep_id == User.id, DailyReport.day == day)
        missing = [
            (team_id, team, name)
            for team_id, team, name in await session.execute(
                select(User.team_id, Team.name, User.name)
                .outerjoin(Team, Team.id == User.team_id)
                .where(
                    User.role == Role.REP,
                    User.active,
                    User.created_at < _day_end(day, zone),
                    scope.people(User.id),
                    ~filed,
                )
                .order_by(User.name, User.id)
            )
        ]
    teams: dict[int | None, tuple[str | None, list[ReportView], list[str]]] = {}
    for report in reports:
        teams.setdefault(report.team_id, (report.team, [], []))[1].append(report)
    for team_id, team, name in missing:
        teams.setdefault(team_id, (team, [], []))[2].append(name)
    ordered = sorted(
        teams.items(), key=lambda item: (item[0] is None, (item[1][0] or "").lower(), item[0] or 0)
    )
    return DayReports(
        day,
        working,
        tuple(
            TeamReports(team_id, team, tuple(found), tuple(absent))
            for team_id, (team, found, absent) in ordered
        ),
    )


async def company_day(session: AsyncSession, day: date, zone: ZoneInfo) -> DayReports:
    """Every team's reports of ``day`` and who is missing: for the digest job (no caller)."""
    return await _day(session, _Scope(), day, zone)


async def day_reports(session: AsyncSession, caller: Caller, day: date, zone: ZoneInfo) -> DayReports:
    """``/reports [DAY]``: the reports of ``day`` in the caller's scope and who is missing."""
    return await _day(session, _scope_of(caller), day, zone)


async def _rep(session: AsyncSession, caller: Caller, rep_id: int) -> RepRef:
    """A rep by id, re-checked against the caller's scope."""
    scope = _scope_of(caller)
    row = (
        await session.execute(
            select(User.id, User.name, Team.name)
            .outerjoin(Team, Team.id == User.team_id)
            .where(User.id == rep_id, scope.people(User.id))
        )
    ).one_or_none()
    if row is None:
        raise AccessDenied(OWN_ONLY if caller.role == Role.REP else N_("That person is not in your team."))
    return RepRef(*row)


async def find_rep(session: AsyncSession, caller: Caller, text: str) -> RepRef:
    """The one rep in the caller's scope that ``text`` names (@username, Telegram id, or the name
    or a part of it). Another team's rep is answered as one that does not exist."""
    if own_only(caller):
        raise AccessDenied(OWN_ONLY)
    cleaned = " ".join(text.split())
    scope = _scope_of(caller)
    people = (
        select(User.id, User.name, Team.name)
        .outerjoin(Team, Team.id == User.team_id)
        .where(User.role == Role.REP, scope.people(User.id))
        .order_by(User.active.desc(), User.name, User.id)
        .limit(MAX_CANDIDATES)
    )
    if cleaned.startswith("@"):
        clauses = [func.lower(User.username) == cleaned[1:].lower()]
    elif cleaned.isdecimal() and len(cleaned) <= 18:
        clauses = [User.telegram_id == int(cleaned)]
    else:
        folded = cleaned.lower()
        clauses = [func.lower(User.name) == folded, func.lower(User.name).contains(folded, autoescape=True)]
    for clause in clauses:
        found = [RepRef(*row) for row in await session.execute(people.where(clause))]
        if len(found) == 1:
            return found[0]
        if found:
            raise Invalid(
                N_("Several reps match {name}: {names}. Write more of the name."),
                name=cleaned[:NAME_SHOWN],
                names=", ".join(person.name for person in found),
            )
    raise NotFound(
        N_("I found no sales rep called {name} whose reports you can read."), name=cleaned[:NAME_SHOWN]
    )


async def history(session: AsyncSession, caller: Caller, rep_id: int, zone: ZoneInfo) -> History:
    """One rep's most recent reports, newest first (a rep: only their own)."""
    rep = await _rep(session, caller, rep_id)
    views = await _views(
        session, DailyReport.rep_id == rep.id, zone, newest_first=True, limit=HISTORY_SIZE + 1
    )
    older = views[HISTORY_SIZE].day if len(views) > HISTORY_SIZE else None
    return History(rep, tuple(views[:HISTORY_SIZE]), older)


async def report_on(
    session: AsyncSession, caller: Caller, rep_id: int, day: date, zone: ZoneInfo
) -> tuple[RepRef, ReportView | None]:
    """One rep's report of ``day`` (None if they filed none)."""
    rep = await _rep(session, caller, rep_id)
    views = await _views(session, (DailyReport.rep_id == rep.id) & (DailyReport.day == day), zone)
    return rep, (views[0] if views else None)


async def _answerable(session: AsyncSession, caller: Caller, report_id: int, zone: ZoneInfo) -> ReportView:
    """The report ``report_id`` if the caller may answer it; else, as for none, NotFound."""
    require(caller, Permission.ANSWER_REPORTS)
    views = await _views(session, DailyReport.id == report_id, zone)
    if not views or not _may_answer(caller, views[0].team_id):
        raise NotFound(NO_SUCH_REPORT)
    return views[0]


# -- answering ------------------------------------------------------------------------------------


async def _mark(session: AsyncSession, caller: Caller, report: ReportView, now: datetime) -> None:
    statement = insert_for(session, ReportRead).values(report_id=report.id, reader_id=caller.id, read_at=now)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["report_id", "reader_id"], set_={"read_at": statement.excluded.read_at}
        )
    )
    audit.record(
        session,
        actor_id=caller.id,
        action="report.read",
        entity="daily_report",
        entity_id=report.id,
        at=now,
        after={"reader_id": caller.id},
    )


async def mark_read(
    session: AsyncSession, caller: Caller, report_id: int, *, now: datetime, zone: ZoneInfo
) -> Marked:
    """Mark the report read by the caller (once per version of it)."""
    report = await _answerable(session, caller, report_id, zone)
    if report.read_by(caller.id):
        return Marked(report, already=True)
    await _mark(session, caller, report, now)
    [fresh] = await _views(session, DailyReport.id == report_id, zone)
    return Marked(fresh, already=False)


async def comment_target(session: AsyncSession, caller: Caller, report_id: int, zone: ZoneInfo) -> ReportView:
    """The report a supervisor is about to comment on (checked before they type)."""
    return await _answerable(session, caller, report_id, zone)


def _clean_comment(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise Invalid(N_("Write a few words for the rep."))
    if len(cleaned) > MAX_COMMENT:
        raise Invalid(
            N_("Your comment is {length} characters long; keep it under {limit}."),
            length=len(cleaned),
            limit=MAX_COMMENT,
        )
    return cleaned


async def add_comment(
    session: AsyncSession,
    caller: Caller,
    report_id: int,
    text: str,
    *,
    now: datetime,
    zone: ZoneInfo,
    source_key: str,
) -> Commented:
    """Store a supervisor's comment, mark the report read, and push the comment to its rep."""
    require(caller, Permission.ANSWER_REPORTS)
    done = await session.scalar(select(ReportComment).where(ReportComment.source_key == source_key))
    if done is not None:
        report = await _answerable(session, caller, done.report_id, zone)
        return Commented(report, done.text, repeated=True)
    cleaned = _clean_comment(text)
    report = await _answerable(session, caller, report_id, zone)
    row = ReportComment(report_id=report.id, author_id=caller.id, text=cleaned, at=now, source_key=source_key)
    session.add(row)
    await session.flush()
    audit.record(
        session,
        actor_id=caller.id,
        action="report.comment",
        entity="daily_report",
        entity_id=report.id,
        at=now,
        after={"comment_id": row.id, "text": cleaned},
    )
    if not report.read_by(caller.id):
        await _mark(session, caller, report, now)
    language = await session.scalar(select(User.language).where(User.id == report.rep_id))
    await outbox.enqueue(
        session,
        recipient_id=report.rep_id,
        job=COMMENT_JOB,
        dedup_key=f"{COMMENT_JOB}:{row.id}",
        text=comment_push(Translator(language or "en"), caller.name, report.day, cleaned),
        now=now,
        not_before=next_allowed(now, await company.load(session), zone),
    )
    [fresh] = await _views(session, DailyReport.id == report.id, zone)
    return Commented(fresh, cleaned, repeated=False)


# -- a report the digest will not carry -----------------------------------------------------------


async def hold_digest(session: AsyncSession, *, exclusive: bool) -> None:
    """Take the digest's turn (exclusive: the job) or a filing's (shared) until the transaction
    ends, on PostgreSQL; see the module doc."""
    if session.get_bind().dialect.name != "postgresql":
        return
    lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await session.execute(text(f"SELECT {lock}(:key)"), {"key": DIGEST_LOCK_KEY})


async def digest_left_out(session: AsyncSession, day: date, *, now: datetime, zone: ZoneInfo) -> bool:
    """Whether a report for ``day`` filed now misses the day's digest (see the module doc)."""
    if day < now.astimezone(zone).date():
        return True
    if not (await company.load(session)).is_working_day(day):
        return True
    ran = await session.scalar(
        select(JobRun.id).where(JobRun.job == DIGEST_JOB, JobRun.ran_for == day.isoformat())
    )
    return ran is not None


async def announce(
    session: AsyncSession, report_id: int, *, replaced: bool, now: datetime, zone: ZoneInfo
) -> tuple[str, ...]:
    """Push a report the day's digest will not carry to its rep's supervisors; their names.

    Keyed by the report's version: a replacement is pushed again, a redelivered update is not.
    """
    [report] = await _views(session, DailyReport.id == report_id, zone)
    await hold_digest(session, exclusive=False)
    if not await digest_left_out(session, report.day, now=now, zone=zone):
        return ()
    people = await supervisors(session, report.team_id)
    not_before = next_allowed(now, await company.load(session), zone)
    version = f"{report.submitted_at.astimezone(UTC):%Y%m%d%H%M%S%f}"
    for person in people:
        t = Translator(person.language)
        await outbox.enqueue(
            session,
            recipient_id=person.id,
            job=LATE_JOB,
            dedup_key=f"{LATE_JOB}:{report.id}:{person.id}:{version}",
            text=report_text(t, report, title=_pushed_title(t, report, replaced)),
            buttons=answer_buttons(t, report, viewer_id=person.id),
            now=now,
            not_before=not_before,
        )
    return tuple(person.name for person in people)


async def file_report(
    session: AsyncSession,
    caller: Caller,
    lines: ReportLines,
    *,
    now: datetime,
    hours: ReportHours,
    source_key: str,
    day: date | None = None,
) -> Filed:
    """Submit the caller's report (:func:`bot.services.reporting.reports.submit`) and, if the
    day's digest will not carry it, push it to their supervisors."""
    submitted = await reports.submit(
        session, caller, lines, now=now, hours=hours, source_key=source_key, day=day
    )
    told = await announce(session, submitted.report.id, replaced=submitted.replaced, now=now, zone=hours.zone)
    return Filed(submitted, told)


# -- texts ----------------------------------------------------------------------------------------


def length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _stamp(local: datetime, day: date) -> str:
    """A moment as seen from the report's day: its time that day, else date and time."""
    return f"{local:%H:%M}" if local.date() == day else f"{local:%Y-%m-%d %H:%M}"


def fit(
    head: Sequence[str],
    blocks: Sequence[str],
    more: Callable[[int], str],
    budget: int = MESSAGE_BUDGET,
    *,
    gap: str = "\n\n",
    unlisted: int = 0,
) -> tuple[str, int]:
    """``head`` (its lines), then as many ``blocks`` as fit in ``budget``, each after ``gap``, then
    ``more(n)`` for the ``n`` left out (those that did not fit, and ``unlisted`` ones never
    rendered); and how many blocks were shown."""
    used = length("\n".join(head))
    reserve = length(more(len(blocks) + unlisted)) + len(gap)
    shown: list[str] = []
    for index, block in enumerate(blocks):
        size = length(block) + len(gap)
        more_follows = index < len(blocks) - 1 or unlisted > 0
        if used + size + (reserve if more_follows else 0) > budget:
            break
        shown.append(block)
        used += size
    hidden = len(blocks) - len(shown) + unlisted
    return "".join(
        ["\n".join(head), *(gap + block for block in shown), *([gap + more(hidden)] if hidden else [])]
    ), len(shown)


def lines_html(t: Translator, lines: ReportLines, limit: int) -> list[str]:
    """The rep's own lines, one per field written, each cut to ``limit`` characters."""
    return [
        f"<b>{escape(t.gettext(FIELD_LABELS[name]))}:</b> {escape(_short(value, limit))}"
        for name, value in lines.fields().items()
        if value
    ]


def status_html(t: Translator, report: ReportView) -> str:
    """Submitted when, late or not, and who has read it."""
    parts = [t(N_("submitted {time}"), time=_stamp(report.submitted_at, report.day))]
    if report.late:
        parts.append(t(N_("⏰ late")))
    if report.reads:
        readers = ", ".join(
            f"{_short(read.reader, NAME_SHOWN)} {_stamp(read.at, report.day)}" for read in report.reads
        )
        parts.append(t(N_("✓ read by {readers}"), readers=readers))
    else:
        parts.append(t(N_("not read yet")))
    return " · ".join(parts)


def comments_html(t: Translator, report: ReportView, limit: int) -> list[str]:
    return [
        t(
            N_("💬 {author} {time}: {text}"),
            author=_short(comment.author, NAME_SHOWN),
            time=_stamp(comment.at, report.day),
            text=_short(comment.text, limit),
        )
        for comment in report.comments
    ]


def block_html(t: Translator, report: ReportView, heading: str, *, limit: int = FIELD_SHOWN) -> str:
    """One report in a list: a heading (the rep, or the day), its status, lines and comments."""
    return "\n".join(
        [
            f"<b>{escape(heading)}</b> · {status_html(t, report)}",
            *lines_html(t, report.lines, limit),
            *comments_html(t, report, COMMENT_SHOWN),
        ]
    )


def _rep_heading(t: Translator, report: ReportView, with_team: bool) -> str:
    """The rep's name, with their team if asked (plain text: escaped where it is used)."""
    name = _short(report.rep, NAME_SHOWN)
    if not (with_team and report.team):
        return name
    return t.gettext(N_("{name} ({team})")).format(name=name, team=_short(report.team, NAME_SHOWN))


def _team_name(t: Translator, team: TeamReports) -> str:
    return _short(team.team, NAME_SHOWN) if team.team is not None else t.gettext(N_("no team"))


def _names(t: Translator, names: Sequence[str]) -> str:
    shown = ", ".join(_short(name, NAME_SHOWN) for name in names[:MISSING_SHOWN])
    if len(names) > MISSING_SHOWN:
        shown += " " + t.gettext(N_("and {count} more")).format(count=len(names) - MISSING_SHOWN)
    return shown


def team_counts(t: Translator, team: TeamReports, working_day: bool) -> list[str]:
    """How many reported, how many late, and who is missing (on a working day)."""
    counts = t(N_("Reported: {reported} of {expected}"), reported=len(team.reports), expected=team.expected)
    if team.late:
        counts += " · " + t(N_("late: {count}"), count=team.late)
    lines = [counts]
    if team.missing:
        lines.append(t(N_("Not reported: {names}"), names=_names(t, team.missing)))
    elif working_day:
        lines.append(t(N_("Everyone has reported.")))
    return lines


def answer_buttons(t: Translator, report: ReportView, *, viewer_id: int, name: bool = False) -> Buttons:
    """✓ Mark read (unless this viewer has) and 💬 Comment, for one report."""
    suffix = f" · {_short(report.rep, BUTTON_NAME)}" if name else ""
    row = []
    if not report.read_by(viewer_id):
        row.append({"text": t.gettext(N_("✓ Mark read")) + suffix, "callback_data": f"rpt:read:{report.id}"})
    row.append({"text": t.gettext(N_("💬 Comment")) + suffix, "callback_data": f"rpt:comment:{report.id}"})
    return [row]


def _more_reports(t: Translator, day: date) -> Callable[[int], str]:
    return lambda count: t(
        N_("…and {count} more: /reports {day} NAME shows one rep's report."), count=count, day=day.isoformat()
    )


def team_digest(
    t: Translator, day: date, team: TeamReports, *, viewer_id: int, working_day: bool = True
) -> tuple[str, Buttons]:
    """One team's reports of the day for its supervisor: counts, who is missing, each report."""
    title = t(N_("📋 Daily reports · {team} · {day}"), team=_team_name(t, team), day=day.isoformat())
    head = [f"<b>{title}</b>", *team_counts(t, team, working_day)]
    listed = team.reports[:MAX_REPORTS_SHOWN]
    blocks = [block_html(t, report, _rep_heading(t, report, False)) for report in listed]
    text, shown = fit(head, blocks, _more_reports(t, day), unlisted=len(team.reports) - len(listed))
    buttons = [
        row for report in listed[:shown] for row in answer_buttons(t, report, viewer_id=viewer_id, name=True)
    ]
    return text, buttons


def _team_line(t: Translator, team: TeamReports, working_day: bool) -> str:
    return f"<b>{escape(_team_name(t, team))}</b>: " + " · ".join(team_counts(t, team, working_day))


def company_overview(t: Translator, day: date, teams: Sequence[TeamReports], working_day: bool = True) -> str:
    """The director's compact digest: one line per team, and how to read the reports."""
    title = t(N_("📋 Daily reports · {day}"), day=day.isoformat())
    blocks = [_team_line(t, team, working_day) for team in teams]
    tail = t(N_("Read them with /reports {day}, one rep's with /reports {day} NAME."), day=day.isoformat())
    text, _shown = fit(
        [f"<b>{title}</b>"],
        blocks,
        lambda count: t.ngettext("…and {count} more team.", "…and {count} more teams.", count, count=count),
        MESSAGE_BUDGET - length(tail) - 2,
        gap="\n",
    )
    return text + "\n\n" + tail


def day_text(t: Translator, reports: DayReports, *, viewer_id: int) -> tuple[str, Buttons]:
    """``/reports [DAY]`` for a manager or the director: one team as its digest; several teams as
    one line each, then the reports as they fit."""
    day = reports.day
    if not reports.teams:
        return (
            t(N_("No reports for {day}."), day=day.isoformat())
            if reports.working_day
            else t(N_("No reports for {day}: it is not a working day."), day=day.isoformat())
        ), []
    if len(reports.teams) == 1:
        return team_digest(t, day, reports.teams[0], viewer_id=viewer_id, working_day=reports.working_day)
    title = t(N_("📋 Daily reports · {day}"), day=day.isoformat())
    head = [f"<b>{title}</b>", *(_team_line(t, team, reports.working_day) for team in reports.teams)]
    every = [report for team in reports.teams for report in team.reports]
    listed = every[:MAX_REPORTS_SHOWN]
    blocks = [block_html(t, report, _rep_heading(t, report, True)) for report in listed]
    text, shown = fit(head, blocks, _more_reports(t, day), unlisted=len(every) - len(listed))
    buttons = [
        row for report in listed[:shown] for row in answer_buttons(t, report, viewer_id=viewer_id, name=True)
    ]
    return text, buttons


def _pushed_title(t: Translator, report: ReportView, replaced: bool) -> str:
    values = {"rep": _rep_heading(t, report, True), "day": report.day.isoformat()}
    if replaced:
        return t(N_("📋 Report replaced · {rep} · {day}"), **values)
    if report.late:
        return t(N_("📋 Late report · {rep} · {day}"), **values)
    return t(N_("📋 Report · {rep} · {day}"), **values)


def report_text(t: Translator, report: ReportView, *, title: str | None = None) -> str:
    """One report in full: status, the rep's lines, comments, then the records as submitted."""
    title = title or t(N_("📋 {rep} · {day}"), rep=_rep_heading(t, report, True), day=report.day.isoformat())
    head = [
        f"<b>{title}</b>",
        status_html(t, report),
        *lines_html(t, report.lines, ONE_FIELD_SHOWN),
        *comments_html(t, report, COMMENT_SHOWN),
    ]
    records = [escape(line) for line in report.summary.splitlines()]
    if not records:
        return "\n".join(head)
    label = "<b>" + t(N_("Records as submitted:")) + "</b>"
    text, _shown = fit(
        [*head, "", label],
        records,
        lambda count: t.ngettext("…and {count} more line", "…and {count} more lines", count, count=count),
        gap="\n",
    )
    return text


def history_text(t: Translator, found: History, *, own: bool) -> str:
    """A rep's latest reports, newest first, each with its status and comments."""
    title = (
        t(N_("📋 Your reports"))
        if own
        else t(N_("📋 Reports of {rep}"), rep=_short(found.rep.name, NAME_SHOWN))
    )
    if not found.reports:
        return f"<b>{title}</b>\n" + (t(N_("No reports yet.")) if own else t(N_("No reports from them yet.")))
    blocks = [block_html(t, report, report.day.isoformat()) for report in found.reports]
    if found.older is not None:
        older = t(N_("Older reports: /reports {day} shows one day."), day=found.older.isoformat())
    else:
        older = ""
    text, _shown = fit(
        [f"<b>{title}</b>"],
        blocks,
        lambda count: t(N_("…and {count} more: /reports DATE shows one day."), count=count),
        MESSAGE_BUDGET - length(older) - 2,
    )
    return text + ("\n\n" + older if older else "")


def comment_push(t: Translator, author: str, day: date, text: str) -> str:
    """What the rep receives when their report is commented on."""
    return "\n".join(
        [
            t(N_("💬 {author} commented on your report for {day}:"), author=author, day=day.isoformat()),
            escape(text),
            "",
            t(N_("/reports shows your reports, who read them and the comments.")),
        ]
    )
