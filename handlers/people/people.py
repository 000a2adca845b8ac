"""People management: /invite, /invites, /users, /role, /deactivate, /activate."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.i18n import N_, Translator, escape
from bot.menus import ROLE_LABELS, ROLE_PERSON
from bot.services.people import invites, users
from bot.services.people.invites import InviteRow, NewInvite, Revoked, TeamChoice
from bot.services.people.users import Page, UserRow
from bot.telegram_menus import clear_chat_menu
from handlers.base import Request, action, give_menu
from handlers.paging import page_of, pager
from models import User

USERS_PER_PAGE = 20
INVITES_PER_PAGE = 10


#: user_data: token (the id of the /invite message) → what it asked for, while the inviter picks a team.
INVITE_CHOICES = "invite.choices"
#: Choices kept per person: an older one's buttons then answer that they expired.
MAX_CHOICES = 5
TEAM_BUTTON = 40
CHOICE_EXPIRED = N_("This choice has expired: nothing was created. Send /invite again.")


@action()
async def invite(request: Request) -> None:
    args = request.args
    if not args:
        request.reply(
            request.t(
                N_(
                    "Usage: /invite ROLE [TEAM]\nRoles: admin, director, manager, finance, rep.\n"
                    "Example: /invite rep North"
                )
            )
        )
        return
    team_name = " ".join(args[1:]) or None
    created = await invites.create_invite(
        request.session, request.me, args[0], team_name, source_key=request.source_key, now=request.now
    )
    if isinstance(created, TeamChoice):
        token = _remember_choice(request, created)
        request.reply(*render_team_choice(request.t, created, token))
        return
    request.reply(render_invite(request, created))


def render_invite(request: Request, created: NewInvite) -> str:
    t = request.t
    if created.token is None:
        return t(N_("This invite was already created. Send /invite again for a new link."))
    username = request.context.bot.username
    link = f"https://t.me/{username}?start={created.token}"
    expires = created.expires_at.astimezone(request.context.runtime.settings.timezone)
    lines = []
    if created.team_created:
        lines.append(t(N_("New team {team} created."), team=created.team))
    someone = t.gettext(ROLE_PERSON[created.role])
    lines.append(
        t(N_("Invite for {someone} in team {team}:"), someone=someone, team=created.team)
        if created.team
        else t(N_("Invite for {someone}:"), someone=someone)
    )
    lines.append(f"<code>{escape(link)}</code>")
    lines.append(
        t(
            N_("Send this link to one person. It works once and expires on {date}."),
            date=f"{expires:%Y-%m-%d %H:%M}",
        )
    )
    return "\n".join(lines)


def render_team_choice(t: Translator, choice: TeamChoice, token: str) -> tuple[str, InlineKeyboardMarkup]:
    """ "There is no team Eastt": the existing teams as buttons, and one that creates Eastt."""
    if choice.teams:
        text = t(
            N_("There is no team {team}. Invite into one of these teams, or create {team}:"), team=choice.name
        )
    else:
        text = t(N_("There is no team yet. Create team {team}?"), team=choice.name)
    rows = [
        [InlineKeyboardButton(team.name[:TEAM_BUTTON], callback_data=f"invite:team:{token}:{team.id}")]
        for team in choice.teams
    ]
    rows.append(
        [
            InlineKeyboardButton(
                t.gettext(N_("➕ Create team {team}")).format(team=choice.name[:TEAM_BUTTON]),
                callback_data=f"invite:new:{token}",
            )
        ]
    )
    return text, InlineKeyboardMarkup(rows)


def _choices(request: Request) -> dict[str, dict[str, str]]:
    data = request.context.user_data
    assert data is not None  # every update we handle has a user
    store: dict[str, dict[str, str]] = data.setdefault(INVITE_CHOICES, {})
    return store


def _remember_choice(request: Request, choice: TeamChoice) -> str:
    """Keep what ``/invite`` asked for under a token (its message id) until a team is picked.

    The invite is then made under the command's own ``source_key``: a second press of any
    button of the same question finds it made and makes no second one.
    """
    message = request.update.effective_message
    assert message is not None
    token = str(message.message_id)
    store = _choices(request)
    store[token] = {"role": choice.role.value, "team": choice.name, "source_key": request.source_key}
    while len(store) > MAX_CHOICES:
        store.pop(next(iter(store)))
    return token


async def _invite_from_choice(request: Request, *, team_id: int | None) -> None:
    """``invite:team:<token>:<team id>`` or ``invite:new:<token>``: make the invite the question was
    about, with the presser's authority checked again (:func:`invites.create_invite`)."""
    query = request.update.callback_query
    parts = (query.data or "").split(":") if query else []
    token = parts[2]  # the patterns registered below guarantee it
    chosen = _choices(request).get(token)
    if chosen is None:
        request.toast = request.t.gettext(CHOICE_EXPIRED)
        return
    created = await invites.create_invite(
        request.session,
        request.me,
        chosen["role"],
        None if team_id is not None else chosen["team"],
        source_key=chosen["source_key"],
        now=request.now,
        team_id=team_id,
        create_team=team_id is None,
    )
    assert isinstance(created, NewInvite)  # a team id, or leave to create: never a question again
    request.edit(render_invite(request, created))
    store = _choices(request)

    async def forget() -> None:
        store.pop(token, None)

    request.after_commit.append(forget)


@action()
async def invite_into_team(request: Request) -> None:
    query = request.update.callback_query
    team_id = int(((query.data or "") if query else "").rsplit(":", 1)[-1])
    await _invite_from_choice(request, team_id=team_id)


@action()
async def invite_new_team(request: Request) -> None:
    await _invite_from_choice(request, team_id=None)


def _invite_line(t: Translator, row: InviteRow, zone: ZoneInfo) -> str:
    role = escape(t.gettext(ROLE_LABELS[row.role]))
    team = f" · {escape(row.team)}" if row.team else ""
    expires = f"{row.expires_at.astimezone(zone):%Y-%m-%d %H:%M}"
    return f"<b>#{row.id}</b> · {role}{team} · " + t(
        N_("by {name}, expires {date}"), name=row.created_by, date=expires
    )


def render_invites(
    t: Translator, listing: Page[InviteRow], zone: ZoneInfo, note: str | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The pending invites, one Revoke button each, and ‹ › for more pages."""
    lines = [note, ""] if note else []
    if not listing.total:
        lines.append(t(N_("No pending invites. /invite ROLE [TEAM] makes one.")))
    else:
        lines += [t(N_("Pending invites: {total}"), total=listing.total), ""]
        lines += [_invite_line(t, row, zone) for row in listing.items]
    rows = [
        [
            InlineKeyboardButton(
                t(N_("Revoke #{id}"), id=row.id), callback_data=f"invites:revoke:{row.id}:{listing.page}"
            )
        ]
        for row in listing.items
    ]
    navigation = pager(t, "invites", listing.page, listing.pages)
    if navigation is not None:
        rows += [list(row) for row in navigation.inline_keyboard]
    return "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None


def revoked_note(t: Translator, result: Revoked, zone: ZoneInfo) -> str:
    """What became of the invite whose Revoke button was pressed."""
    row = result.invite
    if result.revoked_now:
        return t(N_("Invite #{id} is revoked: its link no longer works."), id=row.id)
    if row.used_at is not None:
        return t(
            N_("Invite #{id} was already used: {name} joined with it."), id=row.id, name=row.used_by or "?"
        )
    if row.revoked_at is not None:
        return t(N_("Invite #{id} was already revoked."), id=row.id)
    return t(
        N_("Invite #{id} had already expired ({date})."),
        id=row.id,
        date=f"{row.expires_at.astimezone(zone):%Y-%m-%d %H:%M}",
    )


@action()
async def list_invites(request: Request) -> None:
    zone = request.context.runtime.clock.zone
    listing = await invites.pending(request.session, request.me, request.now, per_page=INVITES_PER_PAGE)
    request.reply(*render_invites(request.t, listing, zone))


@action()
async def invites_page(request: Request) -> None:
    query = request.update.callback_query
    zone = request.context.runtime.clock.zone
    listing = await invites.pending(
        request.session,
        request.me,
        request.now,
        page=page_of(query.data if query else None),
        per_page=INVITES_PER_PAGE,
    )
    request.edit(*render_invites(request.t, listing, zone))


@action()
async def revoke_invite(request: Request) -> None:
    """``invites:revoke:<id>:<page>``: revoke, then show the list again with what happened."""
    query = request.update.callback_query
    parts = (query.data or "").split(":") if query else []
    invite_id, page = int(parts[2]), int(parts[3])  # the pattern registered below guarantees both
    zone = request.context.runtime.clock.zone
    result = await invites.revoke(request.session, request.me, invite_id, request.now)
    listing = await invites.pending(
        request.session, request.me, request.now, page=page, per_page=INVITES_PER_PAGE
    )
    request.edit(*render_invites(request.t, listing, zone, revoked_note(request.t, result, zone)))


def render_users(t: Translator, listing: Page[UserRow]) -> str:
    lines = [t(N_("People: {total}"), total=listing.total), ""]
    for row in listing.items:
        handle = f" @{escape(row.username)}" if row.username else ""
        team = f" · {escape(row.team)}" if row.team else ""
        flags = ""
        if not row.active:
            flags = " · " + escape(t.gettext("deactivated"))
        elif not row.joined:
            flags = " · " + escape(t.gettext("not yet joined"))
        lines.append(
            f"<b>{escape(row.name)}</b>{handle} · {escape(t.gettext(ROLE_LABELS[row.role]))}"
            f"{team}{flags} · <code>{row.telegram_id}</code>"
        )
    return "\n".join(lines)


@action()
async def list_users(request: Request) -> None:
    listing = await users.list_users(request.session, request.me, per_page=USERS_PER_PAGE)
    request.reply(render_users(request.t, listing), pager(request.t, "users", 1, listing.pages))


@action()
async def users_page(request: Request) -> None:
    query = request.update.callback_query
    page = page_of(query.data if query else None)
    listing = await users.list_users(request.session, request.me, page=page, per_page=USERS_PER_PAGE)
    request.edit(render_users(request.t, listing), pager(request.t, "users", listing.page, listing.pages))


@action()
async def change_role(request: Request) -> None:
    args = request.args
    if len(args) < 2:
        request.reply(
            request.t(
                N_(
                    "Usage: /role WHO ROLE [TEAM]\nWHO is a Telegram id, @username or name.\n"
                    "Example: /role @li_wei manager North"
                )
            )
        )
        return
    user, team = await users.set_role(
        request.session,
        request.me,
        args[0],
        args[1],
        " ".join(args[2:]) or None,
        request.now,
        zone=request.context.runtime.clock.zone,
    )
    role = request.t.gettext(ROLE_LABELS[user.role])
    request.reply(
        request.t(N_("{name} is now {role} in team {team}."), name=user.name, role=role, team=team.name)
        if team
        else request.t(N_("{name} is now {role}."), name=user.name, role=role)
    )
    _refresh_their_menu(request, user)


def _refresh_their_menu(request: Request, user: User) -> None:
    if user.first_seen_at is None:
        return
    user_id, telegram_id, role, language, active = (
        user.id,
        user.telegram_id,
        user.role,
        user.language or "en",
        user.active,
    )

    async def menu() -> None:
        if active:
            await give_menu(request.context, user_id, telegram_id, role, language)
        else:
            await clear_chat_menu(request.context.bot, telegram_id)

    request.after_commit.append(menu)


async def _switch(request: Request, active: bool) -> None:
    who = request.text_after_command
    if not who:
        request.reply(
            request.t(N_("Usage: /deactivate WHO (a Telegram id, @username or name)"))
            if not active
            else request.t(N_("Usage: /activate WHO (a Telegram id, @username or name)"))
        )
        return
    user = await users.set_active(request.session, request.me, who, active, request.now)
    request.reply(
        request.t(N_("{name} can use the bot again."), name=user.name)
        if active
        else request.t(N_("{name} can no longer use the bot."), name=user.name)
    )
    _refresh_their_menu(request, user)


@action()
async def deactivate(request: Request) -> None:
    await _switch(request, active=False)


@action()
async def activate(request: Request) -> None:
    await _switch(request, active=True)


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("invite", invite, private))
    application.add_handler(CommandHandler("invites", list_invites, private))
    application.add_handler(
        CallbackQueryHandler(invite_into_team, pattern=r"^invite:team:\d{1,10}:\d{1,10}$")
    )
    application.add_handler(CallbackQueryHandler(invite_new_team, pattern=r"^invite:new:\d{1,10}$"))
    application.add_handler(CallbackQueryHandler(invites_page, pattern=r"^invites:\d{1,6}$"))
    application.add_handler(CallbackQueryHandler(revoke_invite, pattern=r"^invites:revoke:\d{1,9}:\d{1,6}$"))
    application.add_handler(CommandHandler("users", list_users, private))
    application.add_handler(CallbackQueryHandler(users_page, pattern=r"^users:\d+$"))
    application.add_handler(CommandHandler("role", change_role, private))
    application.add_handler(CommandHandler("deactivate", deactivate, private))
    application.add_handler(CommandHandler("activate", activate, private))
