"""The bot's HTTP client for the Bot API: python-telegram-bot's request interface over aiohttp.

PTB's default (``HTTPXRequest``) spends, per request, a fifth of the bot's CPU under load
(httpx, httpcore, h11 and anyio are pure Python; docs/PERFORMANCE.md). aiohttp parses HTTP in C
and keeps its connections in a plain pool. Only the transport changes: PTB builds the request
(:class:`~telegram.request.RequestData`) and reads the answer (status, JSON, Telegram's errors);
here a request is sent and its status and body returned, and a failure to get an answer becomes
PTB's :class:`~telegram.error.TimedOut` or :class:`~telegram.error.NetworkError`, as with httpx.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

#: PTB's defaults for HTTPXRequest, in seconds.
READ_TIMEOUT = WRITE_TIMEOUT = CONNECT_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0
MEDIA_WRITE_TIMEOUT = 20.0


def _seconds(value: Any, default: float | None) -> float | None:
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


class AiohttpRequest(BaseRequest):
    """A connection pool of ``connection_pool_size`` to the Bot API (one per getUpdates poller)."""

    def __init__(self, connection_pool_size: int = 256, *, read_timeout: float | None = READ_TIMEOUT,
                 write_timeout: float | None = WRITE_TIMEOUT,
                 connect_timeout: float | None = CONNECT_TIMEOUT, pool_timeout: float | None = POOL_TIMEOUT,
                 media_write_timeout: float | None = MEDIA_WRITE_TIMEOUT) -> None:
        self._pool_size = connection_pool_size
        self._read, self._write, self._connect = read_timeout, write_timeout, connect_timeout
        self._pool, self._media_write = pool_timeout, media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # Made here, on the running loop; no cookies (the Bot API sets none) and no proxy
            # variables from the environment (httpx's default in PTB does not read them either).
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
                headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else None
        # aiohttp has no write timeout of its own: writing a request counts in the whole request's
        # time, which is bounded by connecting + writing + reading.
        connect = _seconds(connect_timeout, self._connect)
        pool = _seconds(pool_timeout, self._pool)
        read = _seconds(read_timeout, self._read)
        write = _seconds(write_timeout, self._media_write if files else self._write)
        parts = (pool, connect, write, read)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(p for p in parts if p is not None),
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect, sock_read=read)
        body: Any = fields or None
        if files:
            form = aiohttp.FormData(quote_fields=False)
            for name, value in (fields or {}).items():
                form.add_field(name, value)
            for name, (filename, content, mime_type) in files.items():
                form.add_field(name, content, filename=filename, content_type=mime_type)
            body = form
        try:
            async with self._session.request(method, url, data=body, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error
