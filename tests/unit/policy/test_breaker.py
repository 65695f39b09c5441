"""The OPA adapter's circuit breaker as a state machine over an injected clock."""

from __future__ import annotations

from orchestrator_dynamic.adapters.policy.breaker import BreakerState, CircuitBreaker


def breaker(now: list[float]) -> CircuitBreaker:
    return CircuitBreaker(3, reset_seconds=10, clock=lambda: now[0])


def test_opens_after_threshold_consecutive_failures() -> None:
    now = [0.0]
    b = breaker(now)
    b.failed()
    b.failed()
    b.succeeded()  # a success in between resets the count
    b.failed()
    b.failed()
    assert b.state is BreakerState.CLOSED and b.allows()
    b.failed()
    assert b.state is BreakerState.OPEN and not b.allows()


def test_half_open_after_reset_then_closes_or_reopens() -> None:
    now = [0.0]
    b = breaker(now)
    for _ in range(3):
        b.failed()
    now[0] = 10.0
    assert b.state is BreakerState.HALF_OPEN and b.allows()
    b.failed()  # the trial failed: open again for a full period
    assert b.state is BreakerState.OPEN
    now[0] = 20.0
    b.succeeded()
    assert b.state is BreakerState.CLOSED
