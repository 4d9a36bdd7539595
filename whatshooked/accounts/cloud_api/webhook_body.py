"""Reading webhook bodies, which anyone can send, within a budget shared by all of them.

Each body is capped (MAX_BODY), and all webhook bodies being received at once share BUDGET bytes:
a body that does not fit is answered 503 at once (Meta retries), so many stalled bodies can hold
no more than BUDGET, and what they held is freed when `server.request_timeout` cuts them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

MAX_BODY = 8 * 1024 * 1024
"""Meta's webhook payloads are at most 3 MB; anyone can POST here, so not server.max_body (64 MB) each."""
BUDGET = 32 * 1024 * 1024
"""All webhook bodies being received at once, together (Meta's are usually a few KB)."""


class Busy(Exception):
    """The webhook bodies in flight already hold the budget."""


class BodyBudget:
    def __init__(self, total: int = BUDGET) -> None:
        self.total = total
        self.held = 0

    def take(self, size: int) -> None:
        if self.held + size > self.total:
            raise Busy(f"webhook bodies being received hold {self.held} of {self.total} bytes")
        self.held += size

    @contextlib.asynccontextmanager
    async def read(self, request: web.Request, limit: int = MAX_BODY) -> AsyncIterator[bytes]:
        """The whole body (413 past `limit`), holding its size from the budget until the block ends."""
        limit = min(limit, request.client_max_size)
        declared = request.content_length
        if declared is not None and declared > limit:
            raise web.HTTPRequestEntityTooLarge(limit, declared)
        taken = 0
        try:
            if declared:
                self.take(declared)
                taken = declared
            body = bytearray()
            while chunk := await request.content.readany():
                body += chunk
                if len(body) > limit:
                    raise web.HTTPRequestEntityTooLarge(limit, len(body))
                if len(body) > taken:
                    self.take(len(body) - taken)
                    taken = len(body)
            yield bytes(body)
        finally:
            self.held -= taken


BODIES = BodyBudget()
