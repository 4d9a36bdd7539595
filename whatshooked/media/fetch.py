"""Media sends by `url`: the daemon fetches the file itself, safely (DESIGN §8.3).

Only http(s); at most `server.max_body` bytes, read to the end; redirects followed by hand (each hop
checked). Unless `media.fetch_private` is true, a host that resolves to any private, loopback,
link-local or otherwise non-public address is refused. The check sits in the resolver aiohttp
connects through, so the connection goes to exactly the addresses that were checked: a DNS answer
that changes between the check and the connect (DNS rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from whatshooked.errors import RequestError

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 60.0
MAX_REDIRECTS = 5
CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Fetched:
    data: bytes
    mime_type: str
    filename: str


def refusal(address: str) -> str | None:
    """What kind of non-public address `address` is (`loopback`, `private`, …), or None if it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, flag in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                       ("private", ip.is_private), ("multicast", ip.is_multicast),
                       ("unspecified", ip.is_unspecified), ("reserved", ip.is_reserved),
                       ("non-public", not ip.is_global)):
        if flag:
            return kind
    return None


class CheckedResolver(ThreadedResolver):
    """Resolves as aiohttp would, then refuses the host if any of its addresses is not public."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: str | None = None

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await super().resolve(host, port, family)
        for result in results:
            kind = refusal(result["host"])
            if kind is not None:
                self.refused = f"{host} resolves to {result['host']}, a {kind} address"
                raise OSError(self.refused)
        return results


class MediaFetcher:
    def __init__(self, max_bytes: int, allow_private: bool) -> None:
        self.max_bytes = max_bytes
        self.allow_private = allow_private

    async def fetch(self, url: str, field: str = "url") -> Fetched:
        """The whole file at `url`; RequestError (400) naming `field` when it cannot or may not be fetched."""
        resolver = CheckedResolver() if not self.allow_private else None
        connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, force_close=True)
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            for _hop in range(MAX_REDIRECTS + 1):
                self._check_url(url, field)
                try:
                    async with http.get(url, allow_redirects=False) as response:
                        if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                            url = str(response.url.join(URL(response.headers["Location"])))
                            continue
                        if response.status >= 400:
                            raise RequestError(f"field '{field}': fetching {url} answered HTTP {response.status}")
                        data = await self._read(response, url, field)
                        return Fetched(data, response.content_type or "", _filename(url))
                except aiohttp.ClientError as exc:
                    if resolver is not None and resolver.refused:
                        raise RequestError(self._refused_text(field, url, resolver.refused)) from None
                    raise RequestError(f"field '{field}': cannot fetch {url}: {exc or type(exc).__name__}") from None
                except TimeoutError:
                    raise RequestError(f"field '{field}': fetching {url} took over {FETCH_TIMEOUT:.0f}s") from None
        raise RequestError(f"field '{field}': more than {MAX_REDIRECTS} redirects from {url}")

    def _check_url(self, url: str, field: str) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise RequestError(f"field '{field}' must be an http:// or https:// URL, not {url!r}")
        try:
            literal = ipaddress.ip_address(parts.hostname)  # aiohttp connects to literals without resolving
        except ValueError:
            return
        kind = refusal(str(literal))
        if kind is not None and not self.allow_private:
            raise RequestError(self._refused_text(field, url, f"{literal} is a {kind} address"))

    @staticmethod
    def _refused_text(field: str, url: str, why: str) -> str:
        return (f"field '{field}': {url} is not fetched because {why}; "
                "set media.fetch_private: true to allow private addresses")

    async def _read(self, response: aiohttp.ClientResponse, url: str, field: str) -> bytes:
        too_big = RequestError(f"field '{field}': the file at {url} is larger than server.max_body "
                               f"({self.max_bytes} bytes)", status=413)
        if (response.content_length or 0) > self.max_bytes:
            raise too_big
        parts: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > self.max_bytes:
                raise too_big
            parts.append(chunk)
        if not size:
            raise RequestError(f"field '{field}': the file at {url} is empty")
        return b"".join(parts)


def _filename(url: str) -> str:
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def fill_from_url(body: dict[str, Any], data_field: str, fetched: Fetched) -> dict[str, Any]:
    """The send body with the fetched bytes in `data_field`, and the MIME type / filename it lacked."""
    filled = {k: v for k, v in body.items() if k != "url"}
    filled[data_field] = fetched.data
    if not filled.get("mime_type") and fetched.mime_type and fetched.mime_type != "application/octet-stream":
        filled["mime_type"] = fetched.mime_type
    if data_field == "document_data" and not filled.get("filename") and fetched.filename:
        filled["filename"] = fetched.filename
    return filled
