"""Ticket deadlines, workflow roll-up and violation durations, on a controlled clock."""

from __future__ import annotations

import pytest

from orchestrator_dynamic.domain.sla import (
    DeadlineStatus,
    DurationSource,
    ViolationType,
    check_deadline,
    find_violation,
    roll_up,
)
from tests.unit.sla.factory import T0, WINDOW_MS, ticket


@pytest.mark.parametrize(
    ("elapsed_ms", "status"),
    [
        (0, DeadlineStatus.OK),
        (79_999, DeadlineStatus.OK),
        (80_000, DeadlineStatus.APPROACHING),  # exactly 80 % of the window
        (99_999, DeadlineStatus.APPROACHING),
        (100_000, DeadlineStatus.VIOLATED),  # exactly 100 %
        (150_000, DeadlineStatus.VIOLATED),
    ],
)
def test_status_by_share_of_window_consumed(elapsed_ms: int, status: DeadlineStatus) -> None:
    check = check_deadline(ticket(), T0 + elapsed_ms, warning_threshold=0.8)
    assert check.status is status
    assert check.remaining_ms == WINDOW_MS - elapsed_ms
    assert check.consumed == pytest.approx(elapsed_ms / WINDOW_MS)
    assert check.workflow_id == "wf-1"


def test_threshold_is_configurable() -> None:
    assert check_deadline(ticket(), T0 + 60_000, 0.6).status is DeadlineStatus.APPROACHING
    assert check_deadline(ticket(), T0 + 60_000, 0.61).status is DeadlineStatus.OK


def test_finished_ticket_is_judged_at_its_completion_not_now() -> None:
    done = ticket(status="COMPLETED", completed_at=T0 + 50_000)
    check = check_deadline(done, T0 + 500_000)
    assert check.status is DeadlineStatus.OK
    assert check.remaining_ms == 50_000


def test_workflow_roll_up_counts_tickets_over_threshold_as_critical() -> None:
    now = T0 + 85_000
    late = ticket("late")
    early = ticket("early", status="COMPLETED", completed_at=T0 + 10_000)
    checks = [check_deadline(t, now, 0.8, "wf-9") for t in (late, early)]
    rolled = roll_up("wf-9", checks)
    assert rolled.critical_tickets == ("late",)
    assert rolled.status is DeadlineStatus.APPROACHING
    assert rolled.nearest_remaining_ms == 15_000
    assert rolled.max_consumed == pytest.approx(0.85)
    assert rolled.at_risk
    assert roll_up("wf-0", []).status is DeadlineStatus.OK


def test_no_violation_before_the_deadline() -> None:
    assert find_violation(ticket(), T0 + 99_999) is None
    assert find_violation(ticket(status="COMPLETED", completed_at=T0 + 99_999), T0 + 10**9) is None


def test_duration_persisted_when_the_worker_reported_it() -> None:
    t = ticket(
        status="COMPLETED",
        started_at=T0 + 1_000,
        completed_at=T0 + 120_000,
        actual_duration_ms=118_500,
    )
    v = find_violation(t, T0 + 200_000)
    assert v is not None
    assert v.violation_type is ViolationType.DEADLINE_EXCEEDED
    assert (v.duration_ms, v.duration_source) == (118_500, DurationSource.PERSISTED)
    assert v.overrun_ms == 20_000
    assert v.deadline_ms == T0 + WINDOW_MS


def test_duration_calculated_from_started_and_completed() -> None:
    t = ticket(status="COMPLETED", started_at=T0 + 5_000, completed_at=T0 + 100_000)
    v = find_violation(t, T0 + 200_000)
    assert v is not None
    assert (v.duration_ms, v.duration_source) == (95_000, DurationSource.CALCULATED)
    assert v.overrun_ms == 0  # completing exactly at the deadline is 100 %: a violation


def test_duration_estimated_for_a_ticket_still_running_past_its_deadline() -> None:
    v = find_violation(ticket(started_at=T0 + 2_000), T0 + 130_000)
    assert v is not None
    assert v.violation_type is ViolationType.DEADLINE_EXCEEDED
    assert (v.duration_ms, v.duration_source) == (128_000, DurationSource.ESTIMATED)
    assert v.overrun_ms == 30_000


def test_timed_out_ticket_is_a_timeout_with_an_estimated_duration_from_creation() -> None:
    t = ticket(status="FAILED", error_message="ticket timed out after 100000 ms")
    v = find_violation(t, T0 + 100_500)
    assert v is not None
    assert v.violation_type is ViolationType.TIMEOUT
    assert (v.duration_ms, v.duration_source) == (100_500, DurationSource.ESTIMATED)


def test_failed_for_another_reason_before_the_deadline_is_no_sla_violation() -> None:
    t = ticket(status="FAILED", completed_at=T0 + 10_000, error_message="worker crashed")
    assert find_violation(t, T0 + 500_000) is None
