"""The hot path's shortcuts (issue 14) give exactly what the long ways gave.

Each shortcut replaced a slower way to the same answer: timestamps formatted once per second, ids
from a seeded generator, orjson in front of the standard library's JSON, a bracket count in front of
the depth walk, one timer per connection moved lazily, uvloop under `serve` when asked for. Each is held here to the
old answer, on many inputs, and `serve` is run for real on both event loops.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from tests.support.cloud_serve import serve_config
from tests.support.graph_standin import GraphStandin
from tests.support.process import ServeProcess, free_port, run_cli
from tests.support.receiver import HookReceiver
from tests.test_crash import payload
from whatshooked import strict_json
from whatshooked.accounts.cloud_api.unreadable import MAX_DEPTH, nests_within, too_deep
from whatshooked.events import Event, _new_id, utc_timestamp


def formatted(epoch: float) -> str:
    """The way every timestamp used to be made."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def test_timestamps_are_what_datetime_formats_for_any_moment() -> None:
    rng = random.Random(14)
    edges = [0.0, 1.9999, 1.9995, 1.0005, 1764000000.9999996, 1764000000.123, -1.5, -0.0004, 253402300799.999]
    near = [1764000000 + rng.randint(0, 600) + rng.random() for _ in range(20000)]  # > 256 seconds: the cache turns
    anywhere = [rng.uniform(0, 4e9) for _ in range(20000)]
    millis = [rng.randint(0, 4_000_000_000) + rng.randint(0, 999) / 1000 for _ in range(20000)]
    for epoch in [*edges, *near, *anywhere, *millis]:
        assert utc_timestamp(epoch) == formatted(epoch), epoch


def test_timestamp_of_now_is_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    stamp = utc_timestamp()
    after = datetime.now(UTC)
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before <= moment <= after


def test_ids_are_unique_time_ordered_and_of_the_documented_shape() -> None:
    ids = [_new_id() for _ in range(100_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 28 and i.startswith("evt_") and int(i[4:], 16) >= 0 for i in ids)
    stamps = [int(i[4:16], 16) for i in ids]
    assert stamps == sorted(stamps)


JSON_CASES = [
    b'{"a":[1,2.5,-0,1e5,"x"],"b":{"c":null,"d":true}}',
    b'[123456789012345678901234567890, -9223372036854775809, 18446744073709551616, 1]',  # past 64 bits: exact
    b'{"id":"1234567890123456789","n":12345678901234567}',  # 19 digits inside a string: still read right
    b'["\\ud800", "a\\udfffb", "\\ud83d\\ude00"]',  # lone surrogates become U+FFFD; a pair stays one
    '{"name":"Zoë ✓ \u2028"}'.encode(),
    b'\xef\xbb\xbf{"bom": 1}',  # orjson refuses the BOM; the standard library reads it
    b'  \t[1]\n',
]


@pytest.mark.parametrize("raw", JSON_CASES)
def test_strict_loads_reads_what_the_standard_library_reads(raw: bytes) -> None:
    expected = strict_json.loads(raw.decode("utf-8-sig"))  # a str never takes the orjson path
    got = strict_json.loads(raw)
    assert got == expected and type(got) is type(expected)
    assert json.dumps(got) == json.dumps(expected)  # ints stay ints, floats stay floats


REFUSED = [b"NaN", b"[Infinity]", b'{"a":1e999}', b"[1,]", b'"\x01"', b"", b"[" * 2000 + b"]" * 2000]


@pytest.mark.parametrize("raw", REFUSED)
def test_strict_loads_refuses_what_it_refused(raw: bytes) -> None:
    with pytest.raises((ValueError, RecursionError)) as fast:
        strict_json.loads(raw)
    with pytest.raises((ValueError, RecursionError)) as slow:
        strict_json.loads(raw.decode("utf-8", "surrogateescape"))
    assert type(fast.value) is type(slow.value)


VALUES = [
    {"id": "evt_1", "type": "message.received", "data": {"text": "Zoë ✓\n\t\x00\x1f\u2028/", "n": [1, 2.5, None]}},
    {"big": 2**70, "small": -(2**65)},
    {"float": 0.1, "exp": 1e16, "neg": -2.5e-3},
    {"nan": math.nan, "inf": [math.inf, -math.inf]},
    {"lone": "a\ud800b", "key\udfff": 1},
    {"deep": [[[[{"x": "y"}]]]], "empty": {}, "list": []},
]


@pytest.mark.parametrize("value", VALUES)
def test_compact_is_standard_json_of_the_same_value(value: object) -> None:
    out = strict_json.compact(value)
    slow = strict_json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    assert json.loads(out) == json.loads(slow)  # the same value (a float may be spelled 1e+16 or 1e16)
    assert b" " not in out.replace(b"Zo\xc3\xab \xe2\x9c\x93", b"")
    assert b"NaN" not in out and b"Infinity" not in out
    out.decode("utf-8")  # never a lone surrogate


def test_an_event_body_is_the_old_bytes_for_what_events_hold() -> None:
    event = Event("message.received", {"account_id": "shop", "text": "Olá 👋", "n": 3, "ok": True, "none": None,
                                       "raw": {"id": "wamid.x", "list": [1, "two", {"three": 3}]}})
    old = json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()
    assert event.to_json() == old


def test_the_bracket_count_only_ever_spares_bodies_the_walk_would_pass() -> None:
    rng = random.Random(7)

    def leaf() -> object:
        return rng.choice([1, "s[{\"\\", None, [], {}])

    def value(depth: int) -> object:
        """Nested `depth` deep along one branch, with a few leaves (brackets among them) beside it."""
        if depth == 0:
            return leaf()
        children = [value(depth - 1), *(leaf() for _ in range(rng.randint(0, 3)))]
        rng.shuffle(children)
        return children if rng.random() < 0.5 else {f"k{i}{{": child for i, child in enumerate(children)}

    for _ in range(3000):
        body = json.dumps(value(rng.randint(1, 80))).encode()
        for limit in (1, 3, 8, MAX_DEPTH):
            if nests_within(body, limit):
                assert not too_deep(json.loads(body), limit)
    assert nests_within(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    assert not nests_within(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))


@pytest.mark.parametrize("loop", ["default", "asyncio", "uvloop"])
async def test_serve_runs_on_the_event_loop_asked_for_and_delivers(tmp_path: Path, receiver: HookReceiver,
                                                                 loop: str) -> None:
    graph = GraphStandin("test-token")
    await graph.start()
    port = free_port()
    path = tmp_path / "config.yaml"
    text = serve_config(tmp_path, port, graph.url, receiver.url)
    if loop != "default":
        text = text.replace("server: {", f"server: {{event_loop: {loop}, ", 1)
    path.write_text(text)
    serve = ServeProcess(path, port)
    try:
        await serve.start()
        await serve.healthy()
        async with aiohttp.ClientSession() as http:
            for index in range(3):
                async with http.post(f"{serve.url}/webhooks/whatsapp/shop", data=payload(index)) as response:
                    assert response.status == 200
        got = await receiver.wait_for(3)
    finally:
        await serve.stop()
        await graph.close()
    assert sorted(r.json()["data"]["message_id"] for r in got) == sorted(
        json.loads(payload(i))["entry"][0]["changes"][0]["value"]["messages"][0]["id"] for i in range(3))
    expected = "uvloop" if loop == "uvloop" else "asyncio"
    assert f"(event loop: {expected})" in serve.output(), serve.output()


def test_an_unknown_event_loop_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    text = serve_config(tmp_path, 8825, "http://127.0.0.1:9")
    path.write_text(text.replace("server: {", "server: {event_loop: trio, ", 1))
    done = run_cli("check-config", "-c", str(path), cwd=tmp_path)
    assert done.returncode != 0
    assert "server.event_loop" in done.stderr + done.stdout and "trio" in done.stderr + done.stdout


def walked_too_deep(value: object, limit: int) -> bool:
    """The walk as it was before it recursed: breadth of a stack of (node, depth)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def test_the_recursive_depth_check_answers_as_the_walk_did() -> None:
    rng = random.Random(3)

    def value(depth: int) -> object:
        if depth == 0:
            return rng.choice([1, "s", None, [], {}])
        children = [value(depth - 1), *(rng.choice([1, [], {}]) for _ in range(rng.randint(0, 3)))]
        return children if rng.random() < 0.5 else {f"k{i}": child for i, child in enumerate(children)}

    for _ in range(3000):
        nested = value(rng.randint(0, 20))
        for limit in (0, 1, 2, 3, 5, 8, 13, MAX_DEPTH):
            assert too_deep(nested, limit) == walked_too_deep(nested, limit)
    chain: list[object] = []
    for _ in range(5000):  # far deeper than Python's recursion limit: the check stops at MAX_DEPTH
        chain = [chain]
    assert too_deep(chain)


@pytest.mark.parametrize("depth", [64, 255, 256, 257, 400, 990, 1000, 1023, 1100])
def test_deep_nesting_gets_the_standard_librarys_answer(depth: int) -> None:
    """orjson reads 1024 deep; what json.loads refuses (RecursionError) must stay refused."""
    for raw in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        try:
            expected: object = strict_json.loads(raw.decode())
        except RecursionError:
            with pytest.raises(RecursionError):
                strict_json.loads(raw)
        else:
            assert strict_json.loads(raw) == expected


def test_compact_refuses_what_json_dumps_refused() -> None:
    import dataclasses  # noqa: PLC0415 - only this test needs it

    @dataclasses.dataclass
    class Point:
        x: int

    for value in ({"when": datetime.now(UTC)}, {"point": Point(1)}):
        with pytest.raises(TypeError):
            strict_json.compact(value)
