"""Prometheus metrics of the audit and history store (retries, fail-open spool, replay)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

STORE_SPOOL_DEPTH = Gauge(
    "orchestration_store_spool_depth", "Store writes waiting in the local spool for the store"
)
STORE_WRITES_SPOOLED = Counter(
    "orchestration_store_writes_spooled_total",
    "Store writes that failed after retries and went to the local spool",
    ["collection"],
)
STORE_SPOOL_REPLAYED = Counter(
    "orchestration_store_spool_replayed_total",
    "Spooled writes replayed into the store once it answered again",
    ["collection"],
)
STORE_RETRIES = Counter(
    "orchestration_store_retries_total", "Store operations retried after a failure", ["operation"]
)
