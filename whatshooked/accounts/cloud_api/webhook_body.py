"""Reading webhook bodies, which anyone can send, within a budget shared by all of them.

Each body is capped (MAX_BODY), and all webhook bodies being received at once share BUDGET bytes:
a body that does not fit is answered 503 at once (Meta retries), so many stalled bodies can hold
no more than BUDGET, and what they held is freed when `server.request_timeout` cuts them.
"""

from __future__ import annotations

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

    def read(self, request: web.Request, limit: int = MAX_BODY) -> Held:
        """`async with budget.read(request) as body:` the whole body (413 past `limit`), its size held
        from the budget until the block ends. A class, not a generator: it runs for every webhook."""
        return Held(self, request, min(limit, request.client_max_size))


class Held:
    def __init__(self, budget: BodyBudget, request: web.Request, limit: int) -> None:
        self.budget, self.request, self.limit = budget, request, limit
        self.taken = 0

    async def __aenter__(self) -> bytes:
        limit, request = self.limit, self.request
        declared = request.content_length
        if declared is not None and declared > limit:
            raise web.HTTPRequestEntityTooLarge(limit, declared)
        size = 0
        chunks: list[bytes] = []  # joined once whole: no buffer regrown (and copied) as it fills
        try:
            if declared:
                self.budget.take(declared)
                self.taken = declared
            while chunk := await request.content.readany():
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise web.HTTPRequestEntityTooLarge(limit, size)
                if size > self.taken:
                    self.budget.take(size - self.taken)
                    self.taken = size
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        except BaseException:
            self.release()
            raise
        finally:
            # a cut connection's ConnectionResetError keeps this frame alive through its traceback
            # until the cyclic GC runs, which an idle daemon may not do for long: let go of the bytes now
            chunks.clear()

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        self.budget.held -= self.taken
        self.taken = 0


BODIES = BodyBudget()
