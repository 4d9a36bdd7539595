"""MediaStore (modes, signed links, expiry) and `GET /api/media/{id}` on a real server."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from whatshooked.api.auth import auth_middleware
from whatshooked.api.keys import MEDIA, SETTINGS
from whatshooked.api.routes import media as media_route
from whatshooked.config.load import parse_config
from whatshooked.config.model import MediaConfig
from whatshooked.config.settings import Settings
from whatshooked.media.store import MediaStore, base_url_of

API_KEY = "media-test-key"
DATA = b"GIF89a" + bytes(range(200))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def store(tmp_path: Path, mode: str = "url", clock: Clock | None = None) -> MediaStore:
    return MediaStore(MediaConfig(mode=mode, dir=tmp_path / "media", ttl=3600.0), "http://bridge.test:8825",
                      clock=clock or Clock())


async def test_url_mode_keeps_the_file_and_signs_a_link(tmp_path: Path) -> None:
    media = store(tmp_path)
    saved = await media.save(DATA, "image/gif", filename="cat.gif")
    assert saved["mime_type"] == "image/gif" and saved["file_size"] == len(DATA) and saved["filename"] == "cat.gif"
    assert saved["sha256"] == hashlib.sha256(DATA).hexdigest()
    expires = 1_800_000_000 + 3600
    assert saved["url"] == (f"http://bridge.test:8825/api/media/{saved['id']}?expires={expires}"
                            f"&sig={media.signature(saved['id'], expires)}")
    stored = media.open(saved["id"])
    assert stored is not None and stored.path.read_bytes() == DATA and stored.filename == "cat.gif"
    assert media.verify(saved["id"], str(expires), media.signature(saved["id"], expires))
    assert not media.verify(saved["id"], str(expires + 1), media.signature(saved["id"], expires))
    assert not media.verify(saved["id"], str(expires), "0" * 64)
    assert not media.verify("../../etc/passwd", str(expires), media.signature("../../etc/passwd", expires))
    assert media.open("../config") is None


async def test_base64_and_none_modes_keep_nothing_on_disk(tmp_path: Path) -> None:
    inline = await store(tmp_path, "base64").save(DATA, "image/gif", sha256="given")
    assert base64.b64decode(inline["data"]) == DATA and inline["sha256"] == "given" and "url" not in inline
    bare = await store(tmp_path, "none").save(DATA, "image/gif")
    assert bare == {"mime_type": "image/gif", "file_size": len(DATA), "sha256": hashlib.sha256(DATA).hexdigest(),
                    "filename": None}
    folder = tmp_path / "media"
    assert not folder.exists() or [p.name for p in folder.iterdir()] in ([], [".signing-key"])


async def test_links_survive_a_restart_and_expire_after_ttl(tmp_path: Path) -> None:
    clock = Clock()
    first = store(tmp_path, clock=clock)
    saved = await first.save(DATA, "image/gif")
    again = store(tmp_path, clock=clock)  # a new process: same key file, same links
    expires = saved["url"].split("expires=")[1].split("&")[0]
    assert again.verify(saved["id"], expires, saved["url"].split("sig=")[1])
    clock.now += 3599
    assert again.purge_expired() == 0 and again.open(saved["id"]) is not None
    clock.now += 1
    assert again.open(saved["id"]) is None
    assert not (tmp_path / "media" / saved["id"]).exists()
    other = await again.save(DATA, "image/gif")
    clock.now += 3600
    assert again.purge_expired() == 1 and not (tmp_path / "media" / other["id"]).exists()


async def test_the_key_file_is_private(tmp_path: Path) -> None:
    store(tmp_path)
    assert (tmp_path / "media" / ".signing-key").stat().st_mode & 0o077 == 0


def test_base_url_prefers_public_url(tmp_path: Path) -> None:
    config = parse_config("server:\n  host: 0.0.0.0\n  port: 9000\n", tmp_path / "c.yaml")
    assert base_url_of(config) == "http://127.0.0.1:9000"
    config = parse_config("server:\n  public_url: https://bridge.example.com/\n", tmp_path / "c.yaml")
    assert base_url_of(config) == "https://bridge.example.com"


async def test_sweeper_task_is_owned_and_cancelled(tmp_path: Path) -> None:
    media = store(tmp_path)
    media.start()
    assert media._sweeper is not None and not media._sweeper.done()
    task = media._sweeper
    await media.close()
    assert task.cancelled()


@dataclass
class Served:
    url: str
    media: MediaStore
    clock: Clock
    http: aiohttp.ClientSession


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    clock = Clock()
    media = store(tmp_path, clock=clock)
    app = web.Application(middlewares=[auth_middleware])
    app[SETTINGS] = Settings(parse_config(f"server:\n  api_key: {API_KEY}\n", tmp_path / "config.yaml"))
    app[MEDIA] = media
    media_route.setup(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    media.base_url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        yield Served(media.base_url, media, clock, http)
    await runner.cleanup()


async def get(served: Served, url: str, **headers: str) -> tuple[int, bytes]:
    async with served.http.get(url, headers=headers) as response:
        return response.status, await response.read()


async def test_route_serves_signed_links_and_credentials_then_404_after_ttl(served: Served) -> None:
    saved = await served.media.save(DATA, "image/gif", filename="cat.gif")
    bare = f"{served.url}/api/media/{saved['id']}"
    assert await get(served, saved["url"]) == (200, DATA)
    assert (await get(served, bare))[0] == 401
    assert (await get(served, saved["url"].replace("sig=", "sig=f")))[0] == 401
    assert await get(served, bare, **{"x-api-key": API_KEY}) == (200, DATA)
    assert await get(served, bare, Authorization=f"Bearer {API_KEY}") == (200, DATA)
    assert (await get(served, f"{served.url}/api/media/{'0' * 32}", **{"x-api-key": API_KEY}))[0] == 404
    served.clock.now += 3600
    assert (await get(served, saved["url"]))[0] == 404
    assert (await get(served, bare, **{"x-api-key": API_KEY}))[0] == 404


async def test_received_media_is_private_in_a_folder_we_make(tmp_path: Path) -> None:
    media = store(tmp_path)
    saved = await media.save(DATA, "image/gif")
    folder = tmp_path / "media"
    assert folder.stat().st_mode & 0o777 == 0o700
    for name in (saved["id"], f"{saved['id']}.json", ".signing-key"):
        assert (folder / name).stat().st_mode & 0o777 == 0o600, name
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    theirs.chmod(0o750)
    other = MediaStore(MediaConfig(dir=theirs / "media"), "http://bridge.test:8825")
    await other.save(DATA, "image/gif")
    assert theirs.stat().st_mode & 0o777 == 0o750 and (theirs / "media").stat().st_mode & 0o777 == 0o700


async def test_sender_chosen_files_cannot_run_as_this_origin(served: Served) -> None:
    """A WhatsApp sender picks the bytes, mime type and name: an HTML or SVG must not render as our page."""
    page = await served.media.save(b"<script>fetch('/api/hooks')</script>", "text/html", filename='x"\r\n.html')
    async with served.http.get(page["url"]) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html"
        assert response.headers["Content-Disposition"] == 'attachment; filename="x.html"'
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response.headers["Content-Security-Policy"]
    svg = await served.media.save(b"<svg onload='alert(1)'/>", "image/svg+xml")
    async with served.http.get(svg["url"]) as response:
        assert response.headers["Content-Disposition"] == "attachment"
    forged = await served.media.save(b"x", "text/plain\r\nSet-Cookie: a=b")
    async with served.http.get(forged["url"]) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "application/octet-stream"
        assert "Set-Cookie" not in response.headers
    voice = await served.media.save(DATA, "audio/ogg; codecs=opus", filename="note.ogg")
    async with served.http.get(voice["url"]) as response:
        assert response.headers["Content-Type"] == "audio/ogg; codecs=opus"
        assert response.headers["Content-Disposition"] == 'inline; filename="note.ogg"'
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_signed_link_ends_at_its_own_expires_even_if_the_file_stays(served: Served) -> None:
    """A longer media.ttl after a restart keeps the file, not the old link (credentials still fetch it)."""
    saved = await served.media.save(DATA, "image/gif")
    served.media.ttl = 7200.0
    served.clock.now += 3600
    assert (await get(served, saved["url"]))[0] == 404
    assert await get(served, saved["url"].split("?")[0], **{"x-api-key": API_KEY}) == (200, DATA)
