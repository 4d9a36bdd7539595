"""The environment neonize's Go runtime starts with: `serve` re-executes itself once to set it.

Go does not read the live process environment: a Go library loaded into Python takes a copy of the
block the process was *started* with, so `os.environ[...] = ...` (before or after loading it) never
reaches it (checked: `GODEBUG=inittrace=1` set through os.environ before neonize loads prints
nothing; set at start it prints Go's init trace). neonize reads `NEONIZE_BOT_TAG` through Go's
`os.Getenv` at every send, and tags private-chat sends as sent by a bot unless it is `off`.
A bridge relays a person's messages, so `serve` starts Go with it `off` unless the operator set it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

log = logging.getLogger(__name__)

GO_DEFAULTS = {"NEONIZE_BOT_TAG": "off"}
"""Set for Go unless the operator's environment already has them (their value is kept)."""

REEXECUTED = "WHATSHOOKED_GO_ENV"
"""Set in the re-executed process, so it can never loop even if the variables were dropped again."""


def missing(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in GO_DEFAULTS.items() if name not in environ}


def ensure_go_environment() -> None:
    """Re-execute this very process (same PID, argv, open files, signals' defaults, NOTIFY_SOCKET)
    with the Go defaults in its start-up environment, when they are not there yet. Call it first
    thing in `serve`, before any thread or handler exists (cli.main calls it before it imports the
    daemon, so the replaced process has loaded next to nothing); it returns only when nothing is
    needed or the exec failed (logged: the daemon still runs, sends then carry the bot tag)."""
    needed = missing(os.environ)
    if not needed or os.environ.get(REEXECUTED):
        return
    argv = [sys.executable, *sys.orig_argv[1:]]
    environment = {**os.environ, **needed, REEXECUTED: "1"}
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None when started with the descriptor closed (`>&-`)
            stream.flush()
    try:
        os.execve(sys.executable, argv, environment)
    except OSError as exc:
        log.warning("could not restart with %s set for WhatsApp Web (%s); set it in the service's "
                    "environment instead", ", ".join(f"{k}={v}" for k, v in needed.items()), exc)
