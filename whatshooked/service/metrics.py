"""Prometheus metrics, one registry per daemon (no module-level globals).

Exported without prometheus_client's `_created` series (a timestamp per series doubles the scrape and
alerts nothing). Series of a hook that is no longer configured are removed (`forget_hooks`), so an
alert on a deleted hook clears instead of firing on its last value forever.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.metrics_core import Metric

from whatshooked import __version__

# Seconds from commit to 2xx: a live delivery takes milliseconds, a retry minutes, a replay hours.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                   60.0, 300.0, 900.0, 1800.0, 3600.0, 3 * 3600.0, 6 * 3600.0, 12 * 3600.0, 86400.0, 7 * 86400.0)
HOOK_STATES = ("healthy", "failing", "paused")


class Metrics:
    """What the daemon counts. Every part that counts takes this object; none keep their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter("whatshooked_events", "Events raised, by type", ["type"], registry=r)
        self.deliveries = Counter(
            "whatshooked_deliveries",
            "Delivery attempts by hook and result: delivered (2xx), retry (failed, another attempt scheduled), "
            "failed (failed, none scheduled: given up, refused, or a replay)",
            ["hook", "outcome"], registry=r,
        )
        self.replays = Counter("whatshooked_replays", "Events replayed to hooks", ["hook"], registry=r)
        self.latency = Histogram(
            "whatshooked_delivery_latency_seconds",
            "From event committed to hook answered 2xx (retries, resumes and replays included)",
            ["hook"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.hook_pending = Gauge("whatshooked_hook_pending", "Events a hook is still owed", ["hook"], registry=r)
        self.hook_oldest_age = Gauge(
            "whatshooked_hook_oldest_pending_age_seconds",
            "Age of the oldest event a hook is still owed (0: none)", ["hook"], registry=r,
        )
        self.hook_state = Gauge(
            "whatshooked_hook_state", "1 for each hook's current state (healthy, failing, paused)",
            ["hook", "state"], registry=r,
        )
        self.messages_sent = Counter(
            "whatshooked_messages_sent", "Messages sent (accepted by WhatsApp), by account and type",
            ["account", "type"], registry=r,
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
        Info("whatshooked_build", "The running whatshooked", registry=r).info(
            {"version": __version__, "python": platform.python_version()}
        )
        self._children: dict[tuple[str, str], Any] = {}
        self._exported = CollectorRegistry(auto_describe=False)
        self._exported.register(_WithoutCreated(r))

    def count(self, metric: Counter, label: str) -> None:
        """`metric{label}` + 1, its labelled child looked up once (labels() costs more than inc()):
        for the counters moved on every event (`events`, `webhook_requests`)."""
        key = (metric._name, label)  # noqa: SLF001 - the metric's own name tells the counters apart
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(label)
        child.inc()

    def set_account_state(self, account_id: str, state: str, all_states: list[str]) -> None:
        for name in all_states:
            self.account_state.labels(account_id, name).set(1 if name == state else 0)

    def set_hook_state(self, hook_id: str, state: str) -> None:
        for name in HOOK_STATES:
            self.hook_state.labels(hook_id, name).set(1 if name == state else 0)

    def forget_hooks(self, current: Iterable[str]) -> None:
        """Remove every series of hooks not in `current` (removed from the config)."""
        keep = set(current)
        for metric in (self.deliveries, self.replays, self.latency, self.hook_pending, self.hook_oldest_age,
                       self.hook_state):
            for labels in _label_sets(metric):
                if labels[0] not in keep:
                    metric.remove(*labels)

    def render(self) -> bytes:
        return generate_latest(self._exported)


def _label_sets(metric: Any) -> set[tuple[str, ...]]:
    """The label values of every series a labelled metric exports (a histogram's `le` aside)."""
    names = metric._labelnames  # noqa: SLF001 - prometheus_client keeps no public list of children
    found = set()
    for family in metric.collect():
        for sample in family.samples:
            found.add(tuple(sample.labels[name] for name in names))
    return found


class _WithoutCreated:
    """The registry's metrics minus `_created` samples."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for metric in self._registry.collect():
            metric.samples = [sample for sample in metric.samples if not sample.name.endswith("_created")]
            yield metric
