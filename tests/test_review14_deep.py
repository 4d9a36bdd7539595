"""Review of issue 14's hot path: orjson reads nesting (up to 1024) that the standard library refused."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.cloud_daemon import API_KEY, WABA_ID, cloud_daemon
from whatshooked import strict_json

DEPTH = 1000  # past what json.loads reads from any call stack (at most sys.getrecursionlimit() levels)


def test_loads_refuses_what_the_standard_library_refused() -> None:
    assert DEPTH >= sys.getrecursionlimit()
    raw = b"[" * DEPTH + b"]" * DEPTH
    with pytest.raises(RecursionError):
        strict_json.loads(raw.decode())  # the str path: the old answer
    with pytest.raises(RecursionError):
        strict_json.loads(raw)  # bytes: must be the same answer


async def test_a_body_nested_too_deep_is_a_400_not_a_500(tmp_path: Path) -> None:
    deep = b'{"a":' * DEPTH + b"1" + b"}" * DEPTH  # a template component, as objects all the way down
    body = (b'{"account_id":"shop","name":"n","language":"en_US","category":"UTILITY","components":['
            + deep + b"]}")
    async with cloud_daemon(tmp_path) as rig:
        rig.graph.answer("POST", f"{WABA_ID}/message_templates", {"id": "1"})
        async with rig.http.post(f"{rig.url}/api/templates/upload", data=body,
                                 headers={"x-api-key": API_KEY, "Content-Type": "application/json"}) as response:
            text = await response.text()
            status = response.status
    assert status == 400, (status, text[:300])
    assert "nested too deep" in text
