"""Which workflow steps are waiting for a dependency, and since when (process-local).

Temporal retries a failed activity without telling the workflow: it only sees the final outcome,
and a dependency outage has none until the dependency returns. So the activity side writes down
each failed attempt here, keyed by workflow run, and two readers look:

- the workflow's ``view`` query ("waiting for bus since …"). Local activities (C1, C2, C3) always
  run in the worker process that runs the workflow, which is also the one that answers its
  queries, so their entries are always where the query looks. Regular activities (C4, C5, C6) may
  run on any worker of the task queue; with several replicas the query sees their wait when the
  attempt ran in its process.
- the ``orchestration_stuck_workflows`` gauge, computed at scrape time: workflows whose step has
  been retrying for longer than STUCK_STEP_ALERT_SECONDS. Each replica reports the attempts it ran.

An entry is dropped when its step succeeds or fails for good, and ignored once no attempt has
refreshed it for ``STALE_AFTER_MS`` (the attempts moved to another process, or the workflow ended).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

# Longest gap between two attempts of a waiting step: the longest back-off (30 s) plus the longest
# attempt (30 s), with room to spare.
STALE_AFTER_MS = 120_000


@dataclass(frozen=True)
class Waiting:
    """One step retrying after a dependency outage."""

    activity: str
    dependency: str
    error_type: str
    reason: str
    since_ms: int
    attempt: int
    seen_ms: int

    @property
    def message(self) -> str:
        since = datetime.fromtimestamp(self.since_ms / 1000, UTC).isoformat(timespec="seconds")
        return f"waiting for {self.dependency} since {since}"

    def as_dict(self) -> dict[str, str | int]:
        return {
            "message": self.message,
            "activity": self.activity,
            "dependency": self.dependency,
            "error_type": self.error_type,
            "reason": self.reason,
            "since_ms": self.since_ms,
            "attempt": self.attempt,
        }


class RetryBoard:
    def __init__(self, stuck_after_s: float = 300.0) -> None:
        self.stuck_after_s = stuck_after_s
        self._entries: dict[tuple[str, str], Waiting] = {}
        self._lock = threading.Lock()  # read at scrape time from the metrics server's thread

    def failed(
        self,
        workflow_id: str,
        run_id: str,
        activity: str,
        *,
        dependency: str,
        error_type: str,
        reason: str,
        attempt: int,
        first_scheduled_ms: int,
        now_ms: int | None = None,
    ) -> Waiting:
        """An attempt failed and will be retried. ``since`` is the first failure this process
        saw, or the step's first schedule time when earlier attempts ran elsewhere."""
        now = _now() if now_ms is None else now_ms
        key = (workflow_id, run_id)
        with self._lock:
            known = self._entries.get(key)
            if known is not None and known.activity == activity and known.attempt < attempt:
                entry = replace(
                    known,
                    dependency=dependency,
                    error_type=error_type,
                    reason=reason,
                    attempt=attempt,
                    seen_ms=now,
                )
            else:
                since = now if attempt <= 1 else min(first_scheduled_ms, now)
                entry = Waiting(activity, dependency, error_type, reason, since, attempt, now)
            self._entries[key] = entry
        return entry

    def cleared(self, workflow_id: str, run_id: str) -> None:
        with self._lock:
            self._entries.pop((workflow_id, run_id), None)

    def waiting(self, workflow_id: str, run_id: str, now_ms: int | None = None) -> Waiting | None:
        now = _now() if now_ms is None else now_ms
        with self._lock:
            entry = self._entries.get((workflow_id, run_id))
        return entry if entry is not None and now - entry.seen_ms <= STALE_AFTER_MS else None

    def stuck(self, now_ms: int | None = None) -> Counter[tuple[str, str]]:
        """Workflows retrying for longer than ``stuck_after_s``, by (activity, dependency)."""
        now = _now() if now_ms is None else now_ms
        with self._lock:
            for key in [k for k, e in self._entries.items() if now - e.seen_ms > STALE_AFTER_MS]:
                del self._entries[key]
            return Counter(
                (e.activity, e.dependency)
                for e in self._entries.values()
                if now - e.since_ms > self.stuck_after_s * 1000
            )


class _StuckCollector(Collector):
    def __init__(self, board: RetryBoard) -> None:
        self._board = board

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "orchestration_stuck_workflows",
            "Workflows whose current step has retried after a dependency outage for longer than "
            "STUCK_STEP_ALERT_SECONDS",
            labels=["activity", "dependency"],
        )
        for (activity, dependency), count in sorted(self._board.stuck().items()):
            family.add_metric([activity, dependency], count)
        yield family


def _now() -> int:
    return int(time.time() * 1000)


BOARD = RetryBoard()
REGISTRY.register(_StuckCollector(BOARD))
