"""Daemons sharing a database and a config file: a change made through one daemon's API reaches the others.

After each change this daemon applies (an API write-back, a SIGHUP reload) it announces the file's
new digest over the store (PostgreSQL NOTIFY); a daemon that hears a digest other than its own
re-reads its file, as on SIGHUP. So the file must be shared (a shared volume, or daemons on one host
with `${VAR}` for what differs between them). A digest a daemon already has is not announced again,
so announcements never bounce back and forth.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from whatshooked.config.model import Config
from whatshooked.errors import StoreError
from whatshooked.store.base import Store

log = logging.getLogger(__name__)

KIND = "config"


def digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:32]
    except OSError:
        return ""


class ConfigSync:
    def __init__(self, store: Store, path: Path, reload: Callable[[], Awaitable[bool]],
                 spawn: Callable[[Any, str], None]) -> None:
        self._store, self._path, self._reload, self._spawn = store, path, reload, spawn
        self._digest = digest(path)

    async def applied(self, config: Config) -> None:
        """A Settings listener: tell the others when the file now reads differently."""
        now = await asyncio.to_thread(digest, config.path)
        if now == self._digest:
            return
        self._digest = now
        try:
            await self._store.announce(f"{KIND} {now}")
        except (StoreError, OSError) as exc:
            log.warning("could not tell the other daemons that %s changed: %s", config.path, exc)

    def heard(self, message: str) -> None:
        kind, _, announced = message.partition(" ")
        if kind != KIND or announced == self._digest:
            return
        self._digest = announced  # what the reload will find: not announced back
        log.info("config changed on another daemon: reloading %s", self._path)
        self._spawn(self._reload(), "peer-reload")
