"""What sealing event bodies at rest costs: the store's whole write and read path, with and without a key.

    .venv/bin/python bench/seal.py [--n 5000] [--concurrency 64] [--rounds 5]

Per round, in alternating order, a fresh SQLite store (plain, then sealed with a random
storage.encryption_key) takes N realistic events (the message.received of
tests/fixtures/meta/message_text.json, ~0.5 kB) from --concurrency callers with Store.add_event,
then reads them all back with Store.pending (as a restart or a replay does). Medians over the rounds;
the sealed store's figures as a ratio to the plain one of the same round, and the difference in
microseconds per event.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from store import realistic_events  # noqa: E402

from whatshooked.events import Event  # noqa: E402
from whatshooked.store.seal import Sealer, decode_key  # noqa: E402
from whatshooked.store.sqlite.store import SQLiteStore  # noqa: E402


async def one_run(events: list[Event], concurrency: int, sealed: bool) -> tuple[float, float]:
    """Seconds to add every event, seconds to read them all back."""
    sealer = Sealer(decode_key(base64.b64encode(os.urandom(32)).decode())) if sealed else None
    with tempfile.TemporaryDirectory() as folder:
        store = await SQLiteStore.open(Path(folder) / "bench.db", sealer)
        try:
            queue = iter(events)

            async def caller() -> None:
                for event in queue:
                    await store.add_event(event, ["hook"])

            started = time.perf_counter()
            await asyncio.gather(*(caller() for _ in range(concurrency)))
            added = time.perf_counter() - started
            started = time.perf_counter()
            pending = await store.pending(["hook"])
            read = time.perf_counter() - started
            assert len(pending) == len(events)
        finally:
            await store.close()
    return added, read


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    events = realistic_events(args.n)
    results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for round_no in range(args.rounds):
        for with_key in ((False, True) if round_no % 2 == 0 else (True, False)):
            results[with_key].append(await one_run(events, args.concurrency, with_key))
    for index, what in ((0, "add_event"), (1, "pending (read back)")):
        plain = statistics.median(r[index] for r in results[False])
        sealed = statistics.median(r[index] for r in results[True])
        print(f"{what:22s} plain {args.n / plain:9.0f} ev/s   sealed {args.n / sealed:9.0f} ev/s   "
              f"ratio {plain / sealed:.2f}x   cost {(sealed - plain) / args.n * 1e6:+.1f} us/event")


if __name__ == "__main__":
    asyncio.run(main())
