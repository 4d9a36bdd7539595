"""Which extra headers a hook may carry (config file and API alike).

A value with CR, LF or NUL makes every delivery fail (or splits the request on the wire); a
`Content-Length`, `Transfer-Encoding` or `Host` changes the framing the receiver reads, so it takes
the event text for a second request; and the daemon's own headers (signature, id, timestamp, content
type) must say what the daemon means. Such headers are refused where they come in, naming them.
"""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 7230 §3.2.6 token
RESERVED = frozenset({
    # framing and connection handling: the HTTP client decides these
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer",
    "expect", "proxy-connection", "content-encoding",
    # the daemon's own headers (DESIGN §5)
    "content-type", "user-agent", "x-whatshooked-event", "webhook-id", "webhook-timestamp", "webhook-signature",
})


def header_problem(name: object, value: object) -> str | None:
    """Why the header `name: value` cannot be sent with every delivery, or None when it can."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        return f"{name!r} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"
    if name.lower() in RESERVED:
        return f"{name!r} is set by whatshooked itself and cannot be overridden"
    if not isinstance(value, str):
        return "must be a string"
    bad = next((c for c in value if c != "\t" and unicodedata.category(c) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        return f"must be one line of text: it holds the control character U+{ord(bad):04X}"
    return None
