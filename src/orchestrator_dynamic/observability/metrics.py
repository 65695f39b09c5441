"""Prometheus metrics of Flow C (names and labels from the specification).

The bus, store, scheduler, policy and SLA families live next to the code that moves them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

WORKFLOWS_STARTED = Counter(
    "orchestration_workflows_started_total", "Flow C workflows started", ["status"]
)
WORKFLOWS_COMPLETED = Counter(
    "orchestration_workflows_completed_total", "Flow C workflows ended", ["status", "risk_band"]
)
WORKFLOW_DURATION = Histogram(
    "orchestration_workflow_duration_seconds",
    "From C1 to consolidation",
    ["status"],
    buckets=DURATION_BUCKETS,
)
WORKFLOWS_ACTIVE = Gauge("orchestration_workflows_active", "Workflows started and not yet ended")
TICKETS_GENERATED = Counter(
    "orchestration_tickets_generated_total", "Tickets built at C2", ["risk_band", "priority"]
)
TICKET_GENERATION_DURATION = Histogram(
    "orchestration_ticket_generation_duration_seconds",
    "Time to build a plan's tickets",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1),
)
TICKETS_PUBLISHED = Counter(
    "orchestration_tickets_published_total", "Tickets published to execution.tickets", ["status"]
)
TICKETS_COMPLETED = Counter(
    "orchestration_tickets_completed_total", "Tickets that reached a final status", ["status"]
)
TICKET_RETRIES = Counter(
    "orchestration_ticket_retries_total", "Ticket attempts retried", ["risk_band"]
)
COMPENSATIONS = Counter(
    "orchestration_compensations_total", "Compensation tickets run after a failure", ["status"]
)
VALIDATIONS = Counter("orchestration_validations_total", "C1 verdicts", ["result"])
SLA_VIOLATIONS = Counter(
    "orchestration_sla_violations_total", "Tickets that missed their deadline", ["risk_band"]
)
SLA_REMAINING = Gauge(
    "orchestration_sla_remaining_seconds",
    "Time left before a workflow's nearest deadline",
    ["workflow_id"],
)
DEADLINE_APPROACHING = Counter(
    "orchestration_deadline_approaching_total", "Tickets past the deadline warning threshold"
)
INCIDENTS = Counter("orchestration_incidents_total", "Incidents raised", ["incident_type"])
FOREIGN_RESULTS = Counter(
    "orchestration_results_foreign_agent_total",
    "Worker results not applied because their agent_id is not the ticket's allocated worker",
    ["status"],
)
ACTIVITY_RETRIES = Counter(
    "orchestration_activity_retries_total",
    "Failed activity attempts that will be retried (dependency outages and unexpected errors)",
    ["activity", "error_type"],
)
TELEMETRY_BUFFERED = Counter(
    "orchestration_telemetry_buffered_total", "Telemetry frames kept in the store for later"
)
MESSAGES_CONSUMED = Counter(
    "orchestration_kafka_messages_consumed_total", "Records consumed from the bus", ["topic"]
)
MESSAGES_PRODUCED = Counter(
    "orchestration_kafka_messages_produced_total", "Records the bus confirmed", ["topic"]
)
CONSUMER_ERRORS = Counter(
    "orchestration_kafka_errors_total", "Bus errors by topic and kind", ["topic", "error_type"]
)
CONSUMER_LAG = Gauge(
    "orchestration_kafka_consumer_lag", "Records waiting for a consumer group", ["topic", "group"]
)
DEAD_LETTERS = Counter(
    "orchestration_dead_letters_total",
    "Records sent to the dead-letter topic",
    ["topic", "reason_code"],
)

# Scale-out: which replica runs each loop that must run once (1 in the holder, 0 elsewhere).
LEASES_HELD = Gauge(
    "orchestration_lease_held", "1 while this replica holds the named lease", ["lease"]
)

# The demo agents (`up --demo-workers`): their own record of concurrent load, against capacity.
DEMO_AGENT_PEAK_LOAD = Gauge(
    "orchestration_demo_agent_peak_load", "Most tickets a demo agent ran at once", ["worker_id"]
)
DEMO_AGENT_OVER_CAPACITY = Counter(
    "orchestration_demo_agent_over_capacity_total",
    "Times a demo agent ran more tickets at once than the capacity it registered",
    ["worker_id"],
)

# Dispatches a stalled process (a zombie) tried to publish after the attempt was on record.
STALE_DISPATCHES = Counter(
    "orchestration_stale_dispatches_total",
    "Dispatches dropped because the attempt was already published, overtaken or finished",
)
