"""How long an attempt takes and whether it fails, drawn per task type from the ticket history
(or taken from the ML predictor), reproducibly.

Draws are keyed by (seed, ticket id, attempt), not taken from one shared stream, so the same
attempt of the same ticket takes as long under every setting compared: differences between
settings come from the settings, not from the dice.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from orchestrator_dynamic.domain.ml import finished_duration, history_stats
from orchestrator_dynamic.domain.model import ExecutionTicket, TicketStatus
from orchestrator_dynamic.domain.rules import DEFAULT_ESTIMATE_MS
from orchestrator_dynamic.services.ml.predictor import MLPredictor

_SCALE = float(1 << 64)


@dataclass
class TypeSamples:
    """What the history says about one task type."""

    ratios: list[float] = field(default_factory=list)  # actual / estimate, where estimated
    durations: list[int] = field(default_factory=list)
    completed: int = 0
    failed: int = 0

    @property
    def failure_rate(self) -> float:
        total = self.completed + self.failed
        return self.failed / total if total else 0.0


def samples_by_type(history: Sequence[ExecutionTicket]) -> dict[str, TypeSamples]:
    out: dict[str, TypeSamples] = defaultdict(TypeSamples)
    for ticket in history:
        duration = finished_duration(ticket)
        if duration is None:
            continue
        group = out[ticket.task_type.value]
        if ticket.status is TicketStatus.COMPLETED:
            group.completed += 1
        else:
            group.failed += 1
        group.durations.append(duration)
        if ticket.estimated_duration_ms:
            group.ratios.append(duration / ticket.estimated_duration_ms)
    return dict(out)


def uniforms(seed: int, ticket_id: str, attempt: int) -> tuple[float, float]:
    """Two independent uniforms in [0, 1) for one attempt."""
    digest = hashlib.blake2b(f"{seed}:{ticket_id}:{attempt}".encode(), digest_size=16).digest()
    return (
        int.from_bytes(digest[:8], "big") / _SCALE,
        int.from_bytes(digest[8:], "big") / _SCALE,
    )


class Behaviour:
    """Durations and failures of attempts.

    ``source="history"``: a task with an estimate takes its estimate times a ratio drawn from
    the history's tickets of its type (actual / estimate); one without, a duration drawn from
    them; a type the history lacks takes its estimate (60 s without one). ``source="predictor"``:
    the ML predictor's duration (its heuristic over the history's statistics), no spread.
    Failures at the history's rate for the type, or the worker's own ``failure_rate``."""

    def __init__(
        self,
        history: Sequence[ExecutionTicket] = (),
        seed: int = 0,
        source: str = "history",
    ) -> None:
        self._samples = samples_by_type(history)
        self._seed = seed
        self._source = source
        self._predictor = MLPredictor(None)
        if history:
            self._predictor.use_history(history_stats(history))
        self._predicted: dict[tuple[str, int | None, int], float] = {}

    @property
    def predictor(self) -> MLPredictor:
        return self._predictor

    def predicted_ms(self, ticket: ExecutionTicket) -> float:
        """What the ML predictor expects (cached: with no model it depends on type and SLA)."""
        key = (ticket.task_type.value, ticket.estimated_duration_ms, ticket.sla.timeout_ms)
        value = self._predicted.get(key)
        if value is None:
            value = self._predictor.predict([ticket])[0].duration_ms
            self._predicted[key] = value
        return value

    def attempt(
        self, ticket: ExecutionTicket, attempt: int, speed: float, failure_rate: float | None
    ) -> tuple[int, bool]:
        """(duration in ms on this worker, whether the attempt fails)."""
        u_duration, u_failure = uniforms(self._seed, ticket.ticket_id, attempt)
        group = self._samples.get(ticket.task_type.value)
        base = self._base_ms(ticket, group, u_duration)
        rate = failure_rate if failure_rate is not None else (group.failure_rate if group else 0)
        return max(1, round(base / speed)), u_failure < rate

    def _base_ms(self, ticket: ExecutionTicket, group: TypeSamples | None, u: float) -> float:
        if self._source == "predictor":
            return self.predicted_ms(ticket)
        estimate = ticket.estimated_duration_ms
        if group is not None and estimate and group.ratios:
            return estimate * group.ratios[int(u * len(group.ratios))]
        if group is not None and group.durations and not estimate:
            return float(group.durations[int(u * len(group.durations))])
        return float(estimate or DEFAULT_ESTIMATE_MS)
