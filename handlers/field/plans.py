"""/plan: the weekly and monthly work plan (regulations part 4, art. 10; part 3, art. 9).

``/plan`` opens the week's plan (Monday to Thursday this week's, from Friday next week's);
``/plan month`` next month's, ``/plan month 2027-01`` that month's. The draft is prefilled with
the customers due a visit by grade in the period (or what was filed). The rep types customer codes
or names to add them (``-CODE`` removes one), presses ✖ to remove one, sets the two targets, and
submits. Filing again before the deadline replaces the plan. The rules are in
``bot/services/field/plans.py``.

Buttons (callback data):

* ``plan:new:w`` / ``plan:new:m`` — the reminder's button: the week's or the month's plan.
* ``plan:rm:<customer id>``, ``plan:add:<customer id>`` — take a customer out, put one in (a
  candidate of a name that matched several; re-checked against the rep's scope).
* ``plan:tg:o`` / ``plan:tg:c`` — type the orders / collections target next.
* ``plan:send``, ``plan:x`` — submit, cancel.

The supervisor's ``plan:ok:<id>`` and ``plan:cm:<id>`` are in ``handlers/field/plan_answers.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.i18n import N_, Translator, echo, escape
from bot.services.errors import Invalid
from bot.services.field import customers, plans
from bot.services.field.plans import Opened, PlanCustomer, PlanPeriod
from bot.services.money.amounts import format_amount, parse_amount
from bot.services.reporting.periods import MONTH, MONTHLY, Period
from bot.views import plans as views
from handlers.base import Request, action
from handlers.flows import another_command_ends_flow
from models import PlanKind, Role

EDITING = "plan:editing"
END = ConversationHandler.END
DRAFT = "plan.draft"
FLOW_TIMEOUT = timedelta(minutes=30)
#: ✖ buttons under a draft (two a row); the rest are removed by typing ``-CODE``.
REMOVE_BUTTONS = 24
BUTTON_NAME = 22
#: Characters for the list of customers in a draft: the rest of the message needs about 800 of
#: Telegram's 4096.
CUSTOMERS_BUDGET = 3000
MONTH_WORDS = ("month", "monthly", "月", "月度", "月计划", "月計劃")
WEEK_WORDS = ("", "week", "weekly", "周", "週", "周计划", "週計劃")
ZERO_WORDS = ("0", "0.00", "零", "无", "無", "none")
SEPARATORS = re.compile(r"[\n,，、;；]+")
REMOVE_MARKS = ("-", "−", "－", "—")

USAGE = N_(
    "/plan opens this week's plan (from Friday, next week's); /plan month next month's, "
    "/plan month 2027-01 that month's."
)
EXPIRED = N_("This plan draft has closed. Send /plan to open it again.")


@dataclass(frozen=True)
class PlanDraft:
    """The plan being written, kept in ``user_data`` between messages."""

    kind: str  # PlanKind value
    start: date
    customers: tuple[int, ...]
    orders: Decimal | None
    collections: Decimal | None
    #: The target the next typed message sets: "o" (orders), "c" (collections) or "" (customers).
    asking: str = ""

    @property
    def period(self) -> PlanPeriod:
        kind = PlanKind(self.kind)
        return plans.week_of(self.start) if kind == PlanKind.WEEK else plans.month_of(self.start)


def _today(request: Request) -> date:
    return request.now.astimezone(request.zone).date()


def _draft(request: Request) -> PlanDraft | None:
    draft = request.user_data.get(DRAFT)
    return draft if isinstance(draft, PlanDraft) else None


def _period_asked(text: str, today: date) -> PlanPeriod:
    words = text.lower().split()
    if not words or (len(words) == 1 and words[0] in WEEK_WORDS):
        return plans.week_to_plan(today)
    if words[0] in MONTH_WORDS and len(words) <= 2:
        return plans.parse_month(words[1], today) if len(words) == 2 else plans.month_to_plan(today)
    raise Invalid(USAGE)


# -- rendering ------------------------------------------------------------------------------------


def _target(amount: Decimal | None) -> str:
    return format_amount(amount) if amount is not None else "—"


def render_draft(
    t: Translator, opened: Opened, draft: PlanDraft, chosen: tuple[PlanCustomer, ...], notes: list[str]
) -> tuple[str, InlineKeyboardMarkup]:
    period = draft.period
    title = t(
        N_("🗓 {kind} · {period}"), kind=t.gettext(plans.KIND_LABELS[period.kind]), period=period.title(t)
    )
    lines = [*notes, *([""] if notes else []), f"<b>{title}</b>"]
    due = t(N_("Due by {deadline}."), deadline=f"{opened.deadline:%Y-%m-%d %H:%M}")
    if opened.filed is not None:
        due += " " + t(
            N_("Filed {time}: submitting again replaces it."), time=f"{opened.filed.submitted_at:%m-%d %H:%M}"
        )
    lines.append(due)
    visits = sum(customer.visits for customer in chosen)
    lines += [
        "",
        t(N_("Customers to visit: {count} · visits planned: {visits}"), count=len(chosen), visits=visits),
    ]
    listed = [
        f"{number}. {escape(customer.label)} · {escape(customer.grade)}"
        + (f" ×{customer.visits}" if customer.visits > 1 else "")
        for number, customer in enumerate(chosen, 1)
    ]
    lines += plans.fit_lines(t, listed, CUSTOMERS_BUDGET - sum(len(line) + 1 for line in notes))
    if not chosen:
        lines.append(t(N_("No customer yet.")))
    lines += [
        "",
        t(N_("Orders target: {amount}"), amount=_target(draft.orders)),
        t(N_("Collections target: {amount}"), amount=_target(draft.collections)),
        "",
    ]
    if draft.asking == "o":
        lines.append("<b>" + t(N_("Type the orders target, e.g. 50000 or 5万.")) + "</b>")
    elif draft.asking == "c":
        lines.append("<b>" + t(N_("Type the collections target, e.g. 30000 or 3万.")) + "</b>")
    else:
        lines.append(
            t(
                N_(
                    "Type customer codes or names to add them (one per line or separated by commas); "
                    "-CODE takes one out, as does its ✖ button."
                )
            )
        )
    removes = [
        InlineKeyboardButton("✖ " + customer.name[:BUTTON_NAME], callback_data=f"plan:rm:{customer.id}")
        for customer in chosen[:REMOVE_BUTTONS]
    ]
    rows = [removes[i : i + 2] for i in range(0, len(removes), 2)]
    rows.append(
        [
            InlineKeyboardButton(t.gettext(N_("🎯 Orders target")), callback_data="plan:tg:o"),
            InlineKeyboardButton(t.gettext(N_("🎯 Collections target")), callback_data="plan:tg:c"),
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(t.gettext(N_("✅ Submit")), callback_data="plan:send"),
            InlineKeyboardButton(t.gettext(N_("Cancel")), callback_data="plan:x"),
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def _show(
    request: Request,
    draft: PlanDraft,
    notes: list[str],
    *,
    edit: bool,
    extra: InlineKeyboardMarkup | None = None,
) -> object:
    """Store ``draft`` and show it (a new message, or the pressed one edited)."""
    opened = await plans.open_plan(request.session, request.me, draft.period, request.zone)
    chosen = await plans.customers_by_id(request.session, request.me, draft.customers, draft.period)
    draft = replace(draft, customers=tuple(customer.id for customer in chosen))
    request.user_data[DRAFT] = draft
    text, markup = render_draft(request.t, opened, draft, chosen, notes)
    (request.edit if edit else request.reply)(text, markup)
    if extra is not None:
        request.reply(request.t(N_("Several customers match. Which one?")), extra)
    return EDITING


# -- plan against actual in /summary and /rep -----------------------------------------------------


async def plan_lines(
    request: Request, period: Period, *, team_id: int | None = None, rep_id: int | None = None
) -> list[str]:
    """The plans a summary period reads against (the month's for a month, else the week its first day
    is in), each against the records, in the caller's scope."""
    monthly = period.kind in (MONTH, MONTHLY)
    plan_period = plans.period_for(period.start, period.end, monthly)
    found = await plans.figures(
        request.session, request.me, plan_period, request.zone, team_id=team_id, rep_id=rep_id
    )
    t = request.t
    if rep_id is not None or request.me.role == Role.REP:
        if found.plans:
            return views.attainment_block(t, found.plans[0])
        if found.unfiled:
            return [t(N_("No plan filed for the {period}."), period=plan_period.title(t))]
        return []
    return views.figures_section(t, found)


# -- opening --------------------------------------------------------------------------------------


async def _open(request: Request, period: PlanPeriod) -> object:
    opened = await plans.open_plan(request.session, request.me, period, request.zone)
    if not opened.open_at(request.now) and opened.filed is not None:
        request.user_data.pop(DRAFT, None)
        figures = await plans.own_figures(request.session, request.me, period, request.zone)
        lines = [
            plans.plan_html(request.t, opened.filed),
            "",
            request.t(
                N_("The deadline ({deadline}) has passed: this plan can no longer be changed."),
                deadline=f"{opened.deadline:%Y-%m-%d %H:%M}",
            ),
        ]
        if figures is not None:
            lines += ["", *views.attainment_block(request.t, figures)]
        request.reply("\n".join(lines))
        return END
    draft = PlanDraft(
        period.kind.value,
        period.start,
        tuple(customer.id for customer in opened.customers),
        opened.orders_target,
        opened.collections_target,
    )
    notes = []
    if opened.filed is None:
        notes.append(
            request.t(
                N_("I put in the customers due a visit by their grade in this period: {count}."),
                count=len(opened.customers),
            )
        )
    else:
        notes.append(plans.plan_html(request.t, opened.filed, with_customers=False))
    return await _show(request, draft, notes, edit=False)


@action()
async def start(request: Request) -> object:
    plans.require_planner(request.me)
    period = _period_asked(request.text_after_command, _today(request))
    return await _open(request, period)


@action()
async def start_from_button(request: Request) -> object:
    plans.require_planner(request.me)
    query = request.update.callback_query
    data = (query.data or "") if query else ""
    today = _today(request)
    period = plans.month_to_plan(today) if data.endswith(":m") else plans.week_to_plan(today)
    return await _open(request, period)


# -- editing --------------------------------------------------------------------------------------


def _amount(text: str) -> Decimal:
    if text.strip().lower() in ZERO_WORDS:
        return Decimal("0.00")
    return parse_amount(text)


@action()
async def typed(request: Request) -> object:
    draft = _draft(request)
    t = request.t
    if draft is None:
        request.reply(t(EXPIRED))
        return END
    message = request.update.effective_message
    text = (message.text or "") if message else ""
    if draft.asking:
        try:
            amount = _amount(text)
        except Invalid as error:
            request.reply(t(error.message, **error.params))
            return EDITING
        if draft.asking == "o":
            draft = replace(draft, orders=amount, asking="")
        else:
            draft = replace(draft, collections=amount, asking="")
        return await _show(request, draft, [], edit=False)
    chosen = list(draft.customers)
    notes: list[str] = []
    ambiguous = None
    for item in SEPARATORS.split(text):
        item = item.strip()
        if not item:
            continue
        removing = item.startswith(REMOVE_MARKS)
        query = item.lstrip("".join(REMOVE_MARKS)).strip()
        if not query:
            continue
        found = await customers.resolve(request.session, request.me, query)
        if found.customer is None and not found.candidates:
            notes.append(t(N_("✗ No customer of yours matches {query}."), query=echo(query, 40)))
            continue
        if found.customer is None:
            if removing:
                notes.append(
                    t(N_("✗ Several customers match {query}: write more of it."), query=echo(query, 40))
                )
            elif ambiguous is None:
                ambiguous = InlineKeyboardMarkup(
                    [
                        [InlineKeyboardButton(ref.label[:60], callback_data=f"plan:add:{ref.id}")]
                        for ref in found.candidates
                    ]
                )
            continue
        customer = found.customer
        if removing:
            if customer.id in chosen:
                chosen.remove(customer.id)
                notes.append(t(N_("− Taken out: {name}"), name=customer.label))
        elif customer.id not in chosen:
            if len(chosen) >= plans.MAX_CUSTOMERS:
                notes.append(t(N_("A plan holds {limit} customers at most."), limit=plans.MAX_CUSTOMERS))
                break
            chosen.append(customer.id)
            notes.append(t(N_("+ Added: {name}"), name=customer.label))
        else:
            notes.append(t(N_("{name} is in the plan already."), name=customer.label))
    return await _show(request, replace(draft, customers=tuple(chosen)), notes, edit=False, extra=ambiguous)


def _pressed_id(request: Request) -> int | None:
    query = request.update.callback_query
    try:
        return int((query.data or "").rsplit(":", 1)[1]) if query else None
    except (IndexError, ValueError):
        return None


@action()
async def press_remove(request: Request) -> object:
    draft = _draft(request)
    customer_id = _pressed_id(request)
    if draft is None or customer_id is None:
        request.toast = request.t.gettext(EXPIRED)
        return END if draft is None else EDITING
    chosen = tuple(id_ for id_ in draft.customers if id_ != customer_id)
    return await _show(request, replace(draft, customers=chosen, asking=""), [], edit=True)


@action()
async def press_add(request: Request) -> object:
    draft = _draft(request)
    customer_id = _pressed_id(request)
    if draft is None or customer_id is None:
        request.toast = request.t.gettext(EXPIRED)
        return END if draft is None else EDITING
    [*found] = await plans.customers_by_id(request.session, request.me, [customer_id], draft.period)
    if not found:
        request.toast = request.t.gettext(N_("That customer is not one of yours."))
        return EDITING
    draft = replace(draft, asking="")
    if customer_id not in draft.customers and len(draft.customers) < plans.MAX_CUSTOMERS:
        draft = replace(draft, customers=(*draft.customers, customer_id))
    notes = [request.t(N_("+ Added: {name}"), name=found[0].label)]
    return await _show(request, draft, notes, edit=True)


@action()
async def press_target(request: Request) -> object:
    draft = _draft(request)
    if draft is None:
        request.toast = request.t.gettext(EXPIRED)
        return END
    query = request.update.callback_query
    which = "o" if query is not None and (query.data or "").endswith(":o") else "c"
    return await _show(request, replace(draft, asking=which), [], edit=True)


@action()
async def press_submit(request: Request) -> object:
    draft = _draft(request)
    if draft is None:
        request.toast = request.t.gettext(EXPIRED)
        return END
    t = request.t
    try:
        filed = await plans.submit(
            request.session,
            request.me,
            draft.period,
            draft.customers,
            draft.orders,
            draft.collections,
            now=request.now,
            zone=request.zone,
            source_key=request.source_key,
        )
    except Invalid as error:  # nothing written: say why, keep the draft
        request.toast = t.gettext(error.message).format(**error.params)[:190]
        request.reply(t(error.message, **error.params))
        return EDITING
    lines = [
        t(N_("✅ Plan filed.")) if not filed.replaced else t(N_("✅ Plan replaced.")),
        plans.plan_html(t, filed.plan),
    ]
    if filed.told:
        lines += ["", t(N_("Sent to {names} for approval."), names=", ".join(filed.told))]
    request.edit("\n".join(lines))
    _forget(request)
    return END


def _forget(request: Request) -> None:
    data = request.user_data

    async def forget() -> None:
        data.pop(DRAFT, None)

    request.after_commit.append(forget)


@action()
async def press_cancel(request: Request) -> object:
    request.user_data.pop(DRAFT, None)
    request.edit(request.t(N_("Plan not filed: nothing was saved. Send /plan when you are ready.")))
    return END


@action()
async def cancel(request: Request) -> object:
    request.user_data.pop(DRAFT, None)
    request.reply(request.t(N_("Plan not filed: nothing was saved. Send /plan when you are ready.")))
    return END


@action()
async def stale_press(request: Request) -> None:
    """A draft's button after its conversation ended: a second tap on Submit, or an old draft."""
    request.toast = request.t.gettext(EXPIRED)


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND & ~filters.UpdateType.EDITED
    application.add_handler(
        ConversationHandler(
            entry_points=[
                CommandHandler("plan", start, private),
                CallbackQueryHandler(start_from_button, pattern=r"^plan:new:[wm]$"),
            ],
            states={
                EDITING: [
                    MessageHandler(text, typed),
                    CallbackQueryHandler(press_remove, pattern=r"^plan:rm:\d+$"),
                    CallbackQueryHandler(press_add, pattern=r"^plan:add:\d+$"),
                    CallbackQueryHandler(press_target, pattern=r"^plan:tg:[oc]$"),
                    CallbackQueryHandler(press_submit, pattern=r"^plan:send$"),
                    CallbackQueryHandler(press_cancel, pattern=r"^plan:x$"),
                ]
            },
            fallbacks=[CommandHandler("cancel", cancel, private), another_command_ends_flow()],
            allow_reentry=True,
            conversation_timeout=FLOW_TIMEOUT,
            name="plan",
            persistent=True,
        )
    )
    application.add_handler(CallbackQueryHandler(stale_press, pattern=r"^plan:(?:rm|add|tg|send|x)"))
