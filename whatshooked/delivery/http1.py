"""One keep-alive HTTP/1.1 connection to a hook: a request written whole, its answer read by llhttp.

A hook delivery is one small request and one status to read. aiohttp's client spent ~190 µs of CPU
on each (timers, tracing, cookies, redirects, header merging, its stream machinery); writing the
request bytes ourselves and letting httptools (llhttp, as in uvicorn) parse the answer takes ~40
(bench/relay.py measures the whole path). One request at a time per connection, no pipelining.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from typing import Any

from whatshooked.http_body import BodyTooLarge

httptools: Any = None  # imported with the first connection: an idle daemon does without it (bench/idle.py)

KEPT_HEADERS = frozenset({b"retry-after", b"content-encoding", b"content-length", b"transfer-encoding"})
DRAIN_LIMIT = 1024 * 1024  # an unwanted answer body past this closes the connection instead of being read
DRAIN_WAIT = 5.0  # seconds the rest of an unwanted answer may take before its connection is closed
HEAD_LIMIT = 64 * 1024  # bytes of answer head (interim 1xx heads included): httptools joins a header's pieces
# by copying, so a head fed for the whole timeout cost the loop quadratic CPU (aiohttp refused lines > 8190)


class AnswerError(Exception):
    """The hook's answer did not come, or not as HTTP: the message says what happened."""

    def __init__(self, message: str, early: bool = False) -> None:
        super().__init__(message)
        self.early = early  # closed before one byte of the answer: a reused connection the hook had dropped


class HookConnection(asyncio.Protocol):
    """Fed by the event loop; `exchange` sends one request and waits for the answer's head."""

    def __init__(self, on_idle: Callable[[HookConnection], None] | None = None) -> None:
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.used = 0  # requests sent on it
        self.idle_since = 0.0
        self._on_idle = on_idle  # called with self when an answer is complete and the connection reusable
        self._parser: Any = None  # one for the connection: llhttp starts the next answer where one ends
        self._active = False  # a request is out and its answer not yet complete
        self._head: asyncio.Future[int] | None = None
        self._done: asyncio.Future[bytes | None] | None = None
        self._headers: dict[bytes, bytes] = {}
        self._body: bytearray | None = None
        self._limit = 0
        self._drained = 0
        self._seen = 0  # answer bytes received for the request in flight
        self._interim = False
        self._give_back = False
        self._overflow: BodyTooLarge | None = None  # a kept body passed its limit

    # -- asyncio.Protocol ---------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        global httptools
        if httptools is None:
            import httptools
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self._active:  # nothing asked: a hook talking out of turn is not trusted again
            self.close()
            return
        self._seen += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(AnswerError("the hook answered with a protocol upgrade"))
        except httptools.HttpParserError as exc:
            self._fail(AnswerError(f"the hook's answer is not valid HTTP/1.1 ({exc})"))
        if self._overflow is not None:
            self._fail(self._overflow)
        elif self._seen > HEAD_LIMIT and self._head is not None and not self._head.done():
            self._fail(AnswerError(f"the hook's answer head is larger than {HEAD_LIMIT} bytes"))

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self._active:
            return
        if self._done is not None and self._head is not None and self._head.done() and self._close_delimited():
            self._complete()  # a body without length or chunks ends where the connection does
            return
        why = f": {exc}" if exc else ""
        early = self._seen == 0
        self._fail(AnswerError("the hook closed the connection " + ("before answering" if early else
                                                                    "in the middle of its answer") + why, early))

    # -- httptools callbacks --------------------------------------------------
    def on_message_begin(self) -> None:
        if not self._active:  # an answer nobody asked for, after the one that was: never taken for the next
            self.close()
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in KEPT_HEADERS:
            self._headers[name] = value

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # 100 Continue, 103 Early Hints: the answer is still to come
            self._interim, self._headers = True, {}
            return
        if not 200 <= status < 300:
            self._body = None  # only a 2xx answer's body is wanted (nor inflated)
        if self._head is not None and not self._head.done():
            self._head.set_result(status)

    def on_body(self, body: bytes) -> None:
        if self._body is not None:
            self._body += body
            if len(self._body) > self._limit:  # raised in a callback, httptools would call it bad HTTP
                self._overflow, self._body = BodyTooLarge(self._limit), None
                self._drained = DRAIN_LIMIT  # and nothing more is read
        else:
            self._drained += len(body)
            if self._drained > DRAIN_LIMIT and self._overflow is None:
                self._give_back = False
                self.close()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self._complete()

    # -- one request ------------------------------------------------------------
    def exchange(self, request: tuple[bytes, ...], keep_body: int | None) -> tuple[asyncio.Future[int],
                                                                                  asyncio.Future[bytes | None]]:
        """Send `request`; the futures give the answer's status, then its body (when `keep_body` is a
        limit) once complete. A body past the limit fails the second with BodyTooLarge."""
        loop = asyncio.get_running_loop()
        self._head, self._done = loop.create_future(), loop.create_future()
        self._headers, self._seen, self._drained, self._interim, self._overflow = {}, 0, 0, False, None
        self._body = bytearray() if keep_body is not None else None
        self._limit = keep_body or 0
        if self._parser is None:
            self._parser = httptools.HttpResponseParser(self)
        self._active = True
        self.used += 1
        assert self.transport is not None
        self.transport.writelines(request)
        return self._head, self._done

    def give_back_when_done(self) -> None:
        """The caller has what it wanted (the status): the rest of the answer is read and dropped, then the
        connection goes back to the pool; a long or never-ending rest closes it instead."""
        done = self._done
        if done is None or done.done():
            self._settled()
        else:
            self._give_back, self._body = True, None  # the rest is read and dropped
            asyncio.get_running_loop().call_later(DRAIN_WAIT, self._drain_expired, done)

    def _drain_expired(self, done: asyncio.Future[bytes | None]) -> None:
        if done is self._done and not done.done():
            self._give_back = False
            self.close()

    def header(self, name: bytes) -> str | None:
        value = self._headers.get(name)
        return None if value is None else value.decode("latin-1")

    def close(self) -> None:
        """At once: close() would wait for the write buffer to drain, to a hook that stopped reading forever."""
        self.lost = True
        if self.transport is not None:
            self.transport.abort()

    # -- internals ----------------------------------------------------------------
    def _close_delimited(self) -> bool:
        return b"content-length" not in self._headers and b"transfer-encoding" not in self._headers

    def _complete(self) -> None:
        done = self._done
        if done is None or done.done() or self._overflow is not None:
            return
        body = bytes(self._body) if self._body is not None else None
        encoding = self._headers.get(b"content-encoding", b"").lower()
        if body and encoding in (b"gzip", b"deflate", b"x-gzip"):
            try:
                body = _decoded(body, self._limit, encoding)
            except (zlib.error, BodyTooLarge) as exc:
                self._fail(exc if isinstance(exc, BodyTooLarge) else AnswerError(f"bad gzip body ({exc})"))
                return
        reusable = not self.lost and self._parser.should_keep_alive()
        self._active = False
        done.set_result(body)
        if not reusable:
            self.close()
        if self._give_back:
            self._settled()

    def _settled(self) -> None:
        self._give_back = False
        if self.lost or self._on_idle is None:
            self.close()
        else:
            self._on_idle(self)

    def _fail(self, exc: Exception) -> None:
        for future in (self._head, self._done):
            if future is not None and not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: whoever was waiting may have stopped waiting (a timeout)
        self._parser, self._active = None, False  # never fed again: the connection is closed
        self.close()


def _decoded(body: bytes, limit: int, encoding: bytes) -> bytes:
    """A gzip or deflate (zlib) body, inflated to at most `limit` bytes (a small bomb stays small)."""
    raw = encoding == b"deflate" and body[0] & 0x0F != 8  # no zlib header: raw deflate, read as aiohttp did
    inflater = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit:
        raise BodyTooLarge(limit)
    return out
