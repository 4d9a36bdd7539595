"""Raw bytes sent to a daemon with `server.request_timeout: 1s`, and all it says until it closes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.test_slow_clients import cut_off
from tests.test_slow_clients import serving as slow_serving


async def said_to(tmp_path: Path, raw: bytes) -> bytes:
    """Sends `raw` in one write, then nothing; fails if the connection stays open past 20 s."""
    async with slow_serving(tmp_path, "  request_timeout: 1s\n") as serve:
        host, port = serve.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(raw)
            await writer.drain()
            return await cut_off(reader, within=20)
        finally:
            writer.close()
