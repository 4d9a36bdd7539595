"""The QR page in a real headless browser (Debian's chromium), the PNG route, and pairing by phone code."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import segno
from aiohttp import ClientSession, web
from PIL import Image

from tests.support.browser import chromium
from tests.support.harness import until
from tests.support.neonize_standin import WebWorld, web_world
from tests.support.process import run_to_end
from tests.support.receiver import HookReceiver
from whatshooked.accounts import qr_render
from whatshooked.accounts.base import AccountState
from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.api.errors import error_middleware
from whatshooked.api.keys import ACCOUNTS
from whatshooked.api.routes import qr

CHROMIUM = Path("/usr/bin/chromium")
QR = "2@Zm9vYmFyYmF6cXV4LWNvZGUtZm9yLXRlc3Rz,bWFpbmtleWJhc2U2NA==,aWRlbnRpdHlrZXk=,YWR2c2VjcmV0a2V5"


def modules_match(png: bytes, data: str) -> bool:
    """Does the PNG show exactly the QR symbol segno makes for `data`? (We have no QR decoder.)"""
    image = Image.open(io.BytesIO(png)).convert("L")
    matrix = segno.make_qr(data, error="L").matrix
    scale, border = qr_render.PNG_SCALE, qr_render.BORDER
    assert image.size == ((len(matrix) + 2 * border) * scale,) * 2
    return all((image.getpixel(((c + border) * scale + scale // 2, (r + border) * scale + scale // 2)) < 128)
               == bool(dark) for r, row in enumerate(matrix) for c, dark in enumerate(row))


@pytest.fixture
async def served(tmp_path: Path, receiver: HookReceiver) -> AsyncIterator[tuple[WebWorld, str]]:
    accounts = "  - id: personal\n    session_path: ./sessions/p.db\n"
    async with web_world(tmp_path, receiver.url, accounts=accounts) as world:
        app = web.Application(middlewares=[error_middleware])
        app[ACCOUNTS] = world.manager
        qr.setup(app)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield world, f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()


async def dump_dom(url: str, profile: Path) -> str:
    _code, out, _err = await run_to_end(
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--dump-dom", url, within=60)
    return out.decode()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
async def test_qr_page_shows_the_code_in_a_real_browser(served: tuple[WebWorld, str], tmp_path: Path) -> None:
    world, base = served
    await world.sessions.last.afeed_qr(QR)
    await until(lambda: world.adapter().current_qr == QR)
    dom = await dump_dom(f"{base}/api/qr/personal", tmp_path / "profile")
    img = re.search(r'<img id="qr"[^>]*src="data:image/png;base64,([^"]+)"', dom)
    assert img is not None, dom[:2000]
    assert modules_match(base64.b64decode(img.group(1)), QR)
    assert 'http-equiv="refresh"' in dom and 'data-state="qr"' in dom

    await world.sessions.last.afeed(nz.ConnectedEv(status=True))
    await until(lambda: world.adapter().state is AccountState.CONNECTED)
    dom = await dump_dom(f"{base}/api/qr/personal", tmp_path / "profile2")
    assert 'id="connected"' in dom and 'http-equiv="refresh"' not in dom


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
async def test_qr_page_fits_a_phone_screen(served: tuple[WebWorld, str], tmp_path: Path) -> None:
    """On a 390 px wide phone the page is no wider than the screen and the code is whole on it."""
    world, base = served
    await world.sessions.last.afeed_qr(QR)
    await until(lambda: world.adapter().current_qr == QR)
    measure = ("JSON.stringify({page: document.documentElement.scrollWidth, viewport: window.innerWidth,"
               " qr: document.getElementById('qr').getBoundingClientRect().right})")
    async with chromium(tmp_path / "profile") as browser:
        sizes = json.loads(await browser.measure(f"{base}/api/qr/personal", measure, width=390))
    assert sizes["viewport"] == 390 and sizes["page"] <= 390 and sizes["qr"] <= 390, sizes


async def test_png_route_and_404s(served: tuple[WebWorld, str]) -> None:
    world, base = served
    async with ClientSession() as http:
        async with http.get(f"{base}/api/qr/personal.png") as response:
            assert response.status == 404
            assert "no QR code pending" in await response.text()
        async with http.get(f"{base}/api/qr/nobody") as response:
            assert response.status == 404
        async with http.get(f"{base}/api/qr/personal") as response:
            assert response.status == 200 and 'id="waiting"' in await response.text()
        await world.sessions.last.afeed_qr(QR)
        await until(lambda: world.adapter().current_qr == QR)
        async with http.get(f"{base}/api/qr/personal.png") as response:
            assert response.status == 200 and response.content_type == "image/png"
            assert modules_match(await response.read(), QR)


async def test_pair_phone_route(served: tuple[WebWorld, str]) -> None:
    world, base = served
    async with ClientSession() as http:
        async with http.post(f"{base}/api/accounts/pair-phone", json={"id": "personal", "phone": "+15559990000"}) as r:
            assert r.status == 400 and "not waiting to be paired" in await r.text()
        await world.sessions.last.afeed_qr(QR)
        await until(lambda: world.adapter().state is AccountState.QR)
        async with http.post(f"{base}/api/accounts/pair-phone", json={"id": "personal", "phone": "+15559990000"}) as r:
            assert r.status == 200 and await r.json() == {"status": "ok", "code": "ABCD-EFGH"}
        async with http.post(f"{base}/api/accounts/pair-phone", json={"id": "personal"}) as r:
            assert r.status == 400 and "phone" in await r.text()
        async with http.post(f"{base}/api/accounts/pair-phone", json={"id": "ghost", "phone": "+1555"}) as r:
            assert r.status == 404
    assert world.sessions.last.paired == ["15559990000"]


def test_chromium_skip_reason_is_clear() -> None:
    assert shutil.which("chromium") is None or CHROMIUM.exists()
