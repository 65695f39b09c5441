"""Error budget and burn rates against hand-computed values."""

from __future__ import annotations

import pytest

from orchestrator_dynamic.domain.sla_budget import (
    HOUR_MS,
    BudgetPolicy,
    BudgetStatus,
    Outcome,
    burn_rate,
    burn_rate_alert,
    error_budget,
    outcome_of,
)
from tests.unit.sla.factory import result

NOW = 1_800_000_000_000
POLICY = BudgetPolicy(default_target=0.99, critical_threshold=0.2, warning_threshold=0.5)


def outcomes(good: int, bad: int, at_ms: int = NOW - 1_000) -> list[Outcome]:
    return [Outcome(at_ms, True)] * good + [Outcome(at_ms, False)] * bad


@pytest.mark.parametrize(
    ("good", "bad", "remaining", "status"),
    [
        # 1000 events at 99 % allow 10 bad ones.
        (1000, 0, 1.0, BudgetStatus.HEALTHY),
        (995, 5, 0.5, BudgetStatus.HEALTHY),  # 1 - 5/10
        (993, 7, 0.3, BudgetStatus.WARNING),  # 1 - 7/10 < 0.5
        (991, 9, 0.1, BudgetStatus.CRITICAL),  # 1 - 9/10 < 0.2
        (990, 10, 0.0, BudgetStatus.EXHAUSTED),
        (980, 20, 0.0, BudgetStatus.EXHAUSTED),  # clamped, never negative
        (0, 0, 1.0, BudgetStatus.HEALTHY),  # no events spend nothing
    ],
)
def test_budget_remaining_and_status(
    good: int, bad: int, remaining: float, status: BudgetStatus
) -> None:
    budget = error_budget("svc", outcomes(good, bad), NOW, POLICY)
    assert budget.remaining == pytest.approx(remaining)
    assert budget.remaining_percent == pytest.approx(remaining * 100)
    assert budget.status is status
    assert (budget.total, budget.bad) == (good + bad, bad)


def test_target_per_service_and_window() -> None:
    policy = BudgetPolicy(default_target=0.99, targets={"strict": 0.999}, window_ms=24 * HOUR_MS)
    events = outcomes(999, 1) + outcomes(0, 50, at_ms=NOW - 25 * HOUR_MS)  # old: outside
    assert error_budget("strict", events, NOW, policy).status is BudgetStatus.EXHAUSTED
    loose = error_budget("other", events, NOW, policy)
    assert loose.remaining == pytest.approx(0.9)  # 1 - 1/10
    assert loose.slo_id == "other-workflow-success-1d"


def test_burn_rates_over_1h_6h_24h() -> None:
    # last hour: 10 workflows, 2 failed; 1-6 h ago: 40 good; 6-24 h ago: 50 good.
    events = (
        outcomes(8, 2, NOW - 30 * 60_000)
        + outcomes(40, 0, NOW - 3 * HOUR_MS)
        + outcomes(50, 0, NOW - 12 * HOUR_MS)
    )
    assert burn_rate(events, NOW, 1, 0.99) == pytest.approx(20.0)  # 0.2 / 0.01
    assert burn_rate(events, NOW, 6, 0.99) == pytest.approx(4.0)  # 2/50 / 0.01
    assert burn_rate(events, NOW, 24, 0.99) == pytest.approx(2.0)  # 2/100 / 0.01
    assert burn_rate([], NOW, 1, 0.99) == 0.0
    budget = error_budget("svc", events, NOW, POLICY)
    assert budget.burn_rates[1] == pytest.approx(20.0)
    assert budget.as_dict()["burn_rates"] == {"1": 20.0, "6": 4.0, "24": 2.0}


@pytest.mark.parametrize(
    ("rates", "expected"),
    [
        ({1: 20.0, 6: 4.0, 24: 2.0}, (1, "critical")),  # fast burn
        ({1: 7.0, 6: 6.5, 24: 2.0}, (6, "critical")),  # 6 h over 6x, 1 h confirms
        ({1: 0.0, 6: 7.0, 24: 4.0}, (24, "warning")),  # 6 h burst over, 24 h confirmed by 6 h
        ({1: 0.0, 6: 0.0, 24: 5.0}, None),  # the burn stopped: no alert
        ({1: 14.3, 6: 5.9, 24: 2.9}, None),  # just under every threshold
    ],
)
def test_multi_window_burn_rate_alert(
    rates: dict[int, float], expected: tuple[int, str] | None
) -> None:
    alert = burn_rate_alert(rates)
    got = (alert.window_hours, alert.severity) if alert else None
    assert got == expected


def test_which_workflow_results_count() -> None:
    assert outcome_of(result("a", "COMPLETED", 5)) == Outcome(5, True)
    assert outcome_of(result("b", "COMPLETED", 5, compliant=False)) == Outcome(5, False)
    assert outcome_of(result("c", "FAILED", 5)) == Outcome(5, False)
    for status in ("REFUSED", "REJECTED", "CANCELLED", "RUNNING"):
        assert outcome_of(result("d", status, 5)) is None
    assert outcome_of({"status": "COMPLETED"}) is None
