"""The exit codes of every `whatshooked` command, so scripts can tell what went wrong.

Documented in the README ("Exit codes"); each has a test in tests/test_cli_exit_codes.py.
"""

from __future__ import annotations

from whatshooked.errors import WhatshookedError

OK = 0
"""Done (for `status`: every enabled account is connected)."""
ERROR = 1
"""A runtime error: the daemon answered 5xx, a file could not be read or written, anything unexpected."""
USAGE = 2
"""A usage or config error: bad flags, a bad config file, or the API refused the request as wrong (4xx)."""
NOT_CONNECTED = 3
"""An account is not connected: `status` with an enabled account down, or the API answered 409."""
UNREACHABLE = 4
"""The daemon could not be reached (not running, wrong server.host/port) or did not answer in time."""
REFUSED = 5
"""The daemon refused the credentials (401/403): the config's server.api_key is not the daemon's."""


def for_status(status: int) -> int:
    """The exit code for an HTTP error status answered by the daemon's API."""
    if status in (401, 403):
        return REFUSED
    if status == 409:
        return NOT_CONNECTED
    if 400 <= status < 500:
        return USAGE
    return ERROR


class CommandError(WhatshookedError):
    """Printed as the one line `whatshooked: <message>`; the process exits with `code`."""

    def __init__(self, message: str, code: int = ERROR) -> None:
        super().__init__(message)
        self.code = code
