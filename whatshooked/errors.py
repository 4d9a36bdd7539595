"""Our own exceptions: each message is meant to be read by the user and acted on."""

from __future__ import annotations


class WhatshookedError(Exception):
    """Base of every error whatshooked raises on purpose."""


class ConfigError(WhatshookedError):
    """One or more problems in a config file; each names the file, the dotted key and why."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class RequestError(WhatshookedError):
    """Bad input to an API route; becomes a 400 (or the given status) with this text."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


class UnknownAccount(RequestError):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id!r} not found", status=404)
        self.account_id = account_id


class Unsupported(RequestError):
    """The account's type cannot do this operation (e.g. a Business API only route)."""

    def __init__(self, account_id: str, account_type: str, operation: str) -> None:
        super().__init__(
            f"account {account_id!r} is of type {account_type!r}, which does not support {operation}"
        )


class NotConnected(RequestError):
    """The account cannot do this now because of its state (409 naming it): connect or enable it first."""

    def __init__(self, account_id: str, state: str) -> None:
        super().__init__(f"account {account_id!r} is not connected (state: {state}); "
                         "wait until it is connected, or enable / pair it first", status=409)
        self.state = state


class SendError(WhatshookedError):
    """WhatsApp (or Meta's Graph API) refused an operation; `code` is theirs when known."""

    def __init__(self, message: str, code: int | str | None = None, details: object = None,
                 http_status: int | None = None) -> None:
        self.code = code
        self.details = details
        self.http_status = http_status
        """The HTTP status Meta answered with, when the refusal came over HTTP."""
        super().__init__(message)


class StoreError(WhatshookedError):
    """The SQLite store cannot be used as it is (e.g. written by a newer whatshooked)."""


class ListenError(WhatshookedError):
    """The API's address cannot be listened on (in use, not this machine's, a privileged port)."""
