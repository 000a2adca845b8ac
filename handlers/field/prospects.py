"""The reviewer's buttons on a new customer report: make the prospect active, or merge it.

``pros:act:<id>`` starts a short guided step: the customer code (typed, or the suggested one:
``pros:code``), then the grade (``pros:grade:<A-D>``); the prospect becomes an active customer.
``pros:merge:<id>`` asks which existing customer it is (typed, or one of the likely ones:
``pros:into:<id>``), then shows what would move, with ``pros:do:<prospect>:<customer>`` (merge)
and ``pros:no`` (nothing). Every press is re-authorised by ``bot/services/field/prospects.py``;
``/cancel`` or another command stops the step and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.i18n import N_, Translator
from bot.runtime import Context
from bot.services.errors import NotFound
from bot.services.field import prospects
from bot.services.field.customers import CustomerRef
from bot.services.field.prospects import MergePreview, Reviewed
from bot.services.money.amounts import format_amount
from bot.services.outbox import Buttons
from bot.services.people.access import Permission, require
from bot.services.policy import grade_rules
from bot.views import counts
from handlers.base import Request, action
from handlers.field.customer_choice import candidate_buttons, which_one
from handlers.flows import another_command_ends_flow
from models import GRADES

REVIEW_KEY = "prospects.review"
LANGUAGE_KEY = "prospects.language"
STEP_TIMEOUT = timedelta(minutes=15)
CODE, GRADE, TARGET = range(3)


@dataclass(frozen=True)
class Review:
    """The prospect under review (kept in ``user_data`` between the steps)."""

    prospect_id: int
    label: str
    suggested: str = ""
    code: str = ""


def inline(buttons: Buttons) -> InlineKeyboardMarkup:
    """Buttons as the outbox stores them, for a reply."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row] for row in buttons]
    )


def _review(request: Request) -> Review:
    review = request.user_data.get(REVIEW_KEY)
    if not isinstance(review, Review):
        raise NotFound(N_("This step has expired: press the button on the new customer report again."))
    return review


def _pressed(request: Request) -> list[str]:
    query = request.update.callback_query
    return (query.data or "").split(":") if query is not None else []


def _typed(request: Request) -> str:
    message = request.update.effective_message
    return (message.text or "") if message else ""


def _begin(request: Request, review: Review) -> None:
    request.user_data[REVIEW_KEY] = review
    request.user_data[LANGUAGE_KEY] = request.me.language


# -- making it active -------------------------------------------------------------------------------


@action()
async def start_activation(request: Request) -> int:
    prospect_id = int(_pressed(request)[2])
    ref = await prospects.open_review(request.session, request.me, prospect_id)
    suggested = await prospects.suggest_code(request.session, request.me, prospect_id)
    _begin(request, Review(prospect_id, ref.label, suggested=suggested))
    t = request.t
    request.reply(
        t(
            N_(
                "Make {prospect} an active customer.\nIts customer code? Type it, or press the "
                "suggested one. (/cancel to stop)"
            ),
            prospect=ref.label,
        ),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t.gettext(N_("Use {code}")).format(code=suggested)[:60], callback_data="pros:code"
                    )
                ]
            ]
        ),
    )
    return CODE


async def _ask_grade(request: Request, review: Review, code: str) -> int:
    request.user_data[REVIEW_KEY] = replace(review, code=code)
    t = request.t
    rules = await grade_rules(request.session)
    lines = [t(N_("Code {code}. Its grade?"), code=code)]
    lines += [
        t(
            N_("{grade}: visit every {visits} · credit term {days} · credit limit {limit}"),
            grade=grade,
            visits=counts.days(t, rule.visit_every_days),
            days=counts.days(t, rule.credit_days),
            limit=format_amount(rule.credit_limit),
        )
        for grade, rule in sorted(rules.items())
    ]
    request.reply(
        "\n".join(lines),
        InlineKeyboardMarkup(
            [[InlineKeyboardButton(grade, callback_data=f"pros:grade:{grade}") for grade in GRADES]]
        ),
    )
    return GRADE


@action()
async def typed_code(request: Request) -> int:
    review = _review(request)
    code = await prospects.check_code(request.session, request.me, review.prospect_id, _typed(request))
    return await _ask_grade(request, review, code)


@action()
async def suggested_code(request: Request) -> int:
    review = _review(request)
    code = await prospects.check_code(request.session, request.me, review.prospect_id, review.suggested)
    return await _ask_grade(request, review, code)


def _told(t: Translator, reviewed: Reviewed) -> str:
    return ("\n" + t(N_("{rep} has been told."), rep=reviewed.rep_name)) if reviewed.rep_name else ""


@action()
async def chose_grade(request: Request) -> int:
    review = _review(request)
    reviewed = await prospects.activate(
        request.session,
        request.me,
        review.prospect_id,
        review.code,
        _pressed(request)[2],
        now=request.now,
        zone=request.context.runtime.clock.zone,
    )
    request.user_data.pop(REVIEW_KEY, None)
    ref = reviewed.prospect
    request.edit(
        request.t(
            N_("✅ {name} is now an active customer: code {code}, grade {grade}."),
            name=ref.name,
            code=ref.code,
            grade=ref.grade,
        )
        + _told(request.t, reviewed)
    )
    return ConversationHandler.END


@action()
async def grade_text(request: Request) -> None:
    request.reply(request.t(N_("Press one of the grade buttons above (or send /cancel).")))


# -- merging ------------------------------------------------------------------------------------------


@action()
async def start_merge(request: Request) -> int:
    prospect_id = int(_pressed(request)[2])
    ref = await prospects.open_review(request.session, request.me, prospect_id)
    _begin(request, Review(prospect_id, ref.label))
    likely = await prospects.likely_targets(request.session, request.me, prospect_id)
    t = request.t
    text = t(
        N_("Merge {prospect} into which existing customer? Type part of its name or code. (/cancel to stop)"),
        prospect=ref.label,
    )
    if likely:
        text += "\n" + t(N_("It may be one of these:"))
    request.reply(text, candidate_buttons(likely, "pros:into") if likely else None)
    return TARGET


def _preview_markup(t: Translator, preview: MergePreview) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext(N_("🔗 Merge")),
                    callback_data=f"pros:do:{preview.prospect.id}:{preview.target.id}",
                ),
                InlineKeyboardButton(t.gettext(N_("Cancel")), callback_data="pros:no"),
            ]
        ]
    )


async def _preview(request: Request, target_id: int) -> int:
    review = _review(request)
    preview = await prospects.merge_preview(request.session, request.me, review.prospect_id, target_id)
    request.user_data.pop(REVIEW_KEY, None)
    request.reply(prospects.render_preview(request.t, preview), _preview_markup(request.t, preview))
    return ConversationHandler.END


@action()
async def typed_target(request: Request) -> int | None:
    review = _review(request)
    text = _typed(request)
    resolution = await prospects.resolve_target(request.session, request.me, review.prospect_id, text)
    if resolution.customer is not None:
        return await _preview(request, resolution.customer.id)
    if not resolution.candidates:
        raise NotFound(
            N_("No other customer matches {query}. Try part of the name or the code."),
            query=" ".join(text.split())[:100],
        )
    request.reply(
        which_one(request.t, text, resolution.near), candidate_buttons(resolution.candidates, "pros:into")
    )
    return None


@action()
async def picked_target(request: Request) -> int:
    return await _preview(request, int(_pressed(request)[2]))


@action()
async def do_merge(request: Request) -> None:
    """``pros:do:<prospect>:<customer>``: merge (re-authorised; a second press is told it is done)."""
    _, _, prospect_id, target_id = _pressed(request)
    reviewed = await prospects.merge(
        request.session,
        request.me,
        int(prospect_id),
        int(target_id),
        now=request.now,
        zone=request.context.runtime.clock.zone,
    )
    t, moved = request.t, reviewed.moved or {}
    target: CustomerRef | None = reviewed.target
    assert target is not None
    request.edit(
        t(
            N_(
                "🔗 Merged {prospect} into {customer}. Moved: visits {visits} · invoices {invoices} · "
                "collections {collections} · requests {requests}."
            ),
            prospect=reviewed.prospect.label,
            customer=target.label,
            visits=moved.get("visits", 0),
            invoices=moved.get("receivables", 0),
            collections=moved.get("collections", 0),
            requests=moved.get("approvals", 0),
        )
        + _told(t, reviewed)
    )


@action()
async def no_merge(request: Request) -> None:
    require(request.me, Permission.REVIEW_CUSTOMERS)
    request.edit(request.t(N_("Stopped: nothing was merged.")))


# -- leaving ------------------------------------------------------------------------------------------


@action()
async def cancel_review(request: Request) -> int:
    request.user_data.pop(REVIEW_KEY, None)
    request.reply(request.t(N_("Stopped: nothing changed.")))
    return ConversationHandler.END


async def review_timed_out(update: object, context: Context) -> None:
    """The step was left open too long: nothing changed (not an ``@action``: nothing is written)."""
    data = context.user_data if context.user_data is not None else {}
    review = data.pop(REVIEW_KEY, None)
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is None or not isinstance(review, Review):
        return
    t = Translator(str(data.get(LANGUAGE_KEY, "en")))
    await context.bot.send_message(
        chat.id, t(N_("The review of {prospect} timed out: nothing changed."), prospect=review.label)
    )


def review_conversation() -> ConversationHandler[Any]:
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    typed = private & filters.TEXT & ~filters.COMMAND
    return ConversationHandler(
        entry_points=[
            CallbackQueryHandler(start_activation, pattern=r"^pros:act:\d+$"),
            CallbackQueryHandler(start_merge, pattern=r"^pros:merge:\d+$"),
        ],
        states={
            CODE: [
                MessageHandler(typed, typed_code),
                CallbackQueryHandler(suggested_code, pattern=r"^pros:code$"),
            ],
            GRADE: [
                CallbackQueryHandler(chose_grade, pattern=r"^pros:grade:[ABCD]$"),
                MessageHandler(typed, grade_text),
            ],
            TARGET: [
                MessageHandler(typed, typed_target),
                CallbackQueryHandler(picked_target, pattern=r"^pros:into:\d+$"),
            ],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, review_timed_out)],
        },
        fallbacks=[
            CommandHandler("cancel", cancel_review, filters.ChatType.PRIVATE),
            another_command_ends_flow(),
        ],
        allow_reentry=True,
        conversation_timeout=STEP_TIMEOUT,
        name="prospect_review",
        persistent=True,
    )


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(review_conversation())
    application.add_handler(CallbackQueryHandler(do_merge, pattern=r"^pros:do:\d+:\d+$"))
    application.add_handler(CallbackQueryHandler(no_merge, pattern=r"^pros:no$"))
