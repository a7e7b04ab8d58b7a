"""Prometheus metrics of one worker (its own registry, served at ``/metrics``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class PlainCounter(Collector):
    """A counter that is a plain ``int`` attribute, read only when scraped.

    For the price hot path: ``Counter.inc`` takes a lock (about 1 us here, a fifth of the
    per-update budget); ``count += 1`` from the event loop's thread costs nothing.
    """

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry) -> None:
        self.name = name
        self.documentation = documentation
        self.count = 0
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.documentation, value=self.count)


@dataclass(frozen=True, slots=True)
class SuccessRate:
    """Successes among attempts since the worker started; ``rate`` is None before any."""

    succeeded: int
    attempts: int

    @property
    def rate(self) -> float | None:
        return None if self.attempts == 0 else self.succeeded / self.attempts

    def as_dict(self) -> dict[str, float | int | None]:
        rate = self.rate
        return {
            "rate": None if rate is None else round(rate, 6),
            "succeeded": self.succeeded,
            "attempts": self.attempts,
        }


class SuccessRateGauge(Collector):
    """A ratio gauge read from ``source`` when scraped (NaN before the first attempt), with
    its two counts beside it, so a dashboard can also compute the rate over a window."""

    def __init__(
        self,
        name: str,
        documentation: str,
        source: Callable[[], SuccessRate],
        registry: CollectorRegistry,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.source = source
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        now = self.source()
        rate = now.rate
        yield GaugeMetricFamily(
            f"{self.name}_success_ratio",
            self.documentation,
            value=math.nan if rate is None else rate,
        )
        yield CounterMetricFamily(
            f"{self.name}_attempts",
            f"Attempts counted in {self.name}_success_ratio",
            value=now.attempts,
        )
        yield CounterMetricFamily(
            f"{self.name}_successes",
            f"Successes counted in {self.name}_success_ratio",
            value=now.succeeded,
        )


def _counter_value(counter: Counter) -> int:
    """A label-less counter's total, through its public ``collect``."""
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                return int(sample.value)
    return 0


class Metrics:
    """The worker's metrics. The two success rates the product is judged by (both since the
    worker started, in ``GET /status`` and as ``*_success_ratio`` gauges):

    - placement: an attempt is an entry order that the exchange either accepted or refused
      for good (the order then fails); a maker-only refusal that is re-priced, and a zone
      never reached, are not attempts. Rate = accepted / attempts.
    - callback: an attempt is one HTTP delivery of a callback; it succeeds on a 2xx answer
      and fails on any other answer, a timeout or a connection error (the callback is then
      retried, and each retry is another attempt). Rate = 2xx answers / attempts.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.price_updates = PlainCounter(
            "zoneguard_price_updates", "Price updates processed", registry=r
        )
        self.orders_received = Counter(
            "zoneguard_orders_received_total", "Orders accepted by the control API", registry=r
        )
        self.orders_placed = Counter(
            "zoneguard_orders_placed_total", "Entry orders accepted by the exchange", registry=r
        )
        self.orders_failed = Counter("zoneguard_orders_failed_total", "Failed orders", registry=r)
        self.orders_timed_out = Counter(
            "zoneguard_orders_timeout_total", "Orders whose zone was not reached", registry=r
        )
        self.positions_closed = Counter(
            "zoneguard_positions_closed_total", "Positions closed", ["reason"], registry=r
        )
        self.close_failures = Counter(
            "zoneguard_close_failures_total", "Close attempts refused", registry=r
        )
        self.rest_price_fallbacks = Counter(
            "zoneguard_rest_price_fallbacks_total",
            "Prices fetched by REST because the feed was silent",
            registry=r,
        )
        self.tick_to_order_ack = Histogram(
            "zoneguard_tick_to_entry_ack_seconds",
            "From the price update to the exchange accepting the entry",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tick_to_close_ack = Histogram(
            "zoneguard_tick_to_close_ack_seconds",
            "From the price update to the exchange accepting the close",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.waiting_orders = Gauge(
            "zoneguard_waiting_orders", "Orders waiting for their zone", registry=r
        )
        self.guarded_positions = Gauge(
            "zoneguard_guarded_positions", "Positions guarded by SL/TP", registry=r
        )
        self.callbacks_pending = Gauge(
            "zoneguard_callbacks_pending", "Callbacks not yet delivered", registry=r
        )
        SuccessRateGauge(
            "zoneguard_placement",
            "Placement success rate: entry orders the exchange accepted, over those accepted "
            "plus placements given up as failed (a refused maker-only order re-priced is not "
            "an attempt, a zone never reached is not either)",
            self.placement_success,
            registry=r,
        )
        self._callback_source: Callable[[], SuccessRate] = lambda: SuccessRate(0, 0)
        SuccessRateGauge(
            "zoneguard_callback",
            "Callback success rate: delivery attempts the receiver answered with a 2xx, over "
            "every delivery attempt (timeouts, connection errors and non-2xx answers fail)",
            lambda: self._callback_source(),
            registry=r,
        )

    def placement_success(self) -> SuccessRate:
        """Entries accepted by the exchange among accepted + failed placements."""
        placed = _counter_value(self.orders_placed)
        return SuccessRate(placed, placed + _counter_value(self.orders_failed))

    def callback_success(self) -> SuccessRate:
        """Callback delivery attempts answered 2xx among all delivery attempts."""
        return self._callback_source()

    def count_callbacks_from(self, source: Callable[[], SuccessRate]) -> None:
        """Where the callback attempts are counted (the outbox's sender)."""
        self._callback_source = source
