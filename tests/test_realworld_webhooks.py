"""Every one of the 120 distinct real webhook payloads, posted signed to the daemon (issue 8).

Each must be answered 200 (never a 5xx) and raise at least the events its kind calls for:
message.received with the right type, message.sent/delivered/read/failed/played for statuses,
message.revoked/edited for Cloud API deletes and edits, business.<field> for other fields, and
nothing whatshooked could not read.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.support.cloud_daemon import PHONE_NUMBER_ID, cloud_daemon
from tests.support.graph_standin import GraphStandin
from tests.support.realworld import corpus, expected, observed
from tests.support.receiver import HookReceiver


def kind_of(events: list[tuple[str, str | None]]) -> str:
    if any(t in ("message.received", "message.revoked", "message.edited") for t, _ in events):
        return "messages"
    return "statuses" if events and all(t.startswith("message.") for t, _ in events) else "other"


def test_the_corpus_is_the_one_sources_md_describes() -> None:
    samples = corpus(PHONE_NUMBER_ID, "http://127.0.0.1:9")
    assert len(samples) == 120
    assert Counter(kind_of(expected(s.payload)) for s in samples) == {"messages": 55, "statuses": 11, "other": 54}


async def test_cloud_api_revokes_and_edits_are_message_revoked_and_edited(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    """pywa recorded Meta's shapes: `type: revoke` / `type: edit`, naming the original message (DESIGN §8.2)."""
    samples = {s.name: s for s in corpus(PHONE_NUMBER_ID, "http://127.0.0.1:9")}
    revoke = samples["pywa/deleted_message:revoke"].payload
    edit = samples["pywa/edited_message:image"].payload
    edit["entry"][0]["changes"][0]["value"]["messages"][0]["edit"]["message"] = {
        "type": "text", "text": {"body": "fixed typo"}}
    async with cloud_daemon(tmp_path, receiver) as rig:
        assert await rig.webhook(revoke) == (200, "ok")
        assert await rig.webhook(edit) == (200, "ok")
        revoked, edited = [r.json() for r in await receiver.wait_for(2)]
    assert revoked["type"] == "message.revoked"
    data = revoked["data"]
    assert data["message_id"] == "<ORIGINAL_WHATSAPP_MESSAGE_ID>"
    assert data["from"] == data["by"] == data["chat"] == "<WHATSAPP_USER_PHONE_NUMBER>"
    assert edited["type"] == "message.edited"
    data = edited["data"]
    assert data["message_id"] == "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="
    assert (data["from"], data["chat"], data["text"]) == ("+16505551234", "+16505551234", "fixed typo")
    assert data["edited_at"] == "2025-06-13T22:42:55.000Z"
    assert data["raw"]["type"] == "edit"


async def test_every_real_payload_gives_its_events_and_never_a_5xx(tmp_path: Path, receiver: HookReceiver) -> None:
    graph = GraphStandin("test-token")
    await graph.start()
    samples = corpus(PHONE_NUMBER_ID, graph.url)
    for sample in samples:
        for media_id, mime in sample.media.items():
            graph.add_media(media_id, f"bytes of {media_id}".encode(), mime)
    problems: dict[str, object] = {}
    try:
        async with cloud_daemon(tmp_path, receiver, graph=graph) as rig:
            total = 0
            for sample in samples:
                status, text = await rig.webhook(sample.payload)
                if status != 200:
                    problems[sample.name] = (status, text)
                    continue
                want = expected(sample.payload)
                got = [r.json() for r in (await receiver.wait_for(total + len(want)))[total:]]
                total += len(got)
                missing = Counter(want) - Counter(observed(e) for e in got)
                unread = [e["data"] for e in got if e["data"].get("source") == "whatshooked"]
                if missing or unread:
                    problems[sample.name] = {"missing": dict(missing), "unreadable": unread}
                for event in got:
                    if event["type"] == "message.received" and event["data"].get("media", {}).get("error"):
                        problems[sample.name] = {"media": event["data"]["media"]}
    finally:
        await graph.close()
    assert problems == {}
    assert total >= 120
