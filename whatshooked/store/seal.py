"""Event bodies sealed at rest with AES-256-GCM (`storage.encryption_key`, DESIGN §8.1).

A sealed body is MAGIC, the key's id (8 bytes of its SHA-256), a 96-bit random nonce, then the
ciphertext with its tag; the header is the associated data, so a body cannot be moved to another
key id unnoticed. A body without MAGIC is plain JSON (a store written before a key was set): it is
read as it is, and resealed when the store opens with a key. Old keys are only ever read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from whatshooked.errors import ConfigError

log = logging.getLogger(__name__)

MAGIC = b"\xffWS1"
"""0xff never starts JSON text, so a sealed body can be told from a plain one by its first byte."""
KEY_ID_SIZE = 8
NONCE_SIZE = 12
HEADER_SIZE = len(MAGIC) + KEY_ID_SIZE


class SealError(ConfigError):
    """A stored body cannot be opened with the configured keys (a config problem: exit 2)."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__([f"{where}: storage.encryption_key: {why}"])


def decode_key(text: str) -> bytes:
    """32 bytes in standard or URL-safe base64 (padding optional); ValueError saying why otherwise."""
    cleaned = text.strip()
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not base64 (32 random bytes, e.g. `openssl rand -base64 32`)") from None
    if len(raw) != 32:
        raise ValueError(f"decodes to {len(raw)} bytes; AES-256 needs 32 (e.g. `openssl rand -base64 32`)")
    return raw


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:KEY_ID_SIZE]


def is_sealed(blob: bytes) -> bool:
    return blob[: len(MAGIC)] == MAGIC


class Sealer:
    """Seals with the current key; opens with it or any old one. One per store, safe across threads."""

    def __init__(self, key: bytes, old_keys: Sequence[bytes] = ()) -> None:
        self.key_id = key_id(key)
        self._header = MAGIC + self.key_id
        # Imported here: cryptography adds ~6 MB to a daemon that seals nothing (issue 14's idle RSS).
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._current = AESGCM(key)
        self._invalid: type[Exception] = InvalidTag
        self._readers = {key_id(k): AESGCM(k) for k in old_keys}
        self._readers[self.key_id] = self._current

    def seal(self, body: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return self._header + nonce + self._current.encrypt(nonce, body, self._header)

    def knows(self, kid: bytes) -> bool:
        return kid in self._readers

    def open(self, blob: bytes, where: str = "the store") -> bytes:
        if not is_sealed(blob):
            return blob
        kid = blob[len(MAGIC):HEADER_SIZE]
        reader = self._readers.get(kid)
        if reader is None:
            raise SealError(where, "an event is sealed with a key that is neither this one nor one of "
                            "storage.old_encryption_keys; set the key it was written with")
        nonce = blob[HEADER_SIZE:HEADER_SIZE + NONCE_SIZE]
        try:
            return reader.decrypt(nonce, blob[HEADER_SIZE + NONCE_SIZE:], blob[:HEADER_SIZE])
        except self._invalid:
            raise SealError(where, "a sealed event does not open (damaged, or not written by this key)") from None

    def needs_reseal(self, blob: bytes) -> bool:
        """Plain, or sealed with an old key: rewritten with the current key when the store opens."""
        return not blob.startswith(self._header)


def sealer_for(key: str, old_keys: Sequence[str] = ()) -> Sealer | None:
    """The store's sealer for `storage.encryption_key` (already validated by the config), or None."""
    if not key:
        return None
    return Sealer(decode_key(key), [decode_key(k) for k in old_keys])


def open_plain(blob: bytes, where: str = "the store") -> bytes:
    """Reading without a key: sealed bodies are an error naming the key to set."""
    if is_sealed(blob):
        raise SealError(where, "the store holds sealed events but no key is set; set the key they were written with")
    return blob


RESEAL_BATCH = 500
_WRITTEN_IN_CLEAR, _SEALED = 0, 0x5EA1
"""`PRAGMA user_version` of the store file: whether every open since the last VACUUM had a key."""


async def reseal_all(db: Any, path: Path, sealer: Sealer | None) -> int:
    """At open: check every stored body opens with the configured keys, and reseal with the current key
    what is plain or under an old key. The first open with a key after any open without one also
    VACUUMs, so pages freed by events delivered in clear do not keep their text in the file.
    Returns how many bodies were rewritten. `db` is the store's aiosqlite connection."""
    where = str(path)
    if sealer is None:
        rows = list(await db.execute_fetchall("SELECT 1 FROM events WHERE substr(body, 1, 4) = ? LIMIT 1", (MAGIC,)))
        if rows:
            open_plain(MAGIC, where)  # raises, naming the key to set
        await db.execute(f"PRAGMA user_version = {_WRITTEN_IN_CLEAR}")
        return 0
    await db.execute("PRAGMA secure_delete = ON")
    stale = list(await db.execute_fetchall(
        "SELECT seq, body FROM events WHERE substr(body, 1, 12) != ? ORDER BY seq", (MAGIC + sealer.key_id,)
    ))
    if stale:
        await db.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(stale), RESEAL_BATCH):
                part = stale[start:start + RESEAL_BATCH]
                await db.executemany("UPDATE events SET body = ? WHERE seq = ?",
                                     [(sealer.seal(sealer.open(bytes(blob), where)), seq) for seq, blob in part])
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        log.info("store %s: %d event(s) sealed with the current storage.encryption_key", where, len(stale))
    version = list(await db.execute_fetchall("PRAGMA user_version"))[0][0]
    if stale or version != _SEALED:
        await db.execute("VACUUM")
        await db.execute(f"PRAGMA user_version = {_SEALED}")
        await db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
    return len(stale)
