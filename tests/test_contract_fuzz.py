"""A bounded schemathesis run over the served contract (`/api/openapi.json`): no 5xx, ever (issue 8).

The whole daemon runs in process (a Cloud API account on the Graph stand-in, WhatsApp Web accounts as
stand-ins so a generated `accounts/add` starts no real session); schemathesis generates requests for
every operation from the document the daemon serves and sends them, with credentials, from a
thread. Deterministic: Hypothesis is derandomized and keeps no example database.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from tests.support.cloud_daemon import API_KEY, cloud_daemon
from tests.support.standin import StandInAdapter
from whatshooked.accounts.cloud_api.adapter import CloudApiAdapter
from whatshooked.accounts.registry import Registry

EXAMPLES = 10
"""Per operation: enough to reach past validation on most, small enough for well under a minute."""


def fuzz(document: dict[str, Any], base_url: str, statuses: Counter[int]) -> list[str]:
    """Every operation, EXAMPLES generated requests each; what answered 5xx (or failed to generate)."""
    schema = schemathesis.openapi.from_dict(document)
    found: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            headers = {**(case.headers or {}), "x-api-key": API_KEY}
            response = case.call(base_url=base_url, headers=headers, timeout=15)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                found.append(f"{case.method} {case.formatted_path} {case.body!r:.200} -> "
                             f"{response.status_code} {response.text[:200]}")

        try:
            check()
        except Unsatisfiable:
            found.append(f"{operation.method.upper()} {operation.path}: no request could be generated")
    return found


async def test_no_generated_request_gets_a_5xx(tmp_path: Path) -> None:
    registry = Registry({"whatsmeow": StandInAdapter, "standin": StandInAdapter, "business-api": CloudApiAdapter})
    async with cloud_daemon(tmp_path, registry=registry) as rig:
        async with rig.http.get(f"{rig.url}/api/openapi.json", headers={"x-api-key": API_KEY}) as response:
            document = await response.json()
        statuses: Counter[int] = Counter()
        problems = await asyncio.to_thread(fuzz, document, rig.url, statuses)
    assert problems == []
    # the run reached the handlers, not only the validation in front of them
    assert statuses.total() > 200 and sum(n for status, n in statuses.items() if status < 300) > 30, statuses
