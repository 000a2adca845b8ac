"""/mute (anyone: pause pushes) and /settings (admins: job times, quiet hours, working days, policy)."""

from __future__ import annotations

from telegram.ext import Application, CommandHandler, filters

from bot.i18n import N_, Translator, escape
from bot.services import company, users
from bot.services.access import Permission, require
from bot.services.amounts import format_amount
from bot.services.policy import GradeRule, grade_rules
from handlers.base import Request, action
from jobs.catalogue import JOBS
from jobs.schedule import reschedule

SETTINGS_HELP = N_(
    "Change with:\n"
    "/settings time JOB HH:MM\n"
    "/settings quiet 21:00 08:00\n"
    "/settings daysoff 7 (ISO weekdays, 7 = Sunday; or none)\n"
    "/settings holiday add|remove 2026-12-25\n"
    "/settings followup 1 15 30 60 (days overdue for levels 1-4)\n"
    "/settings grade B visits 7 (visit every N days; also /settings visits B 7)\n"
    "/settings grade B credit 45 100000 (credit term in days, credit limit)\n"
    "/settings cash 3 90 (days cash is held before the manager, then the director and finance, are told)")


@action()
async def mute(request: Request) -> None:
    zone = request.context.runtime.clock.zone
    until = await users.mute(request.session, request.me, request.text_after_command, request.now, zone)
    if until is None:
        request.reply(request.t(N_("Pushes are on again.")))
    else:
        request.reply(request.t(N_("Pushes paused until {time}. Replies to your messages still come."),
                                time=f"{until.astimezone(zone):%Y-%m-%d %H:%M}"))


def render(t: Translator, settings: company.CompanySettings, grades: dict[str, GradeRule]) -> str:
    title = t(N_("Settings"))
    lines = [f"<b>{title}</b>", "", t(N_("Job times:"))]
    lines += [f"• {name} {settings.job_times[name]:%H:%M}" for name in JOBS]
    lines.append(t(N_("Quiet hours: {start}–{end}"), start=f"{settings.quiet_from:%H:%M}",
                   end=f"{settings.quiet_until:%H:%M}"))
    lines.append(t(N_("Days off (ISO weekdays): {days}"),
                   days=", ".join(str(d) for d in sorted(settings.days_off)) or "—"))
    lines.append(t(N_("Holidays: {days}"),
                   days=", ".join(d.isoformat() for d in sorted(settings.holidays)) or "—"))
    lines.append(t(N_("Follow-up levels (days overdue): {days}"),
                   days=" / ".join(str(level.days_overdue) for level in settings.followup_levels)))
    lines.append(t(N_("Cash not handed in: the manager is told after {manager} days, the director and "
                      "finance from {director} days on, every working day until it is handed in."),
                   manager=settings.cash_held_days_to_manager, director=settings.cash_held_days_to_director))
    lines.append(t(N_("Grades:")))
    lines += [t(N_("• {grade}: visit every {visits} days · credit term {days} days · credit limit {limit}"),
                grade=grade, visits=rule.visit_every_days, days=rule.credit_days,
                limit=format_amount(rule.credit_limit))
              for grade, rule in sorted(grades.items())]
    return "\n".join(lines) + "\n\n" + escape(t.gettext(SETTINGS_HELP))


def quiet_warnings(t: Translator, settings: company.CompanySettings) -> list[str]:
    """One line per job whose time falls in quiet hours: it runs, but its pushes wait."""
    return [t(N_("⚠️ {job} at {time} is inside quiet hours ({start}–{end}): its pushes wait until {end}."),
              job=name, time=f"{settings.job_times[name]:%H:%M}", start=f"{settings.quiet_from:%H:%M}",
              end=f"{settings.quiet_until:%H:%M}")
            for name in settings.jobs_in_quiet_hours()]


@action()
async def settings(request: Request) -> None:
    require(request.me, Permission.MANAGE_SETTINGS)
    words = request.args
    warnings: list[str] = []
    if words and words[0].lower() in company.GRADE_SETTINGS:
        await company.change_grade(request.session, request.me, words, request.now)
    elif words:
        current = await company.load(request.session)
        changed, keys = company.change(current, words)
        await company.save(request.session, request.me, changed, keys, request.now)
        moved = {key.removeprefix("job_time."): changed.job_times[key.removeprefix("job_time.")]
                 for key in keys if key.startswith("job_time.")}
        if moved or "quiet_from" in keys:
            warnings = quiet_warnings(request.t, changed)
        if moved:
            async def move_jobs() -> None:
                for name, at in moved.items():
                    reschedule(request.context.application, name, at)

            request.after_commit.append(move_jobs)
    current = await company.load(request.session)
    saved = [request.t(N_("Saved.")), *warnings] if words else []
    if warnings:
        saved.append("")
    request.reply("\n".join([*saved, render(request.t, current, await grade_rules(request.session))]))


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("mute", mute, private))
    application.add_handler(CommandHandler("settings", settings, private))
