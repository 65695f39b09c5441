"""The Grafana dashboards of Orchestrator Dynamic, as code (Grafana's grafana-foundation-sdk).

`python ops/grafana/dashboards.py` writes one JSON file per dashboard beside this file; the test
suite checks the committed JSON equals what this code generates, and runs every panel's PromQL on
a real Prometheus scraping a running service. Every metric named here is one the service exports
(src/orchestrator_dynamic/observability/*.py, services/allocation_outcomes.py, and the process_*
families of the Prometheus client).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, text, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

HERE = Path(__file__).resolve().parent
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "$__rate_interval"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    """One panel: a time series by default, a stat when `kind="stat"`."""

    title: str
    queries: Sequence[Query]
    unit: str = "short"
    kind: str = "timeseries"
    description: str = ""
    # (value, color) steps above the base green; e.g. ((0.8, "orange"), (1, "red")).
    thresholds: Sequence[tuple[float, str]] = ()
    base_color: str = "green"
    width: int = 8
    mappings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    title: str
    panels: Sequence[Panel]
    note: str = ""  # a text panel at the start of the row (links to logs and traces)


def q(expr: str, legend: str = "") -> Query:
    return Query(expr, legend)


def quantiles(metric: str, by: str = "") -> list[Query]:
    """p50, p95 and p99 of a histogram."""
    group = f"le{', ' + by if by else ''}"
    suffix = f" {{{{{by}}}}}" if by else ""
    return [
        q(
            f"histogram_quantile({p}, sum by ({group}) (rate({metric}_bucket[{RATE}])))",
            f"p{int(p * 100)}{suffix}",
        )
        for p in (0.5, 0.95, 0.99)
    ]


# ---------------------------------------------------------------------------- the dashboards


def fluxo_c() -> tuple[str, str, str, list[Row]]:
    sla_budget_status = {"0": "HEALTHY", "1": "WARNING", "2": "CRITICAL", "3": "EXHAUSTED"}
    rows = [
        Row(
            "Overview",
            [
                Panel(
                    "Workflows started",
                    [
                        q(
                            f"sum by (status) (rate(orchestration_workflows_started_total[{RATE}]))",
                            "{{status}}",
                        )
                    ],
                    unit="reqps",
                ),
                Panel(
                    "Workflows active",
                    [q("sum(orchestration_workflows_active)", "active")],
                    kind="stat",
                    width=4,
                ),
                Panel(
                    "Workflows ended",
                    [
                        q(
                            "sum by (status) (increase(orchestration_workflows_completed_total"
                            f"[{RATE}]))",
                            "{{status}}",
                        )
                    ],
                ),
                Panel(
                    "Workflow failure ratio",
                    [
                        q(
                            "(sum(rate(orchestration_workflows_completed_total"
                            f'{{status="FAILED"}}[{RATE}])) or vector(0)) / '
                            f"sum(rate(orchestration_workflows_completed_total[{RATE}]))",
                            "failed",
                        )
                    ],
                    unit="percentunit",
                    kind="stat",
                    width=4,
                    thresholds=((0.05, "red"),),
                    description="Alert OrchestrationWorkflowFailureRate above 5 %.",
                ),
            ],
        ),
        Row(
            "Workflow duration",
            [
                Panel(
                    "Workflow duration p50 / p95 / p99",
                    quantiles("orchestration_workflow_duration_seconds"),
                    unit="s",
                    width=12,
                ),
                Panel(
                    "Workflow duration p95 by status",
                    [
                        q(
                            "histogram_quantile(0.95, sum by (le, status) "
                            f"(rate(orchestration_workflow_duration_seconds_bucket[{RATE}])))",
                            "{{status}}",
                        )
                    ],
                    unit="s",
                    width=12,
                ),
            ],
        ),
        Row(
            "Tickets",
            [
                Panel(
                    "Tickets generated",
                    [
                        q(
                            "sum by (risk_band) "
                            f"(rate(orchestration_tickets_generated_total[{RATE}]))",
                            "{{risk_band}}",
                        )
                    ],
                    unit="reqps",
                ),
                Panel(
                    "Tickets published",
                    [
                        q(
                            f"sum by (status) (rate(orchestration_tickets_published_total[{RATE}]))",
                            "{{status}}",
                        )
                    ],
                    unit="reqps",
                ),
                Panel(
                    "Tickets finished",
                    [
                        q(
                            f"sum by (status) (rate(orchestration_tickets_completed_total[{RATE}]))",
                            "{{status}}",
                        )
                    ],
                    unit="reqps",
                ),
                Panel(
                    "Ticket generation p50 / p95 / p99",
                    quantiles("orchestration_ticket_generation_duration_seconds"),
                    unit="s",
                    width=12,
                ),
                Panel(
                    "Tickets by priority",
                    [
                        q(
                            "sum by (priority) (orchestration_tickets_generated_total)",
                            "{{priority}}",
                        )
                    ],
                    width=12,
                ),
            ],
        ),
        Row(
            "SLA tracking",
            [
                Panel(
                    "Error budget remaining",
                    [
                        q(
                            "min by (service_name, slo_id) "
                            "(orchestration_sla_budget_remaining_percent)",
                            "{{service_name}} {{slo_id}}",
                        )
                    ],
                    unit="percent",
                    kind="stat",
                    width=6,
                    base_color="red",
                    thresholds=((20, "orange"), (50, "green")),
                    description="Alerts: SLABudgetCritical below 20 %, SLABudgetExhausted at 0.",
                ),
                Panel(
                    "Error budget status",
                    [
                        q(
                            "max by (service_name, slo_id) (orchestration_sla_budget_status)",
                            "{{service_name}} {{slo_id}}",
                        )
                    ],
                    kind="stat",
                    width=6,
                    thresholds=((1, "yellow"), (2, "orange"), (3, "red")),
                    mappings=sla_budget_status,
                ),
                Panel(
                    "Burn rate 1 h",
                    [
                        q(
                            'max by (service_name) (orchestration_sla_burn_rate{window_hours="1"})',
                            "{{service_name}}",
                        )
                    ],
                    kind="stat",
                    width=4,
                    thresholds=((1, "yellow"), (14.4, "red")),
                    description="Pages (SLAHighBurnRate) at 14.4x.",
                ),
                Panel(
                    "Burn rate 6 h",
                    [
                        q(
                            'max by (service_name) (orchestration_sla_burn_rate{window_hours="6"})',
                            "{{service_name}}",
                        )
                    ],
                    kind="stat",
                    width=4,
                    thresholds=((1, "yellow"), (6, "red")),
                ),
                Panel(
                    "Burn rate 24 h",
                    [
                        q(
                            "max by (service_name) "
                            '(orchestration_sla_burn_rate{window_hours="24"})',
                            "{{service_name}}",
                        )
                    ],
                    kind="stat",
                    width=4,
                    thresholds=((1, "yellow"), (3, "red")),
                ),
                Panel(
                    "Tickets late (share of finished)",
                    [
                        q(
                            f"sum(rate(orchestration_sla_violations_total[{RATE}])) / "
                            f"sum(rate(orchestration_tickets_completed_total[{RATE}]))",
                            "violations",
                        )
                    ],
                    unit="percentunit",
                    thresholds=((0.05, "red"),),
                    description="Alert SLAViolationRate above 5 %.",
                ),
                Panel(
                    "Deadlines approaching",
                    [
                        q(
                            f"sum(rate(orchestration_deadline_approaching_total[{RATE}]))",
                            "approaching",
                        ),
                        q(
                            "sum by (alert_type, severity) "
                            f"(rate(orchestration_sla_alerts_sent_total[{RATE}]))",
                            "{{alert_type}} {{severity}}",
                        ),
                    ],
                    unit="reqps",
                    thresholds=((0.01, "orange"),),
                    description="Tickets past SLA_DEADLINE_WARNING_THRESHOLD of their window.",
                ),
                Panel(
                    "Nearest deadline of running workflows",
                    [q("min(orchestration_sla_remaining_seconds)", "nearest")],
                    unit="s",
                    kind="stat",
                    base_color="red",
                    thresholds=((60, "orange"), (300, "green")),
                ),
            ],
        ),
        Row(
            "Retry and compensation",
            [
                Panel(
                    "Ticket retries",
                    [
                        q(
                            "sum by (risk_band) "
                            f"(rate(orchestration_ticket_retries_total[{RATE}]))",
                            "{{risk_band}}",
                        )
                    ],
                    unit="reqps",
                ),
                Panel(
                    "Compensations",
                    [
                        q(
                            f"sum by (status) (rate(orchestration_compensations_total[{RATE}]))",
                            "{{status}}",
                        )
                    ],
                    unit="reqps",
                ),
                Panel(
                    "Incidents",
                    [
                        q(
                            "sum by (incident_type) "
                            f"(increase(orchestration_incidents_total[{RATE}]))",
                            "{{incident_type}}",
                        )
                    ],
                ),
                Panel(
                    "Workflows stuck on a dependency",
                    [
                        q(
                            "sum by (activity, dependency) (orchestration_stuck_workflows)",
                            "{{activity}} {{dependency}}",
                        )
                    ],
                    width=12,
                    thresholds=((1, "red"),),
                    description=(
                        "Workflows whose step has retried after a dependency outage for longer "
                        "than STUCK_STEP_ALERT_SECONDS. Alert OrchestrationStepStuck."
                    ),
                ),
                Panel(
                    "Step retries",
                    [
                        q(
                            "sum by (activity, error_type) "
                            f"(rate(orchestration_activity_retries_total[{RATE}]))",
                            "{{activity}} {{error_type}}",
                        )
                    ],
                    unit="reqps",
                    width=12,
                    description=(
                        "Failed step attempts that will be retried: an error type ending in "
                        "Unavailable is a dependency outage, any other is unexpected (alert "
                        "OrchestrationUnexpectedActivityErrors)."
                    ),
                ),
            ],
        ),
        Row(
            "Kafka",
            [
                Panel(
                    "Consumed",
                    [
                        q(
                            "sum by (topic) "
                            f"(rate(orchestration_kafka_messages_consumed_total[{RATE}]))",
                            "{{topic}}",
                        )
                    ],
                    unit="reqps",
                ),
                Panel(
                    "Produced",
                    [
                        q(
                            "sum by (topic) "
                            f"(rate(orchestration_kafka_messages_produced_total[{RATE}]))",
                            "{{topic}}",
                        )
                    ],
                    unit="reqps",
                ),
                Panel(
                    "Consumer lag",
                    [
                        q(
                            "max by (topic, group) (orchestration_kafka_consumer_lag)",
                            "{{group}} {{topic}}",
                        )
                    ],
                    thresholds=((1000, "red"),),
                ),
                Panel(
                    "Bus errors",
                    [
                        q(
                            "sum by (topic, error_type) "
                            f"(rate(orchestration_kafka_errors_total[{RATE}]))",
                            "{{topic}} {{error_type}}",
                        )
                    ],
                    unit="reqps",
                    width=12,
                ),
                Panel(
                    "Dead letters",
                    [
                        q(
                            "sum by (topic, reason_code) "
                            f"(rate(orchestration_dead_letters_total[{RATE}]))",
                            "{{topic}} {{reason_code}}",
                        )
                    ],
                    unit="reqps",
                    width=12,
                ),
            ],
        ),
        Row(
            "Validations and policy",
            [
                Panel(
                    "C1 verdicts",
                    [
                        q(
                            f"sum by (result) (rate(orchestration_validations_total[{RATE}]))",
                            "{{result}}",
                        )
                    ],
                    unit="reqps",
                ),
                Panel(
                    "Policy evaluations",
                    [
                        q(
                            "sum by (policy_name, result) "
                            f"(rate(orchestration_opa_validations_total[{RATE}]))",
                            "{{policy_name}} {{result}}",
                        )
                    ],
                    unit="reqps",
                ),
                Panel(
                    "Policy rejections",
                    [
                        q(
                            "sum by (policy_name, rule) "
                            f"(increase(orchestration_opa_policy_rejections_total[{RATE}]))",
                            "{{policy_name}} {{rule}}",
                        )
                    ],
                ),
            ],
        ),
        Row(
            "Resources",
            [
                Panel(
                    "CPU",
                    [
                        q(
                            f"sum by (instance) (rate(process_cpu_seconds_total[{RATE}]))",
                            "{{instance}}",
                        )
                    ],
                    unit="percentunit",
                ),
                Panel(
                    "Resident memory",
                    [q("sum by (instance) (process_resident_memory_bytes)", "{{instance}}")],
                    unit="bytes",
                ),
                Panel(
                    "Store spool and retries",
                    [
                        q("max(orchestration_store_spool_depth)", "spooled writes"),
                        q(
                            f"sum by (operation) (rate(orchestration_store_retries_total[{RATE}]))",
                            "retries {{operation}}",
                        ),
                    ],
                ),
            ],
        ),
        Row(
            "Logs and traces",
            [],
            note=(
                "**Logs**: structlog JSON lines (`LOG_FORMAT=json`); activity lines carry "
                "`workflow_id`, `activity` and `attempt`, intake lines `decision_id`. Query them "
                "in your log store by `workflow_id`.\n\n"
                "**Traces**: OTLP to `OTEL_EXPORTER_ENDPOINT`, service `orchestrator-dynamic`; "
                "spans carry `neural.hive.workflow.id`, `neural.hive.ticket.id` and "
                "`neural.hive.plan.id`. The Temporal UI shows each workflow's history "
                "(workflow id = `decision_id`)."
            ),
        ),
    ]
    return "fluxo-c-orquestracao", "Fluxo C - Orquestracao", "Flow C end to end", rows


def scheduler() -> tuple[str, str, str, list[Row]]:
    rows = [
        Row(
            "Allocation",
            [
                Panel(
                    "Allocations by method",
                    [
                        q(
                            "sum by (method) "
                            f"(rate(orchestration_scheduler_allocations_total[{RATE}]))",
                            "{{method}}",
                        )
                    ],
                    unit="reqps",
                    width=12,
                ),
                Panel(
                    "Allocation latency p50 / p95 / p99",
                    quantiles("orchestration_scheduler_allocation_duration_seconds"),
                    unit="s",
                    width=12,
                ),
                Panel(
                    "Priority score p50 / p95",
                    quantiles("orchestration_scheduler_priority_score")[:2],
                    width=12,
                ),
                Panel(
                    "Candidates turned down",
                    [
                        q(
                            # 0 rather than "no data" while every candidate is eligible.
                            "sum by (reason) "
                            f"(increase(orchestration_scheduler_rejections_total[{RATE}])) "
                            "or on () vector(0)",
                            "{{reason}}",
                        )
                    ],
                    width=12,
                ),
            ],
        ),
        Row(
            "Discovery",
            [
                Panel(
                    "Workers discovered",
                    [q("max(orchestration_scheduler_workers_discovered)", "workers")],
                    kind="stat",
                    base_color="red",
                    thresholds=((1, "green"),),
                ),
                Panel(
                    "Discovery cache hit ratio",
                    [
                        q(
                            "sum(rate(orchestration_scheduler_cache_hits_total"
                            f'{{result="hit"}}[{RATE}])) / '
                            f"sum(rate(orchestration_scheduler_cache_hits_total[{RATE}]))",
                            "hit ratio",
                        )
                    ],
                    unit="percentunit",
                ),
                Panel(
                    "Registry failures and fallbacks",
                    [
                        q(
                            "sum by (reason) "
                            f"(rate(orchestration_scheduler_discovery_failures_total[{RATE}]))",
                            "failure {{reason}}",
                        ),
                        q(
                            f"sum(rate(orchestration_scheduler_fallback_total[{RATE}]))",
                            "fallback allocations",
                        ),
                    ],
                    unit="reqps",
                ),
            ],
        ),
    ]
    return (
        "orchestrator-intelligent-scheduler",
        "Orchestrator - Intelligent Scheduler",
        "C3 allocation: methods, latency, candidates, discovery",
        rows,
    )


def ml_predictions() -> tuple[str, str, str, list[Row]]:
    rows = [
        Row(
            "Training feed",
            [
                Panel(
                    "Allocation outcomes published",
                    [
                        q(
                            "sum by (result) "
                            f"(rate(orchestration_scheduler_allocation_outcomes_total[{RATE}]))",
                            "{{result}}",
                        )
                    ],
                    unit="reqps",
                    width=12,
                    description="Outcomes on ml.allocation_outcomes; `lost` means the bus refused.",
                ),
                Panel(
                    "Outcomes lost",
                    [
                        q(
                            "sum(orchestration_scheduler_allocation_outcomes_total"
                            '{result="lost"}) or vector(0)',
                            "lost",
                        )
                    ],
                    kind="stat",
                    width=12,
                    thresholds=((1, "red"),),
                ),
                Panel(
                    "Priority score distribution",
                    quantiles("orchestration_scheduler_priority_score"),
                    width=12,
                ),
                Panel(
                    "Allocations that used a score",
                    [
                        q(
                            "sum(rate(orchestration_scheduler_allocations_total"
                            f'{{method="intelligent"}}[{RATE}])) / '
                            f"sum(rate(orchestration_scheduler_allocations_total[{RATE}]))",
                            "intelligent share",
                        )
                    ],
                    unit="percentunit",
                    width=12,
                ),
            ],
            note=(
                "The service publishes what the ML side trains on (`ml.allocation_outcomes`: "
                "worker, scores, predicted and actual duration). Model predictions "
                "(`ML_PREDICTIONS_ENABLED`) are not implemented yet; their panels come with them."
            ),
        ),
    ]
    return (
        "orchestrator-ml-predictions",
        "Orchestrator - ML Predictions",
        "The allocation outcomes the models train on",
        rows,
    )


def policy() -> tuple[str, str, str, list[Row]]:
    rows = [
        Row(
            "Policy evaluations",
            [
                Panel(
                    "Evaluations by policy and result",
                    [
                        q(
                            "sum by (policy_name, result) "
                            f"(rate(orchestration_opa_validations_total[{RATE}]))",
                            "{{policy_name}} {{result}}",
                        )
                    ],
                    unit="reqps",
                    width=12,
                ),
                Panel(
                    "Evaluation latency p50 / p95 / p99",
                    quantiles("orchestration_opa_validation_duration_seconds"),
                    unit="s",
                    width=12,
                ),
                Panel(
                    "Violations per evaluation",
                    [
                        q(
                            "sum by (policy_name) "
                            f"(rate(orchestration_opa_policy_rejections_total[{RATE}])) / "
                            "sum by (policy_name) "
                            f"(rate(orchestration_opa_validations_total[{RATE}]))",
                            "{{policy_name}}",
                        )
                    ],
                    thresholds=((0.25, "red"),),
                    description="Alert OPARejectionSpike above 0.25.",
                ),
                Panel(
                    "Rejections by rule and severity",
                    [
                        q(
                            "sum by (policy_name, rule, severity) "
                            f"(increase(orchestration_opa_policy_rejections_total[{RATE}]))",
                            "{{policy_name}} {{rule}} {{severity}}",
                        )
                    ],
                ),
                Panel(
                    "Warnings",
                    [
                        q(
                            f"sum(rate(orchestration_opa_policy_warnings_total[{RATE}]))",
                            "warnings",
                        )
                    ],
                    unit="reqps",
                ),
            ],
        ),
        Row(
            "Engine health",
            [
                Panel(
                    "Circuit breaker",
                    [q("max(orchestration_opa_circuit_breaker_state)", "state")],
                    kind="stat",
                    thresholds=((1, "red"), (2, "orange")),
                    mappings={"0": "closed", "1": "open", "2": "half-open"},
                ),
                Panel(
                    "Evaluation errors",
                    [
                        q(
                            "sum by (error_type) "
                            f"(rate(orchestration_opa_evaluation_errors_total[{RATE}]))",
                            "{{error_type}}",
                        )
                    ],
                    unit="reqps",
                ),
                Panel(
                    "Decision cache hits",
                    [
                        q(
                            f"sum(rate(orchestration_opa_cache_hits_total[{RATE}]))",
                            "hits",
                        )
                    ],
                    unit="reqps",
                ),
            ],
        ),
    ]
    return (
        "orchestrator-policy",
        "Orchestrator - Policy (OPA)",
        "Policy enforcement: evaluations, rejections, engine health",
        rows,
    )


DASHBOARDS: list[Callable[[], tuple[str, str, str, list[Row]]]] = [
    fluxo_c,
    scheduler,
    ml_predictions,
    policy,
]


# ---------------------------------------------------------------------------- building


def _panel(panel: Panel) -> timeseries.Panel | stat.Panel:
    built: timeseries.Panel | stat.Panel = (
        stat.Panel() if panel.kind == "stat" else timeseries.Panel()
    )
    built.title(panel.title).datasource(DATASOURCE).unit(panel.unit).span(panel.width).height(7)
    if panel.description:
        built.description(panel.description)
    steps = [model.Threshold(value=None, color=panel.base_color)]
    steps += [model.Threshold(value=v, color=c) for v, c in panel.thresholds]
    built.thresholds(db.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps))
    if panel.mappings:
        options = {
            k: model.ValueMappingResult(text=v, index=i)
            for i, (k, v) in enumerate(panel.mappings.items())
        }
        built.mappings([model.ValueMap(options=options)])
    for i, query in enumerate(panel.queries):
        target = prometheus.Dataquery().expr(query.expr).ref_id(chr(ord("A") + i))
        if query.legend:
            target.legend_format(query.legend)
        built.with_target(target.datasource(DATASOURCE))
    return built


def build(spec: Callable[[], tuple[str, str, str, list[Row]]]) -> dict[str, object]:
    uid, title, description, rows = spec()
    board = (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["orchestrator-dynamic", "neural-hive", "flow-c"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .with_variable(db.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
        # Every dashboard links to the others (same tag), keeping the time range and data source.
        .link(
            db.DashboardLink("Orchestrator Dynamic")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags(["orchestrator-dynamic"])
            .as_dropdown(True)
            .keep_time(True)
            .include_vars(True)
        )
    )
    for row in rows:
        board.with_row(db.Row(row.title))
        if row.note:
            board.with_panel(
                text.Panel()
                .title(f"{row.title}: where to look")
                .content(row.note)
                .span(24)
                .height(4)
            )
        for panel in row.panels:
            board.with_panel(_panel(panel))
    doc: dict[str, object] = json.loads(JSONEncoder(sort_keys=True).encode(board.build()))
    return doc


def render(spec: Callable[[], tuple[str, str, str, list[Row]]]) -> str:
    return json.dumps(build(spec), indent=2, sort_keys=True) + "\n"


def path_of(spec: Callable[[], tuple[str, str, str, list[Row]]]) -> Path:
    return HERE / f"{spec()[0]}.json"


def main() -> int:
    for spec in DASHBOARDS:
        path_of(spec).write_text(render(spec))
        print(path_of(spec).name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
