"""Owns every account adapter: builds them from the config, connects, reconnects, disconnects.

Also the one path every send takes (API routes and two-way hook replies), so that each send raises
`message.sent` or `message.failed` the same way whatever asked for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import aiohttp

from whatshooked.accounts.base import (
    QUIET_KINDS,
    AccountAdapter,
    AccountState,
    AdapterContext,
    Emit,
    MediaSink,
    SendKind,
    SendRequest,
    SendResult,
    sent_key,
)
from whatshooked.accounts.leasing import Leasing
from whatshooked.accounts.registry import BackendUnavailable, Registry, UnavailableAdapter
from whatshooked.accounts.seams import Seams
from whatshooked.accounts.sends import MEDIA_SEND_KINDS
from whatshooked.accounts.starting import StartingAdapter
from whatshooked.config.model import AccountConfig, Config
from whatshooked.errors import NotConnected, RequestError, SendError, UnknownAccount, Unsupported
from whatshooked.events import Event
from whatshooked.media.fetch import MediaFetcher, fill_from_url
from whatshooked.service.metrics import Metrics
from whatshooked.store.base import AccountLeases

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 30.0
"""An adapter's connect() should return at once; past this it is left in `error`."""
DISCONNECT_TIMEOUT = 3.0
"""Past this a disconnect is abandoned, so a stop stays within its budget."""

T = TypeVar("T")
ReplyValidator = Callable[[SendKind, dict[str, Any]], dict[str, Any]]


@dataclass
class Lent:
    """What the daemon lends to every adapter it builds (the parts of AdapterContext that never change)."""

    emit: Emit
    http: aiohttp.ClientSession
    media: MediaSink
    metrics: Metrics
    seams: Seams = field(default_factory=Seams)
    """Backend-typed test seams, lent untouched to every adapter."""
    node: str = ""
    """This daemon's node id (`storage.node_id`, or host:pid), named in every status entry it drives."""
    leases: AccountLeases | None = None
    """A database shared with other daemons: exclusive accounts are driven by whoever holds their lease."""


class AccountManager:
    def __init__(self, lent: Lent, registry: Registry | None = None) -> None:
        self._lent = lent
        self._registry = registry or Registry()
        self._adapters: dict[str, AccountAdapter] = {}
        self._lock = asyncio.Lock()
        self._leasing = Leasing(lent.leases) if lent.leases is not None else None
        self._starting: asyncio.Task[None] | None = None
        self.reply_validator: ReplyValidator | None = None
        """Set by the send routes: checks a two-way reply item like the matching /api/send route."""

    # -- lookup -----------------------------------------------------------
    def get(self, account_id: str) -> AccountAdapter:
        adapter = self._adapters.get(account_id)
        if adapter is None:
            raise UnknownAccount(account_id)
        return adapter

    def adapters(self) -> list[AccountAdapter]:
        return list(self._adapters.values())

    def webhook_adapter(self, path: str) -> AccountAdapter | None:
        for adapter in self._adapters.values():
            if adapter.webhook_path == path and adapter.state is not AccountState.DISABLED:
                return adapter
        return None

    def status(self) -> list[dict[str, Any]]:
        return [
            {"id": a.id, "type": a.config.type, "phone_number": a.config.phone_number,
             "state": a.state.value, "last_error": a.last_error, "node": a.node or self._lent.node}
            for a in self._adapters.values()
        ]

    # -- lifecycle --------------------------------------------------------
    async def start(self, config: Config, *, background: bool = False) -> None:
        """Build and connect every account. `background` (the daemon's start-up, so its API listens at once):
        an account whose backend loads slowly (WhatsApp Web) is a `StartingAdapter` until an owned task
        has loaded the backend in a thread, then built and connected it."""
        await self.apply(config, defer=background)
        if any(isinstance(a, StartingAdapter) for a in self._adapters.values()):
            self._starting = asyncio.get_running_loop().create_task(self._start_deferred(), name="whatshooked-accounts")

    async def _start_deferred(self) -> None:
        async with self._lock:
            built: list[AccountAdapter] = []
            try:  # each replaces its StartingAdapter once started (standby or connecting): no state in between
                for waiting in [a for a in self._adapters.values() if isinstance(a, StartingAdapter)]:
                    built.append(await self._build(waiting.config, waiting.ctx.settings))
                await self._start([adapter for adapter in built if not adapter.config.disabled])
            except Exception:  # _build and _connect end every failure in a state; this is for a bug
                log.exception("starting the accounts failed")
            finally:  # also when cancelled: what was built is then in place for close() to stop
                self._adapters.update((adapter.id, adapter) for adapter in built)

    async def apply(self, config: Config, *, defer: bool = False) -> None:
        """Bring the running adapters in line with `config` (start, SIGHUP, API changes)."""
        async with self._lock:
            wanted = {account.id: account for account in config.accounts}
            freed = [i for i, a in self._adapters.items() if a.exclusive and (i not in wanted or wanted[i].disabled)]
            for account_id in [i for i in self._adapters if i not in wanted]:
                log.info("account %s removed", account_id, extra={"account_id": account_id})
                await self._stop(self._adapters.pop(account_id))
            started: list[AccountAdapter] = []
            for account_id, account in wanted.items():
                current = self._adapters.get(account_id)
                waiting = isinstance(current, StartingAdapter)
                if current is not None and current.config == account and not waiting:
                    continue
                if current is not None and not waiting:
                    log.info("account %s changed: reconnecting", account_id, extra={"account_id": account_id})
                    await self._stop(current)
                adapter: AccountAdapter
                if defer and self._registry.loads_slowly(account.type):
                    adapter = StartingAdapter(account, self._context(config))
                else:
                    adapter = await self._build(account, config)
                self._adapters[account_id] = adapter
                if not account.disabled:
                    started.append(adapter)
            if self._leasing is not None and freed:
                await self._leasing.release(freed)
            await self._start(started)

    async def restart(self, account_id: str) -> None:
        """Disconnect and connect again with the same config (e.g. to ask for a fresh QR code)."""
        async with self._lock:
            old = self.get(account_id)
            await self._stop(old)
            adapter = await self._build(old.config, old.ctx.settings)
            self._adapters[account_id] = adapter
            if not adapter.config.disabled:
                await self._start([adapter])

    async def close(self) -> None:
        if self._starting is not None:  # first: it holds the lock while the backend loads
            self._starting.cancel()
            await asyncio.gather(self._starting, return_exceptions=True)
        async with self._lock:
            adapters, self._adapters = list(self._adapters.values()), {}
            # An import still running in its thread is given as long as a disconnect, so the exit need not leave it.
            await asyncio.gather(self._registry.settle(DISCONNECT_TIMEOUT), *(self._stop(a) for a in adapters))
            if self._leasing is not None:  # after the sessions stopped: another daemon may start them at once
                await self._leasing.release([a.id for a in adapters if a.exclusive])  # only this node's rows go

    # -- several daemons ---------------------------------------------------
    def _leased(self, adapters: list[AccountAdapter]) -> list[AccountAdapter]:
        return [a for a in adapters if a.exclusive] if self._leasing is not None else []

    async def _start(self, adapters: list[AccountAdapter]) -> None:
        """Connect them, except exclusive ones another daemon holds (those wait in `standby`)."""
        leased = self._leased(adapters)
        owners = (await self._leasing.owners(leased) or {}) if self._leasing is not None and leased else {}
        for adapter in leased:
            owner = owners.get(adapter.id, "")
            if self._leasing is not None and owner != self._leasing.node:
                adapter.node = owner
                adapter.set_state(AccountState.STANDBY)
        await asyncio.gather(*(self._connect(a) for a in adapters if a.state is not AccountState.STANDBY))

    async def hold_forever(self) -> None:
        """Every third of the lease: renew ours, take those a dead daemon left, hand back those taken from us."""
        while self._leasing is not None:
            await asyncio.sleep(self._leasing.interval)
            async with self._lock:
                await self._rebalance(self._leasing)

    async def _rebalance(self, leasing: Leasing) -> None:
        leased = self._leased([a for a in self._adapters.values() if not a.config.disabled])
        owners = await leasing.owners(leased)
        if owners is None:
            if not leasing.lost():
                return
            owners = {}  # this daemon's leases may have run out: stop driving, as if another held them all
        for adapter in leased:
            owner = owners.get(adapter.id, "")
            if owner == leasing.node and adapter.state is AccountState.STANDBY:
                log.info("account %s: taking it over (its lease was free)", adapter.id,
                         extra={"account_id": adapter.id})
                adapter.node = ""
                await self._connect(adapter)
            elif owner != leasing.node:
                if adapter.state is not AccountState.STANDBY:
                    why = f"driven by node {owner!r} now" if owner else "its lease could not be renewed"
                    log.warning("account %s: %s; stopping this daemon's session", adapter.id, why,
                                extra={"account_id": adapter.id})
                    await self._stop(adapter)
                adapter.node = owner
                adapter.set_state(AccountState.STANDBY)

    def _context(self, config: Config) -> AdapterContext:
        lent = self._lent
        return AdapterContext(
            emit=self.emit, http=lent.http, media=lent.media, settings=config, metrics=lent.metrics, accounts=self,
            seams=lent.seams, session_database=lent.leases.session_database if lent.leases is not None else None,
        )

    async def _build(self, account: AccountConfig, config: Config) -> AccountAdapter:
        ctx = self._context(config)
        try:
            cls = await self._registry.load(account.type)
        except BackendUnavailable as exc:
            log.error("account %s: %s", account.id, exc, extra={"account_id": account.id})
            return UnavailableAdapter(account, ctx, reason=str(exc))
        try:
            return cls(account, ctx)
        except Exception as exc:  # a backend bug must not stop the daemon
            log.exception("account %s: could not be set up", account.id, extra={"account_id": account.id})
            return UnavailableAdapter(account, ctx, reason=f"could not be set up: {exc}")

    async def _connect(self, adapter: AccountAdapter) -> None:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await adapter.connect()
        except Exception as exc:  # adapters should end in a state, but never let one take the daemon down
            log.exception("account %s: connect failed", adapter.id, extra={"account_id": adapter.id})
            adapter.set_state(AccountState.ERROR, f"connect failed: {exc or type(exc).__name__}")

    async def _stop(self, adapter: AccountAdapter) -> None:
        try:
            async with asyncio.timeout(DISCONNECT_TIMEOUT):
                await adapter.disconnect()
        except TimeoutError:
            log.warning("account %s: did not disconnect within %ss; left behind", adapter.id, DISCONNECT_TIMEOUT,
                        extra={"account_id": adapter.id})
        except Exception:
            log.exception("account %s: disconnect failed", adapter.id, extra={"account_id": adapter.id})

    # -- events and sends -------------------------------------------------
    async def emit(self, event: Event, dedupe_key: str | None = None) -> bool:
        """What adapters emit through: committed by the dispatcher, counted once (duplicates not at all)."""
        if not await self._lent.emit(event, dedupe_key):
            return False
        self._lent.metrics.count(self._lent.metrics.events, event.type)
        return True

    @staticmethod
    def require_connected(adapter: AccountAdapter) -> None:
        """409 naming the state when the account cannot act now (disabled included)."""
        if adapter.config.disabled or adapter.state is not AccountState.CONNECTED:
            state = AccountState.DISABLED if adapter.config.disabled else adapter.state
            raise NotConnected(adapter.id, state.value)

    async def operate(self, account_id: str, operation: str, call: Callable[[AccountAdapter], Awaitable[T]]) -> T:
        """A lookup or chat-state call (`contacts.check`, …): unsupported → 400, not connected → 409."""
        adapter = self.get(account_id)
        if not adapter.offers(operation):
            raise Unsupported(account_id, adapter.config.type, operation)
        self.require_connected(adapter)
        return await call(adapter)

    async def send(self, account_id: str, request: SendRequest) -> SendResult:
        adapter = self.get(account_id)
        if not adapter.supports(request.kind):
            raise Unsupported(account_id, adapter.config.type, f"{request.kind.value} messages")
        self.require_connected(adapter)
        to = adapter.normalize_recipient(request.to) if request.to else request.to
        request = replace(request, to=to)
        if request.kind in MEDIA_SEND_KINDS and request.body.get("url"):
            server, media = adapter.ctx.settings.server, adapter.ctx.settings.media
            fetched = await MediaFetcher(server.max_body, media.fetch_private).fetch(str(request.body["url"]))
            request = replace(request, body=fill_from_url(request.body, f"{request.kind.value}_data", fetched))
        try:
            result = await adapter.send(request)
        except SendError as exc:
            if request.kind not in QUIET_KINDS:
                error = {"code": exc.code, "message": str(exc)}
                await self.emit(Event("message.failed", {"account_id": account_id, "to": to,
                                                         "type": request.kind.value, "error": error}))
            raise
        self._lent.metrics.messages_sent.labels(account_id, request.kind.value).inc()
        if request.kind not in QUIET_KINDS:
            # Keyed like the Cloud API's `sent` status for the same message: one message.sent, whichever is first.
            await self.emit(Event("message.sent", {"account_id": account_id, "message_id": result.message_id,
                                                   "to": result.to or to, "type": request.kind.value}),
                            sent_key(account_id, result.message_id))
        return result

    async def handle_reply(self, event: Event, items: list[dict[str, Any]]) -> None:
        """A hook answered a message.received with `{"send": …}`: send each item like the API would."""
        for index, item in enumerate(items):
            try:
                account_id, request = self._reply_request(event, item)
                await self.send(account_id, request)
            except (RequestError, SendError) as exc:
                log.warning("two-way reply %d to event %s not sent: %s", index, event.id, exc,
                            extra={"event_id": event.id})

    def _reply_request(self, event: Event, item: Any) -> tuple[str, SendRequest]:
        if not isinstance(item, dict):
            raise RequestError("each item of 'send' must be a JSON object")
        try:
            kind = SendKind(item.get("type") or "text")
        except ValueError:
            raise RequestError(f"'type' {item.get('type')!r} is not a send type") from None
        account_id = item.get("account_id") or event.account_id
        to = item.get("to") or event.data.get("chat") or event.data.get("from")
        if not isinstance(account_id, str) or not isinstance(to, str):
            raise RequestError("'account_id' and 'to' must be strings")
        body = {k: v for k, v in item.items() if k not in ("type", "account_id", "to")}
        if self.reply_validator is not None:
            body = self.reply_validator(kind, body)
        return account_id, SendRequest(kind, to, body)
