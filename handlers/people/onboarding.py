"""/start: joining with an invite link, and greeting people who come back."""

from __future__ import annotations

from telegram.ext import Application, CommandHandler, filters

from bot.i18n import N_, Translator
from bot.menus import ROLE_LABELS
from bot.services.field import qr
from bot.services.people import invites, users
from handlers.base import STRANGER, Request, action, give_menu
from handlers.help_and_language import help_text

WELCOME = N_("Welcome, {name}! You are registered as {role}.")
WELCOME_TEAM = N_("Welcome, {name}! You are registered as {role} in team {team}.")


#: ``/start qr…``: a customer's QR code scanned (bot/services/field/qr.py). Handled by the /visit
#: conversation's entry point (handlers/field/qr.py), which answers strangers with :func:`answer_start`.
QR_START = filters.Regex(rf"^/start(?:@\w+)?\s+{qr.PARAM.pattern}\s*$")


async def answer_start(request: Request) -> None:
    """``/start [token]``: an invite redeemed, or the answer to someone known or unknown."""
    token = request.args[0] if request.args else None
    if request.caller is not None:
        if token is not None:
            request.reply(request.t(N_("You are already registered.")))
        request.reply(help_text(request.t, request.me.role, request.me.name))
        return
    if token is None:  # someone deactivated is told so, rather than to look for a link
        known = await users.is_known(request.session, request.identity.telegram_id)
        request.reply(request.t(invites.SWITCHED_OFF if known else STRANGER))
        return
    joined = await invites.redeem(request.session, request.identity, token, request.now)
    t = request.t = Translator(joined.language)
    role = t.gettext(ROLE_LABELS[joined.role])
    greeting = (
        t(WELCOME_TEAM, name=joined.name, role=role, team=joined.team)
        if joined.team
        else t(WELCOME, name=joined.name, role=role)
    )
    request.reply(greeting + "\n\n" + help_text(t, joined.role, None))

    async def menu() -> None:
        await give_menu(
            request.context, joined.user_id, request.identity.telegram_id, joined.role, joined.language
        )

    request.after_commit.append(menu)


start = action(registered=False)(answer_start)


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("start", start, filters.ChatType.PRIVATE & ~QR_START))
