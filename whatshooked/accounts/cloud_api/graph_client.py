"""Meta's Graph API over aiohttp: `{graph_url}/{api_version}/…` with the account's Bearer token.

Every refusal becomes a SendError carrying Meta's own message and code, so the API can answer 500
with the text Meta gave and the manager can put it in `message.failed`.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

from whatshooked import strict_json
from whatshooked.accounts.cloud_api.settings import BusinessApiConfig
from whatshooked.errors import SendError
from whatshooked.http_body import BodyTooLarge, read_body

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 30.0
DOWNLOAD_TIMEOUT = 120.0
MAX_DOWNLOAD = 100 * 1024 * 1024  # Meta's largest media (documents) is 100 MB


@dataclass(frozen=True, slots=True)
class Upload:
    """One multipart file part."""

    data: bytes
    filename: str
    content_type: str


def meta_error(status: int, body: Any) -> SendError:
    """Meta's `{"error": {...}}` as a SendError: its message (plus details when they add something)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        text = body if isinstance(body, str) else json.dumps(body)
        return SendError(f"Meta's Graph API answered {status}: {text[:500]}", code=status, details=body,
                         http_status=status)
    message = str(error.get("message") or error.get("error_user_msg") or f"Meta's Graph API answered {status}")
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    if details and details not in message:
        message = f"{message}: {details}"
    return SendError(message, code=error.get("code", status), details=error, http_status=status)


class GraphClient:
    def __init__(self, http: aiohttp.ClientSession, config: BusinessApiConfig) -> None:
        self.http = http
        self.base = f"{config.graph_url.rstrip('/')}/{config.api_version.strip('/')}"
        self._token = config.access_token.reveal()

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        form: dict[str, str | Upload] | None = None,
    ) -> Any:
        """One Graph request; returns Meta's JSON or raises SendError."""
        url = f"{self.base}/{path.lstrip('/')}"
        data = _multipart(form) if form is not None else None
        try:
            async with self.http.request(
                method, url, params=params, json=json_body, data=data, headers=self._auth,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"cannot reach Meta's Graph API ({method} {url}): {exc or type(exc).__name__}") from None
        try:
            body: Any = strict_json.loads(text) if text else {}  # raised in events: standard JSON only
        except (ValueError, RecursionError):
            body = text
        if status >= 400 or (isinstance(body, dict) and "error" in body):
            error = meta_error(status, body)
            log.warning("graph %s /%s: %s (code %s)", method, path.lstrip("/"), error, error.code)
            raise error
        return body

    async def download(self, url: str, limit: int = MAX_DOWNLOAD) -> bytes:
        """A media URL from `GET /{media-id}`; Meta refuses it without the token, and it lives 5 minutes."""
        try:
            async with self.http.get(
                url, headers=self._auth, timeout=aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)
            ) as response:
                if response.status >= 400:
                    raise SendError(f"media download answered {response.status}", code=response.status)
                return await read_body(response, limit)
        except BodyTooLarge:
            raise SendError(f"media is larger than {limit} bytes") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"media download failed: {exc or type(exc).__name__}") from None

    async def upload(self, phone_number_id: str, upload: Upload) -> Any:
        """`POST /{phone_number_id}/media` (multipart, as Meta documents); returns Meta's JSON."""
        return await self.call("POST", f"{phone_number_id}/media", form={
            "messaging_product": "whatsapp", "type": upload.content_type, "file": upload,
        })

    async def upload_media(self, phone_number_id: str, upload: Upload) -> str:
        """`upload`, for a send: returns the media id."""
        answer = await self.upload(phone_number_id, upload)
        media_id = answer.get("id") if isinstance(answer, dict) else None
        if not media_id:
            raise SendError(f"Meta's media upload gave no id: {answer!r}"[:500], details=answer)
        return str(media_id)


def _multipart(form: dict[str, str | Upload]) -> aiohttp.FormData:
    data = aiohttp.FormData(default_to_multipart=True)  # Meta's spec: multipart/form-data, files or not
    for name, value in form.items():
        if isinstance(value, Upload):
            # a stream, not bytes: aiohttp warns that a large bytes body may block the loop
            data.add_field(name, io.BytesIO(value.data), filename=value.filename, content_type=value.content_type)
        else:
            data.add_field(name, value)
    return data
