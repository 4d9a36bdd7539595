"""The SQLite backend: the embedded default (a plain `storage.path`, or `sqlite:///path`).

Light on purpose: the store registry (store/open.py) imports this to read SCHEMES; aiosqlite and the
rest load only when a SQLite store is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from whatshooked.config.model import StorageConfig
    from whatshooked.store.base import Store

SCHEMES = ("sqlite",)


async def open(location: str, storage: StorageConfig) -> Store:  # noqa: A001 - the backend's entry point
    """Open (creating and migrating) the file; bodies sealed with `storage.encryption_key` when set."""
    from whatshooked.store.seal import sealer_for
    from whatshooked.store.sqlite.store import SQLiteStore

    path = Path("/" + location.removeprefix("sqlite:").lstrip("/")) if location.startswith("sqlite:/") else storage.path
    sealer = sealer_for(storage.encryption_key.reveal(), [key.reveal() for key in storage.old_encryption_keys])
    return await SQLiteStore.open(path, sealer)
