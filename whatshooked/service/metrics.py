"""Prometheus metrics, one registry per daemon (no module-level globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """What the daemon counts. Every part that counts takes this object; none keep their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter("whatshooked_events", "Events raised, by type", ["type"], registry=r)
        self.deliveries = Counter(
            "whatshooked_deliveries", "Delivery attempts by hook and outcome (delivered, retry, failed)",
            ["hook", "outcome"], registry=r,
        )
        self.retries = Counter(
            "whatshooked_delivery_retries", "Delivery attempts scheduled again", ["hook"], registry=r
        )
        self.replays = Counter("whatshooked_replays", "Events replayed to hooks", ["hook"], registry=r)
        self.latency = Histogram(
            "whatshooked_delivery_latency_seconds", "From event committed to hook answered 2xx",
            ["hook"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.cache_size = Gauge("whatshooked_cache_events", "Undelivered events kept in the cache", registry=r)
        self.dropped = Counter("whatshooked_cache_dropped", "Undelivered events dropped (max_age, max_events)",
                               ["reason"], registry=r)
        self.account_state = Gauge(
            "whatshooked_account_state", "1 for each account's current state", ["account", "state"], registry=r
        )
        self.webhook_requests = Counter(
            "whatshooked_inbound_webhook_requests", "Cloud API webhook requests by outcome", ["outcome"], registry=r
        )

    def set_account_state(self, account_id: str, state: str, all_states: list[str]) -> None:
        for name in all_states:
            self.account_state.labels(account_id, name).set(1 if name == state else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
