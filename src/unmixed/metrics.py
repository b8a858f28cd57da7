"""Prometheus metrics, rendered from a snapshot taken when they are scraped.

The numbers come from the store and from Redis, not from counters in this
process, so every API replica (and every worker) reports the fleet as it is.
"""

from collections.abc import Iterable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from unmixed.store.census import Census

CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Snapshot:
    """A collector that yields metrics made beforehand (a scrape takes them once)."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


def render(metrics: Iterable[Metric]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(metrics))
    return generate_latest(registry)


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def service_metrics(census: Census, capacity: int | None, slots_held: int) -> list[Metric]:
    """What the API reports: bots by status, slots, the webhook backlog, reconnects."""
    bots = GaugeMetricFamily("unmixed_bots", "Unfinished bots, by status.", labels=["status"])
    for status, count in sorted(census.bots_by_status.items()):
        bots.add_metric([status], count)
    running = sum(count for status, count in census.bots_by_status.items() if status != "ready")
    metrics: list[Metric] = [
        bots,
        gauge("unmixed_bots_running", "Bots past ready (joining or in a call).", running),
        gauge(
            "unmixed_webhook_backlog",
            "Status webhooks neither delivered nor given up on.",
            census.webhook_backlog,
        ),
        CounterMetricFamily(
            "unmixed_stream_reconnects",
            "Realtime connections the bots had to open again.",
            value=census.stream_reconnects,
        ),
    ]
    if capacity is not None:
        metrics.append(gauge("unmixed_bot_slots", "Bot slots in all.", capacity))
        metrics.append(
            gauge(
                "unmixed_bot_slots_free",
                "Bot slots free: what a new ad hoc bot could take.",
                max(0, capacity - slots_held),
            )
        )
    return metrics
