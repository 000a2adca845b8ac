"""HTTP front of the fake Bot API: routing, parameter parsing, faults, call log and waiting."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.devserver.faults import Fault, FaultPlan, Injection
from bot.devserver.methods import PAID_MESSAGES_PER_SECOND, BotApiMethods, Handler
from bot.devserver.models import ApiCall, ApiError, bad_request
from bot.devserver.spec import Upload, decode_params, load_spec, summarize
from bot.devserver.world import DEFAULT_EXCLUDED_UPDATES, World, update_type

log = logging.getLogger(__name__)

MAX_UPLOAD = 50 * 1024 * 1024
CLIENT_CLOSED = 499  # status recorded for requests the client abandoned
CONNECTION_RESET = 0  # status recorded for connections an injected fault dropped


class FakeBotApi(World):
    """A strict stand-in for ``api.telegram.org`` that a real PTB ``Application`` talks to.

    Usage::

        async with FakeBotApi("123:ABC") as tg:
            app = (ApplicationBuilder().token(tg.token).base_url(tg.base_url)
                   .base_file_url(tg.base_file_url).build())
            tg.add_user(42, "Ann")
            tg.message(42, "/start")
            ...
            call = await tg.wait_for(42, method="sendMessage")
            assert tg.last(42).plain_text() == "Welcome!"
            assert not tg.refused_calls()

    With ``strict=False`` unknown parameters are accepted and text markup and reply markup
    are not validated; Telegram's state checks (unknown chat, blocked user, flood control,
    "message is not modified"...) always apply. Flood control: ``messages_per_second`` messages
    without ``allow_paid_broadcast`` in any rolling second, and ``paid_messages_per_second`` of
    every kind once messages with it are sent (Telegram's 30 and 1,000); 429 with ``retry_after``
    beyond them.
    """

    def __init__(
        self,
        token: str,
        *,
        bot_id: int = 777000111,
        bot_username: str = "fieldbot_test_bot",
        messages_per_second: float | None = 30.0,
        paid_messages_per_second: float = PAID_MESSAGES_PER_SECOND,
        strict: bool = True,
    ) -> None:
        super().__init__(bot_id=bot_id, bot_username=bot_username)
        self.token = token
        self.strict = strict
        self.spec = load_spec()
        self.api = BotApiMethods(
            self,
            self.spec,
            strict=strict,
            messages_per_second=messages_per_second,
            paid_messages_per_second=paid_messages_per_second,
        )
        self.calls: list[ApiCall] = []
        self.base_url = ""
        self.base_file_url = ""
        self.allowed_updates: list[str] = []
        self.faults = FaultPlan()
        self._runner: web.AppRunner | None = None
        self._calls_changed: asyncio.Event | None = None
        self._closing = asyncio.Event()
        self._confirmed = asyncio.Event()
        self._active_poll: object | None = None
        self._in_flight = 0
        self._last_activity = time.monotonic()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (a free port if 0) and set ``base_url``/``base_file_url``."""
        self._loop = asyncio.get_running_loop()
        self._closing = asyncio.Event()
        self._calls_changed = asyncio.Event()
        app = web.Application(client_max_size=MAX_UPLOAD)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            shutdown_timeout=1.0,
            handler_cancellation=True,
            access_log=None,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound}/bot"
        self.base_file_url = f"http://{host}:{bound}/file/bot"

    async def stop(self) -> None:
        """End pending long polls and stop listening."""
        self._closing.set()
        self._set_update_event()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- fault injection ---------------------------------------------------------------------
    def inject(
        self, fault: Fault, *, method: str | None = None, chat_id: int | None = None, times: int = 1
    ) -> Injection:
        """Answer the next ``times`` calls (of ``method``, to ``chat_id``) with ``fault``.

        See :mod:`bot.devserver.faults`. Injected answers never count as refusals.
        """
        canonical = self._canonical(method) if method else None
        return self.faults.add(Injection(fault, canonical, chat_id, times))

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error (not a refusal)."""
        self.inject(Fault(status, description, retry_after), method=method, times=times)

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Hold the next ``times`` calls of ``method`` for ``seconds`` before answering."""
        self.inject(Fault.delay(seconds), method=method, times=times)

    def _canonical(self, method: str) -> str:
        spec = self.spec.method(method)
        if spec is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        return spec.name

    def _target_chat(self, raw: dict[str, Any]) -> Any:
        """The chat a call is about, for faults aimed at one chat."""
        if "chat_id" in raw:
            return raw["chat_id"]
        return self.query_chats.get(str(raw.get("callback_query_id")))

    # -- call log ----------------------------------------------------------------------------
    def refused_calls(self) -> list[ApiCall]:
        """Calls Telegram refused (excluding injected faults and requests the client dropped)."""
        return [c for c in self.calls if not c.ok and not c.injected and c.status != CLIENT_CLOSED]

    def mark(self) -> int:
        """Current position in ``calls``, to pass as ``after`` to :meth:`wait_for`."""
        return len(self.calls)

    def _record(self, call: ApiCall) -> None:
        self.calls.append(call)
        if self._calls_changed is not None:
            self._calls_changed.set()
            self._calls_changed = asyncio.Event()

    async def wait_for(
        self,
        chat_id: int | None = None,
        *,
        method: str | None = None,
        after: int | None = None,
        predicate: Callable[[ApiCall], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - public API, mirrors asyncio.wait_for
    ) -> ApiCall:
        """First successful call at index ``>= after`` (default 0) matching all the filters."""
        wanted = self._canonical(method) if method else None
        index = after or 0
        deadline = time.monotonic() + timeout
        while True:
            while index < len(self.calls):
                call = self.calls[index]
                index += 1
                if (
                    call.ok
                    and (wanted is None or call.method == wanted)
                    and (chat_id is None or call.params.get("chat_id") == chat_id)
                    and (predicate is None or predicate(call))
                ):
                    return call
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._calls_changed is None:
                recent = [(c.method, c.status, c.description) for c in self.calls[-5:]]
                raise TimeoutError(
                    f"no {wanted or 'call'} for chat {chat_id} within {timeout}s; last calls: {recent}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._calls_changed.wait(), remaining)

    async def wait_idle(
        self,
        quiet: float = 0.15,
        timeout: float = 5.0,  # noqa: ASYNC109 - public API
    ) -> None:
        """Wait until every queued update was delivered and no call happened for ``quiet`` s.

        Long polls that return nothing do not count as activity.
        """
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if not self.undelivered() and self._in_flight == 0 and now - self._last_activity >= quiet:
                return
            if now >= deadline:
                raise TimeoutError(
                    f"not idle after {timeout}s: {self.undelivered()} updates undelivered, "
                    f"{self._in_flight} requests in flight"
                )
            await asyncio.sleep(min(0.02, quiet / 4))

    # -- HTTP --------------------------------------------------------------------------------
    @staticmethod
    def _json(status: int, body: dict[str, Any]) -> web.Response:
        return web.json_response(body, status=status)

    async def _read_raw(self, request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query)
        if request.method != "POST" or not request.body_exists:
            return raw
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise bad_request("JSON object expected")
            raw.update(body)
            return raw
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                content = value.file.read()
                raw[name] = Upload(name, value.filename, content, value.content_type)
            else:
                raw[name] = value
        return raw

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        arrival, started = time.time(), time.monotonic()
        polling = method.lower() == "getupdates"  # an idle long poll is not activity
        if not polling:
            self._in_flight += 1
            self._last_activity = started
        call = ApiCall(method, {}, False, CLIENT_CLOSED, "Client Closed Request", arrival)
        try:
            return await self._answer(request, call)
        finally:
            call.duration = time.monotonic() - started
            if not polling:
                self._in_flight -= 1
            if not polling or call.result:
                self._last_activity = time.monotonic()
            self._record(call)

    async def _answer(self, request: web.Request, call: ApiCall) -> web.Response:
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            spec = self.spec.method(call.method)
            if spec is None:
                raise ApiError(404, "Not Found")
            call.method = spec.name
            raw = await self._read_raw(request)
            call.params = summarize(raw)
            fault = self.faults.take(spec.name, self._target_chat(raw))
            if fault is None:
                result = await self._perform(spec, raw, call)
            else:
                answer = await self._faulty(request, spec, raw, call, fault)
                if isinstance(answer, web.Response):
                    return answer
                result = answer
        except ApiError as err:
            call.ok, call.status, call.description = False, err.status, err.description
            return self._json(err.status, err.payload())
        except Exception as err:  # a bug in the fake itself: answer like Telegram's 500s
            log.exception("fake Bot API failed on %s", call.method)
            error = ApiError(500, f"Internal Server Error: {type(err).__name__}: {err}")
            call.ok, call.status, call.description = False, error.status, error.description
            return self._json(error.status, error.payload())
        call.ok, call.status, call.description, call.result = True, 200, None, result
        return self._json(200, {"ok": True, "result": result})

    async def _perform(self, spec: Any, raw: dict[str, Any], call: ApiCall) -> Any:
        """Do what the call asks, as Telegram would."""
        params, _ = decode_params(spec, raw, strict=self.strict)
        call.params = summarize(params)
        if spec.name == "getUpdates":
            return await self._get_updates(params)
        handler: Handler = self.api.handlers.get(spec.name, self.api.accept)
        return handler(params)

    async def _faulty(
        self, request: web.Request, spec: Any, raw: dict[str, Any], call: ApiCall, fault: Fault
    ) -> Any:
        """Answer with ``fault``: the result to send, or a response that is no answer at all.

        A client that gives up during a hang cancels this handler (the call is logged as 499).
        """
        call.injected = True
        result: Any = None
        if fault.perform:
            call.injected = False  # a refusal of the call itself is the bot's mistake
            result = await self._perform(spec, raw, call)
            call.injected = True
        if fault.hang:
            await asyncio.sleep(fault.hang)
        if fault.reset:
            call.status, call.description = CONNECTION_RESET, "Connection reset (injected)"
            return self._reset(request)
        if fault.status:
            raise ApiError(fault.status, fault.description, retry_after=fault.retry_after)
        call.injected = False  # only late: the answer itself is genuine
        return result if fault.perform else await self._perform(spec, raw, call)

    @staticmethod
    def _reset(request: web.Request) -> web.Response:
        """Drop the connection without a word, like a proxy or NAT that lost it."""
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never written: the connection is gone

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._json(401, ApiError(401, "Unauthorized").payload())
        path = request.match_info["path"]
        stored = next((f for f in self.files.values() if f.file_path == path), None)
        if stored is None:
            return self._json(404, ApiError(404, "Not Found").payload())
        return web.Response(body=stored.content, content_type=stored.mime_type or "application/octet-stream")

    # -- getUpdates --------------------------------------------------------------------------
    def _confirm(self, offset: int | None) -> None:
        """Forget updates confirmed by ``offset`` (or all but the last ``-offset``)."""
        updates = self.updates
        if offset is None:
            return
        if offset < 0:
            del updates[: max(len(updates) + offset, 0)]
        else:
            updates[:] = [u for u in updates if u["update_id"] >= offset]
        self._confirmed.set()
        self._confirmed = asyncio.Event()

    def is_confirmed(self, update_id: int) -> bool:
        """Whether the bot has acknowledged ``update_id`` (polled past it)."""
        return all(u["update_id"] != update_id for u in self.updates)

    async def wait_confirmed(self, update_id: int) -> None:
        """Wait until the bot acknowledges ``update_id``: it then sits in the bot's own queue."""
        while not self.is_confirmed(update_id):
            await self._confirmed.wait()

    def _batch(self, limit: int) -> list[dict[str, Any]]:
        """Drop update types the bot did not ask for; return the next ``limit`` updates."""
        updates = self.updates
        allowed = set(self.allowed_updates)

        def wanted(update: dict[str, Any]) -> bool:
            kind = update_type(update)
            return kind in allowed if allowed else kind not in DEFAULT_EXCLUDED_UPDATES

        updates[:] = [u for u in updates if wanted(u)]  # Telegram drops what wasn't asked for
        copied: list[dict[str, Any]] = json.loads(
            json.dumps(updates[:limit])
        )  # never alias the server's state
        return copied

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.api.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"])
        limit = params.get("limit") or 100
        if not 1 <= limit <= 100:
            limit = 100
        deadline = time.monotonic() + max(params.get("timeout") or 0, 0)
        self._confirm(params.get("offset"))
        me = object()
        self._active_poll = me
        self._set_update_event()  # a poll still waiting is now superseded: wake it up
        while True:
            updates = self._batch(limit)
            if updates:
                self.delivered_update_id = max(self.delivered_update_id, updates[-1]["update_id"])
                return updates
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closing.is_set():
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.update_event().wait(), remaining)
            if self._active_poll is not me:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
