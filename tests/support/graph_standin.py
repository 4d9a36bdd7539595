"""A local stand-in for Meta's Graph API: records every request and answers with canned JSON.

Unscripted requests get Meta-shaped answers from tests/fixtures/meta (phone number, sent message,
media URL, …), so a test scripts only what it is about. Media registered with `add_media` is served
at a download URL that, like Meta's, refuses requests without the Bearer token.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "meta"
VERSION = re.compile(r"^/(v\d+\.\d+)/(.*)$")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass
class FilePart:
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class GraphRequest:
    method: str
    path: str  # without the version, e.g. "106540352242922/messages"
    version: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    form: dict[str, str | FilePart] = field(default_factory=dict)


@dataclass
class Canned:
    status: int
    body: Any


class GraphStandin:
    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self.requests: list[GraphRequest] = []
        self.downloads: list[dict[str, str]] = []
        self.url = ""
        self._answers: dict[tuple[str, str], list[Canned]] = {}
        self._media: dict[str, tuple[bytes, str]] = {}
        self._counter = 0
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # -- scripting -----------------------------------------------------------
    def answer(self, method: str, path: str, body: Any, status: int = 200, times: int = 1) -> None:
        """The next `times` requests to METHOD path (no version prefix) get this answer."""
        self._answers.setdefault((method.upper(), path.strip("/")), []).extend([Canned(status, body)] * times)

    def add_media(self, media_id: str, data: bytes, mime_type: str) -> None:
        self._media[media_id] = (data, mime_type)

    def graph_requests(self, method: str | None = None, path: str | None = None) -> list[GraphRequest]:
        return [r for r in self.requests
                if (method is None or r.method == method) and (path is None or r.path == path.strip("/"))]

    # -- server ----------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_get("/download/{media_id}", self._download)
        app.router.add_route("*", "/{tail:.*}", self._graph)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _graph(self, request: web.Request) -> web.Response:
        match = VERSION.match(request.path)
        version, path = (match.group(1), match.group(2)) if match else ("", request.path.lstrip("/"))
        record = GraphRequest(request.method, path.strip("/"), version, dict(request.query),
                              dict(request.headers), b"")
        if request.content_type.startswith("multipart/") or request.content_type.endswith("urlencoded"):
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    record.form[name] = FilePart(value.filename, value.content_type, value.file.read())
                else:
                    record.form[name] = str(value)
        else:
            record.body = await request.read()
            if record.body:
                record.json = json.loads(record.body)
        self.requests.append(record)
        self._changed.set()
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException",
                                                "code": 190}}, status=401)
        canned = self._answers.get((record.method, record.path))
        if canned:
            reply = canned.pop(0)
            return web.json_response(reply.body, status=reply.status)
        return web.json_response(self._default(record))

    def _default(self, record: GraphRequest) -> Any:
        self._counter += 1
        parts = record.path.split("/")
        if record.method == "POST" and parts[-1] == "messages":
            if record.json and record.json.get("status") == "read":
                return {"success": True}
            answer = fixture("send_message_response.json")
            answer["contacts"][0] = {"input": record.json.get("to"), "wa_id": record.json.get("to")}
            answer["messages"][0]["id"] = f"wamid.standin{self._counter}"
            return answer
        if record.method == "POST" and parts[-1] == "media":
            return {"id": f"uploaded-media-{self._counter}"}
        if record.method == "GET" and len(parts) == 1 and parts[0] in self._media:
            data, mime = self._media[parts[0]]
            answer = fixture("media_get_url.json")
            answer.update(url=f"{self.url}/download/{parts[0]}", mime_type=mime, file_size=len(data), id=parts[0],
                          sha256=hashlib.sha256(data).hexdigest())  # as Meta: the hash of what it serves
            return answer
        if record.method == "GET" and len(parts) == 1 and parts[0].isdigit():
            answer = fixture("phone_number_get.json")
            answer["id"] = parts[0]
            return answer
        if record.method == "GET":
            return {"data": [], "paging": {"cursors": {"before": "", "after": ""}}}
        return {"success": True}

    async def _download(self, request: web.Request) -> web.Response:
        self.downloads.append({"path": request.path, "authorization": request.headers.get("Authorization", "")})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=401, text="missing token")
        media = self._media.get(request.match_info["media_id"])
        if media is None:
            return web.Response(status=404)
        return web.Response(body=media[0], headers={"Content-Type": media[1]})
