"""Large plans on the embedded default (dev server, embedded policy engine, in-memory ports):
for 1,000 and 10,000 tasks in layers of 100 (each task needs two of the layer before), with
agents that answer at once, prints the completion time, the workflow's runs (continue-as-new),
the largest run's history (events and bytes) and the bench process's peak RSS, or the reason the
plan did not complete. The large-plan settings (by-reference start, continue-as-new thresholds)
are the service's defaults.

`LARGE_PLAN_SIZES=1000,10000` (the default) chooses the sizes.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bench import goals
from bench.bench_flow import CAPABILITIES, FIXTURES, InstantAgents, compile_bytecode, now_ms
from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.policy.embedded import EmbeddedPolicyEngine
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.adapters.store.memory import MemoryStore
from orchestrator_dynamic.adapters.temporal_dev_server import TemporalDevServer
from orchestrator_dynamic.domain.decode import parse_decision
from orchestrator_dynamic.domain.errors import OrchestratorError
from orchestrator_dynamic.domain.scoring import WorkerProfile
from orchestrator_dynamic.flow.activities import FlowActivities
from orchestrator_dynamic.flow.gateway import FlowGateway
from orchestrator_dynamic.flow.payloads import FlowOptions
from orchestrator_dynamic.flow.steps import FlowDeps, FlowSteps
from orchestrator_dynamic.flow.worker import build_worker, connect
from orchestrator_dynamic.services.policy import PolicyValidator
from orchestrator_dynamic.services.scheduling import IntelligentScheduler
from orchestrator_dynamic.settings import DEFAULT_POLICY_DIR, Settings

WIDTH = 100
TIMEOUT_S = 900.0


def layered_plan(tasks: int) -> dict[str, Any]:
    """The 100-task fixture's tasks repeated in layers of 100 (the 1,000-task test's shape)."""
    doc = json.loads((FIXTURES / "large-100-task-dag.json").read_text())
    plan = json.loads(doc["cognitive_plan"])
    template = plan["tasks"]
    out = []
    for n in range(tasks):
        layer, i = divmod(n, WIDTH)
        base = template[n % len(template)]
        deps = [f"L{layer - 1}-{(i + k) % WIDTH}" for k in (0, 1)] if layer else []
        out.append({**base, "task_id": f"L{layer}-{i}", "dependencies": deps})
    plan["tasks"] = out
    plan["execution_order"] = [t["task_id"] for t in out]
    doc["cognitive_plan"] = json.dumps(plan)
    doc["decision_id"] = f"large-{tasks}-{uuid.uuid4().hex[:8]}"
    return doc


def record(tasks: int, measured: str, completed: bool) -> None:
    """The issue-19 goal is the 10,000-task plan; smaller sizes are context."""
    if tasks >= 10_000:
        goals.record(goals.LARGE_PLAN, measured, "completes", completed)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def one(client: Client, gateway: FlowGateway, tasks: int) -> str:
    doc = layered_plan(tasks)
    size = len(json.dumps(doc))
    started = time.perf_counter()
    try:
        await gateway.start(parse_decision(doc))
    except OrchestratorError as exc:
        record(tasks, "not started", False)
        return f"{tasks:>7,} tasks  decision {size / 1e6:.1f} MB  not started: {exc}"
    handle = client.get_workflow_handle(doc["decision_id"], run_id=None)
    try:
        async with asyncio.timeout(TIMEOUT_S):
            result = await handle.result()
        outcome = f"{result['status']} {result['reason']}".strip()
    except Exception as exc:  # the workflow's failure is the measurement here
        outcome = f"did not complete: {type(exc).__name__}: {exc}"
    elapsed = time.perf_counter() - started
    completed = outcome.startswith("COMPLETED")
    record(tasks, f"{elapsed:.1f} s" if completed else outcome.split(":")[0][:14], completed)
    runs, events, history_mb, wire_mb = await largest_run(client, doc["decision_id"])
    return (
        f"{tasks:>7,} tasks  {elapsed:7.1f} s  {runs} run(s), largest: {events:>7,} events"
        f"  {history_mb:6.1f} MB history ({wire_mb:.1f} MB as the engine counts it)"
        f"  peak RSS {peak_rss_mb():6.0f} MB  {outcome}"
    )


async def largest_run(client: Client, workflow_id: str) -> tuple[int, int, float, float]:
    """How many runs the workflow took, and the largest one's events and bytes (as JSON, and
    as encoded events, which the engine's 50 MB limit counts)."""
    sizes = []
    async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        handle = client.get_workflow_handle(workflow_id, run_id=execution.run_id)
        history = await handle.fetch_history()
        wire = sum(e.ByteSize() for e in history.events) / 1e6
        sizes.append((len(history.events), len(json.dumps(history.to_json_dict())) / 1e6, wire))
    events, history_mb, wire_mb = max(sizes, key=lambda s: s[1], default=(0, 0.0, 0.0))
    return len(sizes), events, history_mb, wire_mb


async def main() -> None:
    sizes = [int(s) for s in os.environ.get("LARGE_PLAN_SIZES", "1000,10000").split(",")]
    compile_bytecode()
    settings = Settings()
    options = FlowOptions(
        continue_as_new_events=settings.flow_continue_as_new_events,
        continue_as_new_bytes=settings.flow_continue_as_new_bytes,
    )
    with tempfile.TemporaryDirectory() as tmp:
        server = TemporalDevServer(Path(tmp) / "temporal.db", port=17997, ui_port=18997)
        await server.start()
        engine = EmbeddedPolicyEngine(DEFAULT_POLICY_DIR)
        try:
            client = await connect(server.target, "default")
            registry = BuiltinRegistry()
            for i in range(8):
                await registry.register(
                    WorkerProfile(f"agent-{i}", CAPABILITIES, max_concurrent_tasks=10_000)
                )
            store, agents = MemoryStore(), InstantAgents()
            scheduler = IntelligentScheduler(registry, MemoryCache())
            policy = PolicyValidator(engine)  # the embedded default: OPA_ENABLED, no OPA_URL
            steps = FlowSteps(FlowDeps(agents, store, scheduler, now_ms, policy=policy))
            worker = build_worker(client, "bench-large", FlowActivities(steps))
            gateway = FlowGateway(
                client,
                "bench-large",
                store,
                lambda: options,
                now_ms,
                scheduler,
                by_reference_bytes=settings.flow_plan_by_reference_bytes,
            )
            agents.gateway = gateway
            async with worker:
                for tasks in sizes:
                    print(await one(client, gateway, tasks), flush=True)
        finally:
            await engine.close()
            await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
