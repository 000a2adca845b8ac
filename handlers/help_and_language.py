"""/help and /lang."""

from __future__ import annotations

from telegram.ext import Application, CommandHandler, filters

from bot.i18n import LANGUAGES, N_, Translator, escape
from bot.menus import ROLE_LABELS, commands_for
from bot.services.people import users
from handlers.base import Request, action, give_menu
from models import Role


def help_text(t: Translator, role: Role, name: str | None) -> str:
    """The commands this role may use, one line each: what follows a command is in the reader's
    language too (``/collect [客户：金额 …]``), the command itself never is."""
    head = (
        t(
            N_("{name}, you are signed in as {role}. Here is what you can do:"),
            name=name,
            role=t.gettext(ROLE_LABELS[role]),
        )
        if name
        else t(N_("Here is what you can do:"))
    )
    lines = [head, ""]
    for spec in commands_for(role):
        usage = f" {escape(t.gettext(spec.usage))}" if spec.usage else ""
        lines.append(f"/{spec.name}{usage} — {escape(t.gettext(spec.description))}")
    return "\n".join(lines)


@action()
async def show_help(request: Request) -> None:
    request.reply(help_text(request.t, request.me.role, request.me.name))


@action()
async def set_language(request: Request) -> None:
    choice = request.args[0].lower() if request.args else ""
    if choice not in LANGUAGES:
        request.reply(request.t(N_("Usage: /lang en or /lang zh")))
        return
    await users.set_language(request.session, request.me, choice)
    request.t = Translator(choice)
    request.reply(request.t(N_("I will speak English with you from now on.")))
    me = request.me

    async def menu() -> None:
        await give_menu(request.context, me.id, me.telegram_id, me.role, choice)

    request.after_commit.append(menu)


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("help", show_help, private))
    application.add_handler(CommandHandler("lang", set_language, private))
