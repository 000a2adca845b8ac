"""/discount (a rep asks), and the approvers' Approve / Reject buttons.

``/discount CUSTOMER: PERCENT|AMOUNT REASON`` writes a pending request and
queues a push to the approvers with ``appr:yes:<id>`` / ``appr:no:<id>``; the
press is re-authorised, decides once, edits the pressed message to show the
decision, and the rep hears it through the outbox. An ambiguous customer gets
candidate buttons (``disc:pick:<token>:<customer id>``); what they must
remember waits in ``user_data`` under the id of the message that asked.

Over-limit orders write their requests in ``bot/services/orders.py``, which
queues the approvers' pushes in the order's own transaction. Rejecting one
voids the order's invoice (``bot/services/approvals.py``); a request whose
order was undone meanwhile answers a press with who undid it.
"""

from __future__ import annotations

import re
from typing import Any

from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.i18n import N_, Translator
from bot.services import approvals
from bot.services.approvals import DiscountRequest, DiscountTerms
from handlers.base import Request, action
from handlers.customer_choice import candidate_buttons, which_one
from models import ApprovalStatus

PENDING = "approvals.pending"  # user_data: token → the unfinished /discount
MAX_PENDING = 20
COLON = re.compile(r"[:：]")

USAGE = N_("Ask your manager for a discount like this:\n"
           "/discount CUSTOMER: PERCENT or AMOUNT REASON\n"
           "For example: /discount Acme: 5% order of 200 cases, competitor offers 4%\n"
           "or /discount 华东五金: 500 damaged packaging")
EXPIRED = N_("This choice has expired: nothing was sent. Send the /discount again.")


def _user_data(request: Request) -> dict[Any, Any]:
    data = request.context.user_data
    assert data is not None  # every update we handle has a user
    return data


def _parts(request: Request) -> list[str]:
    query = request.update.callback_query
    return (query.data or "").split(":") if query else []


def render_requested(t: Translator, made: DiscountRequest) -> str:
    view = made.view
    return "\n".join([
        t(N_("🏷 Discount request sent: {customer}, {terms}."), customer=view.customer.label,
          terms=approvals.terms_text(view.payload)),
        t(N_("Reason: {reason}"), reason=view.payload.get("reason", "")),
        t(N_("I will tell you your manager's decision.")),
    ])


async def _request(request: Request, customer_id: int, terms: DiscountTerms, source_key: str
                   ) -> DiscountRequest:
    return await approvals.request_discount(request.session, request.me, customer_id, terms, now=request.now,
                                            zone=request.context.runtime.clock.zone, source_key=source_key)


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
        store: dict[str, dict[str, str]] = _user_data(request).setdefault(PENDING, {})
        store[token] = {"source_key": request.source_key, "terms": rest}
        while len(store) > MAX_PENDING:
            store.pop(next(iter(store)))
        request.reply(which_one(request.t, customer_text),
                      candidate_buttons(resolution.candidates, f"disc:pick:{token}"))
        return
    made = await _request(request, resolution.customer.id, terms, request.source_key)
    request.reply(render_requested(request.t, made))


@action()
async def pick(request: Request) -> None:
    """A candidate button: ``disc:pick:<token>:<customer id>``."""
    _, _, token, customer_id = _parts(request)
    pending = _user_data(request).get(PENDING, {}).get(token)
    if pending is None:
        request.toast = request.t.gettext(EXPIRED)
        return
    made = await _request(request, int(customer_id), approvals.read_discount(pending["terms"]),
                          pending["source_key"])
    if made.repeated:
        request.toast = request.t.gettext(N_("Already sent to your manager."))
        return
    request.edit(render_requested(request.t, made))


@action()
async def decide(request: Request) -> None:
    """``appr:yes:<id>`` / ``appr:no:<id>``: decide, and show the decision on the pressed message."""
    _, verb, approval_id = _parts(request)
    zone = request.context.runtime.clock.zone
    decision = await approvals.decide(request.session, request.me, int(approval_id), verb == "yes",
                                      now=request.now, zone=zone)
    t = request.t
    request.edit(approvals.render_for_approver(t, decision.view, zone))
    if not decision.decided_now:
        view = decision.view
        line = {ApprovalStatus.APPROVED: N_("Already approved by {name}."),
                ApprovalStatus.WITHDRAWN: N_("Nothing to decide: {name} undid the order.")}.get(
                    view.status, N_("Already rejected by {name}."))
        request.toast = t.gettext(line).format(name=view.decided_by or "—")


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    application.add_handler(CommandHandler("discount", discount, private))
    application.add_handler(CallbackQueryHandler(pick, pattern=r"^disc:pick:\d+:\d+$"))
    application.add_handler(CallbackQueryHandler(decide, pattern=r"^appr:(yes|no):\d+$"))

