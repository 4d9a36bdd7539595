"""Cloud API webhook paths as a route of their own, looked up per request.

Webhook paths are configured per account and change with the config, so they cannot be fixed
routes. They used to be served by a middleware that ran after the router had already failed to
match: aiohttp built a 404 (an `HTTPNotFound` with its response) for every webhook before the
middleware threw it away — a measurable share of the hot path (issue 14). This resource sits in the
router's "/" bucket, the last one the router tries for any path, and matches a path only while an
enabled account listens on it; every other path still ends in the router's own 404 or 405.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.web_urldispatcher import PlainResource

if TYPE_CHECKING:
    from whatshooked.accounts.base import AccountAdapter


WEBHOOK_TEMPLATE = "/webhooks/whatsapp/{account_id}"
"""How the API document names these paths (an account's default webhook_path)."""


class WebhookResource(PlainResource):
    def __init__(self, find: Callable[[str], AccountAdapter | None]) -> None:
        super().__init__("/")
        self._find = find
        self.add_route("*", self._handle)

    def _match(self, path: str) -> dict[str, str] | None:
        return {} if path != "/" and self._find(path) is not None else None

    def raw_match(self, path: str) -> bool:
        return False  # never merged with a route added later for "/"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        adapter = self._find(request.path)
        if adapter is None:  # its account went away between routing and now
            raise web.HTTPNotFound()
        return await adapter.handle_webhook(request)


def setup(app: web.Application, find: Callable[[str], AccountAdapter | None]) -> None:
    """Register after every other route, so fixed routes are matched first."""
    app.router.register_resource(WebhookResource(find))
