"""Meta WhatsApp Cloud API accounts (`type: business-api`) over the Graph API."""

from whatshooked.accounts.cloud_api import settings
from whatshooked.accounts.spec import BackendSpec

SPEC = BackendSpec(
    type_name="business-api", label="business-api (Cloud API)",
    adapter="whatshooked.accounts.cloud_api.adapter:CloudApiAdapter",
    keys=frozenset({settings.SECTION}), parse=settings.parse, to_api=settings.to_api,
    api_fields=settings.api_fields, merge_update=settings.merge_update, check_new=settings.check_new,
    warn_elsewhere=frozenset({settings.SECTION}),
)
