"""The HTTP side: the `/api` routes, `/health`, `/metrics` and inbound Cloud API webhooks."""
