"""`python -m tests.support.stuck_web_serve CONFIG`: the daemon's serve, with WhatsApp Web sessions whose Go
calls never return — as neonize's do when the network silently drops traffic.

The real Daemon, registry and WhatsAppWebAdapter run; only the session behind the adapter's one seam
(`whatsapp_web.session_factory`) is stood in. Its start holds a default-executor thread for good (like
neonize's connect, which runs Go in `asyncio.to_thread`), and so does its stop, given up on after
STOP_WAIT like NeonizeSession.stop. Each hanging call first creates `<session dir>/<call>.hanging`.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import Any

from whatshooked.accounts.seams import Seams
from whatshooked.accounts.whatsapp_web.seams import WebSeams
from whatshooked.accounts.whatsapp_web.session import STOP_WAIT, SessionCallbacks
from whatshooked.config.load import load_config
from whatshooked.config.model import LoggingConfig
from whatshooked.config.settings import Settings
from whatshooked.service.daemon import serve
from whatshooked.service.logging_setup import setup_logging


class StuckSession:
    def __init__(self, path: Path, callbacks: SessionCallbacks, **_options: Any) -> None:
        self.path = path
        self._never = threading.Event()

    def _go_call(self, name: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        (self.path.parent / f"{name}.hanging").touch()
        self._never.wait()

    async def start(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().run_in_executor(None, self._go_call, "connect")

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(asyncio.to_thread(self._go_call, "stop"), STOP_WAIT)
        except TimeoutError:
            pass

    async def is_connected(self) -> bool:
        return False

    async def send_message(self, to: Any, message: Any) -> Any:
        raise NotImplementedError

    async def upload(self, data: bytes, media_type: Any) -> Any:
        raise NotImplementedError

    async def download_any(self, message: Any) -> bytes:
        raise NotImplementedError

    async def mark_read(self, message_ids: list[str], chat: Any, sender: Any) -> None:
        raise NotImplementedError

    async def pair_phone(self, phone: str) -> str:
        raise NotImplementedError


def main(config: str) -> int:
    setup_logging(LoggingConfig())
    serve(Settings(load_config(Path(config))), seams=Seams(WebSeams(session_factory=StuckSession)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
