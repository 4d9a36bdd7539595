"""WhatsApp Web accounts (`type: whatsmeow`) through neonize; neonize is imported in `bindings` only."""

from whatshooked.accounts.spec import BackendSpec
from whatshooked.accounts.whatsapp_web import settings

SPEC = BackendSpec(
    type_name="whatsmeow", label="whatsmeow (WhatsApp Web)",
    adapter="whatshooked.accounts.whatsapp_web.adapter:WhatsAppWebAdapter",
    keys=settings.KEYS, parse=settings.parse, to_api=settings.to_api, api_fields=settings.api_fields,
    merge_update=settings.merge_update,
    default=True, refuse_elsewhere=frozenset({"proxy"}), loads_in_background=True,
)
