"""The HTTP side of a Cloud API account: Meta's verify handshake and signed webhook POSTs.

A POST is answered 200 only after each of its events is committed (`emit` returns then), so a
crash or a store failure makes Meta redeliver rather than lose anything.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from whatshooked.accounts.cloud_api.inbound import Inbound, Parsed, parse_payload, signature_ok, unreadable
from whatshooked.accounts.cloud_api.media_check import check_download
from whatshooked.accounts.cloud_api.unreadable import OutOfRange, TooDeep, load_body, nests_within
from whatshooked.accounts.cloud_api.webhook_body import BODIES, MAX_BODY, Busy
from whatshooked.errors import SendError, StoreError

__all__ = ["MAX_BODY", "CloudWebhook"]

if TYPE_CHECKING:
    from whatshooked.accounts.cloud_api.host import CloudHost

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"


class CloudWebhook:
    def __init__(self, adapter: CloudHost) -> None:
        self.adapter = adapter

    def _count(self, outcome: str) -> None:
        metrics = self.adapter.ctx.metrics
        if metrics is not None:
            metrics.count(metrics.webhook_requests, outcome)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET":
            return self.verify(request)
        if request.method != "POST":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])
        return await self.receive(request)

    def verify(self, request: web.Request) -> web.Response:
        """Meta's subscription handshake: echo `hub.challenge` when `hub.verify_token` is ours."""
        expected = self.adapter.api.verify_token.reveal()
        token = request.query.get("hub.verify_token", "")
        challenge = request.query.get("hub.challenge")
        if not expected:
            log.warning("account %s: Meta's verify request refused: business_api.verify_token is not set",
                        self.adapter.id, extra={"account_id": self.adapter.id})
        elif (request.query.get("hub.mode") == "subscribe" and challenge is not None
                and hmac.compare_digest(token.encode(), expected.encode())):
            self._count("verified")
            log.info("account %s: webhook verified by Meta", self.adapter.id, extra={"account_id": self.adapter.id})
            return web.Response(text=challenge, content_type="text/plain")
        else:
            log.warning("account %s: Meta's verify request from %s refused: hub.verify_token differs from "
                        "business_api.verify_token (or hub.mode is not subscribe)", self.adapter.id, request.remote,
                        extra={"account_id": self.adapter.id})
        self._count("verify_refused")
        return web.Response(status=403, text="verify token does not match")

    async def receive(self, request: web.Request) -> web.Response:
        try:
            async with BODIES.read(request, MAX_BODY) as body:  # 413 past MAX_BODY
                return await self._receive(request, body)
        except Busy as exc:
            self._count("busy")
            log.debug("account %s: webhook POST from %s answered 503: %s", self.adapter.id, request.remote, exc,
                      extra={"account_id": self.adapter.id})
            return web.Response(status=503, headers={"Retry-After": "5"},
                                text="too many webhook bodies being received at once; retry later")

    async def _receive(self, request: web.Request, body: bytes) -> web.Response:
        secret = self.adapter.api.app_secret.reveal()
        if secret and not signature_ok(secret, body, request.headers.get(SIGNATURE_HEADER)):
            self._count("bad_signature")
            log.warning("account %s: webhook POST from %s refused: %s missing or wrong (is app_secret right?)",
                        self.adapter.id, request.remote, SIGNATURE_HEADER, extra={"account_id": self.adapter.id})
            return web.Response(status=401, text=f"{SIGNATURE_HEADER} does not match")
        try:
            payload = load_body(body)
            parsed = parse_payload(payload, self.adapter.id, self.adapter.api.phone_number_id, nests_within(body))
        except (TooDeep, OutOfRange) as exc:  # JSON all the same: answered 200 (Meta would redeliver), raised as such
            parsed = Parsed(items=[unreadable(str(exc), None)])
        except ValueError as exc:
            self._count("bad_request")
            return web.Response(status=400, text=f"not a WhatsApp webhook body: {exc}")
        self.adapter.learn_waba(parsed.waba_ids)
        try:
            await self._raise_all(parsed.items)
            for number, entries in parsed.foreign.items():
                await self._hand_over(number, entries, body, request.headers.get(SIGNATURE_HEADER))
        except StoreError as exc:  # the store cannot take writes (logged once, naming storage.path)
            self._count("error")
            log.warning("account %s: webhook answered 503, Meta will redeliver: %s", self.adapter.id,
                        type(exc).__name__, extra={"account_id": self.adapter.id})
            return web.Response(status=503, text="events cannot be stored now; retry later")
        except Exception:
            self._count("error")
            log.exception("account %s: webhook events not committed; Meta will redeliver", self.adapter.id,
                          extra={"account_id": self.adapter.id})
            return web.Response(status=500, text="events could not be stored; retry later")
        self._count("ok")
        return web.Response(text="ok")

    async def _hand_over(self, phone_number_id: str, entries: list[dict[str, Any]], body: bytes,
                         signature: str | None) -> None:
        """Meta sends one app's webhooks to one URL: changes for a sibling number go to its account.

        Only when that account would have taken the POST itself: if it has an app_secret, the body must
        carry a signature made with that secret, else an unsigned POST at an open account's path could
        raise events for an account that checks signatures.
        """
        sibling = self.adapter.sibling(phone_number_id)
        if sibling is None:
            log.warning("account %s: ignored webhook changes for phone_number_id %s: no business-api account has "
                        "it (this one is %s)", self.adapter.id, phone_number_id, self.adapter.api.phone_number_id,
                        extra={"account_id": self.adapter.id})
            return
        secret = sibling.api.app_secret.reveal()
        if secret and not signature_ok(secret, body, signature):
            self._count("bad_signature")
            log.warning("account %s: ignored webhook changes for account %s (phone_number_id %s): the POST is not "
                        "signed with %s's app_secret (one Meta app shares one secret: is it the same app?)",
                        self.adapter.id, sibling.id, phone_number_id, sibling.id,
                        extra={"account_id": self.adapter.id})
            return
        payload = {"object": "whatsapp_business_account", "entry": entries}
        for item in parse_payload(payload, sibling.id, phone_number_id).items:
            await sibling.raise_inbound(item)

    async def _raise_all(self, items: list[Inbound]) -> None:
        """Raise a POST's items in their order, committed together where nothing stands between them.

        Each emit hands its event to the store before it first waits, so starting a run of items at once
        keeps their order in the store and lets one commit take them all (Meta sends up to 100 per POST;
        one at a time, each waited for its own commit). An item with media is fetched first, so the items
        after it wait for it, as they would have. An item without a dedupe key is raised on its own once
        everything before it is committed: after a failure (the POST answered 5xx) Meta redelivers the
        whole POST, and only keyed items are recognised then, so nothing keyless may be committed beyond
        a failure. The first failure of a run is raised once the run has ended."""
        run: list[Inbound] = []
        for item in [*items, None]:
            if item is not None and item.media is None and item.dedupe_key is not None:
                run.append(item)
                continue
            if len(run) == 1:  # most POSTs hold one message: no gather for a run of one
                await self.raise_item(run.pop())
            elif run:
                outcomes = await asyncio.gather(*(self.raise_item(one) for one in run), return_exceptions=True)
                run = []
                for outcome in outcomes:
                    if isinstance(outcome, BaseException):
                        raise outcome
            if item is not None:
                await self.raise_item(item)

    async def raise_item(self, item: Inbound) -> None:
        """Raise one item; its dedupe key (message id, or message id + status) is committed with the event,
        so Meta's redelivery of what was committed raises nothing, and of what was not raises it."""
        if item.media is not None:
            item.data["media"] = await self.fetch_media(item.media, item.data.get("media") or {})
        await self.adapter.emit(item.type, dedupe_key=item.dedupe_key, **item.data)

    async def fetch_media(self, media: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
        """`GET /{media-id}`, then its 5-minute URL with the token; on failure keep what the webhook said."""
        media_id = str(media.get("id") or "")
        graph = self.adapter.graph
        try:
            if not media_id:
                raise SendError("the webhook gave no media id")
            info = await graph.call("GET", media_id)
            url = info.get("url") if isinstance(info, dict) else None
            if not url:
                raise SendError(f"Meta gave no URL for media {media_id}")
            data = await graph.download(url)
            check_download(media_id, data, info)  # a cut download is an error, never the media
            mime = info.get("mime_type") or known.get("mime_type") or "application/octet-stream"
            saved = await self.adapter.ctx.media.save(
                data, mime, filename=known.get("filename"), sha256=info.get("sha256") or known.get("sha256")
            )
        except (SendError, OSError) as exc:
            log.warning("account %s: could not fetch media %s: %s", self.adapter.id, media_id, exc,
                        extra={"account_id": self.adapter.id})
            return {**known, "error": f"could not download media {media_id} from Meta: {exc}"}
        return {**known, **saved}
