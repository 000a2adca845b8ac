"""Sending visit photos back as an album: the "📷 Photos" buttons of the customer card and of the
rep drill-down (/rep, /summary).

The photos are Telegram file ids stored with the visits, so nothing is uploaded: one
``sendMediaGroup`` of up to 10 (``sendPhoto`` for a single one), sent after the press's
transaction has committed, like every reply. Each photo's caption says when it was taken and by
whom (or where); the first one also names the customer or the rep and how many there are in all.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from zoneinfo import ZoneInfo

from telegram import InputMediaPhoto

from bot.i18n import N_, Translator
from bot.services.field.visit_extras import Album, Photo
from bot.views.visit_extras import day, short_name
from handlers.base import Request, with_retries

Caption = Callable[[Photo], str]


def by_rep(zone: ZoneInfo) -> Caption:
    """Captions for a customer's photos: when, and which rep took them."""
    return lambda photo: f"{day(photo.at, zone)} · {short_name(photo.rep_name)}"


def at_customer(zone: ZoneInfo) -> Caption:
    """Captions for a rep's photos: when, and at which customer."""
    return lambda photo: f"{day(photo.at, zone)} · {short_name(photo.customer_name)}"


def _captions(t: Translator, album: Album, caption: Caption) -> list[str]:
    heading = (
        "<b>"
        + short_name(album.title, 60)
        + "</b>\n"
        + t.ngettext(
            "The latest {shown} of {total} photo",
            "The latest {shown} of {total} photos",
            album.total,
            shown=len(album.photos),
            total=album.total,
        )
    )
    captions = [caption(photo) for photo in album.photos]
    captions[0] = heading + "\n" + captions[0]
    return captions


def send_album(request: Request, album: Album, caption: Caption) -> None:
    """Answer the press and send ``album`` to the presser once the action has committed."""
    t = request.t
    if not album.photos:
        request.toast = t.gettext(N_("No photos yet."))
        return
    request.toast = t.ngettext("Sending {count} photo…", "Sending {count} photos…", len(album.photos)).format(
        count=len(album.photos)
    )
    chat_id, bot = request.me.telegram_id, request.context.bot
    captions = _captions(t, album, caption)

    async def send() -> None:
        if len(album.photos) == 1:
            await with_retries(partial(bot.send_photo, chat_id, album.photos[0].file_id, caption=captions[0]))
            return
        media = [
            InputMediaPhoto(photo.file_id, caption=text)
            for photo, text in zip(album.photos, captions, strict=True)
        ]
        await with_retries(partial(bot.send_media_group, chat_id, media))

    request.after_commit.append(send)
