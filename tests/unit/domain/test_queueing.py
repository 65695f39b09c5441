"""Queue time, load and the deadline-aware preference among close scores, with known values."""

from __future__ import annotations

from orchestrator_dynamic.domain.queueing import (
    InFlight,
    QueueEstimate,
    WorkerLoad,
    estimate,
    prefer,
    ticket_duration,
)

NOW = 1_000_000


def test_remaining_work_counts_only_what_is_left_of_each_ticket() -> None:
    load = WorkerLoad(
        (
            InFlight(NOW - 2_000, 10_000),  # 8 s left
            InFlight(NOW - 5_000, 3_000),  # overdue: nothing left, still holds a slot
            InFlight(NOW, 4_000),  # just reserved: all of it
        )
    )
    assert load.count == 3
    assert load.work_ms(NOW) == 12_000


def test_queue_is_the_backlog_per_slot_and_load_the_share_of_slots_taken() -> None:
    load = WorkerLoad((InFlight(NOW - 2_000, 10_000), InFlight(NOW, 4_000)))
    q = estimate("w", 0.8, 4, load, 5_000, NOW, NOW + 9_000)
    # 12 s of work over 4 slots = 3 s ahead; 3 s + its own 5 s ends 8 s from now.
    assert (q.work_ms, q.queue_ms, q.load_pct) == (12_000, 3_000, 50.0)
    assert q.completion_ms == NOW + 8_000 and q.meets_deadline
    late = estimate("w", 0.8, 4, load, 7_000, NOW, NOW + 9_000)
    assert late.completion_ms == NOW + 10_000 and not late.meets_deadline


def test_an_idle_worker_has_no_queue_and_zero_slots_count_as_one() -> None:
    idle = estimate("w", 0.5, 10, WorkerLoad(), 1_000, NOW, NOW + 1_000)
    assert (idle.queue_ms, idle.load_pct, idle.meets_deadline) == (0, 0.0, True)
    odd = estimate("w", 0.5, 0, WorkerLoad((InFlight(NOW, 500),)), 0, NOW, NOW)
    assert (odd.slots, odd.queue_ms, odd.load_pct) == (1, 500, 100.0)


def test_the_ticket_duration_says_where_it_comes_from() -> None:
    d = ticket_duration(1234.6, "model:v3", 900)
    assert (d.ms, d.source) == (1235, "model:v3")
    d = ticket_duration(None, None, 900)
    assert (d.ms, d.source) == (900, "estimate")
    d = ticket_duration(None, None, None)
    assert (d.ms, d.source) == (0, "none")


def q(worker: str, score: float, completion: int, deadline: int = NOW + 10_000) -> QueueEstimate:
    return QueueEstimate(worker, score, 4, 1, 0, 0, 25.0, completion, completion <= deadline)


def test_the_best_score_keeps_the_ticket_when_it_meets_the_deadline() -> None:
    pref = prefer([q("a", 0.90, NOW + 9_000), q("b", 0.89, NOW + 1_000)], 0.05)
    assert pref is not None
    assert (pref.worker_id, pref.changed, pref.close) == ("a", False, ("a", "b"))


def test_a_close_worker_that_meets_the_deadline_wins_over_a_late_best() -> None:
    pref = prefer(
        [
            q("a", 0.90, NOW + 20_000),  # best score, late
            q("b", 0.87, NOW + 15_000),  # close, late
            q("c", 0.86, NOW + 5_000),  # close, on time
            q("d", 0.80, NOW + 1_000),  # on time but not close
        ],
        0.05,
    )
    assert pref is not None
    assert (pref.worker_id, pref.changed, pref.close) == ("c", True, ("a", "b", "c"))
    assert "a (best score) would finish after the deadline" in pref.reason


def test_when_no_close_worker_meets_it_the_one_finishing_first_wins() -> None:
    pref = prefer([q("a", 0.90, NOW + 30_000), q("b", 0.88, NOW + 20_000)], 0.05)
    assert pref is not None and (pref.worker_id, pref.changed) == ("b", True)
    alone = prefer([q("a", 0.90, NOW + 30_000), q("b", 0.50, NOW + 1_000)], 0.05)
    assert alone is not None and (alone.worker_id, alone.changed) == ("a", False)


def test_full_workers_are_not_preferred_and_a_zero_tolerance_keeps_the_score() -> None:
    cands = [q("a", 0.90, NOW + 20_000), q("b", 0.89, NOW + 1_000)]
    pref = prefer(cands, 0.05, {"b": False})
    assert pref is not None and (pref.worker_id, pref.changed) == ("a", False)
    strict = prefer(cands, 0.0)
    assert strict is not None and strict.worker_id == "a"
    assert prefer(cands, 0.05, {"a": False, "b": False}) is None
