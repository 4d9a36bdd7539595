"""`GET /`: the operator's dashboard, behind the API's credentials, rendered and used in a real Chromium."""

from __future__ import annotations

import io
import json
import os
import socket
from pathlib import Path
from typing import ClassVar

import aiohttp
import pytest
from PIL import Image

from tests.support.browser import CHROMIUM, chromium
from tests.support.cloud_daemon import API_KEY, cloud_daemon
from tests.support.harness import until
from tests.support.receiver import HookReceiver
from tests.support.standin import StandInAdapter
from whatshooked.accounts.base import AccountState
from whatshooked.accounts.cloud_api.adapter import CloudApiAdapter
from whatshooked.accounts.registry import Registry

QR = "2@ZGFzaGJvYXJkLXFyLWNvZGU=,a2V5,aWRlbnRpdHk=,c2VjcmV0"


class PairingAdapter(StandInAdapter):
    """A WhatsApp Web account waiting for its QR code to be scanned."""

    pairs_by_qr: ClassVar[bool] = True
    paired_with: ClassVar[list[str]] = []

    async def connect(self) -> None:
        self.set_state(AccountState.QR)

    @property
    def current_qr(self) -> str | None:
        return QR if self.state is AccountState.QR else None

    async def pair_phone(self, phone: str) -> str:
        PairingAdapter.paired_with.append(phone)
        return "ABCD-EFGH"


RENDERED = """window.dashboardReady.then(() => new Promise((resolve) => {
  const qr = document.querySelector('#account-web img.qr');
  const done = () => resolve(JSON.stringify({
    accounts: [...document.querySelectorAll('#accounts tbody tr')].map(r => r.innerText.replace(/\\s+/g, ' ').trim()),
    hooks: [...document.querySelectorAll('#hooks tbody tr')].map(r => r.innerText.replace(/\\s+/g, ' ').trim()),
    health: document.querySelector('#health').textContent,
    cache: document.querySelector('#cache-summary').textContent,
    qrWidth: qr ? qr.naturalWidth : 0,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    injected: document.querySelectorAll('#hooks b').length,
  }));
  if (!qr || qr.complete) { done(); } else { qr.onload = done; qr.onerror = done; }
}))"""

MESSAGE = """const shownMessage = () => new Promise((resolve) => {
  const look = () => {
    const text = document.querySelector('#message').textContent;
    if (text) { resolve(text); } else { setTimeout(look, 50); }
  };
  look();
});
"""

DISABLE_SHOP = MESSAGE + """window.dashboardReady.then(() => {
  [...document.querySelectorAll('#account-shop button')].find(b => b.textContent === 'Disable').click();
  return shownMessage();
})"""

PAIR = MESSAGE + """window.dashboardReady.then(() => {
  const form = document.querySelector('#account-web form.pair');
  form.querySelector('input').value = '+15557654321';
  form.requestSubmit();
  return shownMessage();
})"""


async def test_the_dashboard_needs_credentials_and_serves_only_its_files(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path) as rig, aiohttp.ClientSession() as http:
        async with http.get(f"{rig.url}/") as response:
            assert response.status == 401 and "Basic" in response.headers["WWW-Authenticate"]
        async with http.get(f"{rig.url}/dashboard/dashboard.js") as response:
            assert response.status == 401
        headers = {"x-api-key": API_KEY}
        async with http.get(f"{rig.url}/", headers=headers) as response:
            assert response.status == 200 and 'src="dashboard/dashboard.js"' in await response.text()
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        for name in ("dashboard.js", "dashboard.css"):
            async with http.get(f"{rig.url}/dashboard/{name}", headers=headers) as response:
                assert response.status == 200, name
        for name in ("index.html", "..%2Fopenapi_extra.json", "nothing.js"):
            async with http.get(f"{rig.url}/dashboard/{name}", headers=headers) as response:
                assert response.status == 404, name


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
async def test_the_dashboard_shows_accounts_hooks_and_the_qr_and_steers_them_in_a_real_browser(
        tmp_path: Path, receiver: HookReceiver) -> None:
    registry = Registry({"whatsmeow": PairingAdapter, "business-api": CloudApiAdapter})
    extra = "  - id: web\n    type: whatsmeow\n"
    async with cloud_daemon(tmp_path, receiver, registry=registry, extra_yaml=extra) as rig:
        # A hook whose name is markup: the page must show it as text, never run or render it.
        markup = "<b>bold</b><img src=x onerror=alert(1)>"
        status, answer = await rig.api("/api/hooks/add", {"id": "evil", "name": markup, "url": receiver.url})
        assert status == 201, answer
        url = rig.url.replace("http://", f"http://admin:{API_KEY}@") + "/"
        async with chromium(tmp_path / "profile") as browser:
            shown, png = await browser.render(url, RENDERED, width=390)
            page = json.loads(shown)
            clicked, _ = await browser.render(url, DISABLE_SHOP, width=1280, screenshot=False)
            await until(lambda: rig.daemon.accounts.get("shop").state is AccountState.DISABLED, within=20)
            paired, _ = await browser.render(url, PAIR, width=1280, screenshot=False)
    node = f"node {socket.gethostname()}:{os.getpid()}"  # the driving daemon: this one
    assert any(row.startswith(f"shop {node} business-api connected") for row in page["accounts"]), page
    assert any(row.startswith(f"web {node} whatsmeow qr") for row in page["accounts"]), page
    assert page["qrWidth"] > 100  # the PNG of the pending code, loaded through the page's own credentials
    assert any(row.startswith("rx") for row in page["hooks"]), page
    assert any("<b>bold</b><img src=x onerror=alert(1)>" in row for row in page["hooks"]), page
    assert page["injected"] == 0
    assert page["health"] == "healthy" and "undelivered event" in page["cache"]
    assert page["overflow"] <= 0, "the dashboard is wider than a 390 px phone screen"
    assert clicked == "account shop: disabled"
    assert paired == "enter this code on the phone: ABCD-EFGH" and PairingAdapter.paired_with == ["+15557654321"]
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size[0] == 390 * 3  # the phone's CSS width at its device scale
    header = image.getpixel((image.size[0] // 2, 10))
    assert header == (7, 94, 84)  # the header band is drawn (the stylesheet loaded under the CSP)
    colours = image.resize((39, 84)).getcolors(maxcolors=39 * 84) or []
    assert len(colours) > 20  # text, table rules and the QR code: not a blank or an error page
