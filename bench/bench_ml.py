"""ML figures against the issue's goals, on the platform's ticket history.

Reads ML_BENCH_HISTORY (finished tickets, one JSON per line) and ML_BENCH_LABELLED (tickets
with a ``label``); without them, the repository's small samples in tests/fixtures/ml (the
figures then describe 500 tickets, not the platform). Prints:
- duration MAE% on the newest 20 % of the history (time-ordered split), on completed tickets
  the labels or the detector call normal, beside the mean-per-task-type baseline on the same
  split, and on the labelled normal tickets dated after the split;
- anomaly precision and recall on the labelled tickets (goal >= 0.85 / >= 0.80);
- prediction time per ticket inside C3 (p50/p95, goal p95 <= 2 ms) side by side with C3
  allocation without ML, in the same run, one ticket per allocation (C3's smallest batch);
- training time on the whole history (goal <= 60 s for 10,000 tickets).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.ml import classification_metrics, regression_metrics
from orchestrator_dynamic.domain.model import ExecutionTicket, TicketStatus
from orchestrator_dynamic.domain.scoring import WorkerProfile
from orchestrator_dynamic.services import ml_steps
from orchestrator_dynamic.services.ml.history import History, parse_lines
from orchestrator_dynamic.services.ml.predictor import MLPredictor
from orchestrator_dynamic.services.ml.training import TrainingConfig, train
from orchestrator_dynamic.services.scheduling import IntelligentScheduler

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ml"
ALLOCATIONS = 500


def _read(variable: str, sample: str) -> tuple[History, str]:
    path = Path(os.environ.get(variable) or SAMPLES / sample)
    with path.open() as lines:
        return parse_lines(lines, path.name), str(path)


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


async def _c3(tickets: list[ExecutionTicket], predictor: MLPredictor | None) -> list[float]:
    """Per ticket: predictions (when a predictor is given) then the allocation, timed."""
    registry = BuiltinRegistry()
    capabilities = frozenset(c for t in tickets for c in t.required_capabilities)
    for i in range(20):
        await registry.register(
            WorkerProfile(f"w{i:02d}", capabilities, max_concurrent_tasks=10**6)
        )
    scheduler = IntelligentScheduler(registry, MemoryCache())
    out = []
    for ticket in tickets:
        started = time.perf_counter()
        [ready] = ml_steps.with_predictions(predictor, [ticket])
        allocation = await scheduler.allocate(ready, ticket.created_at)
        out.append(time.perf_counter() - started)
        await scheduler.release(ticket.ticket_id, allocation.worker_id or "")
    return out


async def main() -> None:
    history, history_path = _read("ML_BENCH_HISTORY", "ticket-history-sample.jsonl")
    labelled, labelled_path = _read("ML_BENCH_LABELLED", "anomaly-labelled-sample.jsonl")
    print(f"history: {len(history.tickets)} tickets ({history_path})")
    print(f"labelled: {len(labelled.tickets)} tickets ({labelled_path})")

    started = time.perf_counter()
    trained = train(history.tickets, TrainingConfig(min_samples=100))
    seconds = time.perf_counter() - started
    report = trained.report
    duration = report.duration.metrics
    print(f"\ntraining on {report.samples} tickets: {seconds:.1f} s (goal <= 60 s for 10,000)")
    print(f"{'duration, held-out newest 20 %':<44} {'MAE%':>7} {'R2':>6} {'n':>6}")
    print(
        f"{'  model, normal completed':<44} {duration['mae_pct']:>7.2f} {duration['r2']:>6.3f} "
        f"{duration['samples']:>6.0f}"
    )
    print(f"{'  mean-per-task-type baseline, same tickets':<44} {report.baseline_mae_pct:>7.2f}")
    print(f"{'  model, every completed (anomalies too)':<44} {duration['mae_pct_all']:>7.2f}")

    ordered = sorted(history.tickets, key=lambda t: t.created_at)
    cut = ordered[report.trained_on - 1].created_at if report.trained_on else 0
    later = [
        t
        for t in labelled.tickets
        if t.created_at > cut
        and t.status is TicketStatus.COMPLETED
        and not labelled.labels.get(t.ticket_id, False)
    ]
    if later:
        metrics = regression_metrics(
            [float(t.actual_duration_ms or 0) for t in later], trained.duration.predict(later)
        )
        print(
            f"{'  model, labelled normal after the split':<44} {metrics['mae_pct']:>7.2f} "
            f"{metrics['r2']:>6.3f} {len(later):>6} (goal <= 10)"
        )

    flagged = [v.is_anomaly for v in trained.anomaly.verdicts(labelled.tickets)]
    actual = [labelled.labels.get(t.ticket_id, False) for t in labelled.tickets]
    quality = classification_metrics(actual, flagged)
    print(
        f"\nanomalies on the labelled tickets: precision {quality['precision']:.3f} "
        f"(goal >= 0.85), recall {quality['recall']:.3f} (goal >= 0.80), "
        f"{sum(actual)} anomalous of {len(actual)}"
    )

    predictor = MLPredictor(None)
    predictor.use(trained.duration, trained.anomaly, duration)
    tickets = [
        t.model_copy(
            update={
                "ticket_id": f"bench-{i}",
                "status": TicketStatus.PENDING,
                "actual_duration_ms": None,
                "metadata": {},
            }
        )
        for i, t in enumerate(ordered[-ALLOCATIONS:])
    ]
    one = []
    for ticket in tickets:
        t0 = time.perf_counter()
        predictor.predict([ticket])
        one.append(time.perf_counter() - t0)
    without = await _c3(tickets, None)
    with_ml = await _c3(tickets, predictor)
    print(f"\nper ticket, {ALLOCATIONS} tickets one at a time   p50 ms   p95 ms")
    print(f"{'  prediction alone':<40} {_pct(one, 50):>7.3f} {_pct(one, 95):>8.3f} (goal <= 2)")
    print(f"{'  C3 allocation without ML':<40} {_pct(without, 50):>7.3f} {_pct(without, 95):>8.3f}")
    print(f"{'  C3 allocation with ML':<40} {_pct(with_ml, 50):>7.3f} {_pct(with_ml, 95):>8.3f}")
