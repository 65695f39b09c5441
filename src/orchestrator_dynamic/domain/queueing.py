"""Queue time and load per worker (the specification's ``predicted_queue_ms`` and
``predicted_load_pct``), and C3's deadline-aware choice among workers whose scores are close.
Pure functions over plain values.

What a worker already holds is its capacity ledger's entries: one per reserved ticket, with
when it was reserved and how long it was predicted to take. From them, for a worker with
``slots`` = ``max_concurrent_tasks``:

- ``predicted_work_ms`` = sum over its in-flight tickets of their predicted *remaining* time,
  max(0, reserved_at + predicted - now);
- ``predicted_queue_ms`` = predicted_work_ms / slots: the backlog per slot, i.e. how long the
  worker needs to clear what it already holds with every slot busy. C3 never gives a worker
  more tickets than slots, so a strict slot model would always say 0; the backlog per slot is
  what a new ticket competes with on a worker whose slots share one machine, and it is 0 on an
  idle worker. It is deliberately conservative (it never promises an earlier start than that);
- ``predicted_load_pct`` = 100 x in-flight / slots (the share of its slots taken, 0-100);
- ``predicted_completion_ms`` = now + predicted_queue_ms + the ticket's own predicted duration,
  which ``meets_deadline`` compares with the ticket's SLA deadline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Scores within this distance of the best are "close": the deadline may decide between them.
DEFAULT_SCORE_TOLERANCE = 0.05


@dataclass(frozen=True)
class InFlight:
    """One ticket a worker holds: reserved at ``reserved_at_ms``, predicted ``predicted_ms``."""

    reserved_at_ms: int
    predicted_ms: int

    def remaining_ms(self, now_ms: int) -> int:
        return max(0, self.reserved_at_ms + self.predicted_ms - now_ms)


@dataclass(frozen=True)
class WorkerLoad:
    """What a worker holds, as its capacity ledger reads."""

    in_flight: tuple[InFlight, ...] = ()

    @property
    def count(self) -> int:
        return len(self.in_flight)

    def work_ms(self, now_ms: int) -> int:
        return sum(entry.remaining_ms(now_ms) for entry in self.in_flight)


@dataclass(frozen=True)
class TicketDuration:
    """How long the ticket itself is expected to take, and where that figure comes from
    (``model:vN`` / ``heuristic:...`` from its predictions, ``estimate``, or ``none`` = 0)."""

    ms: int
    source: str


def ticket_duration(
    predicted_ms: float | None, predicted_source: str | None, estimated_ms: int | None
) -> TicketDuration:
    """The prediction when C3 has one, else the plan's estimate, else zero (and say so)."""
    if predicted_ms is not None and predicted_ms >= 0:
        return TicketDuration(round(predicted_ms), predicted_source or "prediction")
    if estimated_ms is not None and estimated_ms >= 0:
        return TicketDuration(estimated_ms, "estimate")
    return TicketDuration(0, "none")


@dataclass(frozen=True)
class QueueEstimate:
    """One candidate worker's queue, load and the ticket's predicted completion on it."""

    worker_id: str
    score: float
    slots: int
    in_flight: int
    work_ms: int
    queue_ms: int
    load_pct: float
    completion_ms: int
    meets_deadline: bool

    def as_dict(self) -> dict[str, int | float | bool]:
        return {
            "in_flight": self.in_flight,
            "predicted_work_ms": self.work_ms,
            "predicted_queue_ms": self.queue_ms,
            "predicted_load_pct": self.load_pct,
            "predicted_completion_ms": self.completion_ms,
            "meets_deadline": self.meets_deadline,
        }


def estimate(
    worker_id: str,
    score: float,
    slots: int,
    load: WorkerLoad,
    duration_ms: int,
    now_ms: int,
    deadline_ms: int,
) -> QueueEstimate:
    slots = max(1, slots)
    work = load.work_ms(now_ms)
    queue = round(work / slots)
    completion = now_ms + queue + max(0, duration_ms)
    return QueueEstimate(
        worker_id=worker_id,
        score=score,
        slots=slots,
        in_flight=load.count,
        work_ms=work,
        queue_ms=queue,
        load_pct=round(100.0 * load.count / slots, 1),
        completion_ms=completion,
        meets_deadline=completion <= deadline_ms,
    )


@dataclass(frozen=True)
class Preference:
    """Which worker C3 should take among the close ones, and why (for ``explain``)."""

    worker_id: str
    changed: bool
    reason: str
    close: tuple[str, ...]


def prefer(
    candidates: Sequence[QueueEstimate],
    tolerance: float = DEFAULT_SCORE_TOLERANCE,
    has_room: Mapping[str, bool] | None = None,
) -> Preference | None:
    """Among candidates (best score first) with room, those within ``tolerance`` of the best
    are close. The best keeps the ticket when its predicted completion meets the deadline;
    else the best-scored close one that meets it; else, when none does, the close one that
    finishes first (the least late). None when there is no candidate with room."""
    room = has_room or {}
    open_ = [c for c in candidates if room.get(c.worker_id, True)]
    if not open_:
        return None
    best = open_[0]
    close = [c for c in open_ if c.score >= best.score - tolerance]
    names = tuple(c.worker_id for c in close)
    if best.meets_deadline:
        return Preference(best.worker_id, False, "best score meets the deadline", names)
    meeting = [c for c in close if c.meets_deadline]
    if meeting:
        pick = meeting[0]
        reason = (
            f"{best.worker_id} (best score) would finish after the deadline; "
            f"{pick.worker_id} scores within {tolerance} and meets it"
        )
        return Preference(pick.worker_id, True, reason, names)
    pick = min(close, key=lambda c: (c.completion_ms, -c.score, c.worker_id))
    if pick.worker_id == best.worker_id:
        return Preference(best.worker_id, False, "no close worker meets the deadline", names)
    reason = (
        f"no worker within {tolerance} of the best score meets the deadline; "
        f"{pick.worker_id} finishes first"
    )
    return Preference(pick.worker_id, True, reason, names)
