"""Reading the simulator's three inputs: plans (decisions, one JSON a line, the wire format),
workers (the registry's shape) and the ticket history (the store's finished tickets).

A plan arrives at its decision's ``created_at`` (epoch ms, as the consensus engine stamped it)
unless a fixed spacing is given. A line that is not a decision is dead-lettered, as the intake
would do: kept with its line number and reason, never silently dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator_dynamic.domain.decode import parse_decision
from orchestrator_dynamic.domain.errors import MalformedMessage
from orchestrator_dynamic.domain.model import ConsolidatedDecision, ExecutionTicket, SecurityLevel
from orchestrator_dynamic.domain.scoring import Health, WorkerProfile, WorkerTelemetry
from orchestrator_dynamic.services.ml.history import BadHistory, parse_lines


class SimInputError(ValueError):
    """An input file the simulator cannot use; the message names file, line or field, reason."""


@dataclass(frozen=True)
class PlanArrival:
    arrival_ms: int
    decision: ConsolidatedDecision
    line: int


@dataclass(frozen=True)
class DeadLetter:
    line: int
    reason: str


@dataclass(frozen=True)
class Plans:
    arrivals: list[PlanArrival]
    dead_letters: list[DeadLetter]


def load_plans(path: Path, spacing_ms: int | None = None) -> Plans:
    """Decisions in arrival order (stable for equal times: file order)."""
    arrivals: list[PlanArrival] = []
    dead: list[DeadLetter] = []
    for number, text in _lines(path):
        try:
            decision = parse_decision(text)
        except MalformedMessage as exc:
            dead.append(DeadLetter(number, str(exc)))
            continue
        arrivals.append(PlanArrival(decision.created_at, decision, number))
    if not arrivals:
        detail = f" ({len(dead)} lines unreadable, first: line {dead[0].line}: {dead[0].reason})"
        raise SimInputError(f"{path}: no decision to simulate{detail if dead else ''}")
    if spacing_ms is not None:
        start = arrivals[0].arrival_ms
        arrivals = [
            PlanArrival(start + i * spacing_ms, a.decision, a.line) for i, a in enumerate(arrivals)
        ]
    arrivals.sort(key=lambda a: a.arrival_ms)
    return Plans(arrivals, dead)


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SimInputError(f"{path}: cannot be read: {exc}") from exc
    stripped = text.strip()
    if stripped.startswith("{") and "\n{" not in stripped:
        return [(1, stripped)]  # one decision pretty-printed over many lines
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


# ---------------------------------------------------------------- workers


class TelemetryDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    success_rate: float = Field(1.0, ge=0, le=1)
    duration_score: float = Field(0.5, ge=0, le=1)
    experience: float = Field(0.0, ge=0, le=1)


class WorkerDoc(BaseModel):
    """A worker as the registry lists it (``workers --json``), plus how it behaves here."""

    model_config = ConfigDict(extra="forbid")

    worker_id: str = Field(min_length=1)
    capabilities: list[str] = Field(min_length=1)
    namespace: str = "default"
    security_level: SecurityLevel = SecurityLevel.INTERNAL
    max_concurrent_tasks: int = Field(10, ge=1)
    health: Health = Health.HEALTHY
    active_tasks: int = Field(0, ge=0)  # in a registry export; the simulation starts idle
    telemetry: TelemetryDoc = Field(default_factory=TelemetryDoc)
    # Simulation only: how fast it works (durations are divided by it) and, when set, its own
    # failure rate instead of the history's rate for the task type.
    speed: float = Field(1.0, gt=0)
    failure_rate: float | None = Field(None, ge=0, le=1)

    @field_validator("health", "security_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


@dataclass(frozen=True)
class SimWorker:
    profile: WorkerProfile
    speed: float = 1.0
    failure_rate: float | None = None


def load_workers(path: Path) -> list[SimWorker]:
    """A JSON array, ``{"workers": [...]}`` (the API's answer) or one worker per line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SimInputError(f"{path}: cannot be read: {exc}") from exc
    docs = _worker_docs(path, text)
    if not docs:
        raise SimInputError(f"{path}: no worker in the file")
    workers = [_worker(path, i, doc) for i, doc in enumerate(docs)]
    seen: set[str] = set()
    for w in workers:
        if w.profile.worker_id in seen:
            raise SimInputError(f"{path}: worker_id {w.profile.worker_id!r} appears twice")
        seen.add(w.profile.worker_id)
    return workers


def _worker_docs(path: Path, text: str) -> list[Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        out = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SimInputError(f"{path}:{number}: not JSON: {exc}") from exc
        return out
    if isinstance(doc, dict) and isinstance(doc.get("workers"), list):
        return list(doc["workers"])
    return list(doc) if isinstance(doc, list) else [doc]


def _worker(path: Path, index: int, doc: Any) -> SimWorker:
    try:
        w = WorkerDoc.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "<worker>"
        raise SimInputError(f"{path}: worker {index}: {where}: {err['msg']}") from None
    t = w.telemetry
    profile = WorkerProfile(
        worker_id=w.worker_id,
        capabilities=frozenset(w.capabilities),
        health=w.health,
        namespace=w.namespace,
        security_level=w.security_level,
        max_concurrent_tasks=w.max_concurrent_tasks,
        telemetry=WorkerTelemetry(t.success_rate, t.duration_score, t.experience),
    )
    return SimWorker(profile, w.speed, w.failure_rate)


# ---------------------------------------------------------------- history


def load_history(path: Path) -> list[ExecutionTicket]:
    """The store's finished tickets, one ExecutionTicket JSON a line (as ``ml train`` reads
    them); a line that is not a ticket is refused with its number and field."""
    try:
        with path.open(encoding="utf-8") as lines:
            tickets = parse_lines(lines, str(path)).tickets
    except (OSError, UnicodeDecodeError) as exc:
        raise SimInputError(f"{path}: cannot be read: {exc}") from exc
    except BadHistory as exc:
        raise SimInputError(str(exc)) from exc
    if not tickets:
        raise SimInputError(f"{path}: no finished ticket in the history")
    return tickets
