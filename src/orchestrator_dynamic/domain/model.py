"""Wire-compatible messages of the platform (see CONTRACTS.md).

Field names, enum symbols and defaults match the Avro records the other services define, so a
message parsed here and dumped with ``model_dump(mode="json")`` is accepted by their consumers.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator_dynamic.domain.wire_values import epoch_ms, string_map


class WireModel(BaseModel):
    """Base of every message: unknown fields are ignored so newer producers do not break us."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# ---------------------------------------------------------------- enums (symbols are exact)


class FinalDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REVIEW_REQUIRED = "review_required"
    CONDITIONAL = "conditional"


class ConsensusMethod(StrEnum):
    BAYESIAN = "bayesian"
    VOTING = "voting"
    UNANIMOUS = "unanimous"
    FALLBACK = "fallback"


class RiskBand(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class PlanStatus(StrEnum):
    DRAFT = "draft"
    VALIDATED = "validated"
    APPROVED = "approved"
    REJECTED = "rejected"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Domain(StrEnum):
    BUSINESS = "BUSINESS"
    TECHNICAL = "TECHNICAL"
    SECURITY = "SECURITY"
    INFRASTRUCTURE = "INFRASTRUCTURE"
    BEHAVIOR = "BEHAVIOR"
    OPERATIONAL = "OPERATIONAL"
    COMPLIANCE = "COMPLIANCE"


class TaskType(StrEnum):
    BUILD = "BUILD"
    DEPLOY = "DEPLOY"
    TEST = "TEST"
    VALIDATE = "VALIDATE"
    EXECUTE = "EXECUTE"
    COMPENSATE = "COMPENSATE"
    QUERY = "QUERY"
    TRANSFORM = "TRANSFORM"


class TicketStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    COMPENSATING = "COMPENSATING"
    COMPENSATED = "COMPENSATED"
    # Ours only: stopped before it could finish (operator cancel, or a failure upstream in the
    # plan). The wire enum has no such symbol; see ``ExecutionTicket.on_wire``.
    CANCELLED = "CANCELLED"


# What other services read instead of CANCELLED (their ticket enum stops at COMPENSATED).
WIRE_CANCELLED_STATUS = TicketStatus.FAILED
WIRE_CANCELLED_ERROR = "cancelled"


class TicketPriority(StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class SecurityLevel(StrEnum):
    PUBLIC = "PUBLIC"
    INTERNAL = "INTERNAL"
    CONFIDENTIAL = "CONFIDENTIAL"
    RESTRICTED = "RESTRICTED"


class DeliveryMode(StrEnum):
    AT_MOST_ONCE = "AT_MOST_ONCE"
    AT_LEAST_ONCE = "AT_LEAST_ONCE"
    EXACTLY_ONCE = "EXACTLY_ONCE"


class Consistency(StrEnum):
    EVENTUAL = "EVENTUAL"
    STRONG = "STRONG"


class Durability(StrEnum):
    TRANSIENT = "TRANSIENT"
    PERSISTENT = "PERSISTENT"


class ResultStatus(StrEnum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    RUNNING = "RUNNING"
    # Sent by upstream workers when a task is taken away from them (cancel_active_task):
    # PREEMPTED for a preemption, CANCELLED for any other reason.
    PREEMPTED = "PREEMPTED"
    CANCELLED = "CANCELLED"


class TelemetryEventType(StrEnum):
    FLOW_C_STARTED = "FLOW_C_STARTED"
    STEP_STARTED = "STEP_STARTED"
    STEP_COMPLETED = "STEP_COMPLETED"
    STEP_FAILED = "STEP_FAILED"
    TICKET_ASSIGNED = "TICKET_ASSIGNED"
    TICKET_COMPLETED = "TICKET_COMPLETED"
    TICKET_FAILED = "TICKET_FAILED"
    FLOW_C_COMPLETED = "FLOW_C_COMPLETED"
    SLA_VIOLATION = "SLA_VIOLATION"


class IncidentType(StrEnum):
    INCONSISTENCY = "INCONSISTENCY"
    SLA_VIOLATION = "SLA_VIOLATION"
    TICKET_TIMEOUT = "TICKET_TIMEOUT"
    WORKER_FAILURE = "WORKER_FAILURE"


# ---------------------------------------------------------------- ConsolidatedDecision


class SpecialistVote(WireModel):
    specialist_type: str
    opinion_id: str
    confidence_score: float
    risk_score: float
    recommendation: str
    weight: float
    processing_time_ms: int
    # Not in the Avro record, but upstream's JSON carries them and its integrity hash covers them.
    seniority_level: str | None = None
    seniority_multiplier: float | None = None


class ConsensusMetrics(WireModel):
    divergence_score: float
    convergence_time_ms: int
    unanimous: bool
    fallback_used: bool
    pheromone_strength: float
    bayesian_confidence: float
    voting_confidence: float


class ConsolidatedDecision(WireModel):
    decision_id: str
    plan_id: str
    intent_id: str
    correlation_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    final_decision: FinalDecision
    consensus_method: ConsensusMethod
    aggregated_confidence: float
    aggregated_risk: float
    specialist_votes: list[SpecialistVote]
    consensus_metrics: ConsensusMetrics
    explainability_token: str
    reasoning_summary: str
    compliance_checks: dict[str, bool]
    guardrails_triggered: list[str]
    cognitive_plan: str | None = None
    requires_human_review: bool
    created_at: int
    valid_until: int | None = None
    metadata: dict[str, str]
    hash: str
    schema_version: int = 1

    @field_validator("cognitive_plan", mode="before")
    @classmethod
    def _plan_as_string(cls, value: Any) -> Any:
        # The contract says "JSON string", but some producers send the object itself; keep one form.
        if isinstance(value, dict):
            return json.dumps(value, default=str)
        return value

    # Upstream writes datetimes more than one way (see wire_values); we keep epoch milliseconds.
    _timestamps = field_validator("created_at", "valid_until", mode="before")(epoch_ms)
    _string_maps = field_validator("metadata", mode="before")(string_map)


# ---------------------------------------------------------------- CognitivePlan


class TaskNode(WireModel):
    task_id: str = Field(min_length=1)
    task_type: str
    description: str
    dependencies: list[str] = Field(default_factory=list)
    estimated_duration_ms: int | None = Field(default=None, ge=0)
    required_capabilities: list[str] = Field(default_factory=list)
    parameters: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, str] = Field(default_factory=dict)

    _string_maps = field_validator("parameters", "metadata", mode="before")(string_map)


class CognitivePlan(WireModel):
    plan_id: str
    version: str = "1.0.0"
    intent_id: str
    correlation_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    tasks: list[TaskNode]
    execution_order: list[str]
    risk_score: float
    risk_band: RiskBand
    risk_factors: dict[str, float]
    explainability_token: str
    reasoning_summary: str
    status: PlanStatus = PlanStatus.DRAFT
    created_at: int
    valid_until: int | None = None
    estimated_total_duration_ms: int | None = None
    complexity_score: float
    original_domain: Domain
    original_priority: str
    original_security_level: str
    metadata: dict[str, str] = Field(default_factory=dict)
    requires_approval: bool = False
    approval_status: ApprovalStatus | None = None
    approved_by: str | None = None
    approved_at: int | None = None
    is_destructive: bool = False
    destructive_tasks: list[str] = Field(default_factory=list)
    risk_matrix: dict[str, float] | None = None
    schema_version: int = 1

    _timestamps = field_validator("created_at", "valid_until", "approved_at", mode="before")(
        epoch_ms
    )
    _string_maps = field_validator("metadata", mode="before")(string_map)

    @field_validator("risk_band", mode="before")
    @classmethod
    def _band_lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("original_domain", mode="before")
    @classmethod
    def _domain_upper(cls, value: Any) -> Any:
        # The translation engine copies the intent's domain as written (often lower-case).
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def needs_approval(self) -> bool:
        """A plan asks for a human when it says so or when it would destroy something."""
        return self.requires_approval or self.is_destructive or bool(self.destructive_tasks)


# ---------------------------------------------------------------- ExecutionTicket


class SLA(WireModel):
    deadline: int
    timeout_ms: int
    max_retries: int


class QoS(WireModel):
    delivery_mode: DeliveryMode
    consistency: Consistency
    durability: Durability


class ExecutionTicket(WireModel):
    ticket_id: str
    plan_id: str
    intent_id: str
    decision_id: str
    correlation_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    task_id: str
    task_type: TaskType
    description: str
    dependencies: list[str] = Field(default_factory=list)
    status: TicketStatus = TicketStatus.PENDING
    priority: TicketPriority
    risk_band: RiskBand
    sla: SLA
    qos: QoS
    parameters: dict[str, str] = Field(default_factory=dict)
    required_capabilities: list[str] = Field(default_factory=list)
    security_level: SecurityLevel
    created_at: int
    started_at: int | None = None
    completed_at: int | None = None
    estimated_duration_ms: int | None = None
    actual_duration_ms: int | None = None
    retry_count: int = 0
    error_message: str | None = None
    compensation_ticket_id: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    schema_version: int = 1

    @property
    def workflow_id(self) -> str:
        return self.metadata.get("workflow_id", self.decision_id)

    def on_wire(self) -> ExecutionTicket:
        """The ticket as the platform's ticket enum knows it: CANCELLED goes out as FAILED with
        ``error_message: cancelled``; every other status is already a wire symbol."""
        if self.status is not TicketStatus.CANCELLED:
            return self
        update = {"status": WIRE_CANCELLED_STATUS, "error_message": WIRE_CANCELLED_ERROR}
        return self.model_copy(update=update)


# ---------------------------------------------------------------- ExecutionResult


class ExecutionResultPayload(WireModel):
    success: bool
    output: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, str] = Field(default_factory=dict)
    logs: list[str] = Field(default_factory=list)


class ExecutionResult(WireModel):
    ticket_id: str
    status: ResultStatus
    result: ExecutionResultPayload
    error_message: str | None = None
    actual_duration_ms: int | None = None
    agent_id: str
    timestamp: int
    schema_version: int = 1


# ---------------------------------------------------------------- outputs


TelemetryValue = str | int | bool | None


class TelemetryEvent(WireModel):
    event_type: TelemetryEventType
    timestamp: int
    intent_id: str | None = None
    plan_id: str | None = None
    decision_id: str | None = None
    workflow_id: str | None = None
    correlation_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    step: str | None = None
    ticket_id: str | None = None
    task_type: str | None = None
    worker_id: str | None = None
    duration_ms: int | None = None
    status: str | None = None
    success: bool | None = None
    sla_compliant: bool | None = None
    ticket_ids: list[str] = Field(default_factory=list)
    error: str | None = None
    error_type: str | None = None
    result: dict[str, str] | None = None
    metadata: dict[str, TelemetryValue] = Field(default_factory=dict)
    schema_version: int = 1


class OrchestrationIncident(WireModel):
    incident_id: str
    workflow_id: str
    incident_type: IncidentType
    severity: str
    details: list[str]
    affected_tickets: list[str]
    correlation_id: str
    trace_id: str
    recommended_playbook: str | None = None
    auto_remediation_enabled: bool | None = None
    escalation_required: bool | None = None
    created_at: int
    hash: str
