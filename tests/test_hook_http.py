"""The hooks' own HTTP/1.1 client (delivery/hook_http.py, http1.py) against real servers on 127.0.0.1:
aiohttp for well-behaved hooks, raw asyncio servers for everything a hook can get wrong."""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from tests.support.harness import until
from whatshooked.config.model import HookConfig
from whatshooked.delivery import hook_http, http1
from whatshooked.delivery.attempt import attempt
from whatshooked.delivery.hook_http import HookHttp, target
from whatshooked.events import Event

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
EVENT = Event(id="evt_1", type="message.received", timestamp="2026-12-03T00:00:00Z", data={"text": "héllo"})
BODY = EVENT.to_json()


def hook(url: str, **fields: object) -> HookConfig:
    return HookConfig(id="h", url=url, **fields)  # type: ignore[arg-type]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[str, list[asyncio.StreamWriter]]]:
    """A hook that speaks bytes; yields its URL and every connection made to it."""
    connections: list[asyncio.StreamWriter] = []
    handlers: list[asyncio.Task[None] | None] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        handlers.append(asyncio.current_task())
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/in?x=1", connections
    finally:
        for writer in connections:
            writer.close()
        await asyncio.wait_for(asyncio.gather(*(t for t in handlers if t), return_exceptions=True), 5)
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head + await reader.readexactly(length)


def answering(*answers: bytes, then_close: bool = False) -> Handler:
    """Reads one request per answer and writes that answer."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            await read_request(reader)
            writer.write(answer)
            await writer.drain()
        if then_close:
            return
        await reader.read()  # until the client closes
    return handle


async def test_the_request_on_the_wire_is_what_a_hook_saw_from_aiohttp() -> None:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with raw_server(handle) as (url, _):
        http = HookHttp()
        outcome = await attempt(http, hook(url, headers={"X-Tenant": "acme"}), None, EVENT, BODY, 5)
        await http.close()
    assert outcome.status == 204 and outcome.error == ""
    port = url.split(":")[2].split("/")[0]
    head, _, body = seen[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /in?x=1 HTTP/1.1"
    assert lines[1:] == [f"Host: 127.0.0.1:{port}", "Accept: */*", "Accept-Encoding: gzip, deflate",
                         "Content-Type: application/json", lines[5], "X-Whatshooked-Event: message.received",
                         "X-Tenant: acme", "webhook-id: evt_1", lines[9], f"Content-Length: {len(BODY)}"]
    assert lines[5].startswith("User-Agent: whatshooked/") and lines[9].startswith("webhook-timestamp: ")
    assert body == BODY


async def test_deliveries_share_one_kept_alive_connection_and_close_takes_it_down() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    async with raw_server(answering(ok, ok, ok)) as (url, connections):
        http = HookHttp()
        outcomes = [await attempt(http, hook(url), None, EVENT, BODY, 5) for _ in range(3)]
        assert [o.status for o in outcomes] == [200, 200, 200] and len(connections) == 1
        await http.close()
        await until(lambda: connections[0].transport.is_closing())


async def test_a_kept_connection_the_hook_dropped_is_replaced_once_not_failed() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    calls = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        await read_request(reader)
        writer.write(ok)
        await writer.drain()
        if calls == 1:
            await read_request(reader)  # the second request on it: dropped unanswered, as at a keep-alive limit
            return
        await reader.read()

    async with raw_server(handle) as (url, connections):
        http = HookHttp()
        first = await attempt(http, hook(url), None, EVENT, BODY, 5)
        second = await attempt(http, hook(url), None, EVENT, BODY, 5)
        await http.close()
    assert (first.status, second.status, len(connections)) == (200, 200, 2)


async def test_a_new_connection_closed_unanswered_is_a_failure_not_retried() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    async with raw_server(handle) as (url, connections):
        http = HookHttp()
        outcome = await attempt(http, hook(url), None, EVENT, BODY, 5)
        await http.close()
    assert outcome.status is None and outcome.error.startswith("the hook closed the connection before answering")
    assert len(connections) == 1


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{\"send\"\r\n6\r\n: [1]}\r\n0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\n{\"send\": [1]}",  # no length: the body ends with the connection
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"send\": [1]}",
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(gzip.compress(b'{"send": [1]}'))
    + gzip.compress(b'{"send": [1]}'),
], ids=["chunked", "until-close", "after-100", "gzip"])
async def test_a_wanted_reply_is_read_whole_however_it_is_framed(answer: bytes) -> None:
    async with raw_server(answering(answer, then_close=answer.startswith(b"HTTP/1.0"))) as (url, _):
        http = HookHttp()
        outcome = await attempt(http, hook(url), None, EVENT, BODY, 5, want_reply=True)
        await http.close()
    assert (outcome.status, outcome.reply) == (200, {"send": [1]})


async def test_a_reply_past_its_limit_is_ignored_but_the_delivery_counts(caplog: pytest.LogCaptureFixture) -> None:
    big = b"[" + b"1," * 5000 + b"1]"
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(big) + big
    async with raw_server(answering(answer)) as (url, _):
        http = HookHttp()
        with caplog.at_level(logging.WARNING):
            outcome = await attempt(http, hook(url), None, EVENT, BODY, 5, want_reply=True, reply_limit=1000)
        await http.close()
    assert (outcome.status, outcome.reply, outcome.error) == (200, None, "")
    assert "its reply is ignored" in caplog.text and "larger than 1000 bytes" in caplog.text


async def test_an_unwanted_body_of_megabytes_neither_delays_the_status_nor_is_kept() -> None:
    gate = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 8000000\r\n\r\n" + b"x" * 100_000)
        await writer.drain()
        await gate.wait()  # the rest never comes while the attempt runs
        writer.write(b"x" * 2_000_000)
        await writer.drain()
        await reader.read()

    async with raw_server(handle) as (url, connections):
        http = HookHttp()
        outcome = await attempt(http, hook(url), None, EVENT, BODY, 5)
        assert outcome.status == 201
        gate.set()  # past the drain limit: the connection is closed, not read to its end
        await until(lambda: connections[0].transport.is_closing() or connections[0].is_closing())
        await http.close()


async def test_an_answer_body_that_stalls_after_a_2xx_closes_its_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http1, "DRAIN_WAIT", 0.05)
    async with raw_server(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")) as (url, connections):
        http = HookHttp()
        outcome = await attempt(http, hook(url), None, EVENT, BODY, 5)
        assert outcome.status == 200
        await until(lambda: connections[0].transport.is_closing())
        again = await attempt(http, hook(url), None, EVENT, BODY, 5)
        await http.close()
    assert again.status == 200 and len(connections) == 2  # on a new connection


@pytest.mark.parametrize(("answer", "error"), [
    (b"HTTP/1.1 2000 OK\r\n\r\n", "the hook's answer is not valid HTTP/1.1"),
    (b"SSH-2.0-OpenSSH_9.6\r\n", "the hook's answer is not valid HTTP/1.1"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "the hook closed the connection in the middle of its answer"),
])
async def test_what_is_not_an_http_answer_is_a_failure_naming_it(answer: bytes, error: str) -> None:
    async with raw_server(answering(answer, then_close=True)) as (url, _):
        http = HookHttp()
        outcome = await attempt(http, hook(url), None, EVENT, BODY, 5, want_reply=True)
        await http.close()
    assert outcome.status is None and outcome.error.startswith(error)


async def test_no_answer_within_the_timeout_closes_the_connection() -> None:
    async with raw_server(answering()) as (url, connections):
        http = HookHttp()
        outcome = await attempt(http, hook(url), None, EVENT, BODY, 0.2)
        assert (outcome.status, outcome.error) == (None, "no answer within 0.2s")
        await until(lambda: connections and connections[0].transport.is_closing())
        await http.close()


async def test_a_refusal_keeps_its_retry_after_and_the_connection() -> None:
    busy = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbusy"
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    async with raw_server(answering(busy, ok)) as (url, connections):
        http = HookHttp()
        refused = await attempt(http, hook(url), None, EVENT, BODY, 5, want_reply=True)
        taken = await attempt(http, hook(url), None, EVENT, BODY, 5)
        await http.close()
    assert (refused.status, refused.error, refused.retry_after, taken.status) == (429, "HTTP 429", 7.0, 200)
    assert len(connections) == 1


async def test_connection_close_in_the_answer_is_obeyed() -> None:
    ok = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    async with raw_server(answering(ok, then_close=True)) as (url, connections):
        http = HookHttp()
        assert (await attempt(http, hook(url), None, EVENT, BODY, 5)).status == 200
        assert (await attempt(http, hook(url), None, EVENT, BODY, 5)).status == 200
        await http.close()
    assert len(connections) == 2


async def test_a_get_hook_and_an_aiohttp_server_with_many_in_flight() -> None:
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        if request.method == "GET":
            seen.append(f"GET {request.query['id']} {request.query['data']}")
        else:
            seen.append(f"POST {request.headers['webhook-id']} {(await request.read()).decode()}")
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/in", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    http = HookHttp()
    try:
        get = await attempt(http, hook(f"http://127.0.0.1:{port}/in", method="GET"), None, EVENT, BODY, 5)
        post = hook(f"http://127.0.0.1:{port}/in")
        events = [Event(id=f"evt_{i}", type="x", timestamp="t", data={}) for i in range(200)]
        posts = await asyncio.gather(*(attempt(http, post, None, event, b"{}", 5) for event in events))
    finally:
        await http.close()
        await runner.cleanup()
    assert get.status == 200 and seen[0] == 'GET evt_1 {"text":"héllo"}'
    assert [p.status for p in posts] == [200] * 200 and sorted(seen[1:]) == sorted(f"POST evt_{i} {{}}" for i in
                                                                                 range(200))


def test_a_hook_url_is_parsed_once_with_its_host_header() -> None:
    assert target("http://[::1]:8080/a/b?c=d%20e") == target("http://[::1]:8080/a/b?c=d%20e")
    where = target("https://Example.COM/x")
    assert (where.tls, where.host, where.port, where.host_header, where.path) == (True, "example.com", 443,
                                                                                 "example.com", "/x")
    assert target("http://[::1]:8080/a?c=1").host_header == "[::1]:8080"


async def test_tls_is_verified_unless_the_hook_allows_otherwise(tls_hook: tuple[str, list[bytes]]) -> None:
    url, bodies = tls_hook
    http = HookHttp()
    refused = await attempt(http, hook(url), None, EVENT, BODY, 5)
    taken = await attempt(http, hook(url, allow_insecure=True), None, EVENT, BODY, 5)
    await http.close()
    port = url.split(":")[2].split("/")[0]
    assert refused.status is None and refused.error == f"TLS with localhost:{port} failed: self-signed certificate"
    assert taken.status == 204 and bodies == [BODY]


async def test_connections_left_idle_are_closed_after_the_reuse_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hook_http, "IDLE_REUSE", 0.05)
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    async with raw_server(answering(ok)) as (url, connections):
        http = HookHttp()
        assert (await attempt(http, hook(url), None, EVENT, BODY, 5)).status == 200
        await until(lambda: connections[0].transport.is_closing())  # by the daemon, the hook never closed it
        assert not http._idle
        await http.close()


async def test_the_start_of_an_answer_nobody_asked_for_is_never_taken_for_the_next_one() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    async with raw_server(answering(ok + b"HTTP/1.1 500 Ag", ok)) as (url, connections):  # a stray half answer
        http = HookHttp()
        statuses = [(await attempt(http, hook(url), None, EVENT, BODY, 5)).status for _ in range(2)]
        await http.close()
    assert statuses == [200, 200] and len(connections) == 2
