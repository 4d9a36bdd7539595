"""`Idempotency-Key` on the send routes: a client may retry a send without sending twice (DESIGN §8.3).

The first request with a key runs; its answer is kept in the store for 24 h when something was
tried (a 2xx, or WhatsApp's / Meta's refusal, 500), and a repeat of the same request with the same
key gets that answer — status and body, plus `Idempotent-Replayed: true` — without sending anything.
A repeat while the first still runs gets 409; the same key with another request (path or body) 422.
Answers where nothing was tried (a 4xx, 503) are not kept: the client may fix the request and retry
with the same key. Keys are per account (`account_id` of the body): this daemon has one set of API
credentials, so the account is what tells callers' keys apart. Requests in flight are known to this
process only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from whatshooked.api.keys import STORE
from whatshooked.errors import RequestError, SendError, StoreError
from whatshooked.store.base import KeptAnswer

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
WINDOW = 24 * 3600.0
MAX_KEY = 255


@dataclass
class InFlight:
    """The (account, key) pairs whose first request is still running in this process."""

    running: set[tuple[str, str]] = field(default_factory=set)


IN_FLIGHT: web.AppKey[InFlight] = web.AppKey("idempotency_in_flight")


def _key(request: web.Request) -> str | None:
    value = request.headers.get(HEADER)
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_KEY or not all(" " <= c <= "~" for c in value):
        raise RequestError(f"header '{HEADER}' must be 1 to {MAX_KEY} visible ASCII characters (e.g. a UUID)")
    return value


def _scope(raw: bytes) -> str:
    """The body's account_id ('' when the body has none: the route itself answers 400 then)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return ""
    account = body.get("account_id") if isinstance(body, dict) else None
    return account if isinstance(account, str) else ""


def _kept(response: web.StreamResponse) -> bool:
    """Keep answers of sends that were tried: done (2xx) or refused by WhatsApp / Meta (500)."""
    return isinstance(response, web.Response) and (200 <= response.status < 300 or response.status == 500)


def idempotent(handler: Handler) -> Handler:
    """Wrap a send route so that `Idempotency-Key` makes its repeats safe."""

    async def handle(request: web.Request) -> web.StreamResponse:
        key = _key(request)
        if key is None:
            return await handler(request)
        raw = await request.read()
        scope = _scope(raw)
        in_flight = request.app[IN_FLIGHT].running
        if (scope, key) in in_flight:
            raise RequestError(f"a request with this {HEADER} is still running; retry once it has answered",
                               status=409)
        in_flight.add((scope, key))  # before any await: a second request now sees it
        try:
            return await _first_or_kept(request, handler, scope, key, raw)
        finally:
            in_flight.discard((scope, key))

    handle.__name__ = getattr(handler, "__name__", "send")
    return handle


async def _first_or_kept(request: web.Request, handler: Handler, scope: str, key: str,
                         raw: bytes) -> web.StreamResponse:
    store = request.app[STORE]
    fingerprint = hashlib.sha256(request.path.encode() + b"\n" + raw).hexdigest()
    now = time.time()
    kept = await store.kept_answer(scope, key, now - WINDOW)
    if kept is not None:
        if kept.fingerprint != fingerprint:
            raise RequestError(f"this {HEADER} was used for another request in the last 24 h; use a new key",
                               status=422)
        return web.Response(status=kept.status, body=kept.body,
                            headers={hdrs.CONTENT_TYPE: kept.content_type, REPLAYED: "true"})
    try:
        response = await handler(request)
    except SendError as exc:  # as the error middleware answers it, so the answer can be kept
        response = web.Response(status=500, text=str(exc))
    if _kept(response):
        assert isinstance(response, web.Response)
        body = response.body if isinstance(response.body, bytes) else b""
        content_type = response.headers.get(hdrs.CONTENT_TYPE, response.content_type)  # with its charset
        answer = KeptAnswer(fingerprint, response.status, content_type, body, now)
        try:
            await store.keep_answer(scope, key, answer, now - WINDOW)
        except StoreError as exc:  # it was sent: answer so, rather than invite a second send with a 503
            log.warning("%s %s: its answer could not be kept for repeats: %s", request.path, key, exc)
    return response
