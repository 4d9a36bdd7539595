"""Received media on disk, handed to hooks as signed links (`url`), inline data (`base64`) or not at all.

A link `/api/media/{id}?expires=…&sig=…` is signed with HMAC-SHA256 under a random key kept in
`media.dir`, so links survive restarts and a hook receiver can fetch one without the API key
until `media.ttl` runs out; after that the file is deleted and the link answers 404.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from whatshooked.config.model import Config, MediaConfig
from whatshooked.private_files import PRIVATE_FILE, make_private_dir, write_private

log = logging.getLogger(__name__)

KEY_FILE = ".signing-key"
ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
MIN_SWEEP_INTERVAL = 30.0
MAX_SWEEP_INTERVAL = 3600.0
MAX_EXPIRES_DIGITS = 20
"""Longer than any epoch second this daemon signs; int() of thousands of digits raises ValueError."""


@dataclass(frozen=True, slots=True)
class StoredMedia:
    id: str
    path: Path
    mime_type: str
    filename: str | None
    file_size: int
    sha256: str
    created: float


def base_url_of(config: Config) -> str:
    """Where hook receivers reach this daemon: `server.public_url`, else the listening address."""
    return config.server.public_url or config.server.local_url


class MediaStore:
    """Implements `accounts.base.MediaSink`; owns the sweeping task that deletes expired files."""

    def __init__(self, config: MediaConfig, base_url: str, clock: Callable[[], float] = time.time) -> None:
        self.mode = config.mode
        self.dir = config.dir
        self.ttl = config.ttl
        self.base_url = base_url.rstrip("/")
        self._clock = clock
        self._key = self._load_key() if self.mode == "url" else b""
        self._sweeper: asyncio.Task[None] | None = None

    @classmethod
    def from_config(cls, config: Config) -> MediaStore:
        return cls(config.media, base_url_of(config))

    def _load_key(self) -> bytes:
        make_private_dir(self.dir)
        path = self.dir / KEY_FILE
        try:
            return bytes.fromhex(path.read_text().strip())
        except (FileNotFoundError, ValueError):
            key = secrets.token_bytes(32)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
            with os.fdopen(fd, "w") as handle:
                handle.write(key.hex())
            return key

    # -- the sink ------------------------------------------------------------
    async def save(
        self, data: bytes, mime_type: str, *, filename: str | None = None, sha256: str | None = None
    ) -> dict[str, Any]:
        """Keep the bytes (in `url` mode) and return the event's `media` object for `media.mode`."""
        info: dict[str, Any] = {
            "mime_type": mime_type, "file_size": len(data),
            "sha256": sha256 or hashlib.sha256(data).hexdigest(), "filename": filename,
        }
        if self.mode == "none":
            return info
        if self.mode == "base64":
            return {**info, "data": base64.b64encode(data).decode("ascii")}
        media_id = secrets.token_hex(16)
        created = self._clock()
        meta = {**info, "created": created}
        await asyncio.to_thread(self._write, media_id, data, meta)
        return {"id": media_id, **info, "url": self.signed_url(media_id, created + self.ttl)}

    def _write(self, media_id: str, data: bytes, meta: dict[str, Any]) -> None:
        """Received media is private (0600 files in a 0700 folder we made), like the store."""
        make_private_dir(self.dir)
        write_private(self.dir / media_id, data)
        write_private(self.dir / f"{media_id}.json", json.dumps(meta).encode())

    # -- links ---------------------------------------------------------------
    def signature(self, media_id: str, expires: int) -> str:
        return hmac.new(self._key, f"{media_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def signed_url(self, media_id: str, expires_at: float) -> str:
        expires = int(expires_at)
        return f"{self.base_url}/api/media/{quote(media_id)}?expires={expires}&sig={self.signature(media_id, expires)}"

    def verify(self, media_id: str, expires: str | None, sig: str | None) -> bool:
        """True when this daemon issued the link (expiry is checked by `open`, which then answers 404)."""
        if (not self._key or not expires or not sig or not ID_PATTERN.match(media_id)
                or len(expires) > MAX_EXPIRES_DIGITS
                or not (expires.isascii() and expires.isdigit() and sig.isascii())):
            return False  # str.isdigit() takes "²" and "١"; compare_digest refuses non-ASCII text; int() > 4300 digits
        return hmac.compare_digest(self.signature(media_id, int(expires)), sig)

    def link_expired(self, expires: str) -> bool:
        """A verified link's own `expires` has passed (the file may outlive it when `media.ttl` grew)."""
        return int(expires) <= self._clock()

    # -- reading and expiry ----------------------------------------------------
    def open(self, media_id: str) -> StoredMedia | None:
        """The stored file, or None when unknown or past `media.ttl` (then it is deleted)."""
        if not ID_PATTERN.match(media_id):
            return None
        meta = self._meta(media_id)
        path = self.dir / media_id
        if meta is None or not path.is_file():
            return None
        if self._clock() >= meta["created"] + self.ttl:
            self._delete(media_id)
            return None
        return StoredMedia(
            id=media_id, path=path, mime_type=meta.get("mime_type") or "application/octet-stream",
            filename=meta.get("filename"), file_size=int(meta.get("file_size") or 0),
            sha256=meta.get("sha256") or "", created=float(meta["created"]),
        )

    def _meta(self, media_id: str) -> dict[str, Any] | None:
        try:
            meta = json.loads((self.dir / f"{media_id}.json").read_text())
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) and isinstance(meta.get("created"), (int, float)) else None

    def _delete(self, media_id: str) -> None:
        for name in (media_id, f"{media_id}.json"):
            with contextlib.suppress(FileNotFoundError):
                (self.dir / name).unlink()

    def purge_expired(self) -> int:
        """Delete every file older than `media.ttl`; returns how many."""
        if not self.dir.is_dir():
            return 0
        now, removed = self._clock(), 0
        for path in self.dir.iterdir():
            if not ID_PATTERN.match(path.name):
                continue
            meta = self._meta(path.name)
            created = meta["created"] if meta else path.stat().st_mtime
            if now >= created + self.ttl:
                self._delete(path.name)
                removed += 1
        if removed:
            log.info("media: deleted %d file(s) older than %ss", removed, self.ttl)
        return removed

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        if self.mode == "url" and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="media-sweeper")

    async def _sweep(self) -> None:
        interval = min(max(self.ttl / 10, MIN_SWEEP_INTERVAL), MAX_SWEEP_INTERVAL)
        while True:
            try:
                await asyncio.to_thread(self.purge_expired)
            except OSError as exc:
                log.warning("media: cannot clean %s: %s", self.dir, exc)
            await asyncio.sleep(interval)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
