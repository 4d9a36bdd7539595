"""The one place neonize is imported: contains its import-time side effects and re-exports what we use.

Importing neonize calls `logging.basicConfig` (a stderr handler on the root logger, level INFO),
starts a log-forwarding thread and leaks two pipes. We undo the root-logger changes so the daemon's
logging setup stays in charge, swallow the pipes' warnings, and set whatsmeow's log level.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import subprocess
import sys
import time
import warnings

from whatshooked.accounts.whatsapp_web.lazy_imports import lazily

LAZY = ("soupsieve",)
"""bs4 (for neonize's link previews, which the daemon does not make) imports it for CSS selectors: ~0.8 MB."""


def _reap_uname() -> None:
    """neonize reads `os.popen("uname -a")` without closing it; subprocess keeps the unreaped child
    (and its pipe) in a private list until some later Popen, where the pipe's warning would surface."""
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        subprocess._cleanup()  # type: ignore[attr-defined]
        if not any(getattr(p, "args", None) == "uname -a" for p in subprocess._active):  # type: ignore[attr-defined]
            return
        time.sleep(0.005)


# neonize's Go side tags every private-chat send as sent by a bot unless this is "off"; a bridge
# relays a person's messages, so we turn the tag off unless the operator set it explicitly.
os.environ.setdefault("NEONIZE_BOT_TAG", "off")

# httpx (neonize imports it) loads its command-line client unless that import fails, and with it
# rich, click and pygments: ~4.5 MB the daemon never uses (idle RSS: issue 14). httpx documents the
# fallback: only `httpx` run as a command would then say its extra is missing.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None: "cannot be imported"

_root = logging.getLogger()
_saved_handlers, _saved_level = list(_root.handlers), _root.level
_quiet = warnings.catch_warnings()
_quiet.__enter__()
warnings.simplefilter("ignore", ResourceWarning)  # neonize leaks two `os.popen("uname -a")` pipes
try:
    with lazily(*LAZY):
        import neonize  # noqa: F401  # what it imports, LAZY aside, is loaded here
    from neonize._binder import _CProxySettings as ProxySettingsStruct
    from neonize._binder import func_callback_bytes, func_string, gocode
    from neonize.aioze import client as aio_client
    from neonize.aioze import events as aio_events
    from neonize.aioze.client import NewAClient
    from neonize.aioze.events import (
        CallOfferEv,
        CallTerminateEv,
        ChatPresenceEv,
        ClientOutdatedEv,
        ConnectedEv,
        ConnectFailureEv,
        DisconnectedEv,
        GroupInfoEv,
        HistorySyncEv,
        JoinedGroupEv,
        KeepAliveRestoredEv,
        KeepAliveTimeoutEv,
        LoggedOutEv,
        MessageEv,
        PairStatusEv,
        PresenceEv,
        QREv,
        ReceiptEv,
        StreamErrorEv,
        StreamReplacedEv,
        TemporaryBanEv,
    )
    from neonize.events import EVENT_TO_INT
    from neonize.exc import NeonizeError
    from neonize.proto import Neonize_pb2 as neonize_proto
    from neonize.proto.Neonize_pb2 import JID, SendResponse, UploadResponse
    from neonize.proto.Neonize_pb2 import UndecryptableMessage as UndecryptableMessageEv
    from neonize.proto.waCommon.WACommon_pb2 import MessageKey
    from neonize.proto.waCompanionReg.WAWebProtobufsCompanionReg_pb2 import DeviceProps
    from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as wa
    from neonize.utils.enum import MediaType, ReceiptType
finally:
    for _handler in list(_root.handlers):
        if _handler not in _saved_handlers:
            _root.removeHandler(_handler)
    _root.setLevel(_saved_level)
    _reap_uname()
    gc.collect()  # finalize the leaked pipes while their ResourceWarnings are ignored
    _quiet.__exit__(None, None, None)

# whatsmeow's Go logger takes its level from this logger at connect(); NOTSET would mean "everything".
logging.getLogger("neonize.utils.log").setLevel(logging.INFO)
# We build media messages ourselves and never run ffmpeg; its "not found" warning would only mislead.
logging.getLogger("neonize.utils.ffmpeg").setLevel(logging.ERROR)

Message = wa.Message

__all__ = [
    "CallOfferEv",
    "CallTerminateEv",
    "ChatPresenceEv",
    "GroupInfoEv",
    "HistorySyncEv",
    "JoinedGroupEv",
    "PresenceEv",
    "EVENT_TO_INT",
    "JID",
    "ClientOutdatedEv",
    "ConnectFailureEv",
    "ConnectedEv",
    "DeviceProps",
    "DisconnectedEv",
    "KeepAliveRestoredEv",
    "KeepAliveTimeoutEv",
    "LoggedOutEv",
    "MediaType",
    "Message",
    "MessageEv",
    "MessageKey",
    "NeonizeError",
    "NewAClient",
    "PairStatusEv",
    "QREv",
    "ReceiptEv",
    "ReceiptType",
    "SendResponse",
    "StreamErrorEv",
    "StreamReplacedEv",
    "TemporaryBanEv",
    "UndecryptableMessageEv",
    "UploadResponse",
    "aio_client",
    "aio_events",
    "bind_event_loop",
    "ProxySettingsStruct",
    "func_callback_bytes",
    "func_string",
    "gocode",
    "neonize_proto",
    "wa",
]


def bind_event_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Point neonize's per-process dispatch loop at `loop`.

    neonize keeps the loop Go callbacks are dispatched to in a module global that it sets only once;
    a second event loop in the same process (tests, a restarted daemon) would otherwise receive
    nothing, since callbacks would go to the first, closed loop.
    """
    aio_events.event_global_loop = loop


# Chat state, lookups and proxies (DESIGN §8.3); neonize is already imported (and tamed) above.
from neonize._binder import ProxySettings  # noqa: E402
from neonize.utils.enum import ChatPresence, ChatPresenceMedia  # noqa: E402

__all__ += ["ChatPresence", "ChatPresenceMedia", "ProxySettings"]
