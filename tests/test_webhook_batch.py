"""A webhook of many messages (Meta batches up to 100 under load) is raised in its order, media included,
with the messages between media committed together rather than one commit each (issue 14, goal 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.cloud_daemon import API_KEY, cloud_daemon
from tests.support.receiver import HookReceiver
from tests.test_review_hostile import text_webhook


def batch(count: int, image_at: int) -> dict[str, Any]:
    payload = text_webhook("wamid.B000")
    messages = payload["entry"][0]["changes"][0]["value"]["messages"]
    template = messages[0]
    messages.clear()
    for number in range(count):
        message = {**template, "id": f"wamid.B{number:03d}", "text": {"body": f"m{number}"}}
        if number == image_at:
            message = {**template, "id": f"wamid.B{number:03d}", "type": "image",
                       "image": {"id": "media-1", "mime_type": "image/jpeg", "sha256": ""}}
            del message["text"]
        messages.append(message)
    return payload


async def test_a_batch_is_raised_in_its_order_with_its_media(tmp_path: Path, receiver: HookReceiver) -> None:
    async with cloud_daemon(tmp_path, receiver) as rig:
        rig.graph.add_media("media-1", b"\xff\xd8" + b"x" * 300_000, "image/jpeg")
        status, _ = await rig.webhook(batch(100, image_at=40))
        assert status == 200
        async with rig.http.get(f"{rig.url}/api/events", params={"limit": "200", "type": "message.received"},
                                headers={"x-api-key": API_KEY}) as response:
            feed = await response.json()
        ids = [event["data"]["message_id"] for event in feed["events"]]
        assert ids == [f"wamid.B{number:03d}" for number in range(100)]  # stored (seq) in the POST's order
        seqs = [event["seq"] for event in feed["events"]]
        assert seqs == sorted(seqs)
        image = feed["events"][40]["data"]
        assert image["type"] == "image" and image["media"]["file_size"] == 300_002  # fetched before those after it
        status, _ = await rig.webhook(batch(100, image_at=40))  # Meta's redelivery: nothing raised twice
        assert status == 200
        async with rig.http.get(f"{rig.url}/api/events", params={"limit": "500", "type": "message.received"},
                                headers={"x-api-key": API_KEY}) as response:
            assert len((await response.json())["events"]) == 100
