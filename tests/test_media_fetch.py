"""Media sends by `url`: the size cap holds for streamed bodies, and which addresses count as private."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from whatshooked.errors import RequestError
from whatshooked.media.fetch import MediaFetcher, refusal


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def streamed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(10):
            await response.write(b"x" * 1000)
        await response.write_eof()
        return response

    async def sized(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"y" * 5000)

    async def loop(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/loop")

    app = web.Application()
    for path, handler in (("/streamed", streamed), ("/sized", sized), ("/loop", loop)):
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


async def test_the_cap_holds_with_and_without_a_content_length(server: str) -> None:
    fetcher = MediaFetcher(max_bytes=4000, allow_private=True)
    for path in ("/streamed", "/sized"):
        with pytest.raises(RequestError, match=r"larger than server.max_body \(4000 bytes\)"):
            await fetcher.fetch(server + path)
    whole = await MediaFetcher(max_bytes=10_000, allow_private=True).fetch(server + "/streamed")
    assert whole.data == b"x" * 10_000


async def test_redirect_loops_end(server: str) -> None:
    with pytest.raises(RequestError, match="more than 5 redirects"):
        await MediaFetcher(max_bytes=10_000, allow_private=True).fetch(server + "/loop")


def test_which_addresses_are_refused() -> None:
    for address in ("127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "::1",
                    "fe80::1", "fc00::1", "::ffff:10.0.0.1", "100.64.0.1", "224.0.0.1"):
        assert refusal(address) is not None, address
    for address in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"):
        assert refusal(address) is None, address


async def test_every_resolved_address_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name with one public and one private address is refused: a client may connect to either."""
    import asyncio
    import socket

    from whatshooked.media.fetch import CheckedResolver

    answers = {"mixed.test": ["93.184.216.34", "10.0.0.5"], "public.test": ["93.184.216.34"]}

    async def getaddrinfo(host: str, port: int, **_: object) -> list[object]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in answers[host]]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    resolver = CheckedResolver()
    assert [r["host"] for r in await resolver.resolve("public.test", 443)] == ["93.184.216.34"]
    with pytest.raises(OSError, match=r"mixed.test resolves to 10.0.0.5, a private address"):
        await resolver.resolve("mixed.test", 443)
    assert resolver.refused == "mixed.test resolves to 10.0.0.5, a private address"
