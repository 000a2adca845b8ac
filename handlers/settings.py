"""/mute (anyone: pause pushes) and /settings (admins: job times, quiet hours, working days, policy)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from telegram.ext import Application, CommandHandler, filters

from bot.i18n import N_, Translator, escape
from bot.menus import ROLE_LABELS
from bot.services import company
from bot.services.field import grading, stock
from bot.services.money import expenses
from bot.services.money.amounts import format_amount
from bot.services.money.expense_rules import Limits
from bot.services.people import users
from bot.services.people.access import Permission, require
from bot.services.policy import GradeRule, grade_rules
from bot.views import counts, grades as grades_view
from handlers.base import Request, action
from jobs.catalogue import JOBS, job_title
from jobs.schedule import reschedule
from models import Role

SETTINGS_HELP = N_(
    "Change with:\n"
    "/settings time JOB HH:MM\n"
    "/settings quiet 21:00 08:00\n"
    "/settings daysoff 7 (ISO weekdays, 7 = Sunday; or none)\n"
    "/settings holiday add|remove 2026-12-25 (or a range: 2027-02-10..2027-02-16)\n"
    "/settings workday add|remove 2027-02-20 (a make-up workday: a day off that is worked)\n"
    "/settings followup 1 15 30 60 (days overdue for levels 1-4)\n"
    "/settings grade B visits 7 (visit every N days; also /settings visits B 7)\n"
    "/settings grade B credit 45 100000 (credit term in days, credit limit)\n"
    "/settings cash 3 90 (days cash is held before the manager, then the director and finance, are told)"
)


@action()
async def mute(request: Request) -> None:
    zone = request.context.runtime.clock.zone
    until = await users.mute(request.session, request.me, request.text_after_command, request.now, zone)
    if until is None:
        request.reply(request.t(N_("Pushes are on again.")))
    else:
        request.reply(
            request.t(
                N_("Pushes paused until {time}. Replies to your messages still come."),
                time=f"{until.astimezone(zone):%Y-%m-%d %H:%M}",
            )
        )


WEEKDAY_NAMES = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


def day_ranges(days: frozenset[date]) -> list[str]:
    """``2027-02-10..2027-02-16`` for each run of consecutive days, a lone day as itself."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and day - runs[-1][-1] == timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    return [run[0].isoformat() if len(run) == 1 else f"{run[0]}..{run[-1]}" for run in runs]


def render(t: Translator, settings: company.CompanySettings, grades: dict[str, GradeRule]) -> str:
    title = t(N_("Settings"))
    lines = [f"<b>{title}</b>", "", t(N_("Job times:"))]
    lines += [
        t(
            N_("• {label} ({job}): {time}"),
            label=spec.title(t),
            job=name,
            time=f"{settings.job_times[name]:%H:%M}",
        )
        for name, spec in JOBS.items()
    ]
    lines.append(
        t(
            N_("Quiet hours: {start}–{end}"),
            start=f"{settings.quiet_from:%H:%M}",
            end=f"{settings.quiet_until:%H:%M}",
        )
    )
    lines.append(
        t(
            N_("Days off (ISO weekdays): {days}"),
            days=", ".join(str(d) for d in sorted(settings.days_off)) or "—",
        )
    )
    comma = t.gettext(N_(", "))
    lines.append(t(N_("Holidays: {days}"), days=comma.join(day_ranges(settings.holidays)) or "—"))
    workdays = [
        t.gettext(N_("{day} ({weekday})")).format(
            day=d.isoformat(), weekday=t.gettext(WEEKDAY_NAMES[d.weekday()])
        )
        for d in sorted(settings.workdays)
    ]
    lines.append(t(N_("Make-up workdays: {days}"), days=comma.join(workdays) or "—"))
    lines.append(
        t(
            N_("Follow-up levels (days overdue): {days}"),
            days=" / ".join(str(level.days_overdue) for level in settings.followup_levels),
        )
    )
    lines.append(
        t(
            N_(
                "Cash not handed in: the manager is told after {manager}, the director and "
                "finance from {director} on, every working day until it is handed in."
            ),
            manager=counts.days(t, settings.cash_held_days_to_manager),
            director=counts.days(t, settings.cash_held_days_to_director),
        )
    )
    lines.append(t(N_("Grades:")))
    lines += [
        t(
            N_("• {grade}: visit every {visits} · credit term {days} · credit limit {limit}"),
            grade=grade,
            visits=counts.days(t, rule.visit_every_days),
            days=counts.days(t, rule.credit_days),
            limit=format_amount(rule.credit_limit),
        )
        for grade, rule in sorted(grades.items())
    ]
    return "\n".join(lines) + "\n\n" + escape(t.gettext(SETTINGS_HELP))


def quiet_warnings(t: Translator, settings: company.CompanySettings) -> list[str]:
    """One line per job whose time falls in quiet hours: it runs, but its pushes wait."""
    return [
        t(
            N_("⚠️ {job} at {time} is inside quiet hours ({start}–{end}): its pushes wait until {end}."),
            job=job_title(name, t),
            time=f"{settings.job_times[name]:%H:%M}",
            start=f"{settings.quiet_from:%H:%M}",
            end=f"{settings.quiet_until:%H:%M}",
        )
        for name in settings.jobs_in_quiet_hours()
    ]


@action()
async def settings(request: Request) -> None:
    require(request.me, Permission.MANAGE_SETTINGS)
    words = request.args
    warnings: list[str] = []
    if words and words[0].lower() in company.GRADE_SETTINGS:
        await company.change_grade(request.session, request.me, words, request.now)
    elif words and words[0].lower() == grading.SETTING_WORD:
        await grading.change_thresholds(request.session, request.me, words[1:], request.now)
    elif words and words[0].lower() == "stock":
        await stock.set_minimum(request.session, request.me, words[1:], request.now)
    elif words and words[0].lower() in expenses.SETTING_WORDS:
        await expenses.change_limits(request.session, request.me, words, request.now)
    elif words:
        current = await company.load(request.session)
        changed, keys = company.change(current, words)
        await company.save(request.session, request.me, changed, keys, request.now)
        moved = {
            key.removeprefix("job_time."): changed.job_times[key.removeprefix("job_time.")]
            for key in keys
            if key.startswith("job_time.")
        }
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
    request.reply(
        "\n".join(
            [
                *saved,
                render(request.t, current, await grade_rules(request.session)),
                "",
                *grades_view.setting_lines(request.t, await grading.thresholds(request.session)),
                *stock_minimums(request.t, await stock.minimums(request.session)),
                *expense_limits(request.t, await expenses.limits(request.session)),
            ]
        )
    )


#: Minimums listed by /settings; the rest are counted.
SHOWN_MINIMUMS = 30


def stock_minimums(t: Translator, minimums: list[stock.Minimum]) -> list[str]:
    """The products' minimums (bot/services/field/stock.py) and how to change them."""
    shown = " · ".join(f"{escape(item.product)} {item.minimum}" for item in minimums[:SHOWN_MINIMUMS])
    if len(minimums) > SHOWN_MINIMUMS:
        shown += " " + t(N_("…and {count} more"), count=len(minimums) - SHOWN_MINIMUMS)
    return [
        t(N_("Stock minimums (a count below one is a shortfall at any dealer):")) + " " + (shown or "—"),
        escape(
            t.gettext(
                N_(
                    "/settings stock PRODUCT MIN (or off): a product's minimum stock at any "
                    "dealer; without one, a count under half the dealer's usual level is "
                    "short."
                )
            )
        ),
    ]


def expense_limits(t: Translator, table: dict[Role, Limits]) -> list[str]:
    """Each claiming role's monthly expense budget and meal allowance (bot/services/money/expenses.py).

    The regulations (part 4, art. 3 and 4) leave these amounts blank: "not set" until an admin sets
    them, never a figure of ours shown as the company's.
    """

    def amount(value: Decimal | None) -> str:
        return format_amount(value) if value is not None else t.gettext(N_("not set"))

    lines = [t(N_("Expenses (regulations part 4, art. 3–4 leave the amounts to the company):"))]
    lines += [
        t(
            N_("• {role}: monthly budget {budget} · meal allowance {meal}"),
            role=t.gettext(ROLE_LABELS[role]),
            budget=amount(item.budget),
            meal=amount(item.meal),
        )
        for role, item in table.items()
    ]
    lines.append(
        escape(
            t.gettext(
                N_(
                    "/settings budget ROLE AMOUNT (or off): a role's monthly expense budget; "
                    "/settings meal ROLE AMOUNT (or off): its meal allowance per missed meal. "
                    "Roles: rep, manager."
                )
            )
        )
    )
    return lines


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("mute", mute, private))
    application.add_handler(CommandHandler("settings", settings, private))
