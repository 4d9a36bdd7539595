"""The real webhook payloads of tests/fixtures/realworld (see its SOURCES.md), ready to post.

`corpus()` gives the 120 distinct payloads (pywa's fixtures, whatsapp-api-js's, the Meta docs pages'
and the examples of Meta's spec), each rewritten in memory as SOURCES.md says: our phone_number_id,
ids made unique per payload, media pointed at the Graph stand-in. `expected(payload)` is the list
of events each must raise: (event type, data.type for message.received, else None).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from whatshooked.accounts.cloud_api.inbound import MEDIA_TYPES, MESSAGE_TYPES, STATUS_EVENTS

REALWORLD = Path(__file__).resolve().parent.parent / "fixtures" / "realworld"
SPEC = REALWORLD / "business-messaging-api_v23.0.yaml"
CHANGE_EVENTS = {"revoke": "message.revoked", "edit": "message.edited"}


@dataclass
class Sample:
    name: str
    payload: dict[str, Any]
    media: dict[str, str] = field(default_factory=dict)
    """media id -> MIME type, for the Graph stand-in to serve."""


def raw_payloads() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted((REALWORLD / "inbound" / "pywa").glob("*.json")):
        found += [(f"pywa/{path.stem}:{name}", value) for name, value in json.loads(path.read_text()).items()]
    for path in sorted((REALWORLD / "inbound" / "whatsapp-api-js").glob("*.json")):
        found.append((f"whatsapp-api-js/{path.stem}", json.loads(path.read_text())))
    docs = json.loads((REALWORLD / "inbound" / "meta-docs.json").read_text())
    found += [(f"meta-docs/{d['page']}#{i}", d["payload"]) for i, d in enumerate(docs)]
    spec = yaml.load(SPEC.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    content = spec["paths"]["/whatsapp/webhooks"]["post"]["requestBody"]["content"]
    for media in content.values():
        found += [(f"spec/{name}", ex["value"]) for name, ex in (media.get("examples") or {}).items()]
    return found


def corpus(phone_number_id: str, graph_url: str) -> list[Sample]:
    """The distinct payloads (identical ones once), rewritten for the test account and the stand-in."""
    seen: set[str] = set()
    samples = []
    for name, payload in raw_payloads():
        key = json.dumps(payload, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        samples.append(rewrite(Sample(name, copy.deepcopy(payload)), len(samples), phone_number_id, graph_url))
    return samples


def _changes(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [change for entry in payload.get("entry") or [] for change in entry.get("changes") or []]


def rewrite(sample: Sample, index: int, phone_number_id: str, graph_url: str) -> Sample:
    for change in _changes(sample.payload):
        value = change.get("value")
        if not isinstance(value, dict):
            continue
        if isinstance(value.get("metadata"), dict):
            value["metadata"]["phone_number_id"] = phone_number_id
        if change.get("field") != "messages":
            continue
        for number, item in enumerate([*(value.get("messages") or []), *(value.get("statuses") or [])]):
            if item.get("id"):
                item["id"] = f"{item['id']}.rw{index:03d}"
            content = item.get(item.get("type")) if isinstance(item.get("type"), str) else None
            if item.get("type") in MEDIA_TYPES and isinstance(content, dict):
                media_id = f"rwmedia{index:03d}x{number}"
                content["id"] = media_id
                content["url"] = f"{graph_url}/download/{media_id}"
                sample.media[media_id] = str(content.get("mime_type") or "application/octet-stream")
    return sample


def expected(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    events: list[tuple[str, str | None]] = []
    for change in _changes(payload):
        name, value = change.get("field"), change.get("value")
        if name != "messages":
            events.append((f"business.{name}", None))
            continue
        for message in value.get("messages") or []:
            kind = message.get("type")
            if kind in CHANGE_EVENTS:
                events.append((CHANGE_EVENTS[kind], None))
            else:
                events.append(("message.received", kind if kind in MESSAGE_TYPES else "unknown"))
        events += [(STATUS_EVENTS[s["status"]], None) for s in value.get("statuses") or []
                   if s.get("status") in STATUS_EVENTS]
        if value.get("errors"):
            events.append(("business.errors", None))
    return events


def observed(event: dict[str, Any]) -> tuple[str, str | None]:
    return event["type"], event["data"].get("type") if event["type"] == "message.received" else None
