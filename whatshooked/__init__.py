"""whatshooked: a self-hosted bridge from WhatsApp to HTTP hooks."""

__version__ = "0.1.0"
