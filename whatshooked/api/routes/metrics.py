"""`GET /metrics`: Prometheus text, authenticated like /api unless `server.metrics_public: true`.

The auth middleware only guards /api/*, so this handler checks credentials itself with the same
function. Gauges that mirror state held elsewhere (cache size, account states, what each hook is owed and
its state) are refreshed on each scrape rather than kept in step by every writer.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from whatshooked.accounts.base import AccountState
from whatshooked.api.auth import is_authorized, unauthorized
from whatshooked.api.keys import ACCOUNTS, DISPATCHER, METRICS, SETTINGS, STORE
from whatshooked.delivery.owed import hook_figures

if TYPE_CHECKING:
    from whatshooked.config.model import Config

log = logging.getLogger(__name__)

PATH = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""What `generate_latest` writes (prometheus_client's CONTENT_TYPE_LATEST moved on to 1.0.0)."""
STATES = [state.value for state in AccountState]


def metrics_requires_auth(config: Config) -> bool:
    return not config.server.metrics_public


async def refresh_gauges(app: web.Application) -> None:
    """Cache size from the store, one account_state series per current account."""
    metrics = app[METRICS]
    store = app[STORE]
    if store.persistent:
        try:
            total, _by_type = await store.stats()
        except Exception:
            log.exception("cannot read the cache size for /metrics")
        else:
            metrics.cache_size.set(total)
    await _refresh_hooks(app)
    manager = app.get(ACCOUNTS)
    if manager is not None:
        current = {adapter.id: adapter.state.value for adapter in manager.adapters()}
        for labels in _account_labels(app):
            if labels[0] not in current:
                metrics.account_state.remove(*labels)
        for account_id, state in current.items():
            metrics.set_account_state(account_id, state, STATES)


async def metrics_handler(request: web.Request) -> web.Response:
    server = request.app[SETTINGS].config.server
    if metrics_requires_auth(request.app[SETTINGS].config) and not is_authorized(request, server):
        return unauthorized(server)
    await refresh_gauges(request.app)
    response = web.Response(body=request.app[METRICS].render())
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, metrics_handler)


async def _refresh_hooks(app: web.Application) -> None:
    """Per configured hook: what it is owed, since when, its state; series of removed hooks go."""
    metrics, dispatcher = app[METRICS], app.get(DISPATCHER)
    hooks = app[SETTINGS].config.hooks
    metrics.forget_hooks(hook.id for hook in hooks)
    if dispatcher is None:
        return
    try:
        figures = await hook_figures(dispatcher, hooks)
    except Exception:
        log.exception("cannot read what hooks are owed for /metrics")
        return
    for hook in figures:
        metrics.hook_pending.labels(hook.hook_id).set(hook.pending)
        metrics.hook_oldest_age.labels(hook.hook_id).set(hook.oldest_pending_age)
        metrics.set_hook_state(hook.hook_id, hook.state)


def _account_labels(app: web.Application) -> list[tuple[str, str]]:
    """The (account, state) label pairs the gauge currently exports."""
    pairs = []
    for family in app[METRICS].account_state.collect():
        for sample in family.samples:
            pairs.append((sample.labels["account"], sample.labels["state"]))
    return pairs
