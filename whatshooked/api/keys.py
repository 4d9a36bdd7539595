"""Typed keys for what the daemon puts on the aiohttp application (no module globals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from whatshooked.accounts.manager import AccountManager
    from whatshooked.config.settings import Settings
    from whatshooked.delivery.dispatcher import Dispatcher
    from whatshooked.media.store import MediaStore
    from whatshooked.service.metrics import Metrics
    from whatshooked.store.base import Store

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
STORE: web.AppKey[Store] = web.AppKey("store")  # not `persistent` when message_cache.enabled is false
DISPATCHER: web.AppKey[Dispatcher] = web.AppKey("dispatcher")
ACCOUNTS: web.AppKey[AccountManager] = web.AppKey("accounts")
MEDIA: web.AppKey[MediaStore] = web.AppKey("media")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
