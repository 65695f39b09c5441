"""Fixed rules of the specification: SLA, QoS, retries, priority and security per risk band."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator_dynamic.domain.model import (
    SLA,
    Consistency,
    DeliveryMode,
    Durability,
    QoS,
    RiskBand,
    SecurityLevel,
    TicketPriority,
)


@dataclass(frozen=True)
class SlaPolicy:
    """How a ticket's timeout is derived from its estimate (settings SLA_TICKET_*).
    ``default_timeout_ms`` is no longer part of the rule: a missing estimate counts as
    ``DEFAULT_ESTIMATE_MS`` instead, as the specification says."""

    min_timeout_ms: int = 60_000
    buffer_multiplier: float = 3.0
    default_timeout_ms: int = 60_000


MAX_RETRIES: dict[RiskBand, int] = {
    RiskBand.CRITICAL: 5,
    RiskBand.HIGH: 3,
    RiskBand.MEDIUM: 2,
    RiskBand.LOW: 1,
}

PRIORITY: dict[RiskBand, TicketPriority] = {
    RiskBand.CRITICAL: TicketPriority.CRITICAL,
    RiskBand.HIGH: TicketPriority.HIGH,
    RiskBand.MEDIUM: TicketPriority.NORMAL,
    RiskBand.LOW: TicketPriority.LOW,
}

MAX_TIMEOUT_MS: dict[RiskBand, int] = {
    RiskBand.CRITICAL: 2 * 3_600_000,
    RiskBand.HIGH: 3_600_000,
    RiskBand.MEDIUM: 30 * 60_000,
    RiskBand.LOW: 15 * 60_000,
}

MAX_CONCURRENT_TICKETS = 100
MIN_TIMEOUT_TO_ESTIMATE_RATIO = 1.5


# A task without an estimate counts as this long (the specification's and upstream's default).
DEFAULT_ESTIMATE_MS = 60_000


def timeout_ms(estimated_duration_ms: int | None, policy: SlaPolicy) -> int:
    """max(min_timeout, estimate x buffer); a task with no estimate counts as 60,000 ms, so by
    default it gets max(60,000, 60,000 x 3.0) = 180,000 ms."""
    estimate = DEFAULT_ESTIMATE_MS if estimated_duration_ms is None else estimated_duration_ms
    return max(policy.min_timeout_ms, round(estimate * policy.buffer_multiplier))


def sla_for(
    band: RiskBand, estimated_duration_ms: int | None, created_at_ms: int, policy: SlaPolicy
) -> SLA:
    timeout = timeout_ms(estimated_duration_ms, policy)
    return SLA(deadline=created_at_ms + timeout, timeout_ms=timeout, max_retries=MAX_RETRIES[band])


def qos_for(band: RiskBand) -> QoS:
    """critical/high need exactly-once and strong consistency; everything is persisted."""
    if band in (RiskBand.CRITICAL, RiskBand.HIGH):
        return QoS(
            delivery_mode=DeliveryMode.EXACTLY_ONCE,
            consistency=Consistency.STRONG,
            durability=Durability.PERSISTENT,
        )
    return QoS(
        delivery_mode=DeliveryMode.AT_LEAST_ONCE,
        consistency=Consistency.EVENTUAL,
        durability=Durability.PERSISTENT,
    )


def security_level_for(original_security_level: str | None) -> SecurityLevel:
    """The plan's level upper-cased; unknown or missing means INTERNAL."""
    try:
        return SecurityLevel((original_security_level or "").strip().upper())
    except ValueError:
        return SecurityLevel.INTERNAL


SECURITY_RANK: dict[SecurityLevel, int] = {
    SecurityLevel.PUBLIC: 0,
    SecurityLevel.INTERNAL: 1,
    SecurityLevel.CONFIDENTIAL: 2,
    SecurityLevel.RESTRICTED: 3,
}
