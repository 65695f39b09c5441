"""A small circuit breaker for the OPA adapter (closed -> open -> half-open -> closed).

Written here rather than taken from a library because it must be async-agnostic, export its
state as a Prometheus gauge and take an injectable clock for tests; the logic is ten lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import IntEnum

from orchestrator_dynamic.observability import policy_metrics


class BreakerState(IntEnum):
    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``reset_seconds`` lets one trial
    call through (half-open): success closes it, failure opens it again."""

    def __init__(
        self,
        threshold: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._reset = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._publish()

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._reset:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allows(self) -> bool:
        return self.state is not BreakerState.OPEN

    def succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._publish()

    def failed(self) -> None:
        self._failures += 1
        if self.state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._publish()

    def _publish(self) -> None:
        policy_metrics.CIRCUIT_BREAKER_STATE.set(int(self.state))
