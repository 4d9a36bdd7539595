"""Meta WhatsApp Cloud API accounts (`type: business-api`) over the Graph API."""
