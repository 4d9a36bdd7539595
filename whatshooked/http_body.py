"""Reading a whole HTTP answer's body, up to a limit, from aiohttp.

`response.content.read(n)` returns what one buffered chunk holds (often 64 KB), not `n` bytes, so
a body read that way is cut short without a word. Here the body is read to its end, and one past
the limit is refused (BodyTooLarge), never cut.
"""

from __future__ import annotations

import aiohttp


class BodyTooLarge(Exception):
    """An answer's body is past what the caller accepts; nothing of it is used."""

    def __init__(self, limit: int, announced: int | None = None) -> None:
        said = f" (it announced {announced} bytes)" if announced is not None else ""
        super().__init__(f"the answer is larger than {limit} bytes{said}")
        self.limit = limit


async def read_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as it is known to exceed `limit` bytes."""
    announced = response.content_length
    if announced is not None and announced > limit:
        response.close()  # the rest is not wanted: do not read it only to throw it away
        raise BodyTooLarge(limit, announced)
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > limit:
            response.close()
            raise BodyTooLarge(limit)
    return bytes(body)
