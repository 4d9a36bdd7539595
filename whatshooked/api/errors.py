"""Every error leaves the API as plain text with a status code, never a traceback."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from whatshooked.errors import RequestError, SendError, StoreError

log = logging.getLogger(__name__)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        return web.Response(status=exc.status, text=str(exc))
    except SendError as exc:
        # WhatsApp or Meta refused: the contract answers 500 with their message.
        return web.Response(status=500, text=str(exc))
    except StoreError as exc:
        # Not stored, not done: the store cannot take writes (store_guard) or is closing.
        return web.Response(status=503, text=str(exc))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return web.Response(status=500, text="internal error")
