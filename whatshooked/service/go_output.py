"""Go's own prints (neonize's `fmt.Println`: "Login event: …", "SendMessage: Error …") into the log.

neonize's Go side writes some errors and events with `fmt.Println`, straight to file descriptor 1,
outside the log format (and, under systemd, into the journal as bare lines). `serve` points fd 1 at
a pipe whose lines a daemon thread logs (logger `whatsmeow.stdout`, WARNING for lines that read as
errors, INFO otherwise); Python's own stdout keeps the original stream through a duplicate.
At exit (`release_go_output`, also run by atexit) fd 1 is pointed back at the original stream, which
closes the pipe's last writer, and the reader is given `DRAIN_WAIT` seconds to log what is left: the
last lines before an exit are the ones an operator needs.
When the daemon is started with fd 1 closed (`>&-`), fd 1 is first pointed at /dev/null, so the
pipe still catches Go's prints and no file opened later can take fd 1 and receive them.
fd 2 is left alone on purpose: a Go runtime crash report (`fatal error: …`) is written there just
before the process dies, and a pipe reader in the dying process would lose it.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import sys
import threading

log = logging.getLogger("whatsmeow.stdout")

DRAIN_WAIT = 2.0
"""Longest the exit waits for the reader to log what Go wrote last (a child holding fd 1 keeps the pipe open)."""

_captured = False
_original: int | None = None
_pump_thread: threading.Thread | None = None


def capture_go_output() -> None:
    """Route fd 1 into the log for the rest of the process (once; later calls do nothing)."""
    global _captured, _original, _pump_thread
    if _captured:
        return
    _captured = True
    if sys.stdout is not None:
        sys.stdout.flush()
    _ensure_fd1()
    _original = os.dup(1)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 1)
    os.close(write_end)
    if sys.stdout is not None:
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        sys.stdout = io.TextIOWrapper(io.FileIO(os.dup(_original), "w"), encoding=encoding, errors="replace",
                                      line_buffering=True)
    _pump_thread = threading.Thread(target=_pump, args=(read_end,), name="whatshooked-go-stdout", daemon=True)
    _pump_thread.start()
    atexit.register(release_go_output)


def _ensure_fd1() -> None:
    """Point a closed fd 1 at /dev/null (else the pipe itself, or a database, could be given fd 1)."""
    try:
        os.fstat(1)
    except OSError:
        null = os.open(os.devnull, os.O_WRONLY)
        if null != 1:
            os.dup2(null, 1)
            os.close(null)


def release_go_output() -> None:
    """Give fd 1 back to the original stream and let the reader log what is still in the pipe."""
    global _original
    original, _original = _original, None
    if original is None:
        return
    os.dup2(original, 1)
    os.close(original)
    if _pump_thread is not None:
        _pump_thread.join(DRAIN_WAIT)


def _pump(read_end: int) -> None:
    with open(read_end, "rb", closefd=True) as pipe:
        for raw in pipe:
            line = raw.decode(errors="replace").rstrip()
            if line:
                level = logging.WARNING if "error" in line.lower() or "fail" in line.lower() else logging.INFO
                log.log(level, "%s", line)
