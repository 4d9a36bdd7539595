"""go_gate's readers/writer gate: long reads share it, a writer is alone and goes before later reads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from whatshooked.accounts.whatsapp_web.go_gate import ReadWriteGate

WAIT = 30.0  # a bound for a hung test, never a timing


def test_reads_share_the_gate_and_a_writer_waits_for_them_then_goes_before_later_reads() -> None:
    gate = ReadWriteGate()
    order: list[str] = []
    inside = threading.Barrier(3)
    release = threading.Event()
    writer_waiting = threading.Event()

    def long_read(name: str) -> None:
        inside.wait(WAIT)  # both readers are inside at once: reads do not block each other
        assert release.wait(WAIT)
        order.append(name)

    with ThreadPoolExecutor(4) as pool:
        reads = [pool.submit(gate.read, long_read, name) for name in ("upload", "download")]
        inside.wait(WAIT)

        def write() -> None:
            order.append("stop")

        writer = pool.submit(gate.write, write)
        while not writer_waiting.is_set():  # the writer is queued once it counts as waiting
            with gate._changed:
                if gate._writers_waiting:
                    writer_waiting.set()
        later = pool.submit(gate.read, order.append, "send")
        release.set()
        for future in (*reads, writer, later):
            future.result(WAIT)
    assert sorted(order[:2]) == ["download", "upload"]
    assert order[2:] == ["stop", "send"]
