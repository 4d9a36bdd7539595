"""The PostgreSQL backend (`storage.url: postgresql://…`): one database, shareable by several daemons.

Light on purpose: the store registry (store/open.py) imports this to read SCHEMES; asyncpg and the
rest load only when a PostgreSQL store is opened.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from whatshooked.config.model import StorageConfig
    from whatshooked.store.base import Store

SCHEMES = ("postgresql", "postgres")


def node_id(storage: StorageConfig) -> str:
    """`storage.node_id`, or host:pid (unique among the daemons running now; a restart is a new node)."""
    return storage.node_id or f"{socket.gethostname()}:{os.getpid()}"


async def open(location: str, storage: StorageConfig) -> Store:  # noqa: A001 - the backend's entry point
    """Connect, migrate under a lock, check or reseal the bodies with `storage.encryption_key`."""
    from whatshooked.config.values import masked_url
    from whatshooked.errors import StoreError

    try:
        from whatshooked.store.postgres.store import PostgresStore
    except ModuleNotFoundError as exc:
        if exc.name != "asyncpg":
            raise
        raise StoreError("PostgreSQL needs the asyncpg driver: pip install 'whatshooked[postgres]'") from None
    from whatshooked.store.seal import sealer_for

    sealer = sealer_for(storage.encryption_key.reveal(), [key.reveal() for key in storage.old_encryption_keys])
    return await PostgresStore.open(location, masked_url(location), sealer, node_id(storage), storage.lease)
