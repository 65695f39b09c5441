"""Many plans of 5 tasks submitted at once to `up` on its embedded defaults (dev server, local
bus, SQLite store, in-process demo agents): all must complete; p95 latency (submission to the
workflow's consolidation) and the peak RSS of the `up` process are printed.

Tickets with two contents are read off the local bus's log after the run; over-capacity is the
demo agents' own record (their metrics): times an agent ran more tickets at once than the
capacity it registered (8).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.chaos.report import Row
from tests.e2e.service import Service
from tests.topology import unique_decision

DEMO_AGENTS = 8


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return list(conn.execute(sql))


def completed_at(data_dir: Path, ids: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for key, doc in _rows(data_dir / "store.db", "SELECT key, doc FROM workflow_results"):
        if key in ids:
            record = json.loads(doc)
            if record.get("status") == "COMPLETED":
                found[key] = int(record["consolidated_at"])
    return found


def two_contents(data_dir: Path) -> int:
    seen: dict[str, set[str]] = defaultdict(set)
    sql = "SELECT value FROM records WHERE topic = 'execution.tickets'"
    for (value,) in _rows(data_dir / "bus.db", sql):
        doc = json.loads(value)
        key = f"{doc['ticket_id']}|{doc.get('retry_count', 0)}|{doc.get('status')}"
        seen[key].add(hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest())
    return sum(1 for v in seen.values() if len(v) > 1)


def agent_load(url: str) -> tuple[int, dict[str, int]]:
    """The demo agents' own record, from /metrics: times over capacity, and peak per agent."""
    over, peaks = 0, {}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("orchestration_demo_agent_over_capacity_total{"):
            over += int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith("orchestration_demo_agent_peak_load{"):
            worker = line.split('worker_id="', 1)[1].split('"', 1)[0]
            peaks[worker] = int(float(line.rsplit(" ", 1)[1]))
    return over, peaks


async def submit_all(url: str, docs: list[dict[str, Any]]) -> tuple[dict[str, int], int]:
    """Every plan at once (bounded client connections); when each was first sent (wall ms),
    or minus the refusal's status code. A 429 is retried after its Retry-After, as a client
    should; how many were is the second value."""
    accepted: dict[str, int] = {}
    rate_limited = 0
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def one(doc: dict[str, Any]) -> None:
            nonlocal rate_limited
            sent = int(time.time() * 1000)
            answer = await client.post("/api/v1/decisions", json=doc)
            while answer.status_code == 429:
                rate_limited += 1
                await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
                answer = await client.post("/api/v1/decisions", json=doc)
            if answer.status_code == 202:
                accepted[doc["decision_id"]] = sent
            else:
                accepted[doc["decision_id"]] = -answer.status_code

        await asyncio.gather(*(one(doc) for doc in docs))
    return accepted, rate_limited


def p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def embedded_row(root: Path, plans: int, within_s: float) -> Row:
    row = Row("1,000 plans on `up`" if plans == 1000 else f"{plans} plans on `up`")
    service = Service(root / "up", {"LOG_LEVEL": "WARNING"})
    service.start(demo_workers=DEMO_AGENTS, timeout_s=120)
    assert service.proc is not None
    proc = psutil.Process(service.proc.pid)
    peak = proc.memory_info().rss
    try:
        docs = [unique_decision("approve-5-task-dag", f"up-{i}") for i in range(plans)]
        ids = {d["decision_id"] for d in docs}
        started = time.monotonic()
        accepted, rate_limited = asyncio.run(submit_all(service.url, docs))
        refused = {k: -v for k, v in accepted.items() if v < 0}
        done: dict[str, int] = {}
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline and len(done) < plans - len(refused):
            peak = max(peak, proc.memory_info().rss)
            time.sleep(1.0)
            done = completed_at(service.data_dir, ids)
        took = time.monotonic() - started
        latencies = [(done[k] - accepted[k]) / 1000 for k in done if accepted.get(k, -1) > 0]
        row.runs, row.plans, row.completed = 1, plans, len(done)
        row.lost = plans - len(done)
        row.tickets_with_two_contents = two_contents(service.data_dir)
        row.over_capacity, peaks = agent_load(service.url)
        row.recovery_s = 0.0
        row.notes.update(
            p95_latency_s=round(p95(latencies), 1),
            all_done_in_s=round(took),
            peak_rss_mb=round(max(peak, _hwm(proc)) / 2**20),
            agent_peak_load=max(peaks.values(), default=0),
        )
        if rate_limited:
            row.notes["rate_limited_then_retried"] = rate_limited
        if refused:
            row.notes["refused_by_api"] = dict(list(refused.items())[:3]) | {"n": len(refused)}
    finally:
        service.stop()
        service.stop_engine()
    return row


def _hwm(proc: psutil.Process) -> int:
    """The kernel's own peak RSS of the process (VmHWM), sampled or not."""
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
