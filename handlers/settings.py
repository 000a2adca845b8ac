"""/mute (anyone: pause pushes) and /settings (admins: job times, quiet hours, working days, policy)."""

from __future__ import annotations

from telegram.ext import Application, CommandHandler, filters

from bot.i18n import N_, Translator, escape
from bot.services import company, users
from bot.services.access import Permission, require
from bot.services.policy import grade_rules
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
    "/settings visits A 7 (visit every N days for a grade)")


@action()
async def mute(request: Request) -> None:
    zone = request.context.runtime.clock.zone
    until = await users.mute(request.session, request.me, request.text_after_command, request.now, zone)
    if until is None:
        request.reply(request.t(N_("Pushes are on again.")))
    else:
        request.reply(request.t(N_("Pushes paused until {time}. Replies to your messages still come."),
                                time=f"{until.astimezone(zone):%Y-%m-%d %H:%M}"))


def render(t: Translator, settings: company.CompanySettings, visits: dict[str, int]) -> str:
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
    lines.append(t(N_("Visit every (days): {grades}"),
                   grades=", ".join(f"{grade} {days}" for grade, days in sorted(visits.items()))))
    return "\n".join(lines) + "\n\n" + escape(t.gettext(SETTINGS_HELP))


@action()
async def settings(request: Request) -> None:
    require(request.me, Permission.MANAGE_SETTINGS)
    words = request.args
    if words and words[0].lower() == "visits" and len(words) == 3:
        await company.set_visit_frequency(request.session, request.me, words[1], words[2], request.now)
    elif words:
        current = await company.load(request.session)
        changed, keys = company.change(current, words)
        await company.save(request.session, request.me, changed, keys, request.now)
        moved = {key.removeprefix("job_time."): changed.job_times[key.removeprefix("job_time.")]
                 for key in keys if key.startswith("job_time.")}
        if moved:
            async def move_jobs() -> None:
                for name, at in moved.items():
                    reschedule(request.context.application, name, at)

            request.after_commit.append(move_jobs)
    current = await company.load(request.session)
    visits = {grade: rule.visit_every_days for grade, rule in (await grade_rules(request.session)).items()}
    saved = [request.t(N_("Saved."))] if words else []
    request.reply("\n".join([*saved, render(request.t, current, visits)]))


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("mute", mute, private))
    application.add_handler(CommandHandler("settings", settings, private))
