"""Logging set-up that never writes the bot token, and says so in one line when Telegram rejects it.

The token is part of every Bot API URL, and python-telegram-bot puts it into
exception messages ("The token `…` was rejected by the server"), so it can reach
a log record's message, its arguments, its exception text and traceback, its
stack, and the traceback Python prints for an uncaught exception. Redaction is
therefore done where every record is made (a log record factory, so handlers
added later, any formatter and logging's own error report see the redacted
record), again as a filter on the root handlers (for records made elsewhere,
e.g. ``logging.makeLogRecord``), and in ``sys.excepthook`` and
``threading.excepthook``. The whole token is replaced, and its secret part
(after the colon) wherever it appears alone, e.g. with the colon URL-encoded.

A rejected token (Telegram answers 401, or 404 for a malformed token or a wrong
``FIELDBOT_API_URL`` path: PTB raises ``InvalidToken`` for both) is an operator's
configuration mistake, not a bug: its records become one line without a
traceback, and the CLI exits with that line (see :func:`rejection_line`).

``FIELDBOT_LOG_LEVEL`` sets the level and ``FIELDBOT_LOG_FORMAT=json`` writes one JSON object a
line (:class:`JsonFormatter`); a record made while an update is handled carries its update, user
and chat ids and the handler's name (:func:`update_scope`, :func:`bind_handler`), in both formats'
records. ``FIELDBOT_SENTRY_DSN`` also sends errors to Sentry (the ``sentry`` extra), with the token
redacted from each event.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from telegram.error import InvalidToken

REDACTED = "<token>"
REJECTED = "Telegram rejected the bot token"
#: A secret part shorter than this is redacted only as part of the whole token: replacing a
#: short string everywhere would garble unrelated text.
MIN_SECRET_PART = 8

_secrets: list[str] = []  # longest first, so a token is replaced before its secret part
_factory_installed = False
#: Fields of the update being handled, added to every record made meanwhile.
_update_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "fieldbot_update_fields", default=None
)
#: The record attributes :class:`JsonFormatter` writes besides time, level, logger and message.
CONTEXT_FIELDS = ("update_id", "user_id", "chat_id", "handler", "duration_ms")


@contextmanager
def update_scope(update: object) -> Iterator[dict[str, Any]]:
    """Records made inside carry ``update``'s ids; the yielded dict takes more (handler, duration)."""
    fields: dict[str, Any] = {}
    for name, value in (
        ("update_id", getattr(update, "update_id", None)),
        ("user_id", getattr(getattr(update, "effective_user", None), "id", None)),
        ("chat_id", getattr(getattr(update, "effective_chat", None), "id", None)),
    ):
        if value is not None:
            fields[name] = value
    token = _update_fields.set(fields)
    try:
        yield fields
    finally:
        _update_fields.reset(token)


def bind_handler(name: str) -> None:
    """Name the handler of the update being handled, for the records that follow."""
    fields = _update_fields.get()
    if fields is not None:
        fields["handler"] = name


def add_secret(token: str | None) -> None:
    """Hide ``token`` (and its secret part) from every log record and printed traceback."""
    if not token:
        return
    candidates = {token}
    _, colon, secret = token.partition(":")
    if colon and len(secret) >= MIN_SECRET_PART:
        candidates.add(secret)
    _secrets[:] = sorted(set(_secrets) | candidates, key=len, reverse=True)


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def invalid_token(error: BaseException | None) -> InvalidToken | None:
    """The innermost ``InvalidToken`` in ``error``'s chain (it holds Telegram's own answer), if any."""
    from telegram.error import InvalidToken  # here: `fieldbot --help` need not import telegram

    found: InvalidToken | None = None
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, InvalidToken):
            found = error
        error = error.__cause__ or error.__context__
    return found


def rejection_line(error: BaseException | None) -> str | None:
    """One line for the operator if ``error`` means Telegram rejected the token; else None."""
    rejected = invalid_token(error)
    if rejected is None:
        return None
    answer = redact(rejected.message).splitlines()[0] if rejected.message else "no reason given"
    return (
        f"{REJECTED} ({answer}): check FIELDBOT_TOKEN (the token @BotFather gave you) and, if "
        f"you set it, that FIELDBOT_API_URL ends in /bot"
    )


def redact_record(record: logging.LogRecord) -> None:
    """Remove the token from ``record`` in place: message, arguments, exception and stack text."""
    error = record.exc_info[1] if record.exc_info else None
    line = rejection_line(error)
    if line is not None:
        record.msg, record.args = "%s [%s]", (line, redact(_message(record)))
        record.exc_info, record.exc_text = None, None
    elif not _secrets:
        return
    else:
        message = _message(record)
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if redact(text) != text:  # keep the exception itself when it holds no secret
                record.exc_info, record.exc_text = None, redact(text)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _message(record: logging.LogRecord) -> str:
    """The record's message; a call whose arguments do not fit its format is kept, as text."""
    try:
        return record.getMessage()
    except Exception:  # logging would report it with msg and args unredacted: do it here instead
        return f"{record.msg} (arguments: {record.args!r})"


class RedactToken(logging.Filter):
    """Redact each record a handler is given (for records not made by the logging factory)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def _install_factory() -> None:
    global _factory_installed
    if _factory_installed:
        return
    make_record: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        redact_record(record)
        fields = _update_fields.get()
        if fields:
            for name, value in fields.items():
                setattr(record, name, value)
        return record

    logging.setLogRecordFactory(redacting_factory)
    _factory_installed = True


def _print_uncaught(
    error_type: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    """``sys.excepthook``: a rejected token in one line; any other traceback, redacted."""
    line = rejection_line(error)
    if line is not None:
        sys.stderr.write(f"fieldbot: {line}\n")
        return
    sys.stderr.write(redact("".join(traceback.format_exception(error_type, error, trace))))


def _print_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    sys.stderr.write(f"Exception in thread {args.thread.name if args.thread else '?'}:\n")
    _print_uncaught(args.exc_type, args.exc_value, args.exc_traceback)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, the update's fields, the error."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        elif record.exc_text:
            entry["error"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """The classic line, with ``[update 12 user 34 chat 34 handler]`` when an update is handled."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{name.removesuffix('_id')} {value}" if name != "handler" else str(value)
            for name in CONTEXT_FIELDS
            if name != "duration_ms" and (value := getattr(record, name, None)) is not None
        )
        return redact(f"{line} [{context}]" if context else line)


def configure(
    token: str | None, level: int | str = logging.INFO, fmt: str = "text", sentry_dsn: str | None = None
) -> None:
    """Root logging to stderr at ``level``, as text or JSON lines; optionally errors to Sentry.

    httpx request lines (URLs carry the token) stay quiet.
    """
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig: a host that set up logging keeps its handlers
        root.addHandler(ours := logging.StreamHandler())
        ours.set_name("fieldbot")
    for handler in root.handlers:
        if handler.get_name() == "fieldbot":
            handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.setLevel(level)
    install_redaction(token)
    if sentry_dsn:
        report_errors_to_sentry(sentry_dsn)


def report_errors_to_sentry(dsn: str) -> None:
    """Send error records and uncaught exceptions to Sentry; the token is redacted from each event."""
    try:
        import sentry_sdk
    except ImportError:
        logging.getLogger(__name__).warning(
            "FIELDBOT_SENTRY_DSN is set but sentry-sdk is not installed: pip install 'fieldbot[sentry]'"
        )
        return

    def scrub(event: Any, _hint: Any) -> Any:
        return json.loads(redact(json.dumps(event, default=str)))

    # No user data nor HTTP bodies (a webhook's body is the users' own messages): sentry-sdk 3's
    # data_collection, which replaced 2's send_default_pii (an unknown option to 3, which refuses it).
    sentry_sdk.init(dsn=dsn, before_send=scrub, data_collection={"user_info": False, "http_bodies": []})


def install_redaction(token: str | None) -> None:
    """Keep ``token`` out of every log record, the root handlers' output and uncaught tracebacks."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    add_secret(token)
    _install_factory()
    sys.excepthook = _print_uncaught
    threading.excepthook = _print_uncaught_in_thread
    redact_filter = RedactToken()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactToken) for f in handler.filters):
            handler.addFilter(redact_filter)
