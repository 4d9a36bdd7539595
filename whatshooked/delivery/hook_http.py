"""Where hook deliveries go out: keep-alive connections per hook origin, and one request on them.

Only what a delivery needs: a request of bytes already in hand, no redirects (a 3xx is a refusal), no
cookies, no proxies, TLS verified unless the hook says `allow_insecure`. The dispatcher owns one and
closes it at shutdown. Graph API calls and media downloads keep aiohttp's full client.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import time
import weakref
from collections import deque
from dataclasses import dataclass
from functools import lru_cache

from yarl import URL

from whatshooked.delivery.http1 import AnswerError, HookConnection
from whatshooked.http_body import BodyTooLarge

IDLE_REUSE = 4.0  # seconds an idle connection is trusted (Node's keepAliveTimeout is 5 s by default)
IDLE_KEPT = 64  # idle connections kept per origin; more are closed when they come back


@dataclass(slots=True)
class Answer:
    status: int
    retry_after: str | None = None  # the header, as sent
    body: bytes | None = None  # a 2xx answer's, when it was asked for
    too_large: str = ""  # why the body asked for was not read


@dataclass(frozen=True, slots=True)
class Target:
    """A hook URL, parsed once."""

    tls: bool
    host: str  # as connected to (an IPv6 address without brackets)
    port: int
    host_header: str
    path: str  # path and query, as sent on the request line
    authorization: str | None = None  # Basic, from a `user:password@` in the URL (as aiohttp sent it)

    @property
    def origin(self) -> tuple[bool, str, int]:
        return self.tls, self.host, self.port


@lru_cache(maxsize=4096)
def target(url: str) -> Target:
    return _target(url, None)


def with_query(url: str, params: dict[str, str]) -> Target:
    """A GET hook's URL with the event as query parameters (added to any it has, as aiohttp's `params`)."""
    return _target(url, params)


def _target(url: str, params: dict[str, str] | None) -> Target:
    try:
        return _parsed(URL(url) if params is None else URL(url).extend_query(params))
    except ValueError as exc:  # the config refuses these too; the URL itself (and its password) not shown
        raise AnswerError(f"the hook's URL is not valid: {exc}") from None


def _parsed(parsed: URL) -> Target:
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise AnswerError(f"cannot deliver to {parsed.scheme or 'a URL without scheme'}: URLs (http and https only)")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return Target(parsed.scheme == "https", parsed.raw_host, port, parsed.host_port_subcomponent or parsed.raw_host,
                  parsed.raw_path_qs or "/", _basic(parsed) if parsed.raw_user or parsed.raw_password else None)


def _basic(parsed: URL) -> str:
    """Latin-1 as aiohttp encoded it (UTF-8 for what Latin-1 cannot hold, where aiohttp raised)."""
    pair = f"{parsed.user or ''}:{parsed.password or ''}"
    try:
        raw = pair.encode("latin-1")
    except UnicodeEncodeError:
        raw = pair.encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


class HookHttp:
    def __init__(self) -> None:
        self._idle: dict[tuple[bool, str, int, bool], deque[HookConnection]] = {}
        self._open: weakref.WeakSet[HookConnection] = weakref.WeakSet()  # each one made, until it is dropped
        self._closed = False
        self._sweep: asyncio.TimerHandle | None = None  # closes connections idle past IDLE_REUSE

    async def request(self, method: str, where: Target, headers: dict[str, str], body: bytes, within: float,
                      verify: bool = True, keep_body: int | None = None) -> Answer:
        """Send one request and read its answer's head; a 2xx answer's body too when `keep_body` is a limit.

        Raises TimeoutError past `within` seconds, AnswerError when no answer came.
        """
        head = _head(method, where, headers, body)
        request = (head, body) if body else (head,)
        async with asyncio.timeout(within):
            for fresh in (False, True):  # a pooled connection the hook had already dropped: once more, new
                connection = await self._connection(where, verify, fresh)
                try:
                    headed, done = connection.exchange(request, keep_body)
                    status = await headed
                    answer = Answer(status, connection.header(b"retry-after"))
                    if keep_body is not None and 200 <= status < 300:
                        try:
                            answer.body = await done
                        except BodyTooLarge as exc:
                            answer.too_large = str(exc)
                except AnswerError as exc:
                    if fresh or not exc.early or connection.used == 1:  # a new connection has no stale excuse
                        raise
                    continue
                except BaseException:
                    connection.close()
                    raise
                connection.give_back_when_done()
                return answer
        raise AssertionError("unreachable")

    async def close(self) -> None:
        self._closed = True
        if self._sweep is not None:
            self._sweep.cancel()
        connections = list(self._open)  # the idle ones among them, before the pools let them go
        self._idle.clear()
        for connection in connections:
            connection.close()
        await asyncio.sleep(0)  # let the transports see their close

    async def _connection(self, where: Target, verify: bool, fresh: bool) -> HookConnection:
        key = (*where.origin, verify)
        pool = self._idle.get(key)
        now = time.monotonic()
        while pool and not fresh:
            connection = pool.pop()
            if not connection.lost and now - connection.idle_since < IDLE_REUSE:
                return connection
            connection.close()
        if self._closed:
            raise AnswerError("whatshooked is stopping")
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: HookConnection(lambda c: self._idle_again(key, c)), where.host, where.port,
                ssl=_tls(verify) if where.tls else None, server_hostname=where.host if where.tls else None)
        except ssl.SSLError as exc:
            why = getattr(exc, "verify_message", None) or exc.reason or str(exc)  # "self-signed certificate"
            raise AnswerError(f"TLS with {where.host_header} failed: {why}") from None
        except OSError as exc:
            code = exc.errno if isinstance(exc.errno, int) and exc.errno > 0 else None  # asyncio's text repeats
            why = os.strerror(code) if code else exc.strerror or str(exc) or type(exc).__name__  # the address
            raise AnswerError(f"cannot connect to {where.host_header}: {why}") from None
        self._open.add(connection)
        return connection

    def _idle_again(self, key: tuple[bool, str, int, bool], connection: HookConnection) -> None:
        pool = self._idle.setdefault(key, deque())
        if self._closed or len(pool) >= IDLE_KEPT:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        pool.append(connection)
        if self._sweep is None:
            self._sweep = asyncio.get_running_loop().call_later(IDLE_REUSE, self._close_stale)

    def _close_stale(self) -> None:
        """Idle connections past IDLE_REUSE are never used again: closed, not kept for a hook's own timeout."""
        self._sweep = None
        stale_before = time.monotonic() - IDLE_REUSE
        for key, pool in list(self._idle.items()):
            while pool and (pool[0].lost or pool[0].idle_since <= stale_before):  # the oldest are on the left
                pool.popleft().close()
            if not pool:
                del self._idle[key]
        if self._idle and not self._closed:
            self._sweep = asyncio.get_running_loop().call_later(IDLE_REUSE, self._close_stale)


def _head(method: str, where: Target, headers: dict[str, str], body: bytes) -> bytes:
    """The request line and headers. aiohttp's defaults (Accept, Accept-Encoding) are kept, so a hook sees
    what it saw before; header names and values were checked where they came in (config.hook_headers)."""
    lines = [f"{method} {where.path} HTTP/1.1\r\nHost: {where.host_header}\r\n"]
    lower = {name.lower() for name in headers}
    if "accept" not in lower:
        lines.append("Accept: */*\r\n")
    if "accept-encoding" not in lower:
        lines.append("Accept-Encoding: gzip, deflate\r\n")
    if where.authorization and "authorization" not in lower:  # a configured header wins over the URL's
        lines.append(f"Authorization: {where.authorization}\r\n")
    lines.extend(f"{name}: {value}\r\n" for name, value in headers.items())
    if body or method != "GET":
        lines.append(f"Content-Length: {len(body)}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8")


_CONTEXTS: dict[bool, ssl.SSLContext] = {}


def _tls(verify: bool) -> ssl.SSLContext:
    """Made once, on the first https hook. The verified one loads the system's CA bundle (~2 MB)."""
    context = _CONTEXTS.get(verify)
    if context is None:
        if verify:
            context = ssl.create_default_context()
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        _CONTEXTS[verify] = context
    return context
