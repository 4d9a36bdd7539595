"""Pairing WhatsApp Web accounts: the QR page and image (DESIGN §6), and pairing by phone code."""

from __future__ import annotations

import html

from aiohttp import web

from whatshooked.accounts import qr_render
from whatshooked.accounts.base import AccountAdapter, AccountState
from whatshooked.api.bodies import read_json, text
from whatshooked.api.keys import ACCOUNTS
from whatshooked.errors import RequestError

REFRESH_SECONDS = 2
"""How often the page reloads while not connected: codes change every 20 s."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">{refresh}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>whatshooked: link WhatsApp account {account}</title>
<style>*{{box-sizing:border-box}} body{{font-family:system-ui,sans-serif;text-align:center;margin:1em}}
h1{{font-size:1.5em;overflow-wrap:anywhere}} p{{overflow-wrap:anywhere}}
img{{image-rendering:pixelated;width:min(100%,24em);height:auto}} .muted{{color:#666}}</style></head>
<body><h1>Link WhatsApp account “{account}”</h1>
{body}
<p class="muted" id="state" data-state="{state}">State: {state}{error}</p>
</body></html>
"""


def _whatsapp_web(request: web.Request) -> AccountAdapter:
    account_id = request.match_info["account_id"]
    adapter = request.app[ACCOUNTS].get(account_id)  # UnknownAccount: 404
    if not adapter.pairs_by_qr:
        raise RequestError(f"account {account_id!r} is a {adapter.config.type} account: it has no QR code",
                           status=404)
    return adapter


async def qr_page(request: web.Request) -> web.Response:
    adapter = _whatsapp_web(request)
    code = adapter.current_qr
    state = adapter.state
    if code is not None:
        body = (f'<img id="qr" alt="QR code to link account {html.escape(adapter.id)}" '
                f'src="{qr_render.png_data_uri(code)}">\n'
                "<p>On your phone open WhatsApp → Settings → Linked devices → Link a device, and scan this code.</p>")
    elif state is AccountState.CONNECTED:
        body = '<p id="connected">This account is linked and connected. You can close this page.</p>'
    else:
        body = '<p id="waiting">No QR code to scan right now; this page refreshes until there is one.</p>'
    page = PAGE.format(
        refresh="" if state is AccountState.CONNECTED else f'\n<meta http-equiv="refresh" content="{REFRESH_SECONDS}">',
        account=html.escape(adapter.id), body=body, state=html.escape(state.value),
        error=f" — {html.escape(adapter.last_error)}" if adapter.last_error and code is None else "",
    )
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


async def qr_png(request: web.Request) -> web.Response:
    adapter = _whatsapp_web(request)
    code = adapter.current_qr
    if code is None:
        raise RequestError(f"no QR code pending for account {adapter.id!r} (state: {adapter.state.value})",
                           status=404)
    return web.Response(body=qr_render.png_bytes(code), content_type="image/png",
                        headers={"Cache-Control": "no-store"})


async def pair_phone(request: web.Request) -> web.Response:
    body = await read_json(request)
    account_id = text(body, "id", required=True)
    phone = text(body, "phone", required=True)
    adapter = request.app[ACCOUNTS].get(account_id)
    code = await adapter.pair_phone(phone)
    return web.json_response({"status": "ok", "code": code})


def setup(app: web.Application) -> None:
    # The image first: `{account_id}` alone would also match `x.png`.
    app.router.add_get("/api/qr/{account_id}.png", qr_png)
    app.router.add_get("/api/qr/{account_id}", qr_page)
    app.router.add_post("/api/accounts/pair-phone", pair_phone)
