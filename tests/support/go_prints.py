"""Run as a process: set up output the way `serve` does, then make neonize's Go side print (a send
with a malformed recipient makes it `fmt.Println` an error to fd 1). Prints one line of its own.

Usage: python -m tests.support.go_prints
"""

from __future__ import annotations

import logging
import threading

from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.config.model import LoggingConfig
from whatshooked.service.go_output import capture_go_output
from whatshooked.service.logging_setup import setup_logging


class _Seen(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.set()


def main() -> None:
    setup_logging(LoggingConfig())
    capture_go_output()
    seen = _Seen()
    logging.getLogger("whatsmeow.stdout").addHandler(seen)
    print("python's own stdout still works", flush=True)
    nz.gocode.SendMessage(b"nobody", b"\xff\xff\xff", 3, b"", 0)
    if not seen.seen.wait(10):
        raise SystemExit("Go's output never reached the log")


if __name__ == "__main__":
    main()
