"""A hooks/accounts change on a big config neither blocks the event loop nor costs more than linear work
(issue 8 item 12). Timings are in bench/config_change.py; these tests count and observe instead.
"""

from __future__ import annotations

import asyncio
import difflib
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import config, running, until
from whatshooked.config import edit as config_edit

N = 1000


def many_hooks(count: int) -> str:
    """Hand-written hooks (spacing and comments that ruamel renders differently) like a real big file."""
    return "".join(f"  - id: hook-{i}\n    name:   Hook {i}    # team {i % 7}\n    url: http://127.0.0.1:9/h{i}\n"
                   f"    events: [message.received]\n    headers: {{X-Team: blue}}\n" for i in range(count))


async def test_a_change_runs_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The render is held until /health has been answered: that can only happen if the loop is free."""
    started, release = threading.Event(), threading.Event()
    held: list[bool] = []
    render = config_edit.Document.render

    def gated(self: config_edit.Document) -> str | None:
        started.set()
        held.append(release.wait(20))  # False: nobody released it, the loop was blocked by this very wait
        return render(self)

    monkeypatch.setattr(config_edit.Document, "render", gated)
    async with running(tmp_path, config(hooks=many_hooks(N))) as run:
        add = asyncio.create_task(run.client.post("/api/hooks/add", json={"id": "new", "url": "http://127.0.0.1:9/"}))
        await until(started.is_set, within=60)
        health = await run.client.get("/health")
        assert health.status == 200 and not add.done()
        release.set()
        response = await add
        assert response.status == 201 and held == [True]
        assert [h.id for h in run.settings.config.hooks][-2:] == [f"hook-{N - 1}", "new"]


async def test_two_changes_at_once_do_not_interleave(tmp_path: Path) -> None:
    async with running(tmp_path, config(hooks=many_hooks(200))) as run:
        responses = await asyncio.gather(*(run.client.post("/api/hooks/add", json={"id": f"new-{i}", "url": "http://x/"})
                                           for i in range(4)))
        assert [r.status for r in responses] == [201] * 4
        ids = {h.id for h in run.settings.config.hooks}
        assert {f"new-{i}" for i in range(4)} <= ids and len(ids) == 204
        assert run.path.read_text().count("  - id: new-") == 4


def diff_work(tmp_path: Path, count: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """Cells (len(a) * len(b)) of every line diff made to add one hook to `count` hooks, and remove one."""
    cells = [0]
    real = difflib.SequenceMatcher

    def counting(isjunk: Any = None, a: Any = "", b: Any = "", autojunk: bool = True) -> difflib.SequenceMatcher[Any]:
        cells[0] += max(len(a), 1) * max(len(b), 1)
        return real(isjunk, a, b, autojunk)

    monkeypatch.setattr(config_edit.difflib, "SequenceMatcher", counting)
    path = tmp_path / f"c{count}.yaml"
    path.write_text(config(hooks=many_hooks(count)))
    document = config_edit.Document.read(path)
    document.data["hooks"].append({"id": "new", "url": "http://127.0.0.1:9/"})
    text = document.render()
    assert text is not None and text.startswith(path.read_text().rstrip("\n"))
    path.write_text(text)
    document = config_edit.Document.read(path)
    del document.data["hooks"][count // 2]
    text = document.render()
    assert text is not None and f"hook-{count // 2}\n" not in text and f"hook-{count // 2 + 1}\n" in text
    return cells[0]


def test_the_line_diff_work_does_not_grow_faster_than_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small, big = diff_work(tmp_path, 300, monkeypatch), diff_work(tmp_path, 600, monkeypatch)
    assert big <= 2 * small + 1000, (small, big)
