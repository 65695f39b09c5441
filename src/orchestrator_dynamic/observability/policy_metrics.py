"""Prometheus metrics of policy enforcement (names and labels from the specification)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

VALIDATIONS = Counter(
    "orchestration_opa_validations_total",
    "Policy evaluations by package and result (allow, deny, error)",
    ["policy_name", "result"],
)
VALIDATION_DURATION = Histogram(
    "orchestration_opa_validation_duration_seconds",
    "Time to evaluate one policy package (observed once per check, at each package's share)",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 2),
)
REJECTIONS = Counter(
    "orchestration_opa_policy_rejections_total",
    "Violations that refused a plan or a ticket",
    ["policy_name", "rule", "severity"],
)
WARNINGS = Counter("orchestration_opa_policy_warnings_total", "Policy warnings returned")
EVALUATION_ERRORS = Counter(
    "orchestration_opa_evaluation_errors_total",
    "Evaluations that could not be made (timeout, http_5xx, connection, evaluation, ...)",
    ["error_type"],
)
CACHE_HITS = Counter("orchestration_opa_cache_hits_total", "Decisions answered from the cache")
CIRCUIT_BREAKER_STATE = Gauge(
    "orchestration_opa_circuit_breaker_state",
    "OPA circuit breaker: 0 closed, 1 open, 2 half-open",
)
