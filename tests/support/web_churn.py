"""Run as a process: many real neonize sessions started and stopped at once, the way start-up,
reloads and enable/disable do it. Exits 0 when it survived; neonize's Go side used to abort the
whole process (`fatal error: concurrent map writes`, exit 134).

Usage: python -m tests.support.web_churn DIR ACCOUNTS ROUNDS
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.support.neonize_standin import web_world
from whatshooked.accounts.whatsapp_web import go_gate
from whatshooked.accounts.whatsapp_web.session import NeonizeSession, SessionCallbacks, neonize_session


async def _ignore(_value: object) -> None:
    return None


async def rounds(path: Path, count: int) -> None:
    """One account switched on and off `count` times: a start, then a stop at once."""
    for _ in range(count):
        session = NeonizeSession(path, SessionCallbacks(_ignore, _ignore, lambda _s: None))
        await session.start()
        await session.stop()


async def reloads(folder: Path, accounts: int, count: int) -> None:
    """The account manager applying changed configs while every account's supervisor retries."""
    listing = "".join(f"  - id: a{i}\n    session_path: ./sessions/r{i}.db\n" for i in range(accounts))
    timing = {"backoff_base": 0.01, "backoff_cap": 0.02}
    async with web_world(folder, "http://127.0.0.1:9/", accounts=listing, timing=timing,
                         sessions=neonize_session) as world:  # type: ignore[arg-type]
        for turn in range(count):
            account = world.config.accounts[turn % accounts]
            await world.manager.restart(account.id)


async def main(folder: Path, accounts: int, count: int) -> None:
    paths = [folder / "sessions" / f"s{i}.db" for i in range(accounts)]
    await asyncio.gather(*(rounds(p, count) for p in paths), reloads(folder, accounts, count // 4))
    leftover = [p.name for p in paths if await asyncio.to_thread(go_gate.is_registered, str(p).encode())]
    if leftover:
        raise SystemExit(f"Go still holds clients for {leftover}")
    print("survived", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
