"""What a large plan's run hands to the next one at a continue-as-new, and its JSON.

Pure data and serialisation, kept apart from flow/continuation.py (workflow code, re-imported
into the sandbox for every run) so that it is passed through and its pydantic adapters are built
once per process: built per run, they cost a few milliseconds at every workflow's start, small
plans included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from orchestrator_dynamic.domain.execution import ExecutionState
from orchestrator_dynamic.domain.model import TelemetryEvent, TicketStatus
from orchestrator_dynamic.flow.payloads import ApprovalSignal, IssueView, StashRef


@dataclass
class Carried:
    """What a run hands to the next one (nothing is in flight at the switch)."""

    plan: ExecutionState
    history: dict[str, list[dict[str, Any]]]
    started_ms: int
    timed_out: list[str] = field(default_factory=list)
    issues: list[IssueView] = field(default_factory=list)
    guardrails: list[str] = field(default_factory=list)
    approval: ApprovalSignal | None = None
    reason: str = ""
    outbox: list[TelemetryEvent] = field(default_factory=list)
    run: int = 1  # this run's number in the chain, 1 for the first
    sidecars: list[StashRef] = field(default_factory=list)  # see settle()
    stashed: list[StashRef] = field(default_factory=list)  # everything else, dropped at the end


_CARRIED = TypeAdapter(Carried)


def encode(carried: Carried) -> str:
    return _CARRIED.dump_json(carried).decode()


def decode(text: str) -> Carried:
    return _CARRIED.validate_json(text)


# A metadata value longer than this (C3's allocation explanation, ~4 KB) is set aside.
HEAVY_CHARS = 200
_SIDECAR = TypeAdapter(dict[str, dict[str, str]])


def settle(state: ExecutionState) -> dict[str, dict[str, str]]:
    """Take the long metadata values off the completed tickets, per ticket id, so the state the
    next run reads back stays small; C6 puts them back on the final records (the sidecar).
    Nothing in the workflow reads them: they are the allocation's explanation."""
    aside: dict[str, dict[str, str]] = {}
    for ticket_id, ticket in state.tickets.items():
        if ticket.status is not TicketStatus.COMPLETED:
            continue
        heavy = {k: v for k, v in ticket.metadata.items() if len(v) > HEAVY_CHARS}
        if heavy:
            aside[ticket_id] = heavy
            light = {k: v for k, v in ticket.metadata.items() if k not in heavy}
            state.tickets[ticket_id] = ticket.model_copy(update={"metadata": light})
    return aside


def encode_sidecar(aside: dict[str, dict[str, str]]) -> str:
    return _SIDECAR.dump_json(aside).decode()
