"""/expense (claim an expense, with its receipt's photo) and /expenses (the month's claims).

``/expense AMOUNT CATEGORY [NOTE]`` claims at once; ``/expense`` alone (or with the amount only)
asks for the amount, the category (buttons, ``exp:cat:<category>``) and a note (``exp:skip``).
A photo whose caption is the ``/expense`` line claims with that photo as the receipt. Once a claim
is saved the bot asks for the receipt's photo: the next photo in the chat is kept with the claim.
However it is asked, the claim is keyed by the update that started it: one flow claims once. The
reply shows what is left of the month's budget and carries a 10-minute Undo (``exp:undo:<id>``).

The approvers' push carries ``exp:yes:<id>`` / ``exp:no:<id>`` and ``exp:rcpt:<id>`` (the receipt's
photo, sent to whoever presses, if they may see the claim); every press is re-authorised by the
service (bot/services/money/expenses.py).

``/expenses [PERIOD]`` lists the claims of a period (default: this month) in the caller's scope: a
rep their own, a manager the team's, the director, finance and admins everyone's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
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

from bot.i18n import N_, Translator
from bot.services.errors import Invalid
from bot.services.money import expenses
from bot.services.money.amounts import format_amount
from bot.services.money.expense_rules import (
    CATEGORY_LABELS,
    ClaimTerms,
    clean_note,
    month_of,
    read_claim,
)
from bot.services.money.expenses import Claimed
from bot.services.outbox import Buttons
from bot.services.reporting.periods import parse_period
from handlers.base import Request, action, with_retries
from handlers.flows import another_command_ends_flow
from models import ExpenseCategory, ExpenseStatus, Role

AMOUNT, CATEGORY, NOTE, RECEIPT = range(4)
END = ConversationHandler.END
DRAFT = "expense.draft"
FLOW_TIMEOUT = timedelta(minutes=15)
#: ``/expense …`` as a photo's caption (a caption is not a command to Telegram).
CAPTION = re.compile(r"^/expense(?:@\w+)?(?:\s+(?P<rest>.*))?$", re.DOTALL | re.IGNORECASE)


@dataclass
class ExpenseDraft:
    """A claim being put together, then the saved claim waiting for its receipt (``user_data``)."""

    key: str
    amount: Decimal | None = None
    category: ExpenseCategory | None = None
    receipt_file_id: str | None = None
    #: Set once saved: the next photo is this claim's receipt.
    saved_id: int | None = None


# -- rendering -----------------------------------------------------------------------------------


def render_claimed(t: Translator, made: Claimed, *, receipt_asked: bool) -> str:
    view = made.view
    lines = [
        t(
            N_("🧾 Expense claim #{id}: {amount}, {category}."),
            id=view.id,
            amount=format_amount(view.amount),
            category=expenses.category_label(t, view.category),
        )
    ]
    if view.note:
        lines.append(t(N_("Note: {note}"), note=view.note))
    if view.receipt_file_id:
        lines.append(t(N_("Receipt photo kept.")))
    if made.above_allowance:
        lines.append(expenses.allowance_line(t, made.meal_allowance))
    lines.append(expenses.budget_line(t, made.budget))
    lines.append(expenses.approvers_line(t, made))
    if not made.repeated and not made.approvers:
        lines.append(t(N_("Nobody who can approve it can be reached right now: it waits for them.")))
    if receipt_asked:
        lines.append(t(N_("📷 Send the receipt's photo now if you have one.")))
    return "\n".join(lines)


def undo_button(t: Translator, expense_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t.gettext(N_("↩ Undo (10 minutes)")), callback_data=f"exp:undo:{expense_id}")]]
    )


def category_buttons(t: Translator) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(t.gettext(label), callback_data=f"exp:cat:{category.value}")
        for category, label in CATEGORY_LABELS.items()
    ]
    return InlineKeyboardMarkup([buttons[i : i + 3] for i in range(0, len(buttons), 3)])


def skip_button(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t.gettext(N_("Skip")), callback_data="exp:skip")]])


# -- the draft -----------------------------------------------------------------------------------


def _draft(request: Request) -> ExpenseDraft:
    draft = request.user_data.get(DRAFT)
    if not isinstance(draft, ExpenseDraft):
        raise Invalid(N_("This claim was interrupted. Start again with /expense."))
    return draft


def _typed(request: Request) -> str:
    message = request.update.effective_message
    return (message.text or "") if message else ""


def _photo(request: Request) -> str | None:
    message = request.update.effective_message
    return message.photo[-1].file_id if message is not None and message.photo else None  # the largest


# -- the steps -----------------------------------------------------------------------------------


async def _save(request: Request, draft: ExpenseDraft, note: str | None, edit: bool) -> int:
    assert draft.amount is not None
    made = await expenses.claim(
        request.session,
        request.me,
        ClaimTerms(draft.amount, draft.category, note),
        receipt_file_id=draft.receipt_file_id,
        now=request.now,
        zone=request.context.runtime.clock.zone,
        source_key=draft.key,
    )
    if made.repeated and edit:
        request.toast = request.t.gettext(N_("Already claimed."))
        return END
    ask = made.view.receipt_file_id is None and made.view.status == ExpenseStatus.PENDING
    text, markup = render_claimed(request.t, made, receipt_asked=ask), undo_button(request.t, made.view.id)
    if edit:
        request.edit(text, markup)
    else:
        request.reply(text, markup)
    if not ask:
        request.user_data.pop(DRAFT, None)
        return END
    draft.saved_id = made.view.id
    return RECEIPT


async def _start(request: Request, text: str, receipt: str | None) -> object:
    expenses.check_may_claim(request.me)
    draft = ExpenseDraft(key=request.source_key, receipt_file_id=receipt)
    request.user_data[DRAFT] = draft
    if not text:
        request.reply(
            request.t(N_("How much did you spend? Type the amount, like 45 or 1.2k. (/cancel to stop)"))
        )
        return AMOUNT
    return await _with_terms(request, draft, read_claim(text))


async def _with_terms(request: Request, draft: ExpenseDraft, terms: ClaimTerms) -> object:
    draft.amount, draft.category = terms.amount, terms.category
    if terms.category is None:
        request.reply(request.t(N_("What was it for? Press a category.")), category_buttons(request.t))
        return CATEGORY
    return await _save(request, draft, terms.note, edit=False)


# -- handlers ------------------------------------------------------------------------------------


@action()
async def expense_command(request: Request) -> object:
    """``/expense``, ``/expense AMOUNT``, ``/expense AMOUNT CATEGORY [NOTE]``."""
    return await _start(request, request.text_after_command, None)


@action()
async def captioned_photo(request: Request) -> object:
    """A photo captioned ``/expense …``: the claim, with the photo as its receipt."""
    message = request.update.effective_message
    match = CAPTION.match((message.caption or "").strip()) if message else None
    if match is None:
        return END
    return await _start(request, (match["rest"] or "").strip(), _photo(request))


@action()
async def typed_amount(request: Request) -> object:
    draft = _draft(request)
    return await _with_terms(request, draft, read_claim(_typed(request)))


@action()
async def chosen_category(request: Request) -> object:
    draft = _draft(request)
    query = request.update.callback_query
    try:
        draft.category = ExpenseCategory((query.data or "").rsplit(":", 1)[1] if query else "")
    except (IndexError, ValueError):
        return None
    request.edit(
        request.t(
            N_("{category}: a note for your manager (what, where, with whom)? Type it, or press Skip."),
            category=expenses.category_label(request.t, draft.category),
        ),
        skip_button(request.t),
    )
    return NOTE


@action()
async def typed_note(request: Request) -> object:
    return await _save(request, _draft(request), clean_note(_typed(request)), edit=False)


@action()
async def skipped_note(request: Request) -> object:
    return await _save(request, _draft(request), None, edit=True)


@action()
async def receipt_photo(request: Request) -> object:
    """The photo sent after a claim: its receipt."""
    draft = _draft(request)
    file_id = _photo(request)
    if draft.saved_id is None or file_id is None:  # the claim was undone meanwhile
        request.user_data.pop(DRAFT, None)
        return END
    view = await expenses.attach_receipt(
        request.session, request.me, draft.saved_id, file_id, now=request.now
    )
    request.reply(request.t(N_("🧾 Receipt photo kept with claim #{id}."), id=view.id))
    request.user_data.pop(DRAFT, None)
    return END


@action()
async def cancel(request: Request) -> object:
    draft = request.user_data.pop(DRAFT, None)
    if isinstance(draft, ExpenseDraft) and draft.saved_id is not None:
        request.reply(
            request.t(N_("Claim #{id} stays as it is, without a receipt photo."), id=draft.saved_id)
        )
    else:
        request.reply(request.t(N_("Cancelled: nothing was claimed.")))
    return END


# -- buttons outside the flow --------------------------------------------------------------------


def _parts(request: Request) -> list[str]:
    query = request.update.callback_query
    return (query.data or "").split(":") if query else []


@action()
async def undo(request: Request) -> None:
    """``exp:undo:<id>``: the claimant withdraws a claim nobody has decided yet."""
    _, _, expense_id = _parts(request)
    view = await expenses.undo(request.session, request.me, int(expense_id), now=request.now)
    draft = request.user_data.get(DRAFT)
    if isinstance(draft, ExpenseDraft) and draft.saved_id == view.id:  # no receipt for it now
        draft.saved_id = None
    request.edit(
        request.t(
            N_("↩ Claim #{id} ({amount}, {category}) withdrawn: it does not count against your budget."),
            id=view.id,
            amount=format_amount(view.amount),
            category=expenses.category_label(request.t, view.category),
        )
    )


@action()
async def decide(request: Request) -> None:
    """``exp:yes:<id>`` / ``exp:no:<id>``: decide, and show the decision on the pressed message."""
    _, verb, expense_id = _parts(request)
    zone = request.context.runtime.clock.zone
    decision = await expenses.decide(
        request.session, request.me, int(expense_id), verb == "yes", now=request.now, zone=zone
    )
    t = request.t
    view = decision.view
    request.edit(expenses.render_decided(t, view, zone), _receipt_only(t, view.id))
    if not decision.decided_now:
        line = {
            ExpenseStatus.APPROVED: N_("Already approved by {name}."),
            ExpenseStatus.WITHDRAWN: N_("Nothing to decide: {name} withdrew the claim."),
        }.get(view.status, N_("Already rejected by {name}."))
        request.toast = t.gettext(line).format(name=view.decided_by or "—")


def _receipt_only(t: Translator, expense_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t.gettext(N_("🧾 Receipt")), callback_data=f"exp:rcpt:{expense_id}")]]
    )


@action()
async def receipt(request: Request) -> None:
    """``exp:rcpt:<id>``: the claim's receipt photo, to whoever may see the claim."""
    _, _, expense_id = _parts(request)
    view = await expenses.receipt_of(request.session, request.me, int(expense_id))
    t = request.t
    if view.receipt_file_id is None:
        request.toast = t.gettext(N_("No receipt photo was sent with claim #{id}.")).format(id=view.id)
        return
    file_id, chat = view.receipt_file_id, request.me.telegram_id
    caption = t(
        N_("Receipt of claim #{id}: {name}, {amount}, {category}"),
        id=view.id,
        name=view.rep,
        amount=format_amount(view.amount),
        category=expenses.category_label(t, view.category),
    )
    bot = request.context.bot

    async def send() -> None:
        await with_retries(lambda: bot.send_photo(chat, file_id, caption=caption, parse_mode="HTML"))

    request.after_commit.append(send)


# -- /expenses -----------------------------------------------------------------------------------


@action()
async def listing(request: Request) -> None:
    """``/expenses [PERIOD]``: the claims of a period (default this month) in the caller's scope."""
    zone = request.context.runtime.clock.zone
    today = request.now.astimezone(zone).date()
    text = request.text_after_command
    if text.lower() in expenses.PENDING_WORDS:
        await _pending(request)
        return
    period = parse_period(text or f"{today:%Y-%m}", today)
    found = await expenses.listing(request.session, request.me, period, zone)
    t, me = request.t, request.me
    lines = [
        "<b>" + t(N_("Expense claims: {period}"), period=period.title(t)) + "</b>",
        t(
            N_("Approved {approved} · pending {pending} · rejected {rejected} · claims: {count}"),
            approved=format_amount(found.approved),
            pending=format_amount(found.pending),
            rejected=format_amount(found.rejected),
            count=found.count,
        ),
    ]
    own = me.role == Role.REP
    if own and month_of(period.start) == month_of(period.end):
        state = await expenses.budget_state(request.session, me.id, me.role, month_of(period.start))
        lines.append(expenses.budget_line(t, state))
    elif found.people:
        lines += ["", *expenses.person_lines(t, found)]
    teams = [] if own else await expenses.team_months(request.session, me, today)
    if teams:
        lines += ["", t(N_("Approved this month against the team budget:")), *expenses.team_lines(t, teams)]
    if found.claims:
        lines += ["", t(N_("Latest claims:"))]
        lines += [expenses.claim_line(t, view, zone, with_name=not own) for view in found.claims]
        if found.count > len(found.claims):
            lines.append(
                t(N_("…and {count} more: /export has them all."), count=found.count - len(found.claims))
            )
    elif not found.count:
        lines.append(t(N_("No claims in this period.")))
    request.reply("\n".join(lines))


async def _pending(request: Request) -> None:
    """``/expenses pending``: each claim waiting for the caller's decision, with the push's buttons."""
    t, zone = request.t, request.context.runtime.clock.zone
    waiting = await expenses.to_decide(request.session, request.me)
    if not waiting:
        request.reply(t(N_("No expense claims are waiting for your decision.")))
        return
    request.reply(
        "<b>" + t(N_("Expense claims waiting for your decision: {count}"), count=len(waiting)) + "</b>"
    )
    for view in waiting[: expenses.LIST_LIMIT // 4]:
        text = await expenses.request_text(request.session, t, view, zone)
        request.reply(text, _inline(expenses.decision_buttons(t, view.id)))
    if len(waiting) > expenses.LIST_LIMIT // 4:
        request.reply(
            t(
                N_("{count} more are waiting: decide these, then send /expenses pending again."),
                count=len(waiting) - expenses.LIST_LIMIT // 4,
            )
        )


def _inline(buttons: Buttons) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row] for row in buttons]
    )


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    typed = private & filters.TEXT & ~filters.COMMAND
    captioned = private & filters.PHOTO & filters.CaptionRegex(r"(?i)^\s*/expense(@\w+)?(\s|$)")
    application.add_handler(
        ConversationHandler(
            entry_points=[
                CommandHandler("expense", expense_command, private),
                MessageHandler(captioned, captioned_photo),
            ],
            states={
                AMOUNT: [MessageHandler(typed, typed_amount)],
                CATEGORY: [CallbackQueryHandler(chosen_category, pattern=r"^exp:cat:[a-z]+$")],
                NOTE: [
                    MessageHandler(typed, typed_note),
                    CallbackQueryHandler(skipped_note, pattern=r"^exp:skip$"),
                ],
                RECEIPT: [MessageHandler(private & filters.PHOTO, receipt_photo)],
            },
            fallbacks=[CommandHandler("cancel", cancel, private), another_command_ends_flow()],
            per_chat=True,
            per_user=True,
            allow_reentry=True,
            conversation_timeout=FLOW_TIMEOUT,
            name="expense",
            persistent=True,
        )
    )
    application.add_handler(CommandHandler("expenses", listing, private))
    application.add_handler(CallbackQueryHandler(undo, pattern=r"^exp:undo:\d{1,12}$"))
    application.add_handler(CallbackQueryHandler(decide, pattern=r"^exp:(yes|no):\d{1,12}$"))
    application.add_handler(CallbackQueryHandler(receipt, pattern=r"^exp:rcpt:\d{1,12}$"))
