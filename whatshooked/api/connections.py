"""The listener's guard against slow and stalled clients (`server.request_timeout`, `server.max_connections`).

aiohttp waits for a request's headers and body for ever, so every connection is wrapped: from its
first byte (or from when it opened), a request must be received whole, headers and body, within
`request_timeout`, or the connection gets a 408 and is closed. Once the request is whole, the
handler may take as long as it needs. At most `max_connections` are open at once (fewer when the
file descriptor limit is low); a new one past the cap closes the oldest connection that has not
delivered a whole request, so stalled clients can never lock out Meta's webhooks.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import gc
import logging
import resource
import time
from typing import Any, cast

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)

TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
FULL = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 5\r\nConnection: close\r\n\r\n"
@functools.cache
def _malloc_trim() -> Any:
    """glibc's malloc_trim, found when first needed (ctypes is not worth its memory before)."""
    import ctypes

    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


COLLECT_AFTER = 1.0
"""After connections are cut, a full garbage collection runs this much later (at most one pending):
what a cut request held is tied up in reference cycles (its exception's traceback), which an idle
daemon's collector might not look at for a long time, so the memory would not come back. glibc's
malloc_trim then hands the freed heap back to the system."""
WARN_EVERY = 60.0
"""Cut connections are summed up in one warning at most this often (an attack must not flood the log)."""


TIMER_SLACK = 0.001
"""A timer may fire this much before its time (uvloop counts whole milliseconds): then the deadline has come."""

BACKLOG = 16
"""Listen backlog, and so how many connections asyncio accepts in one go before any is looked at."""
BURSTS = 4
"""Accept bursts that may come in before the first of them is counted (and room made by closing others):
asyncio makes each connection's protocol, and closes a socket, a loop iteration or two later."""


def fd_headroom(limit: int) -> int:
    """Connections the soft RLIMIT_NOFILE leaves room for: a quarter (at least 48) is kept for the store,
    hooks and Meta, and BURSTS accept bursts more, since connections are counted only once accepted."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return limit
    return max(1, min(limit, soft - max(48, soft // 4) - BURSTS * BACKLOG))


def quiet_fd_exhaustion(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Loop exception handler: running out of file descriptors is one warning line, not a traceback
    per refused accept (asyncio pauses accepting for a second and tries again)."""
    exc = context.get("exception")
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
        log.warning("out of file descriptors (%s): raise the open-file limit (LimitNOFILE=) or lower "
                    "server.max_connections", exc.strerror)
        return
    loop.default_exception_handler(context)


class ConnectionGuard:
    def __init__(self, request_timeout: float, max_connections: int) -> None:
        self.timeout = request_timeout
        self.limit = fd_headroom(max_connections)
        if self.limit < max_connections:
            log.info("server.max_connections is %d, but the open-file limit (ulimit -n / LimitNOFILE=) leaves "
                     "room for %d: at most %d connections are kept open", max_connections, self.limit, self.limit)
        self._open: dict[GuardedProtocol, None] = {}  # in order of opening
        self._by_handler: dict[Any, GuardedProtocol] = {}
        self._cut: dict[str, int] = {}
        self._warned = -WARN_EVERY
        self._collect: asyncio.TimerHandle | None = None

    def wrap(self, handler: asyncio.Protocol) -> GuardedProtocol:
        return GuardedProtocol(self, handler)

    def of(self, handler: Any) -> GuardedProtocol | None:
        return self._by_handler.get(handler)

    def admit(self, conn: GuardedProtocol) -> bool:
        """Room for `conn`, by closing the oldest connection without a whole request if need be."""
        if len(self._open) >= self.limit:
            oldest = next((c for c in self._open if not c.busy), None)
            if oldest is None:
                self.note("server.max_connections reached, every connection busy with a request")
                return False
            oldest.cut(f"server.max_connections ({self.limit}) reached: the oldest connection without a "
                       "whole request is closed")
        self._open[conn] = None
        self._by_handler[conn.handler] = conn
        return True

    def collect_soon(self) -> None:
        if self._collect is None:
            self._collect = asyncio.get_running_loop().call_later(COLLECT_AFTER, self._collected)

    def _collected(self) -> None:
        self._collect = None
        gc.collect()
        trim = _malloc_trim()
        if trim is not None:
            trim(0)  # glibc keeps freed heap memory unless asked; elsewhere there is no such call

    def forget(self, conn: GuardedProtocol) -> None:
        self._open.pop(conn, None)
        self._by_handler.pop(conn.handler, None)

    def note(self, why: str) -> None:
        self._cut[why] = self._cut.get(why, 0) + 1
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY:
            self._warned = now
            log.warning("connections closed: %s", "; ".join(f"{n} x {reason}" for reason, n in self._cut.items()))
            self._cut.clear()


class GuardedProtocol(asyncio.Protocol):
    """aiohttp's request handler, with a deadline for each request to arrive whole."""

    def __init__(self, guard: ConnectionGuard, handler: asyncio.Protocol) -> None:
        self.guard = guard
        self.handler = handler
        self.transport: asyncio.Transport | None = None
        self.request: web.BaseRequest | None = None
        self.was_cut = False
        self._deadline: float | None = None  # loop time by which the request must be whole
        self._timer: asyncio.TimerHandle | None = None  # fires at or before the deadline
        self._idle = False  # armed when the last request finished, no byte of a next one since

    @property
    def busy(self) -> bool:
        """A whole request is being handled (headers and body in), or an answer is still going out: never cut."""
        if self.request is not None and self.request.content.is_eof():
            return True
        return self.transport is not None and self.transport.get_write_buffer_size() > 0

    # -- asyncio.Protocol, forwarded ---------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is one, but not by isinstance
        if not self.guard.admit(self):
            self.transport.write(FULL)
            self.transport.close()
            return
        self.handler.connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.request is None and (self._deadline is None or self._idle):
            self._arm()  # the next request on a kept-alive connection starts now
        self.handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self.handler.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.guard.forget(self)
        self.handler.connection_lost(exc)

    def pause_writing(self) -> None:
        self.handler.pause_writing()

    def resume_writing(self) -> None:
        self.handler.resume_writing()

    # -- the deadline ------------------------------------------------------------------
    def _arm(self) -> None:
        """Every request moves the deadline; the timer is not moved with it (two timers made and
        cancelled per request cost more than the rest of the guard): when it fires early it is set
        again for the deadline as it then stands."""
        loop = asyncio.get_running_loop()
        self._idle = False
        self._deadline = loop.time() + self.guard.timeout
        if self._timer is None:
            self._timer = loop.call_at(self._deadline, self._expired)

    def _disarm(self) -> None:
        self._deadline = None

    def _expired(self) -> None:
        self._timer = None
        if self._deadline is None or self.was_cut:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._deadline - TIMER_SLACK:
            self._timer = loop.call_at(self._deadline, self._expired)
            return
        self._deadline = None
        if not self.busy:
            self.cut(f"no whole request within server.request_timeout ({self.guard.timeout:g}s)")

    def started(self, request: web.BaseRequest) -> None:
        self.request = request
        if request.content.is_eof():
            self._disarm()
        elif self._deadline is None:  # a pipelined request, parsed before the previous one finished
            self._arm()

    def finished(self) -> None:
        """The next request's deadline starts now: its first bytes may already be buffered in aiohttp's
        parser (pipelined in the same packet, or an HTTP/1.0 keep-alive client), with nothing more coming,
        and no later data_received would arm it. An idle kept-alive connection is so closed (408) after
        request_timeout, before aiohttp's own keep-alive timeout would."""
        self.request = None
        if self.transport is not None and not self.was_cut and not self.transport.is_closing():
            self._arm()  # (a client gone while its handler ran needs no deadline: connection_lost has run)
            self._idle = True  # the first byte that comes in starts the deadline anew

    def cut(self, why: str) -> None:
        if self.was_cut or self.transport is None:
            return
        self.was_cut = True
        self._disarm()
        self.guard.forget(self)  # no longer counted: its socket closes as soon as the 408 is out
        self.guard.note(why)
        self.guard.collect_soon()
        log.debug("connection from %s closed: %s", self.transport.get_extra_info("peername"), why)
        if self.request is None or not self.request.content.is_eof():
            self.transport.write(TIMED_OUT)  # nothing of an answer has gone out yet
        self.transport.close()


CONNECTIONS: web.AppKey[ConnectionGuard] = web.AppKey("connections")


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tell the guard a request is in (its deadline then only waits for the body); a read that fails
    because the guard cut the connection ends quietly (the client is gone: nothing to answer)."""
    guard = request.app.get(CONNECTIONS)
    conn = guard.of(request.protocol) if guard is not None else None
    if conn is not None:
        conn.started(request)
    try:
        return await handler(request)
    except (ConnectionResetError, RuntimeError):  # aiohttp: RuntimeError("Connection closed.") for a read after it
        transport = request.transport
        if not (conn is not None and conn.was_cut) and transport is not None and not transport.is_closing():
            raise
        log.debug("%s %s: the client went away before its request was read whole", request.method, request.path)
        if guard is not None:
            guard.collect_soon()  # now what the request held is garbage (see COLLECT_AFTER)
        return web.Response(status=408, text="request not received whole")  # nobody is left to read it
    finally:
        if conn is not None:
            conn.finished()


class GuardedSite(web.BaseSite):
    """A TCP listener whose every connection goes through the app's ConnectionGuard."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, guard: ConnectionGuard) -> None:
        super().__init__(runner)
        self._host, self._port, self._guard = host, port, guard

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            lambda: self._guard.wrap(server()), self._host, self._port, reuse_address=True, backlog=BACKLOG)
