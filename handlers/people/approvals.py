"""/discount (a rep asks), and the approvers' Approve / Reject buttons.

``/discount CUSTOMER: PERCENT|AMOUNT REASON`` writes a pending request and
queues a push to the approvers with ``appr:yes:<id>`` / ``appr:no:<id>``; the
press is re-authorised, decides once, edits the pressed message to show the
decision, and the rep hears it through the outbox. An ambiguous customer gets
candidate buttons (``disc:pick:<token>:<customer id>``); what they must
remember waits in ``user_data`` under the id of the message that asked.

Over-limit orders write their requests in ``bot/services/money/orders.py``, which
queues the approvers' pushes in the order's own transaction. Rejecting one
voids the order's invoice (``bot/services/people/approvals.py``); a request whose
order was undone meanwhile answers a press with who undid it.

``/approvals`` finds a request again once its push has scrolled away. To whoever
decides requests it lists those waiting for *their* decision (the very rule the
buttons apply, :func:`bot.services.people.approvals.check_decider`), oldest first, each
its own message with the push's text and buttons, so deciding from the list is
deciding from the push. The requester's own requests follow (waiting, or decided
in the last week, with the decision; no buttons): all a rep sees. Five at a time;
``apq:more:<last id>`` / ``apq:mine:<last id>`` show the next ones after that
request (a cursor: deciding some meanwhile skips none).
"""

from __future__ import annotations

import re
from typing import TypeGuard
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.i18n import N_, Translator, escape
from bot.services.money import expenses
from bot.services.outbox import Buttons
from bot.services.people import approvals
from bot.services.people.access import Permission
from bot.services.people.approvals import ApprovalView, DiscountRequest, DiscountTerms, QueuePage
from handlers.base import Request, action
from handlers.field.customer_choice import candidate_buttons, which_one
from models import ApprovalStatus

PENDING = "approvals.pending"  # user_data: token → the unfinished /discount
MAX_PENDING = 20
COLON = re.compile(r"[:：]")

USAGE = N_(
    "Ask your manager for a discount like this:\n"
    "/discount CUSTOMER: PERCENT or AMOUNT REASON\n"
    "For example: /discount Acme: 5% order of 200 cases, competitor offers 4%\n"
    "or /discount 华东五金: 500 damaged packaging"
)
EXPIRED = N_("This choice has expired: nothing was sent. Send the /discount again.")


def _parts(request: Request) -> list[str]:
    query = request.update.callback_query
    return (query.data or "").split(":") if query else []


def render_requested(t: Translator, made: DiscountRequest) -> str:
    view = made.view
    return "\n".join(
        [
            t(
                N_("🏷 Discount request sent: {customer}, {terms}."),
                customer=view.customer.label,
                terms=approvals.terms_text(view.payload),
            ),
            t(N_("Reason: {reason}"), reason=view.payload.get("reason", "")),
            t(N_("I will tell you your manager's decision.")),
        ]
    )


async def _request(
    request: Request, customer_id: int, terms: DiscountTerms, source_key: str
) -> DiscountRequest:
    return await approvals.request_discount(
        request.session,
        request.me,
        customer_id,
        terms,
        now=request.now,
        zone=request.context.runtime.clock.zone,
        source_key=source_key,
    )


@action()
async def discount(request: Request) -> None:
    """``/discount CUSTOMER: PERCENT|AMOUNT REASON``."""
    parts = COLON.split(request.text_after_command, maxsplit=1)
    if len(parts) != 2 or not parts[0].strip():
        request.reply(request.t(USAGE))
        return
    customer_text, rest = parts[0].strip(), parts[1]
    terms = approvals.read_discount(rest)
    resolution = await approvals.resolve_customer(request.session, request.me, customer_text)
    if resolution.customer is None:
        message = request.update.effective_message
        assert message is not None
        token = str(message.message_id)
        store: dict[str, dict[str, str]] = request.user_data.setdefault(PENDING, {})
        store[token] = {"source_key": request.source_key, "terms": rest}
        while len(store) > MAX_PENDING:
            store.pop(next(iter(store)))
        request.reply(
            which_one(request.t, customer_text, resolution.near),
            candidate_buttons(resolution.candidates, f"disc:pick:{token}"),
        )
        return
    made = await _request(request, resolution.customer.id, terms, request.source_key)
    request.reply(render_requested(request.t, made))


@action()
async def pick(request: Request) -> None:
    """A candidate button: ``disc:pick:<token>:<customer id>``."""
    _, _, token, customer_id = _parts(request)
    pending = request.user_data.get(PENDING, {}).get(token)
    if pending is None:
        request.toast = request.t.gettext(EXPIRED)
        return
    made = await _request(
        request, int(customer_id), approvals.read_discount(pending["terms"]), pending["source_key"]
    )
    if made.repeated:
        request.toast = request.t.gettext(N_("Already sent to your manager."))
        return
    request.edit(render_requested(request.t, made))


@action()
async def decide(request: Request) -> None:
    """``appr:yes:<id>`` / ``appr:no:<id>``: decide, and show the decision on the pressed message."""
    _, verb, approval_id = _parts(request)
    zone = request.context.runtime.clock.zone
    decision = await approvals.decide(
        request.session, request.me, int(approval_id), verb == "yes", now=request.now, zone=zone
    )
    t = request.t
    request.edit(approvals.render_for_approver(t, decision.view, zone))
    if not decision.decided_now:
        view = decision.view
        line = {
            ApprovalStatus.APPROVED: N_("Already approved by {name}."),
            ApprovalStatus.WITHDRAWN: N_("Nothing to decide: {name} undid the order."),
        }.get(view.status, N_("Already rejected by {name}."))
        request.toast = t.gettext(line).format(name=view.decided_by or "—")


# -- /approvals -----------------------------------------------------------------------------------

MORE, MINE = "more", "mine"  # apq:<which>:<last id shown>


def inline(buttons: Buttons) -> InlineKeyboardMarkup:
    """Buttons as a push carries them (``decision_buttons``), for a reply."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(button["text"], callback_data=button["callback_data"]) for button in row]
            for row in buttons
        ]
    )


def _when(view: ApprovalView, zone: ZoneInfo) -> str:
    return view.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def render_own(t: Translator, view: ApprovalView, zone: ZoneInfo) -> str:
    """One of the caller's own requests: as its approvers read it, then where it stands."""
    text = approvals.render_for_approver(t, view, zone)
    if view.status != ApprovalStatus.PENDING:
        return text
    waiting = t(N_("⏳ Waiting for a decision since {when}"), when=_when(view, zone))
    return f"{text}\n\n{waiting}"


def _more(t: Translator, page: QueuePage, which: str) -> tuple[str, InlineKeyboardMarkup] | None:
    if not page.after_this:
        return None
    button = InlineKeyboardButton(t.gettext(N_("Show more ›")), callback_data=f"apq:{which}:{page.last_id}")
    return t(N_("{count} more not shown yet."), count=page.after_this), InlineKeyboardMarkup([[button]])


def _show(request: Request, page: QueuePage, which: str) -> None:
    """Each request of ``page`` as its own message, then "Show more" when some are left."""
    t, zone = request.t, request.context.runtime.clock.zone
    for view in page.items:
        if which == MORE:  # the push's text and buttons: a press decides exactly as on the push
            request.reply(approvals.render_request(t, view), inline(approvals.decision_buttons(t, view.id)))
        else:
            request.reply(render_own(t, view, zone))
    more = _more(t, page, which)
    if more is not None:
        request.reply(*more)


def _own_heading(t: Translator, page: QueuePage) -> str:
    decided = page.total - page.pending
    return (
        "<b>"
        + t(
            N_("Your requests: {waiting} waiting, {decided} decided in the last {days} days"),
            waiting=page.pending,
            decided=decided,
            days=approvals.RECENT_DECISIONS.days,
        )
        + "</b>"
    )


@action()
async def queue(request: Request) -> None:
    """``/approvals``: what waits for the caller's decision, then the caller's own requests."""
    me, t = request.me, request.t
    own = await approvals.own_requests(request.session, me, now=request.now)  # refuses finance, marketing
    if me.can(Permission.APPROVE):
        waiting = await approvals.to_decide(request.session, me)
        # Expense claims are decided from their own queue (bot/services/money/expenses.py).
        claims = len(await expenses.to_decide(request.session, me))
        if waiting.total or not claims:
            request.reply(
                "<b>" + t(N_("Waiting for your decision: {count}"), count=waiting.total) + "</b>"
                if waiting.total
                else t(N_("Nothing is waiting for your decision."))
            )
        _show(request, waiting, MORE)
        if claims:
            request.reply(
                t(N_("Expense claims waiting for your decision: {count} — /expenses pending"), count=claims)
            )
        if own.total:
            request.reply(_own_heading(t, own))
            _show(request, own, MINE)
        return
    if not own.total:
        request.reply(
            t(
                N_(
                    "You have no requests waiting, and none decided in the last {days} days. "
                    "Ask for a discount with /discount; an order over a customer's credit limit "
                    "asks your manager by itself."
                ),
                days=approvals.RECENT_DECISIONS.days,
            )
        )
        return
    request.reply(_own_heading(t, own))
    _show(request, own, MINE)


def _carries(message: object, data: str | None) -> TypeGuard[Message]:
    """Whether ``message`` is one of ours showing a button with ``data`` (not a forged press)."""
    if not isinstance(message, Message) or message.reply_markup is None:
        return False
    return any(button.callback_data == data for row in message.reply_markup.inline_keyboard for button in row)


@action()
async def queue_more(request: Request) -> None:
    """``apq:more:<id>`` / ``apq:mine:<id>``: the next requests after the last one shown."""
    _, which, after = _parts(request)
    if which == MORE:
        page = await approvals.to_decide(request.session, request.me, after=int(after))
    else:
        page = await approvals.own_requests(request.session, request.me, now=request.now, after=int(after))
    query = request.update.callback_query
    if query is not None and _carries(query.message, query.data):  # its button has done its work
        request.edit(escape(query.message.text or ""))
    if not page.items:
        request.toast = request.t.gettext(N_("Nothing more to show."))
    _show(request, page, which)


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    application.add_handler(CommandHandler("discount", discount, private))
    application.add_handler(CommandHandler("approvals", queue, private))
    application.add_handler(CallbackQueryHandler(queue_more, pattern=r"^apq:(more|mine):\d{1,12}$"))
    application.add_handler(CallbackQueryHandler(pick, pattern=r"^disc:pick:\d+:\d+$"))
    application.add_handler(CallbackQueryHandler(decide, pattern=r"^appr:(yes|no):\d+$"))
