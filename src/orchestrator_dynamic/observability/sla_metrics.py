"""Prometheus metrics of SLA monitoring (names and labels from the specification)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

BUDGET_REMAINING = Gauge(
    "orchestration_sla_budget_remaining_percent",
    "Error budget left over the SLO window, in percent",
    ["service_name", "slo_id"],
)
BUDGET_STATUS = Gauge(
    "orchestration_sla_budget_status",
    "Error budget status: 0 HEALTHY, 1 WARNING, 2 CRITICAL, 3 EXHAUSTED",
    ["service_name", "slo_id"],
)
BURN_RATE = Gauge(
    "orchestration_sla_burn_rate",
    "Error budget burn rate (1.0 spends the budget exactly over the SLO window)",
    ["service_name", "window_hours"],
)
ALERTS_SENT = Counter(
    "orchestration_sla_alerts_sent_total", "SLA alerts published", ["alert_type", "severity"]
)
DEDUP_HITS = Counter(
    "orchestration_sla_alert_deduplication_hits_total",
    "SLA alerts and violations not sent because an identical one was sent within the TTL",
)
VIOLATIONS_PUBLISHED = Counter(
    "orchestration_sla_violations_published_total",
    "SLA violations published",
    ["violation_type"],
)
CHECK_DURATION = Histogram(
    "orchestration_sla_check_duration_seconds",
    "Time spent in one SLA check",
    ["check_type"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
MONITOR_ERRORS = Counter(
    "orchestration_sla_monitor_errors_total",
    "SLA monitor failures (the monitor fails open)",
    ["error_type"],
)
