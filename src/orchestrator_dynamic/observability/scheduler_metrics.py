"""Prometheus metrics of the scheduler (C3), with the names the specification gives."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Allocations take microseconds to a few milliseconds; the top buckets catch a slow registry.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.2, 1.0, 5.0)

ALLOCATIONS = Counter(
    "orchestration_scheduler_allocations_total",
    "Tickets allocated, by method (intelligent, round_robin, fallback, reserved, unassigned)",
    ["method"],
)
ALLOCATION_DURATION = Histogram(
    "orchestration_scheduler_allocation_duration_seconds",
    "Time to discover, score and reserve a worker for one ticket",
    buckets=LATENCY_BUCKETS,
)
WORKERS_DISCOVERED = Gauge(
    "orchestration_scheduler_workers_discovered",
    "Workers returned by the last discovery (registry or cache)",
)
DISCOVERY_FAILURES = Counter(
    "orchestration_scheduler_discovery_failures_total",
    "Discoveries that failed because the registry was unavailable",
    ["reason"],
)
PRIORITY_SCORE = Histogram(
    "orchestration_scheduler_priority_score",
    "Priority score of allocated tickets",
    buckets=(0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
CACHE_HITS = Counter(
    "orchestration_scheduler_cache_hits_total",
    "Discovery cache lookups, by result (hit or miss)",
    ["result"],
)
REJECTIONS = Counter(
    "orchestration_scheduler_rejections_total",
    "Candidate workers turned down, by reason (unhealthy, capacity, capabilities, ...)",
    ["reason"],
)
FALLBACKS = Counter(
    "orchestration_scheduler_fallback_total",
    "Allocations made from the last known healthy workers while the registry was down",
)
DEADLINE_PREFERENCES = Counter(
    "orchestration_scheduler_deadline_preferences_total",
    "Allocations moved from the best-scored worker to a close one predicted to meet the deadline",
)
