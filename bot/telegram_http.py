"""The bot's HTTP client for the Bot API: python-telegram-bot's request interface over aiohttp.

PTB's default (``HTTPXRequest``) spends, per request, a fifth of the bot's CPU under load
(httpx, httpcore, h11 and anyio are pure Python; docs/PERFORMANCE.md). aiohttp parses HTTP in C
and keeps its connections in a plain pool. Only the transport changes: PTB builds the request
(:class:`~telegram.request.RequestData`) and reads the answer (status, JSON, Telegram's errors);
here a request is sent and its status and body returned, and a failure to get an answer becomes
PTB's :class:`~telegram.error.TimedOut` or :class:`~telegram.error.NetworkError`, as with httpx.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.helpers import BasicAuth, get_env_proxy_for_url
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL


@dataclass(frozen=True)
class Timeouts:
    """Seconds (None: no limit); the defaults are PTB's for its httpx transport."""

    read: float | None = 5.0
    write: float | None = 5.0
    connect: float | None = 5.0
    pool: float | None = 1.0
    media_write: float | None = 20.0  # writing a request that uploads a file


def _seconds(value: Any, default: float | None) -> float | None:
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


class AiohttpRequest(BaseRequest):
    """A connection pool of ``connection_pool_size`` to the Bot API (one per getUpdates poller)."""

    def __init__(self, connection_pool_size: int = 256, *, timeouts: Timeouts | None = None) -> None:
        self._pool_size = connection_pool_size
        #: Defaults for calls that name none (a test may shorten them).
        self.timeouts = timeouts or Timeouts()
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, tuple[URL | None, BasicAuth | None]] = {}

    @property
    def read_timeout(self) -> float | None:
        return self.timeouts.read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # Made here, on the running loop; no cookies (the Bot API sets none). The environment's
            # proxy is looked up once per origin (:meth:`_proxy`), not by aiohttp's ``trust_env``.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self.USER_AGENT},
            )

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
        defaults = self.timeouts
        connect = _seconds(connect_timeout, defaults.connect)
        pool = _seconds(pool_timeout, defaults.pool)
        read = _seconds(read_timeout, defaults.read)
        write = _seconds(write_timeout, defaults.media_write if files else defaults.write)
        parts = (pool, connect, write, read)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(p for p in parts if p is not None),
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        body: Any = fields or None
        if files:
            form = aiohttp.FormData(quote_fields=False)
            for name, value in (fields or {}).items():
                form.add_field(name, value)
            for name, (filename, content, mime_type) in files.items():
                form.add_field(name, content, filename=filename, content_type=mime_type)
            body = form
        proxy, proxy_auth = self._proxy(url)
        try:
            async with self._session.request(
                method, url, data=body, timeout=timeout, proxy=proxy, proxy_auth=proxy_auth
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error

    def _proxy(self, url: str) -> tuple[URL | None, BasicAuth | None]:
        """The proxy HTTP(S)_PROXY and NO_PROXY give ``url``'s origin (PTB's httpx transport honours them).

        Looked up once per origin: aiohttp's ``trust_env`` would read the environment (and
        ``~/.netrc``) in a worker thread on every request, two thread hops per reply.
        """
        origin = "/".join(url.split("/", 3)[:3])
        if origin not in self._proxies:
            try:
                self._proxies[origin] = get_env_proxy_for_url(URL(origin))
            except LookupError:
                self._proxies[origin] = (None, None)
        return self._proxies[origin]
