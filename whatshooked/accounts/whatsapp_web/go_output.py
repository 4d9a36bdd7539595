"""Go's own prints (neonize's `fmt.Println`: "Login event: …", "SendMessage: Error …") into the log.

neonize's Go side writes some errors and events with `fmt.Println`, straight to file descriptor 1,
outside the log format (and, under systemd, into the journal as bare lines). `serve` points fd 1 at
a pipe whose lines a daemon thread logs (logger `whatsmeow.stdout`, WARNING for lines that read as
errors, INFO otherwise); Python's own stdout keeps the original stream through a duplicate.
fd 2 is left alone on purpose: a Go runtime crash report (`fatal error: …`) is written there just
before the process dies, and a pipe reader in the dying process would lose it.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading

log = logging.getLogger("whatsmeow.stdout")

_captured = False


def capture_go_output() -> None:
    """Route fd 1 into the log for the rest of the process (once; later calls do nothing)."""
    global _captured
    if _captured:
        return
    _captured = True
    sys.stdout.flush()
    original = os.dup(1)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 1)
    os.close(write_end)
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    sys.stdout = io.TextIOWrapper(io.FileIO(original, "w"), encoding=encoding, errors="replace", line_buffering=True)
    threading.Thread(target=_pump, args=(read_end,), name="whatshooked-go-stdout", daemon=True).start()


def _pump(read_end: int) -> None:
    with open(read_end, "rb", closefd=True) as pipe:
        for raw in pipe:
            line = raw.decode(errors="replace").rstrip()
            if line:
                level = logging.WARNING if "error" in line.lower() or "fail" in line.lower() else logging.INFO
                log.log(level, "%s", line)
