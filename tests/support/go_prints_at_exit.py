"""Run as a process: set up output the way `serve` does, make neonize's Go side print COUNT error lines
(a send to a malformed recipient), then exit at once, as a daemon does right after its last Go call.

Usage: python -m tests.support.go_prints_at_exit COUNT
"""

from __future__ import annotations

import sys

from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.go_output import capture_go_output
from whatshooked.config import LoggingConfig
from whatshooked.logging_setup import setup_logging


def main(count: int) -> None:
    setup_logging(LoggingConfig())
    capture_go_output()
    for _ in range(count):
        nz.gocode.SendMessage(b"nobody", b"\xff\xff\xff", 3, b"", 0)


if __name__ == "__main__":
    main(int(sys.argv[1]))
