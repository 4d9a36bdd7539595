"""The aiohttp application: middlewares, every routes module, and inbound Cloud API webhooks.

Webhook paths are configured per account (and change with the config): one resource, registered
last, matches a path while an account listens on it (`webhook_route`); the API's credentials do not
apply there (Meta's signature protects those).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from whatshooked.api import openapi, webhook_route
from whatshooked.api.auth import auth_middleware
from whatshooked.api.connections import CONNECTIONS, ConnectionGuard, guard_middleware
from whatshooked.api.errors import error_middleware
from whatshooked.api.keys import ACCOUNTS, DISPATCHER, MEDIA, METRICS, SETTINGS, STORE
from whatshooked.api.origin import origin_middleware
from whatshooked.api.routes import (
    accounts,
    business,
    cache,
    chats,
    dashboard,
    docs,
    feed,
    hook_ops,
    hooks,
    media,
    metrics,
    qr,
    replays,
    send,
    system,
)

if TYPE_CHECKING:
    from whatshooked.accounts.manager import AccountManager
    from whatshooked.config.settings import Settings
    from whatshooked.delivery.dispatcher import Dispatcher
    from whatshooked.media.store import MediaStore
    from whatshooked.service.metrics import Metrics
    from whatshooked.store.base import Store

ROUTE_MODULES = (system, metrics, openapi, hooks, cache, feed, accounts, send, business, media, qr, chats, docs,
                 dashboard, hook_ops, replays)


class Parts(Protocol):
    """What the app serves, opened (and later closed) by its owner: the daemon, or a test's rig."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> Store: ...
    @property
    def dispatcher(self) -> Dispatcher: ...
    @property
    def accounts(self) -> AccountManager: ...
    @property
    def media(self) -> MediaStore: ...
    @property
    def metrics(self) -> Metrics: ...


def build_app(parts: Parts) -> web.Application:
    """An app over opened parts; the caller closes them after the app's cleanup."""
    config = parts.settings.config
    app = web.Application(
        client_max_size=config.server.max_body,
        middlewares=[error_middleware, guard_middleware, origin_middleware, auth_middleware],
    )
    app[CONNECTIONS] = ConnectionGuard(config.server.request_timeout, config.server.max_connections)
    app[SETTINGS] = parts.settings
    app[STORE] = parts.store
    app[DISPATCHER] = parts.dispatcher
    app[ACCOUNTS] = parts.accounts
    app[MEDIA] = parts.media
    app[METRICS] = parts.metrics
    for module in ROUTE_MODULES:
        module.setup(app)
    webhook_route.setup(app, parts.accounts.webhook_adapter)
    return app
