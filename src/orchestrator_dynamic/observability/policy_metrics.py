"""Prometheus metrics of policy enforcement (names and labels from the specification)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class EvaluationCounts(Collector):
    """``orchestration_opa_validations_total{policy_name,result}``, counted in plain integers
    and read when Prometheus scrapes. Every ticket check counts four packages on its hot path,
    where four labelled Counter increments (a lock each) cost as much as the rest of the
    validator's own bookkeeping. Counted on the event loop's thread; a scrape reads a copy."""

    name = "orchestration_opa_validations"
    documentation = "Policy evaluations by package and result (allow, deny, error)"

    def __init__(self) -> None:
        self.counts: Tally[tuple[str, str]] = Tally()

    def declare(self, policy_name: str, results: tuple[str, ...]) -> None:
        """Every result's series shows from the package's first check, at 0."""
        for result in results:
            self.counts[(policy_name, result)] += 0

    def add(self, policy_name: str, result: str) -> None:
        self.counts[(policy_name, result)] += 1

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            self.name, self.documentation, labels=["policy_name", "result"]
        )
        for (policy_name, result), count in list(self.counts.items()):
            family.add_metric([policy_name, result], count)
        yield family


VALIDATIONS = EvaluationCounts()
REGISTRY.register(VALIDATIONS)
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
