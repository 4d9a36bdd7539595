"""Review of the hooks' own HTTP client (delivery/hook_http.py, http1.py): what a hostile or broken hook,
and real operations, do to it (the writer's lane: test_review_lane.py)."""

from __future__ import annotations

import asyncio
import gc
import gzip
import logging
import os
import ssl
import zlib
from pathlib import Path

import aiohttp
import pytest

from tests.support.harness import config, until
from tests.support.harness import hook as config_hook
from tests.support.receiver import HookReceiver
from tests.test_delivery import make_config, message, running
from tests.test_hook_http import BODY, EVENT, answering, hook, raw_server, read_request
from whatshooked.config.load import parse_config
from whatshooked.delivery import hook_http, http1
from whatshooked.delivery.attempt import attempt
from whatshooked.delivery.hook_http import HookHttp
from whatshooked.errors import ConfigError
from whatshooked.events import Event

NEVER_RETRIEVED = "exception was never retrieved"


def open_sockets() -> int:
    """Sockets this process holds (hook servers and the client's connections alike)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:  # closed meanwhile (the listing's own descriptor)
            pass
    return count


def recording(seen: list[bytes], answer: bytes = b"HTTP/1.1 204 No Content\r\n\r\n") -> http1.Any:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            seen.append(await read_request(reader))
            writer.write(answer)
            await writer.drain()
    return handle


# -- what the old aiohttp path sent --------------------------------------------------------------------
async def test_a_hook_urls_user_and_password_go_as_basic_auth_as_aiohttp_sent_them() -> None:
    seen: list[bytes] = []
    async with raw_server(recording(seen)) as (url, _):
        http = HookHttp()
        with_user = url.replace("http://", "http://bob:s%C3%A9cret@")
        posted = await attempt(http, hook(with_user), None, EVENT, BODY, 5)
        got = await attempt(http, hook(with_user, method="GET"), None, EVENT, BODY, 5)
        await http.close()
    assert (posted.status, got.status) == (204, 204)
    expected = f"Authorization: {aiohttp.encode_basic_auth('bob', 'sécret', 'latin1')}".encode()
    for request in seen:
        lines = request.split(b"\r\n")
        assert expected in lines and not any(b"bob" in line for line in lines if line != expected)


async def test_a_get_hooks_own_query_parameters_are_kept_beside_the_events() -> None:
    seen: list[bytes] = []
    async with raw_server(recording(seen)) as (url, _):
        http = HookHttp()
        got = await attempt(http, hook(url.replace("?x=1", "?id=tenant-7&x=1"), method="GET"), None, EVENT, BODY, 5)
        await http.close()
    assert got.status == 204
    assert seen[0].startswith(b"GET /in?id=tenant-7&x=1&id=evt_1&type=message.received&")  # aiohttp's extend_query


async def test_unicode_header_values_ipv6_literals_and_queries_go_out_as_aiohttp_sent_them() -> None:
    seen: list[bytes] = []
    finished = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await recording(seen)(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            finished.set()

    try:
        server = await asyncio.start_server(handle, "::1", 0)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    port = server.sockets[0].getsockname()[1]
    http = HookHttp()
    try:
        outcome = await attempt(http, hook(f"http://[::1]:{port}/v6?q=a%20b&r=%C3%A9", headers={"X-Name": "Zoë ✓"}),
                                None, EVENT, BODY, 5)
    finally:
        await http.close()
        server.close()
        await server.wait_closed()
    await asyncio.wait_for(finished.wait(), 5)
    assert outcome.status == 204
    lines = seen[0].split(b"\r\n")
    assert lines[:2] == [b"POST /v6?q=a%20b&r=%C3%A9 HTTP/1.1", f"Host: [::1]:{port}".encode()]
    assert "X-Name: Zoë ✓".encode() in lines  # UTF-8, as aiohttp encoded header values


async def test_a_host_that_does_not_resolve_or_refuses_is_named_in_the_error() -> None:
    http = HookHttp()
    unknown = await attempt(http, hook("http://no-such-host.invalid/in"), None, EVENT, BODY, 10)
    refused = await attempt(http, hook("http://127.0.0.1:1/in"), None, EVENT, BODY, 10)
    await http.close()
    assert unknown.status is None and unknown.error.startswith("cannot connect to no-such-host.invalid: ")
    assert refused.error == "cannot connect to 127.0.0.1:1: Connection refused"


# -- hostile heads -------------------------------------------------------------------------------------------
def endless(opening: bytes, more: bytes) -> http1.Any:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(opening)
        while not writer.is_closing():  # until the client hangs up
            writer.write(more)
            await writer.drain()
    return handle


@pytest.mark.parametrize(("opening", "more"), [
    (b"HTTP/1.1 200 OK\r\nX-Endless: ", b"a" * 65536),  # one header value that never ends
    (b"HTTP/1.1 200 OK\r\n", b"X-Many: b\r\n" * 4096),  # headers that never end
    (b"", b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" * 512),  # interim answers, forever
], ids=["endless-value", "endless-headers", "endless-1xx"])
async def test_an_answer_head_that_never_ends_fails_at_its_size_not_at_the_timeout(opening: bytes,
                                                                                    more: bytes) -> None:
    """httptools joins a header's pieces by copying: fed for the whole timeout, that was quadratic CPU in the
    event loop (50 MB of one header value cost ~19 s of CPU). aiohttp refused lines over 8190 bytes."""
    async with raw_server(endless(opening, more)) as (url, connections):
        http = HookHttp()
        outcome = await attempt(http, hook(url), None, EVENT, BODY, 10)
        await until(lambda: connections[0].is_closing())
        await http.close()
    assert outcome.status is None
    assert outcome.error == f"the hook's answer head is larger than {http1.HEAD_LIMIT} bytes"


async def test_a_head_just_under_the_limit_with_a_large_body_in_the_same_read_is_taken() -> None:
    head = b"HTTP/1.1 200 OK\r\nX-Pad: " + b"p" * (http1.HEAD_LIMIT - 200) + b"\r\nContent-Length: 200000\r\n\r\n"
    async with raw_server(answering(head + b"[" + b"1," * 99_999 + b"1")) as (url, _):
        http = HookHttp()
        outcome = await attempt(http, hook(url), None, EVENT, BODY, 5, want_reply=True)
        await http.close()
    assert outcome.status == 200 and outcome.error == "" and outcome.reply is None  # not JSON: no reply


# -- what a two-way hook can send back ---------------------------------------------------------------------
async def test_a_refusal_with_a_broken_gzip_body_to_a_two_way_hook_leaves_no_unretrieved_future(
        caplog: pytest.LogCaptureFixture) -> None:
    refusal = b"HTTP/1.1 429 Busy\r\nRetry-After: 3\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nxxxx"
    async with raw_server(answering(refusal)) as (url, _):
        http = HookHttp()
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            outcome = await attempt(http, hook(url), None, EVENT, BODY, 5, want_reply=True)
            await http.close()
            gc.collect()
    assert (outcome.status, outcome.error, outcome.retry_after) == (429, "HTTP 429", 3.0)
    assert NEVER_RETRIEVED not in caplog.text


async def test_a_gzip_bomb_reply_stays_small_and_the_delivery_counts() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb) + bomb
    async with raw_server(answering(answer)) as (url, _):
        http = HookHttp()
        outcome = await attempt(http, hook(url), None, EVENT, BODY, 5, want_reply=True, reply_limit=4096)
        await http.close()
    assert (outcome.status, outcome.error, outcome.reply) == (200, "", None)


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 100 Continue\r\n\r\n",  # and then nothing
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n[\r\n",  # a chunked reply that never ends
], ids=["1xx-then-nothing", "endless-chunks"])
async def test_a_reply_that_never_completes_is_cut_by_the_timeout_and_its_connection_closed(answer: bytes) -> None:
    async with raw_server(answering(answer)) as (url, connections):
        http = HookHttp()
        outcome = await attempt(http, hook(url), None, EVENT, BODY, 0.3, want_reply=True)
        await until(lambda: connections[0].transport.is_closing())
        await http.close()
    assert (outcome.status, outcome.error) == (None, "no answer within 0.3s")


# -- connections: races, leaks, shutdown -----------------------------------------------------------------------
async def test_a_hook_that_says_close_and_keeps_talking_or_drops_idle_connections_is_still_delivered_to() -> None:
    async def chatty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        for _ in range(20):
            writer.write(b"HTTP/1.1 500 Extra\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

    async def dropper(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")  # keep-alive, then closed while idle
        await writer.drain()

    for handler in (chatty, dropper):
        async with raw_server(handler) as (url, connections):
            http = HookHttp()
            statuses = [(await attempt(http, hook(url), None, EVENT, BODY, 5)).status for _ in range(30)]
            await http.close()
        assert statuses == [200] * 30 and len(connections) == 30


async def test_many_hooks_at_once_leave_no_socket_open_after_close() -> None:
    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    servers = [raw_server(keep_alive) for _ in range(12)]
    urls = [(await server.__aenter__())[0] for server in servers]
    try:
        before = open_sockets()
        http = HookHttp()
        events = [Event(id=f"evt_{i}", type="x", timestamp="t", data={}) for i in range(15)]
        for _ in range(2):
            outcomes = await asyncio.gather(*(attempt(http, hook(url), None, event, b"{}", 5)
                                              for url in urls for event in events))
            assert {outcome.status for outcome in outcomes} == {200}
        assert open_sockets() > before
        await http.close()
        await until(lambda: open_sockets() == before)
    finally:
        for server in servers:
            await server.__aexit__(None, None, None)


async def test_a_hook_that_stops_reading_a_large_body_leaves_no_socket_open_once_timed_out() -> None:
    """transport.close() waits for the write buffer to drain: to a hook that no longer reads, forever, one
    socket kept per attempt (every retry)."""
    hold = asyncio.Event()

    async def stalls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the head, and not one byte of the body
        await hold.wait()

    async with raw_server(stalls) as (url, connections):
        before = open_sockets()
        http = HookHttp()
        outcome = await attempt(http, hook(url), None, EVENT, b"x" * 32_000_000, 0.3)
        assert outcome.error == "no answer within 0.3s"
        await http.close()
        try:
            await until(lambda: open_sockets() == before + 1)  # only the hook's end of it is left
        finally:
            hold.set()


async def test_attempts_cancelled_at_shutdown_leave_no_warning_nor_unretrieved_future(
        caplog: pytest.LogCaptureFixture) -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")  # a reply begun, never finished
        await writer.drain()
        await reader.read()

    async with raw_server(slow) as (url, connections):
        http = HookHttp()
        before = open_sockets()
        tasks = [asyncio.ensure_future(attempt(http, hook(url), None, EVENT, BODY, 30, want_reply=bool(i % 2)))
                 for i in range(10)]
        await until(lambda: len(connections) == 10)
        for task in tasks:
            task.cancel()
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            await asyncio.gather(*tasks, return_exceptions=True)
            await http.close()
            await until(lambda: all(c.transport.is_closing() for c in connections))
            gc.collect()
        assert open_sockets() <= before
    assert NEVER_RETRIEVED not in caplog.text and "destroyed" not in caplog.text


# -- found in a second pass ------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["http://example.com:99999/in", "http://[::1/in", "http://example.com:abc/in"])
async def test_a_hook_url_that_cannot_be_parsed_is_a_failed_attempt_not_an_exception(url: str) -> None:
    """The config checks only the scheme; aiohttp answered such URLs with InvalidURL (a failed attempt), and the
    new client let yarl's ValueError out of attempt(): a traceback per delivery, a 500 from /api/hooks/test."""
    http = HookHttp()
    posted = await attempt(http, hook(url), None, EVENT, BODY, 5)
    got = await attempt(http, hook(url, method="GET"), None, EVENT, BODY, 5)
    await http.close()
    for outcome in (posted, got):
        assert outcome.status is None and outcome.error.startswith("the hook's URL is not valid: ")


@pytest.mark.parametrize("wbits", [-zlib.MAX_WBITS, zlib.MAX_WBITS], ids=["raw", "zlib"])
async def test_a_deflate_reply_raw_or_zlib_is_read_as_aiohttp_read_it(wbits: int) -> None:
    """Servers that send `Content-Encoding: deflate` without the zlib header (as IIS and some PHP setups do):
    aiohttp inflated them; refused, the 2xx counted as a failure and the event went again."""
    deflater = zlib.compressobj(wbits=wbits)
    raw = deflater.compress(b'{"send": [1]}') + deflater.flush()
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(raw) + raw
    async with raw_server(answering(answer)) as (url, _):
        http = HookHttp()
        outcome = await attempt(http, hook(url), None, EVENT, BODY, 5, want_reply=True)
        await http.close()
    assert (outcome.status, outcome.error, outcome.reply) == (200, "", {"send": [1]})


async def test_https_to_a_hook_that_never_shakes_hands_or_speaks_plain_http_fails_cleanly() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # takes the ClientHello, never answers it

    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()

    http = HookHttp()
    async with raw_server(silent) as (url, connections):
        before = open_sockets()
        stalled = await attempt(http, hook(url.replace("http://", "https://")), None, EVENT, BODY, 0.3)
        await until(lambda: open_sockets() == before)  # both ends gone (the hook saw the client close)
    async with raw_server(plain) as (url, _):
        confused = await attempt(http, hook(url.replace("http://", "https://")), None, EVENT, BODY, 5)
    await http.close()
    assert (stalled.status, stalled.error) == (None, "no answer within 0.3s")
    assert confused.status is None and confused.error.startswith("TLS with 127.0.0.1:")


async def test_a_dispatcher_with_many_hooks_and_attempts_in_flight_leaves_no_socket_open_after_close(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    receivers = [HookReceiver() for _ in range(5)]
    for receiver in receivers:
        await receiver.start()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads the requests, answers none

    try:
        async with raw_server(silent) as (silent_url, connections):
            hooks = [{"id": f"h{i}", "url": r.url} for i, r in enumerate(receivers)]
            hooks.append({"id": "silent", "url": silent_url, "timeout": 30})
            before = open_sockets()
            with caplog.at_level(logging.ERROR, logger="asyncio"):
                async with running(make_config(tmp_path, hooks), close_deadline=0.1) as h:
                    for n in range(40):
                        await h.dispatcher.publish(message(f"n{n}"))
                    for receiver in receivers:
                        await receiver.wait_for(40)
                    await until(lambda: len(connections) == 4)  # the silent hook's workers, each waiting
                    assert open_sockets() > before
                await until(lambda: open_sockets() == before)
                gc.collect()
    finally:
        for receiver in receivers:
            await receiver.close()
    assert NEVER_RETRIEVED not in caplog.text and "destroyed" not in caplog.text


async def test_a_hook_url_that_cannot_be_parsed_is_refused_where_it_comes_in(tmp_path: Path) -> None:
    """Refused at load (and by the API: test_api_hooks), so no delivery meets one; attempt() copes anyway."""
    with pytest.raises(ConfigError) as refused:
        parse_config(config(hooks=config_hook("bad", "http://u:secret@127.0.0.1:99999/hook")), tmp_path / "c.yaml")
    assert "hooks[0].url: is not a valid URL: Port out of range 0-65535" in str(refused.value)
    assert "secret" not in str(refused.value)


async def test_verified_tls_delivers_to_the_name_on_the_certificate_only_and_closes_clean(
        tls_hook: tuple[str, list[bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trusting = ssl.create_default_context(cafile=tmp_path / "cert.pem")  # the hook's certificate, as a CA
    monkeypatch.setattr(hook_http, "_CONTEXTS", {True: trusting})
    url, bodies = tls_hook
    port = url.split(":")[2].split("/")[0]
    before = open_sockets()
    http = HookHttp()
    named = [await attempt(http, hook(url), None, EVENT, BODY, 5) for _ in range(3)]
    by_address = await attempt(http, hook(url.replace("localhost", "127.0.0.1")), None, EVENT, BODY, 5)
    await http.close()
    await until(lambda: open_sockets() == before)
    assert [outcome.status for outcome in named] == [204] * 3 and bodies == [BODY] * 3
    assert by_address.status is None and by_address.error.startswith(f"TLS with 127.0.0.1:{port} failed: ")
    assert "mismatch" in by_address.error or "not valid" in by_address.error


async def test_a_hook_that_answers_twice_is_not_trusted_with_the_next_request(caplog: pytest.LogCaptureFixture) -> None:
    ok, extra = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", b"HTTP/1.1 500 Again\r\nContent-Length: 0\r\n\r\n"
    async with raw_server(answering(ok + extra)) as (url, connections):  # two answers to one request
        http = HookHttp()
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            statuses = [(await attempt(http, hook(url), None, EVENT, BODY, 5)).status for _ in range(3)]
            await http.close()
    assert statuses == [200, 200, 200] and len(connections) == 3  # the 500 is never taken for the next answer
    assert caplog.text == ""
