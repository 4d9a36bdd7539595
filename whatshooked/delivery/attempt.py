"""One HTTP attempt to deliver one event to one hook, and the headers it carries (DESIGN §5).

POST/PUT/PATCH hooks get the event JSON as the body. GET hooks get it as query parameters (id, type,
timestamp, account_id, data) with no body; their `webhook-signature` signs the bytes actually sent,
i.e. the empty body: HMAC of "id.timestamp.". Redirects are not followed (a 3xx is a refusal).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from whatshooked import __version__, strict_json
from whatshooked.config.model import HookConfig
from whatshooked.delivery.backoff import parse_retry_after
from whatshooked.delivery.hook_http import HookHttp, target, with_query
from whatshooked.delivery.http1 import AnswerError
from whatshooked.delivery.signer import Signer
from whatshooked.events import Event
from whatshooked.store.base import Attempt

log = logging.getLogger(__name__)

USER_AGENT = f"whatshooked/{__version__}"
REPLY_LIMIT = 64 * 1024 * 1024  # the most of a hook's answer read for `{"send": ...}`: server.max_body
RETRYABLE_STATUS = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int | None  # None: no HTTP answer (network error or timeout)
    error: str = ""
    retry_after: float | None = None
    reply: Any = None  # the parsed JSON answer, when one was asked for
    at: float = 0.0  # when the attempt started (Unix seconds)
    latency_ms: float = 0.0  # until the answer's headers (or the error)

    def record(self, hook_id: str) -> Attempt:
        """The attempt as its history keeps it (store.base.Attempt)."""
        return Attempt(hook_id, self.at, self.status, self.error, self.latency_ms)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE_STATUS or self.status >= 500


def delivery_headers(
    hook: HookConfig, key: Signer | None, event: Event, timestamp: int, signed_body: bytes
) -> dict[str, str]:
    """`key` signs with the hook's secret(s) (signer.signer_for), None when it has none."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Whatshooked-Event": event.type,
    }
    headers.update(hook.headers)
    headers["webhook-id"] = event.id
    headers["webhook-timestamp"] = str(timestamp)
    if key is not None:
        headers["webhook-signature"] = key.header(event.id, timestamp, signed_body)
    return headers


def query_params(event: Event) -> dict[str, str]:
    return {
        "id": event.id,
        "type": event.type,
        "timestamp": event.timestamp,
        "account_id": event.account_id or "",
        "data": strict_json.dumps(event.data, separators=(",", ":"), ensure_ascii=False),
        **({"seq": str(event.seq)} if event.seq is not None else {}),
    }


async def attempt(
    http: HookHttp, hook: HookConfig, key: Signer | None, event: Event, body: bytes, limits: float,
    want_reply: bool = False, reply_limit: int = REPLY_LIMIT,
) -> Outcome:
    """With `want_reply`, a 2xx answer's JSON is read whole up to `reply_limit` bytes (a send's limit).
    `limits` is the attempt's timeout in seconds, from the connection to the answer's status (and the
    reply, when one is wanted).

    The outcome tells when the attempt started and how long it took (the attempt history).
    """
    at, started = time.time(), time.monotonic()
    outcome = await _attempt(http, hook, key, event, body, limits, want_reply, reply_limit)
    latency_ms = round((time.monotonic() - started) * 1000, 1)  # dataclasses.replace costs more than the rest
    return Outcome(outcome.status, outcome.error, outcome.retry_after, outcome.reply, at, latency_ms)


async def _attempt(
    http: HookHttp, hook: HookConfig, key: Signer | None, event: Event, body: bytes, limits: float,
    want_reply: bool, reply_limit: int,
) -> Outcome:
    is_get = hook.method == "GET"
    sent = b"" if is_get else body
    headers = delivery_headers(hook, key, event, int(time.time()), sent)
    try:
        where = with_query(hook.url, query_params(event)) if is_get else target(hook.url)
        answer = await http.request(hook.method, where, headers, sent, limits, verify=not hook.allow_insecure,
                                    keep_body=reply_limit if want_reply else None)
    except TimeoutError:
        return Outcome(None, f"no answer within {limits:g}s")
    except AnswerError as exc:
        return Outcome(None, str(exc))
    except OSError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    status = answer.status
    if not 200 <= status < 300:
        return Outcome(status, f"HTTP {status}", parse_retry_after(answer.retry_after, time.time()))
    if answer.too_large:  # the 2xx still counts as delivered
        log.warning("hook %s: its reply is ignored, nothing of it is sent: %s (server.max_body)", hook.id,
                    answer.too_large, extra={"hook_id": hook.id})
    return Outcome(status, reply=_parsed(answer.body) if want_reply else None)


def _parsed(data: bytes | None) -> Any:
    """A 2xx answer's JSON (for two-way replies); None when it is empty or not JSON."""
    if not data:
        return None
    try:
        return strict_json.loads(data)  # passed on to Meta: standard JSON only
    except (ValueError, RecursionError):
        return None
