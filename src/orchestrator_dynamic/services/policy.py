"""Policy checks of Flow C: the whole plan at C1, each ticket at C3, each allocation after
scheduling. Every decision is logged through the store so "why was this refused?" has an answer.

Input document given to every package (all keys optional for the policies):
``stage`` ("plan" | "ticket" | "allocation"), ``now_ms``, ``tickets`` (wire JSON of the tickets
in scope), ``concurrent_tickets``, ``namespace``, ``plan`` (risk_band, is_destructive,
destructive_tasks, requires_approval), ``approval`` ({approved, by}), ``worker`` (worker_id,
security_level, namespace), ``sla_budget`` ({remaining}), ``context`` (tenant_tier, load,
model_accuracy, queue_depth) and ``config`` (the OPA_* limits from settings).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic_core
import structlog

from orchestrator_dynamic.domain import dag
from orchestrator_dynamic.domain.errors import Issue, PolicyContractMismatch, PolicyUnavailable
from orchestrator_dynamic.domain.model import (
    SLA,
    CognitivePlan,
    Consistency,
    DeliveryMode,
    Durability,
    ExecutionTicket,
    QoS,
    RiskBand,
    SecurityLevel,
    TaskType,
    TicketPriority,
)
from orchestrator_dynamic.domain.ports import (
    Collection,
    PolicyDecision,
    PolicyEngine,
    PolicyViolation,
    Store,
)
from orchestrator_dynamic.observability import policy_metrics

log = structlog.get_logger(__name__)

PREFIX = "neuralhive/orchestrator/"
RESOURCE_LIMITS = PREFIX + "resource_limits"
SLA_ENFORCEMENT = PREFIX + "sla_enforcement"
SECURITY_CONSTRAINTS = PREFIX + "security_constraints"
FEATURE_FLAGS = PREFIX + "feature_flags"

PLAN_PACKAGES = (RESOURCE_LIMITS, SLA_ENFORCEMENT)
TICKET_PACKAGES = (RESOURCE_LIMITS, SLA_ENFORCEMENT, SECURITY_CONSTRAINTS, FEATURE_FLAGS)
ALLOCATION_PACKAGES = (SECURITY_CONSTRAINTS,)
# Every package some stage queries, each once.
ALL_PACKAGES = tuple(dict.fromkeys(PLAN_PACKAGES + TICKET_PACKAGES + ALLOCATION_PACKAGES))
PROBE_NOW_MS = 1_700_000_000_000
RESULTS = ("allow", "deny", "error")  # of a package's evaluation, as the metrics count them


@dataclass(frozen=True)
class PolicyConfig:
    """The configurable limits handed to the policies as ``input.config``."""

    # Empty: every capability is allowed (the policies get no list and check none).
    allowed_capabilities: tuple[str, ...] = ()
    max_cpu: str = "4000m"
    max_memory: str = "8Gi"
    max_concurrent_tickets: int = 100
    # feature_flags: predictive_allocation when context.model_accuracy is above this
    ml_accuracy_threshold: float = 0.85

    def as_input(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "max_cpu": self.max_cpu,
            "max_memory": self.max_memory,
            "max_concurrent_tickets": self.max_concurrent_tickets,
            "ml_accuracy_threshold": self.ml_accuracy_threshold,
        }
        if self.allowed_capabilities:
            doc["allowed_capabilities"] = list(self.allowed_capabilities)
        return doc


@dataclass(frozen=True)
class PlanContext:
    """What the policies need to know about a ticket's plan beyond the ticket itself."""

    namespace: str = "default"
    is_destructive: bool = False
    destructive_tasks: tuple[str, ...] = ()
    requires_approval: bool = False
    approved: bool | None = None
    approved_by: str = ""
    # Filled when known: the SLA error budget left (0..1) and the signals feature flags read
    # (tenant_tier, load, model_accuracy, queue_depth). Absent means unknown to the policies.
    sla_budget_remaining: float | None = None
    signals: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, plan: CognitivePlan, approved: bool | None = None) -> PlanContext:
        namespace = plan.metadata.get("namespace", "default")
        return cls(
            namespace,
            plan.is_destructive,
            tuple(plan.destructive_tasks),
            plan.requires_approval,
            approved,
        )

    def as_input(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "namespace": self.namespace,
            "plan": {
                "is_destructive": self.is_destructive,
                "destructive_tasks": list(self.destructive_tasks),
                "requires_approval": self.requires_approval,
            },
        }
        if self.approved is not None:
            doc["approval"] = {"approved": self.approved, "by": self.approved_by}
        if self.sla_budget_remaining is not None:
            doc["sla_budget"] = {"remaining": self.sla_budget_remaining}
        if self.signals:
            doc["context"] = dict(self.signals)
        return doc


@dataclass(frozen=True)
class Verdict:
    """Decisions of one check, package by package; refused when any package refused."""

    decisions: tuple[tuple[str, PolicyDecision], ...] = ()

    @property
    def allowed(self) -> bool:
        return all(d.allow for _, d in self.decisions)

    @property
    def violations(self) -> list[PolicyViolation]:
        return [v for _, d in self.decisions for v in d.violations]

    @property
    def warnings(self) -> list[str]:
        return [w for _, d in self.decisions for w in d.warnings]

    @property
    def flags(self) -> dict[str, bool]:
        return {k: v for _, d in self.decisions for k, v in d.flags.items()}

    def issues(self) -> list[Issue]:
        """One Issue per violation, coded ``policy.<package>.<rule>``."""
        return [
            Issue(f"policy.{v.policy}.{v.rule}", f"{v.message} (severity {v.severity})", v.policy)
            for v in self.violations
        ]

    def refusal(self) -> str:
        return "; ".join(f"{v.policy}.{v.rule}: {v.message}" for v in self.violations)


@dataclass(slots=True)
class Scope:
    """Where a decision applies, for the decision log."""

    stage: str
    workflow_id: str | None = None
    ticket_id: str | None = None


def probe_ticket(now_ms: int = PROBE_NOW_MS) -> ExecutionTicket:
    """A minimal well-formed ticket every package of ours can decide on: the probe of the
    contract check (its answer's shape matters, not whether it allows)."""
    return ExecutionTicket(
        ticket_id="contract-probe",
        plan_id="contract-probe",
        intent_id="contract-probe",
        decision_id="contract-probe",
        task_id="probe",
        task_type=TaskType.VALIDATE,
        description="policy contract probe",
        priority=TicketPriority.NORMAL,
        risk_band=RiskBand.LOW,
        sla=SLA(deadline=now_ms + 3_600_000, timeout_ms=60_000, max_retries=1),
        qos=QoS(
            delivery_mode=DeliveryMode.AT_LEAST_ONCE,
            consistency=Consistency.EVENTUAL,
            durability=Durability.PERSISTENT,
        ),
        security_level=SecurityLevel.INTERNAL,
        created_at=now_ms,
        estimated_duration_ms=10_000,
    )


def unavailable(package: str, exc: PolicyUnavailable) -> PolicyDecision:
    """Fail closed: an engine that cannot answer refuses (the OPA adapter fails open itself
    when OPA_FAIL_OPEN says so)."""
    name = package.rsplit("/", 1)[-1]
    return PolicyDecision(
        False, (PolicyViolation(name, "engine_unavailable", "critical", exc.reason),)
    )


def input_json(input_doc: Mapping[str, Any] | Sequence[Any]) -> str:
    """An input as compact JSON, the same document ``json.dumps`` writes for JSON values (NaN
    and big integers included), four times faster (pydantic-core's Rust encoder: encoding is a
    third of an evaluation's cost otherwise). Pydantic models in it are written as their
    ``model_dump(mode="json")``. What it cannot encode (a lone surrogate) goes through
    ``json.dumps``, which escapes it."""
    try:
        return pydantic_core.to_json(input_doc, inf_nan_mode="constants").decode()
    except (pydantic_core.PydanticSerializationError, UnicodeDecodeError):
        return json.dumps(_plain(input_doc), separators=(",", ":"))


_TICKET_SERIALIZER = ExecutionTicket.__pydantic_serializer__


def tickets_json(tickets: Sequence[ExecutionTicket]) -> str:
    """``input_json(list(tickets))``, each ticket written by its model's own serializer (no
    per-item type inference). A ticket has no float field, so its serializer writes what
    ``input_json`` writes; a lone surrogate goes the escaping way, as there."""
    try:
        return f"[{','.join(_TICKET_SERIALIZER.to_json(t).decode() for t in tickets)}]"
    except (pydantic_core.PydanticSerializationError, UnicodeDecodeError):
        return input_json(list(tickets))


def _plain(value: Any) -> Any:
    """``value`` with its pydantic models dumped to JSON values (for ``json.dumps``)."""
    if isinstance(value, ExecutionTicket):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def plan_concurrency(tickets: Sequence[ExecutionTicket], max_in_flight: int | None) -> int:
    """At most how many of a plan's tickets run at once: never more than the workflow lets be
    in flight, nor more than the DAG allows. The tickets of one dependency chain run one after
    another, so a plan whose longest chain has L tickets runs at most n - L + 1 at once. That is
    a bound that always holds (the widest layer does not: tickets of different layers can run
    together), cheap for 10,000 tickets."""
    if not tickets:
        return 0
    ids = {t.ticket_id for t in tickets}
    # A dependency outside the tickets given constrains nothing here (C1 checked the plan).
    graph = {t.ticket_id: [d for d in t.dependencies if d in ids] for t in tickets}
    try:
        chain = len(dag.layers(graph))
    except ValueError:  # a cycle: not a plan that runs (C1 refuses it before the policies)
        chain = 1
    structural = len(tickets) - chain + 1
    return structural if max_in_flight is None else min(structural, max_in_flight)


def digest(doc: Mapping[str, Any]) -> str:
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# Contexts whose JSON the validator remembers (one per plan in flight is plenty).
CONTEXT_CACHE_SIZE = 1024
# What a check without a plan context is given (one object, so its JSON is written once).
NO_CONTEXT = PlanContext()


class PolicyValidator:
    """Runs the packages that apply at each stage and logs every decision."""

    def __init__(
        self,
        engine: PolicyEngine,
        store: Store | None = None,
        config: PolicyConfig | None = None,
        engine_name: str = "embedded",
    ) -> None:
        self._engine = engine
        self._store = store
        self._config = config or PolicyConfig()
        self._engine_name = engine_name
        self._config_input = self._config.as_input()
        self._names: dict[str, str] = {}  # package path -> the metrics' policy_name
        # Engines that take the input as JSON text (the embedded one) get it so: see input_text.
        self._evaluate_json = getattr(engine, "evaluate_json", None)
        self._config_json = input_json(self._config_input)
        # A plan's tickets share one context object: its JSON is written once. Keyed by the
        # object's id, the entry holding the object so that id cannot be reused meanwhile.
        self._context_json: dict[int, tuple[PlanContext, str]] = {}

    async def validate_plan(
        self,
        plan: CognitivePlan,
        tickets: Sequence[ExecutionTicket],
        now_ms: int,
        max_in_flight: int | None = None,
    ) -> Verdict:
        """C1: every ticket of the plan against resource limits and SLA rules.

        ``concurrent_tickets`` is what the plan can run at once (``plan_concurrency``), not its
        size: a plan of 1,000 tickets never has more than ``max_in_flight`` of them running."""
        doc = self.input_document("plan", now_ms, tickets, PlanContext.of(plan))
        doc["concurrent_tickets"] = plan_concurrency(tickets, max_in_flight)
        workflow_id = tickets[0].workflow_id if tickets else None
        return await self._run(PLAN_PACKAGES, doc, Scope("plan", workflow_id), now_ms)

    async def validate_ticket(
        self,
        ticket: ExecutionTicket,
        now_ms: int,
        context: PlanContext | None = None,
        concurrent_tickets: int | None = None,
    ) -> Verdict:
        """C3, before scheduling: all four packages for one ticket."""
        extra = {} if concurrent_tickets is None else {"concurrent_tickets": concurrent_tickets}
        scope = Scope("ticket", ticket.workflow_id, ticket.ticket_id)
        return await self._check(TICKET_PACKAGES, ticket, now_ms, context, extra, scope)

    async def validate_allocation(
        self,
        ticket: ExecutionTicket,
        worker: Mapping[str, Any],
        now_ms: int,
        context: PlanContext | None = None,
    ) -> Verdict:
        """After scheduling: may this worker take this ticket?"""
        scope = Scope("allocation", ticket.workflow_id, ticket.ticket_id)
        extra = {"worker": dict(worker)}
        return await self._check(ALLOCATION_PACKAGES, ticket, now_ms, context, extra, scope)

    async def ping(self) -> None:
        """Readiness: the engine's own check."""
        await self._engine.ping()

    async def check_contract(self) -> None:
        """Every package we query answers a probe ticket with our decision document, or
        PolicyContractMismatch names those that do not (an OPA server holding the platform's
        older packages under our names would otherwise refuse every ticket). Engines without
        the check pass."""
        check = getattr(self._engine, "check_contract", None)
        if check is None:
            return
        probe = probe_ticket()
        await check(
            ALL_PACKAGES, self.input_document("ticket", probe.created_at, [probe], PlanContext())
        )

    async def check_at_start(self, fail_open: bool) -> None:
        """The contract check when the service starts: a mismatch stops the start unless
        ``fail_open`` (then one warning); an engine that cannot be asked yet is left to
        readiness, which repeats the check."""
        try:
            await self.check_contract()
        except PolicyContractMismatch as exc:
            if not fail_open:
                raise
            log.warning("policy_contract_mismatch", reason=str(exc), fail_open=True)
        except PolicyUnavailable as exc:
            log.warning("policy_contract_unchecked", reason=exc.reason)

    def input_document(
        self,
        stage: str,
        now_ms: int,
        tickets: Sequence[ExecutionTicket],
        context: PlanContext,
    ) -> dict[str, Any]:
        """The input every package gets (see the module docstring)."""
        return {
            "stage": stage,
            "now_ms": now_ms,
            "tickets": [t.model_dump(mode="json") for t in tickets],
            "config": self._config_input,
            **context.as_input(),
        }

    def input_text(
        self,
        stage: str,
        now_ms: int,
        tickets: Sequence[ExecutionTicket],
        context: PlanContext,
        extra: Mapping[str, Any],
    ) -> str:
        """``input_document(...)`` with ``extra`` added, as JSON written straight from the
        tickets' models, with the config's JSON written once: no intermediate documents (they
        were half of the validator's own cost). Key order differs, which JSON ignores."""
        # ``stage`` is one of our three stage names and ``now_ms`` an integer: written as is.
        tail = "}" if not extra else f",{input_json(extra)[1:]}"
        return (
            f'{{"config":{self._config_json},"tickets":{tickets_json(tickets)},'
            f'"stage":"{stage}","now_ms":{int(now_ms)}{self._context_members(context)}{tail}'
        )

    def _context_members(self, context: PlanContext) -> str:
        """``context.as_input()``'s members as JSON (``,"k":v...``, or nothing when it has
        none), remembered per context object (they are frozen)."""
        entry = self._context_json.get(id(context))
        if entry is not None and entry[0] is context:
            return entry[1]
        if len(self._context_json) >= CONTEXT_CACHE_SIZE:
            self._context_json.clear()
        members = input_json(context.as_input())[1:-1]
        text = f",{members}" if members else ""
        self._context_json[id(context)] = (context, text)
        return text

    async def _check(
        self,
        packages: Sequence[str],
        ticket: ExecutionTicket,
        now_ms: int,
        context: PlanContext | None,
        extra: Mapping[str, Any],
        scope: Scope,
    ) -> Verdict:
        """One ticket's check; the input goes as JSON text to an engine that takes it."""
        evaluate_json = self._evaluate_json
        context = context or NO_CONTEXT
        if evaluate_json is None:
            doc = {**self.input_document(scope.stage, now_ms, [ticket], context), **extra}
            return await self._run(packages, doc, scope, now_ms)
        text = self.input_text(scope.stage, now_ms, [ticket], context, extra)
        start = time.perf_counter()
        try:
            results = [(d, False) for d in await evaluate_json(packages, text)]
        except PolicyUnavailable as exc:
            results = [(unavailable(p, exc), True) for p in packages]
        seconds = (time.perf_counter() - start) / len(packages)
        # The same digest as the document's: json.loads(text) is that document.
        return await self._record(
            packages, results, seconds, scope, now_ms, lambda: json.loads(text)
        )

    async def _run(
        self, packages: Sequence[str], doc: dict[str, Any], scope: Scope, now_ms: int
    ) -> Verdict:
        start = time.perf_counter()
        results = await self._evaluate(packages, doc)
        # Engines that evaluate a batch report one latency: each package gets its share.
        seconds = (time.perf_counter() - start) / len(packages)
        return await self._record(packages, results, seconds, scope, now_ms, lambda: doc)

    async def _record(
        self,
        packages: Sequence[str],
        results: list[tuple[PolicyDecision, bool]],
        seconds: float,
        scope: Scope,
        now_ms: int,
        document: Callable[[], Mapping[str, Any]],
    ) -> Verdict:
        """Metrics and the decision log of a check, then its verdict."""
        # One observation per check: every package of it took the same share, so the
        # histogram's quantiles are those of per-package observations, at a quarter the cost.
        policy_metrics.VALIDATION_DURATION.observe(seconds)
        for package, (decision, failed) in zip(packages, results, strict=True):
            self._observe(package, decision, failed)
        if self._store is not None:
            input_digest = digest(document())  # once for all packages: it costs as much as one
            for package, (decision, _) in zip(packages, results, strict=True):
                await self._log(package, input_digest, decision, seconds, scope, now_ms)
        return Verdict(tuple((p, d) for p, (d, _) in zip(packages, results, strict=True)))

    async def _evaluate(
        self, packages: Sequence[str], doc: Mapping[str, Any]
    ) -> list[tuple[PolicyDecision, bool]]:
        """(decision, engine failed) per package; a failed engine refuses (fail closed)."""
        many = getattr(self._engine, "evaluate_many", None)
        if many is not None:
            try:
                return [(d, False) for d in await many(packages, doc)]
            except PolicyUnavailable as exc:
                return [(unavailable(p, exc), True) for p in packages]
        out = []
        for package in packages:
            try:
                out.append((await self._engine.evaluate(package, doc), False))
            except PolicyUnavailable as exc:
                out.append((unavailable(package, exc), True))
        return out

    def _observe(self, package: str, decision: PolicyDecision, failed: bool) -> None:
        result = "error" if failed else "allow" if decision.allow else "deny"
        name = self._names.get(package)
        if name is None:
            name = self._names[package] = package.rsplit("/", 1)[-1]
            policy_metrics.VALIDATIONS.declare(name, RESULTS)
        policy_metrics.VALIDATIONS.add(name, result)
        if decision.violations or decision.warnings:
            for v in decision.violations:
                policy_metrics.REJECTIONS.labels(name, v.rule, v.severity).inc()
            if decision.warnings:
                policy_metrics.WARNINGS.inc(len(decision.warnings))

    async def _log(
        self,
        package: str,
        input_digest: str,
        decision: PolicyDecision,
        seconds: float,
        scope: Scope,
        now_ms: int,
    ) -> None:
        if self._store is None:
            return
        record = {
            "policy": package,
            "stage": scope.stage,
            "input_digest": input_digest,
            "result": "allow" if decision.allow else "deny",
            "violations": [vars(v) for v in decision.violations],
            "warnings": list(decision.warnings),
            "flags": dict(decision.flags),
            "engine": self._engine_name,
            "latency_ms": round(seconds * 1000, 3),
            "workflow_id": scope.workflow_id,
            "ticket_id": scope.ticket_id,
            "timestamp": now_ms,
        }
        # Keyed by what was decided, so a retried or replayed step overwrites its own record.
        key = f"{scope.workflow_id}:{scope.ticket_id or '-'}:{scope.stage}:{package}:{input_digest[:16]}"
        await self._store.put(Collection.POLICY_DECISIONS, key, record)
