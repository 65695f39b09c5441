"""Ports: what the services need from the outside world, as Protocols.

Adapters in ``orchestrator_dynamic.adapters`` implement these; tests use fakes that implement the
same Protocols. Nothing here performs I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from orchestrator_dynamic.domain.model import (
    CognitivePlan,
    ConsolidatedDecision,
    ExecutionResult,
    ExecutionTicket,
    SecurityLevel,
)
from orchestrator_dynamic.domain.queueing import InFlight, WorkerLoad
from orchestrator_dynamic.domain.scoring import PriorityWeights, WorkerProfile
from orchestrator_dynamic.domain.workflows import WorkflowView

# ---------------------------------------------------------------- bus


@dataclass(frozen=True)
class BusMessage:
    """One record as a consumer sees it; ``value`` holds the original bytes, untouched."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int = 0
    offset: int = 0
    timestamp_ms: int = 0

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", "replace")
        return None


@runtime_checkable
class Publisher(Protocol):
    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Return only once the broker (or the local log) has durably accepted the record."""
        ...


class Subscription(Protocol):
    async def poll(self, max_records: int = 100, timeout_ms: int = 1000) -> list[BusMessage]:
        """Up to ``max_records`` records not yet committed by this group; may return []."""
        ...

    async def commit(self, message: BusMessage) -> None:
        """Mark ``message`` and everything before it on its partition as processed."""
        ...

    async def lag(self) -> int:
        """Records still waiting for this group, summed over partitions."""
        ...

    async def close(self) -> None: ...


class MessageBus(Publisher, Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> None:
        """Readiness: raise BusUnavailable when the broker (or the local log) cannot be reached."""
        ...

    async def subscribe(self, topics: Sequence[str], group_id: str) -> Subscription: ...


# ---------------------------------------------------------------- store


class Collection:
    """Names of the store's collections (tables in SQL stores). Keys are documented per name."""

    DECISIONS = "decisions"  # key decision_id: every received decision and its disposition
    VALIDATION_AUDIT = "validation_audit"  # key audit id: plan, workflow, result, hash
    TICKETS = "execution_tickets"  # key ticket_id: the full ticket, status history, worker, ...
    WORKFLOW_RESULTS = "workflow_results"  # key workflow_id: status, consolidated_at, metrics, ...
    INCIDENTS = "incidents"  # key incident_id: workflow_id, type, details, severity, timestamp
    TELEMETRY_BUFFER = "telemetry_buffer"  # key frame id: workflow_id, frame, retry_count
    POLICY_DECISIONS = "policy_decisions"  # key decision id: policy, input digest, result, ...
    # key entry id: one operator action (approve, reject, cancel) with who, from where, on what
    AUDIT = "operator_audit"
    # key "<stash key>/<chunk index>": one chunk of a text too large for a workflow payload (a
    # large plan's decision or tickets, a workflow's state carried across continue-as-new)
    FLOW_STASH = "flow_stash"

    ALL = (
        DECISIONS,
        VALIDATION_AUDIT,
        TICKETS,
        WORKFLOW_RESULTS,
        INCIDENTS,
        TELEMETRY_BUFFER,
        POLICY_DECISIONS,
        AUDIT,
        FLOW_STASH,
    )


class Store(Protocol):
    """Audit and history store: JSON-ready documents in named collections.

    ``put`` is an idempotent upsert by key, so replaying a write (a retry, the spool) never
    duplicates a record. Every record carries a ``timestamp`` (epoch ms) used for ordering,
    ``since_ms``/``until_ms`` windows and retention (``purge``).
    """

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be reached."""
        ...

    async def put(self, collection: str, key: str, record: Mapping[str, Any]) -> None: ...

    async def get(self, collection: str, key: str) -> dict[str, Any] | None: ...

    async def find(
        self,
        collection: str,
        filters: Mapping[str, Any] | None = None,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Records whose fields equal ``filters``, newest ``timestamp`` first.

        A filter name is a field or a dotted path into nested objects (``sla_status.compliant``);
        ``since_ms`` is inclusive and ``until_ms`` exclusive, both on ``timestamp``.
        """
        ...

    async def delete(self, collection: str, keys: Sequence[str]) -> None: ...

    async def purge(self, collection: str, before_ms: int) -> int:
        """Delete records whose ``timestamp`` is older than ``before_ms``; returns how many."""
        ...


# ---------------------------------------------------------------- cache


class Cache(Protocol):
    """Key/value store with TTLs and atomic counters; raises CacheUnavailable when unreachable."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_seconds: float | None = None) -> None: ...

    async def add(self, key: str, value: bytes, ttl_seconds: float) -> bool:
        """Set only if absent (atomic); True when this call set it. Used for de-duplication."""
        ...

    async def incr(self, key: str, amount: int = 1) -> int:
        """Add ``amount`` atomically (a missing key counts as 0); returns the new value."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove ``key`` atomically; True when it existed (so only one caller wins)."""
        ...

    async def ping(self) -> None:
        """Readiness: raise CacheUnavailable when the cache cannot be reached."""
        ...


@dataclass(frozen=True)
class SlotOffer:
    """A worker C3 would place a ticket on, and how many tickets it may hold at once."""

    worker_id: str
    limit: int


@dataclass(frozen=True)
class Reservation:
    """What one reservation call did. ``already``: the ticket was held before the call (a
    retried C3), by ``worker_id``. Otherwise ``index`` is the offer reserved (None when every
    offer was full) and ``loads`` what the first ``read`` offers, and the reserved one, held
    just before the call."""

    worker_id: str | None
    already: bool = False
    index: int | None = None
    loads: dict[str, WorkerLoad] = field(default_factory=dict)


class CapacityLedger(Protocol):
    """Which worker holds which ticket, and the predicted work each worker holds. Each call is
    atomic and, on Redis, one round trip, so replicas sharing it never overfill a worker."""

    async def reserve(
        self,
        ticket_id: str,
        offers: Sequence[SlotOffer],
        entry: InFlight,
        *,
        read: int,
        ttl_seconds: float,
    ) -> Reservation:
        """Hold ``ticket_id`` on the first offer with room (best first), recording ``entry``;
        a ticket already held keeps its worker. Entries older than ``ttl_seconds`` before
        ``entry.reserved_at_ms`` are dropped as leaked (their reservation expired)."""
        ...

    async def move(
        self, ticket_id: str, from_worker: str, to: SlotOffer, entry: InFlight, ttl_seconds: float
    ) -> str | None:
        """Move the ticket from ``from_worker`` to ``to`` when it still holds it there and
        ``to`` has room; returns the worker holding it afterwards."""
        ...

    async def release_slot(self, ticket_id: str, worker_id: str) -> bool:
        """Give the ticket's slot on ``worker_id`` back; True only for the call that did."""
        ...

    async def loads(self, worker_ids: Sequence[str]) -> dict[str, WorkerLoad]:
        """What each worker holds now."""
        ...


class LedgerCache(Cache, CapacityLedger, Protocol):
    """A cache that also keeps the capacity ledger (both adapters do)."""


# ---------------------------------------------------------------- worker registry


class WorkerRegistry(Protocol):
    async def discover(
        self,
        capabilities: Sequence[str],
        *,
        namespace: str | None = None,
        security_level: SecurityLevel | None = None,
        max_results: int = 100,
    ) -> list[WorkerProfile]:
        """Workers that might take the work; the scheduler still filters and scores them."""
        ...

    async def register(self, worker: WorkerProfile) -> None: ...

    async def heartbeat(self, worker_id: str, active_tasks: int | None = None) -> None: ...

    async def ping(self) -> None:
        """Readiness: raise RegistryUnavailable when the registry cannot be reached."""
        ...


# ---------------------------------------------------------------- scheduler


@dataclass(frozen=True)
class Allocation:
    """Where a ticket goes and why: ``explanation`` is JSON-ready and lands in ticket metadata."""

    ticket_id: str
    worker_id: str | None
    method: str
    priority_score: float
    explanation: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)  # extra ticket metadata (strings)


class Scheduler(Protocol):
    async def allocate(
        self,
        ticket: ExecutionTicket,
        now_ms: int,
        *,
        intelligent: bool | None = None,
        weights: PriorityWeights | None = None,
    ) -> Allocation:
        """Place one ticket. ``intelligent=False`` (a feature flag from policy) asks for plain
        rotation over eligible workers for this ticket; None keeps the configured mode.
        ``weights`` are the workflow's priority weights; None keeps the configured ones."""
        ...

    async def release(self, ticket_id: str, worker_id: str) -> None:
        """The worker finished (or dropped) the ticket: give its capacity back."""
        ...


# ---------------------------------------------------------------- policy


@dataclass(frozen=True)
class PolicyViolation:
    policy: str
    rule: str
    severity: str
    message: str


@dataclass(frozen=True)
class PolicyDecision:
    allow: bool
    violations: tuple[PolicyViolation, ...] = ()
    warnings: tuple[str, ...] = ()
    flags: Mapping[str, bool] = field(default_factory=dict)


class PolicyEngine(Protocol):
    async def evaluate(self, package: str, input_doc: Mapping[str, Any]) -> PolicyDecision:
        """Evaluate one policy package (``neuralhive/orchestrator/resource_limits``...)."""
        ...

    async def ping(self) -> None:
        """Readiness: raise PolicyUnavailable when the engine cannot answer."""
        ...


# ---------------------------------------------------------------- workflow engine


class WorkflowEngine(Protocol):
    """Runs one Flow C workflow per decision (workflow id = decision_id). Every call raises
    EngineUnavailable when the engine cannot be reached, NotFound for an unknown workflow."""

    async def start(self, decision: ConsolidatedDecision, plan: CognitivePlan | None = None) -> str:
        """``started``, or ``existing`` when a workflow (running or finished) has this id: a
        decision never runs twice. TooLarge when the engine refuses the decision for its size.
        ``plan`` (the decision's, already read) lets the engine index the workflow by it."""
        ...

    async def deliver(self, result: ExecutionResult) -> bool:
        """Route a worker's result to the workflow that owns its ticket; False if none does."""
        ...

    async def decide(self, workflow_id: str, approved: bool, by: str, reason: str) -> WorkflowView:
        """The human answer to a workflow awaiting approval (Conflict otherwise)."""
        ...

    async def cancel(
        self, workflow_id: str, reason: str = "", by: str = "operator"
    ) -> WorkflowView:
        """Ask a running workflow to stop (Conflict when it already ended)."""
        ...

    async def view(self, workflow_id: str) -> WorkflowView:
        """The workflow's own answer: status, step, tickets, incidents."""
        ...

    async def status_of(self, workflow_id: str) -> str:
        """A workflow's status in the vocabulary of ``view``, without waking it when possible."""
        ...

    async def statuses(self, workflow_ids: list[str]) -> dict[str, str]:
        """Statuses of many workflows at once; ids the engine does not know are left out."""
        ...

    async def count_running(self) -> int:
        """Workflows of this deployment running now, across every replica."""
        ...

    async def ping(self) -> None:
        """Raise EngineUnavailable when the engine cannot be reached."""
        ...


# ---------------------------------------------------------------- ML model registry


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model, with the metrics its training run logged."""

    name: str
    version: str
    run_id: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    created_at_ms: int = 0


class ModelRegistry(Protocol):
    """Where trained models live (MLflow). Synchronous: callers run it off the event loop.
    Every method raises ModelRegistryUnavailable when the registry does not answer."""

    @property
    def uri(self) -> str:
        """Where the registry is (shown by ``ml status``; no secrets)."""
        ...

    def log_version(
        self,
        name: str,
        params: Mapping[str, str],
        metrics: Mapping[str, float],
        artifact: bytes,
    ) -> ModelVersion:
        """Log one training run (params, metrics, the model's bytes) and register a version."""
        ...

    def production(self, name: str) -> ModelVersion | None:
        """The version carrying the ``production`` alias, or None when there is none."""
        ...

    def promote(self, name: str, version: str) -> None:
        """Move the ``production`` alias to ``version``."""
        ...

    def load(self, version: ModelVersion) -> bytes:
        """The model bytes logged with ``version``."""
        ...


# ---------------------------------------------------------------- leases


class Leases(Protocol):
    """Named, expiring, exclusive leases: a background loop that must run once across replicas
    runs only in the replica holding its lease. Raises CacheUnavailable when unreachable."""

    async def acquire(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take ``name`` for ``holder`` if it is free, or extend it if ``holder`` already has it;
        True when ``holder`` holds it for ``ttl_seconds`` from now (atomic)."""
        ...

    async def release(self, name: str, holder: str) -> None:
        """Give ``name`` up if ``holder`` holds it (never another holder's lease)."""
        ...
