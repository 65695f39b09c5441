"""The retry board: one wait per workflow step, its start kept across attempts, stale entries
ignored, and the stuck-workflows count past the threshold."""

from __future__ import annotations

from orchestrator_dynamic.flow.retrying import STALE_AFTER_MS, RetryBoard

T0 = 1_800_000_000_000


def fail(board: RetryBoard, attempt: int, now: int, activity: str = "c4_publish_tickets") -> None:
    board.failed(
        "wf",
        "run",
        activity,
        dependency="bus",
        error_type="BusUnavailable",
        reason="bus unavailable: refused",
        attempt=attempt,
        first_scheduled_ms=T0 - 5_000,
        now_ms=now,
    )


def test_the_wait_starts_at_the_first_failure_and_keeps_its_start() -> None:
    board = RetryBoard()
    fail(board, 1, T0)
    fail(board, 2, T0 + 1_000)
    fail(board, 3, T0 + 3_000)
    entry = board.waiting("wf", "run", now_ms=T0 + 3_000)
    assert entry is not None
    assert (entry.since_ms, entry.attempt) == (T0, 3)
    assert entry.message == "waiting for bus since 2027-01-15T08:00:00+00:00"


def test_attempts_seen_first_in_this_process_start_at_the_steps_schedule_time() -> None:
    board = RetryBoard()
    fail(board, 7, T0)  # attempts 1-6 ran in another replica
    entry = board.waiting("wf", "run", now_ms=T0)
    assert entry is not None and entry.since_ms == T0 - 5_000


def test_a_new_step_starts_a_new_wait_and_success_clears_it() -> None:
    board = RetryBoard()
    fail(board, 3, T0)
    fail(board, 1, T0 + 10_000, activity="c5_consolidate")
    entry = board.waiting("wf", "run", now_ms=T0 + 10_000)
    assert entry is not None and (entry.activity, entry.since_ms) == ("c5_consolidate", T0 + 10_000)
    board.cleared("wf", "run")
    assert board.waiting("wf", "run", now_ms=T0 + 10_000) is None


def test_stuck_counts_only_waits_past_the_threshold_and_still_fresh() -> None:
    board = RetryBoard(stuck_after_s=60)
    fail(board, 1, T0)
    assert board.stuck(now_ms=T0 + 30_000) == {}
    fail(board, 5, T0 + 50_000)
    assert board.stuck(now_ms=T0 + 61_000) == {("c4_publish_tickets", "bus"): 1}
    late = T0 + 50_000 + STALE_AFTER_MS + 1
    assert board.waiting("wf", "run", now_ms=late) is None
    assert board.stuck(now_ms=late) == {}
