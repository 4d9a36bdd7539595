"""A Meta WhatsApp Cloud API number (`type: business-api`) behind the common adapter interface.

Outbound goes to Meta's Graph API (`graph_client`), inbound arrives as webhooks at `webhook_path`
(`webhook`); the pure translations live in `inbound` / `outbound`, management
operations in `manage`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
from typing import TYPE_CHECKING, Any

from whatshooked.accounts.base import AccountAdapter, AccountState, SendKind, SendRequest, SendResult
from whatshooked.accounts.cloud_api.graph_client import GraphClient, Upload
from whatshooked.accounts.cloud_api.inbound import Inbound
from whatshooked.accounts.cloud_api.manage import OPERATIONS
from whatshooked.accounts.cloud_api.outbound import MEDIA_KINDS, build_message, media_message, read_receipt
from whatshooked.accounts.cloud_api.settings import BusinessApiConfig
from whatshooked.accounts.cloud_api.webhook import CloudWebhook
from whatshooked.accounts.sends import media_bytes
from whatshooked.errors import ConfigError, RequestError, SendError
from whatshooked.phone import phone_digits

if TYPE_CHECKING:
    from aiohttp import web

    from whatshooked.accounts.base import AdapterContext
    from whatshooked.config.model import AccountConfig

log = logging.getLogger(__name__)

RETRY_FIRST, RETRY_CAP = 1.0, 300.0
"""Seconds between checks of a number that failed for a reason that may pass (doubling up to the cap)."""
# Meta's codes for "try again later": unknown/temporary errors, call-rate limits, service unavailable.
_TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, 80007, 130429, 131016, 133004})


def transient(exc: SendError) -> bool:
    """Meta not reached, a 5xx or 429, or an error Meta marks transient: worth another try later."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code is None or details.get("is_transient") is True:
        return True
    if exc.http_status is not None and (exc.http_status == 429 or exc.http_status >= 500):
        return True
    try:
        code = int(exc.code)
    except (TypeError, ValueError):
        return False
    return code in _TRANSIENT_CODES or code == 429 or 500 <= code < 600


class CloudApiAdapter(AccountAdapter):
    type_name = "business-api"
    send_kinds = frozenset(SendKind) - {SendKind.POLL, SendKind.EDIT, SendKind.REVOKE}  # Meta has no such sends
    operations = frozenset(OPERATIONS) | {"chats.typing"}

    def __init__(self, config: AccountConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        if not isinstance(config.settings, BusinessApiConfig):
            raise ConfigError([f"account {config.id!r}: business_api settings are required for type business-api"])
        self.api: BusinessApiConfig = config.settings
        self.graph = GraphClient(ctx.http, self.api)
        self.webhook_path = self.api.webhook_path or f"/webhooks/whatsapp/{config.id}"
        self.waba_id: str | None = self.api.waba_id or None
        self.display_phone_number: str | None = None
        self._webhook = CloudWebhook(self)
        self._check: asyncio.Task[None] | None = None
        self._answered = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------
    async def connect(self) -> None:
        """Returns at once; the number is checked with Meta in an owned task (see `until_checked`)."""
        if self._check is not None and not self._check.done():
            return
        if not self.api.app_secret:
            log.warning("account %s: business_api.app_secret is not set, so webhook POSTs at %s are NOT "
                        "checked against X-Hub-Signature-256; anyone who knows the URL can inject events",
                        self.id, self.webhook_path, extra={"account_id": self.id})
        self.set_state(AccountState.CONNECTING)
        self._check = asyncio.create_task(self._check_number(), name=f"cloud-api-connect-{self.id}")

    async def until_checked(self) -> AccountState:
        """Wait for the first answer of the check `connect` started; returns the resulting state.

        A transient failure (Meta unreachable, 5xx, rate limited) is retried in the same task with a
        growing pause; this returns after the first attempt all the same, with the account in `error`."""
        if self._check is not None:
            answered = asyncio.ensure_future(self._answered.wait())
            try:
                await asyncio.wait({answered, self._check}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                answered.cancel()
        return self.state

    async def _check_number(self) -> None:
        """GET the number (and find its WABA); retry what may pass by itself, stay in `error` for the rest."""
        self._answered.clear()
        pause = RETRY_FIRST
        while True:
            try:
                await self._check_once()
            except SendError as exc:
                if not transient(exc):
                    self.set_state(AccountState.ERROR, str(exc))  # Meta's refusal: retrying would not change it
                    self._answered.set()
                    return
                self.set_state(AccountState.ERROR, f"{exc}; retrying in {pause:g} s")
                self._answered.set()
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_CAP)
                continue
            log.info("account %s: Cloud API number %s ready (waba %s); webhook path %s", self.id,
                     self.display_phone_number or self.api.phone_number_id, self.waba_id or "unknown",
                     self.webhook_path, extra={"account_id": self.id})
            self.set_state(AccountState.CONNECTED)
            self._answered.set()
            return

    async def _check_once(self) -> None:
        step = f"checking phone_number_id {self.api.phone_number_id}"
        try:
            info = await self.graph.call("GET", self.api.phone_number_id)
            if isinstance(info, dict):
                self.display_phone_number = info.get("display_phone_number")
            if not self.waba_id and self.api.business_account_id:
                step = f"finding the WhatsApp Business Account of business {self.api.business_account_id}"
                self.waba_id = await self._resolve_waba()
        except SendError as exc:  # Meta's refusal, or why Meta was not reached
            raise SendError(f"{step} failed: {exc}", code=exc.code, details=exc.details,
                            http_status=exc.http_status) from None

    async def _resolve_waba(self) -> str:
        """`GET /{business_account_id}/owned_whatsapp_business_accounts`; with several, the one holding our number."""
        answer = await self.graph.call("GET", f"{self.api.business_account_id}/owned_whatsapp_business_accounts")
        wabas = [str(w["id"]) for w in (answer.get("data") or []) if isinstance(w, dict) and w.get("id")]
        if not wabas:
            raise SendError(f"business {self.api.business_account_id} owns no WhatsApp Business Account; "
                            "set business_api.waba_id", code="no_waba")
        if len(wabas) == 1:
            return wabas[0]
        for waba in wabas:
            numbers = await self.graph.call("GET", f"{waba}/phone_numbers", params={"fields": "id"})
            if any(str(n.get("id")) == self.api.phone_number_id for n in numbers.get("data") or []):
                return waba
        raise SendError(f"none of the WhatsApp Business Accounts of business {self.api.business_account_id} "
                        f"holds phone_number_id {self.api.phone_number_id}; set business_api.waba_id", code="no_waba")

    def learn_waba(self, waba_ids: set[str]) -> None:
        """A webhook's `entry[].id` is the WABA id: use it when none was configured or resolved."""
        if not self.waba_id and len(waba_ids) == 1:
            self.waba_id = next(iter(waba_ids))
            log.info("account %s: WhatsApp Business Account id %s learnt from a webhook", self.id, self.waba_id,
                     extra={"account_id": self.id})

    def sibling(self, phone_number_id: str) -> CloudApiAdapter | None:
        """The running Cloud API account for that number, when the daemon lends its account manager."""
        manager = self.ctx.accounts
        for adapter in manager.adapters() if manager is not None else []:
            if (isinstance(adapter, CloudApiAdapter) and adapter is not self
                    and adapter.api.phone_number_id == phone_number_id and adapter.state is not AccountState.DISABLED):
                return adapter
        return None

    async def raise_inbound(self, item: Inbound) -> None:
        """A webhook item for this account, possibly posted at a sibling's path (see CloudWebhook)."""
        await self._webhook.raise_item(item)

    def require_waba(self) -> str:
        if not self.waba_id:
            raise RequestError(f"account {self.id!r} has no WhatsApp Business Account id: set business_api.waba_id "
                               "(or business_account_id, to find it at connect)")
        return self.waba_id

    async def disconnect(self) -> None:
        if self._check is not None:
            self._check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._check
            self._check = None
        if self.state is not AccountState.DISABLED:
            self.set_state(AccountState.DISCONNECTED)

    # -- sending -----------------------------------------------------------------
    def normalize_recipient(self, to: str) -> str:
        """Digits as Meta wants them. Empty only for read receipts, which name a message, not a chat."""
        return "" if to == "" else phone_digits(to)

    async def send(self, request: SendRequest) -> SendResult:
        messages_path = f"{self.api.phone_number_id}/messages"
        if request.kind is SendKind.READ:
            message_id = str(request.body["message_id"])
            answer = await self.graph.call("POST", messages_path, json_body=read_receipt(message_id))
            return SendResult(message_id=message_id, to=request.to, raw=answer)
        to = phone_digits(request.to)
        if request.body.get("mentions"):
            raise RequestError("field 'mentions' is for WhatsApp Web accounts; the Cloud API has no mentions")
        spec = MEDIA_KINDS.get(request.kind)
        if spec is not None:
            mime = request.body.get("mime_type") or spec.default_mime
            media_id = await self.graph.upload_media(self.api.phone_number_id, Upload(
                media_bytes(request.body, spec.data_field), _upload_name(request, mime), mime,
            ))
            message = media_message(request.kind, to, request.body, media_id)
        else:
            message = build_message(request.kind, to, request.body)
        if request.body.get("reply_to"):
            message["context"] = {"message_id": str(request.body["reply_to"])}  # Meta's quoted reply
        answer = await self.graph.call("POST", messages_path, json_body=message)
        try:
            wamid = str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise SendError(f"Meta accepted the message but gave no message id: {answer!r}"[:500],
                            details=answer) from None
        return SendResult(message_id=wamid, to=to, raw=answer)

    async def chat_typing(self, to: str, state: str, message_id: str | None) -> None:
        """Meta's typing indicator: shown on a received message (which it also marks read), text only."""
        if state != "typing":
            raise RequestError(f"the Cloud API cannot show state {state!r}: only 'typing', which ends by itself "
                               "when you reply or after 25 seconds")
        if not message_id:
            raise RequestError("field 'message_id' is required for a Cloud API account: Meta shows the typing "
                               "indicator on the received message you are answering (and marks it read)")
        body = {**read_receipt(message_id), "typing_indicator": {"type": "text"}}
        await self.graph.call("POST", f"{self.api.phone_number_id}/messages", json_body=body)

    # -- management and webhooks ---------------------------------------------------
    async def manage(self, operation: str, params: dict[str, Any]) -> Any:
        run = OPERATIONS.get(operation)
        if run is None:
            return await super().manage(operation, params)
        return await run(self, params)

    async def handle_webhook(self, request: web.Request) -> web.StreamResponse:
        return await self._webhook.handle(request)


def _upload_name(request: SendRequest, mime: str) -> str:
    if request.body.get("filename"):
        return str(request.body["filename"])
    return f"{request.kind.value}{mimetypes.guess_extension(mime) or ''}"
