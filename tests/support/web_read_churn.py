"""Run as a process: sends (Go calls that only *read* neonize's client map) on one account while other
accounts start and stop. Exits 0 and prints "survived" when the process lived through it.

Usage: python -m tests.support.web_read_churn DIR ACCOUNTS ROUNDS
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.support.paired_session import quiet_callbacks, run_offline
from whatshooked.accounts.whatsapp_web.outbound import to_jid
from whatshooked.accounts.whatsapp_web.session import NeonizeSession


async def churn(path: Path, count: int) -> None:
    for _ in range(count):
        session = NeonizeSession(path, quiet_callbacks())
        await session.start()
        await session.stop()


async def reads(session: NeonizeSession, stop: asyncio.Event) -> None:
    chat = to_jid("15551234567@s.whatsapp.net")
    while not stop.is_set():
        try:
            await session.chat_presence(chat, True, False)
        except Exception:  # noqa: BLE001 - offline: "not connected" is the expected answer
            pass


async def main(folder: Path, accounts: int, count: int) -> None:
    reader = NeonizeSession(folder / "reader.db", quiet_callbacks())
    await run_offline(reader)
    stop = asyncio.Event()
    readers = [asyncio.create_task(reads(reader, stop)) for _ in range(4)]
    await asyncio.gather(*(churn(folder / f"c{i}.db", count) for i in range(accounts)))
    stop.set()
    await asyncio.gather(*readers)
    await reader.stop()
    print("survived", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
