"""A hook's fields and their rules, written once for the config file and for `/api/hooks`.

`config/parse.py` reads a hook from YAML and `api/routes/hooks.py` from a request body; both check
what they read here and phrase each (field, why) their own way (`hooks[0].url: why` in the file,
`field 'url' why` in a 400). `hook_json` is how the API shows a `HookConfig`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from yarl import URL

from whatshooked.config.hook_headers import header_problem
from whatshooked.config.model import HOOK_METHODS, HookConfig
from whatshooked.config.values import MASK, is_credential_header, masked_fields, masked_url
from whatshooked.delivery.signer import public_keys, secret_problem
from whatshooked.events import utc_timestamp

HOOK_KEYS = frozenset(f.name for f in dataclasses.fields(HookConfig))
EVENT_NAME = "must be an event name like message.received or message.*"


def hook_problems(url: str, method: str, headers: Mapping[str, str], events: Sequence[Any],
                  secret: str) -> list[tuple[str, str]]:
    """Every (field, why) wrong with a hook's values; field names are relative (`headers.X-Key`)."""
    problems: list[tuple[str, str]] = []
    if not url:
        problems.append(("url", "is required"))
    elif not url.startswith(("http://", "https://")):
        problems.append(("url", f"must start with http:// or https://, not {url!r}"))
    elif (why := _url_problem(url)) is not None:
        problems.append(("url", why))
    if method not in HOOK_METHODS:
        problems.append(("method", f"must be one of {', '.join(HOOK_METHODS)}, not {method!r}"))
    for name, value in headers.items():
        if (why := header_problem(name, value)) is not None:
            problems.append((f"headers.{name}", why))
    for index, pattern in enumerate(events):
        if not isinstance(pattern, str) or not pattern.strip():
            problems.append((f"events[{index}]", EVENT_NAME))
    if secret and (why := secret_problem(secret)) is not None:
        problems.append(("secret", why))
    return problems


def _url_problem(url: str) -> str | None:
    """Why deliveries could never go to `url` (the URL is not repeated: it may hold a password)."""
    try:
        host = URL(url).raw_host
    except ValueError as exc:
        return f"is not a valid URL: {exc}"
    return None if host else "has no host name"


def hook_json(hook: HookConfig) -> dict[str, Any]:
    """A hook as the API shows it: the secret, the URL's password and credential-like header values masked."""
    shown = masked_fields(hook)
    shown["url"] = masked_url(hook.url)
    shown["headers"] = {name: (MASK if is_credential_header(name) else v) for name, v in hook.headers.items()}
    shown["chats"] = None if hook.chats is None else masked_fields(hook.chats)
    if hook.previous_secret_until is not None:
        shown["previous_secret_until"] = utc_timestamp(hook.previous_secret_until)
    shown.update(public_keys(hook))
    return shown
