"""`POST /api/media/upload` with a broken multipart body: a 400 naming the problem, never a 500 (issue 8, item 14)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.cloud_daemon import API_KEY, cloud_daemon

GOOD_PART = (b'--b\r\nContent-Disposition: form-data; name="account_id"\r\n\r\nshop\r\n'
             b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
             b"Content-Type: image/png\r\n\r\nPNGDATA\r\n--b--\r\n")
MALFORMED = [
    ("multipart/form-data", GOOD_PART),  # no boundary
    ("multipart/form-data; boundary=b", b"no boundary line at all"),
    ("multipart/form-data; boundary=b", GOOD_PART[:60]),  # cut in a part's headers
    ("multipart/form-data; boundary=b", GOOD_PART[:-8]),  # no closing boundary
    ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data\r\n\r\nshop\r\n--b--\r\n"),  # no name
    ("multipart/form-data; boundary=b", b"--b\r\nno colon here\r\n\r\nx\r\n--b--\r\n"),
    ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data; name=\"f\"\r\n"
     b"Content-Transfer-Encoding: rot13\r\n\r\nx\r\n--b--\r\n"),
    ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n"
     b"Content-Encoding: gzip\r\n\r\nnot gzip\r\n--b--\r\n"),
    ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n"
     b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nx\r\n--b--\r\n"),
    ("multipart/mixed; boundary=b",
     b"--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--c--\r\n--b--\r\n"),
]


@pytest.mark.parametrize(("content_type", "body"), MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
async def test_a_malformed_multipart_body_is_400_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content_type: str, body: bytes
) -> None:
    async with cloud_daemon(tmp_path) as rig:
        headers = {"x-api-key": API_KEY, "Content-Type": content_type}
        async with rig.http.post(f"{rig.url}/api/media/upload", data=body, headers=headers) as response:
            status, answer = response.status, await response.text()
    assert status == 400, answer
    assert "multipart/form-data" in answer or answer.startswith("field "), answer
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_an_upload_past_max_body_is_413_read_part_by_part(tmp_path: Path) -> None:
    """Parts are read in chunks against server.max_body (64 MB by default), not buffered without a cap."""
    head = (b'--b\r\nContent-Disposition: form-data; name="account_id"\r\n\r\nshop\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n')

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(65):
            yield b"\0" * (1024 * 1024)
        yield b"\r\n--b--\r\n"

    async with cloud_daemon(tmp_path) as rig:
        headers = {"x-api-key": API_KEY, "Content-Type": "multipart/form-data; boundary=b"}
        async with rig.http.post(f"{rig.url}/api/media/upload", data=body(), headers=headers) as response:
            assert response.status == 413
        assert rig.graph.graph_requests("POST") == []
