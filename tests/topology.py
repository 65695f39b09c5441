"""The scaled-out service on one machine, for the tests and the chaos campaign.

A standalone Temporal dev server on its own SQLite database plays the cluster (it can be killed
and restarted on that database), tansu the Kafka broker, a real PostgreSQL the store and a real
redis-server the shared cache and leases; the worker agents and the Service Registry they
register in run in a process of their own (tests/chaos/fleet.py); then N replicas of each role
(`worker`, `intake`, `api`) run as separate `orchestrator-dynamic` processes, each with its own
DATA_DIR. Every process is started and stopped by pid; ``stop`` leaves nothing running.

Plans go in as decisions on the bus (what the intake replicas consume); their outcome is read
from the engine (workflow status) and the store (ticket records).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from orchestrator_dynamic.adapters.bus.kafka import KafkaBus
from orchestrator_dynamic.adapters.store.postgres import PostgresStore
from orchestrator_dynamic.adapters.temporal_dev_server import TemporalDevServer
from orchestrator_dynamic.domain.ports import Collection
from tests.conftest import decision_doc
from tests.servers import redis as redis_servers
from tests.servers.kafka import TansuBroker, free_port
from tests.servers.postgres import PostgresServer

BIN = Path(sys.executable).parent
CONSENSUS_TOPIC = "plans.consensus"
# The fixtures that run to COMPLETED without a human in the loop.
COMPLETING = ("approve-5-task-dag", "critical-security-3-task", "low-risk-lowercase-types")


def unique_decision(name: str, tag: str) -> dict[str, Any]:
    """A fixture decision under fresh decision, plan and intent ids."""
    doc = decision_doc(name)
    plan = json.loads(doc["cognitive_plan"])
    doc["decision_id"] = f"{doc['decision_id']}-{tag}"
    doc["plan_id"] = plan["plan_id"] = f"{doc['plan_id']}-{tag}"
    doc["intent_id"] = plan["intent_id"] = f"{doc['intent_id']}-{tag}"
    doc["cognitive_plan"] = json.dumps(plan)
    return doc


@dataclass
class Proc:
    """One process of the topology, known by its pid."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} is not running"
        return self.popen.pid

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, sig)

    def kill(self) -> None:
        """SIGKILL, as the OOM killer would."""
        if self.popen is None:
            return
        self.signal(signal.SIGCONT)  # a frozen process must be able to die
        self.popen.kill()
        self.popen.wait(15)
        self.popen = None

    def stop(self, grace_s: float = 20.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.signal(signal.SIGCONT)
            self.popen.terminate()
            try:
                self.popen.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(15)
        self.popen = None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class RedisProc:
    """redis-server on a fixed port, stoppable and restartable (an outage)."""

    workdir: Path
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.popen = redis_servers._start(self.workdir, self.port)

    def stop(self) -> None:
        if self.popen is not None:
            redis_servers._stop([self.popen])
            self.popen = None


@dataclass
class Topology:
    root: Path
    workers: int = 2
    intakes: int = 2
    apis: int = 1
    agents: int = 4
    agent_speed: float = 0.002
    env: dict[str, str] = field(default_factory=dict)
    replicas: dict[str, list[Proc]] = field(default_factory=dict)
    temporal: Proc | None = None
    fleet: Proc | None = None
    broker: TansuBroker | None = None
    postgres: PostgresServer | None = None
    redis: RedisProc | None = None
    temporal_port: int = field(default_factory=free_port)
    registry_port: int = field(default_factory=free_port)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Topology:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self.postgres = PostgresServer().init()
            self.redis = RedisProc(self.root)
            self.redis.start()
            self.broker = TansuBroker()
            self.broker.start()
            self.temporal = self._temporal_proc()
            self.start_temporal()
            self.fleet = self._fleet_proc()
            self.fleet.start()
            for role, count in (("worker", self.workers), ("intake", self.intakes)):
                self.replicas[role] = [self._role_proc(role, i) for i in range(count)]
            self.replicas["api"] = [self._role_proc("api", i) for i in range(self.apis)]
            for proc in self.all_replicas():
                proc.start()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Everything, by pid, in reverse order; safe to call twice and after a failed start."""
        for proc in self.all_replicas():
            proc.stop()
        if self.fleet is not None:
            self.fleet.stop()
        if self.temporal is not None:
            self.temporal.stop()
        if self.broker is not None:
            if self.broker.proc is not None:
                os.kill(self.broker.proc.pid, signal.SIGCONT)
            self.broker.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.destroy()

    def __enter__(self) -> Topology:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def all_replicas(self) -> list[Proc]:
        return [p for procs in self.replicas.values() for p in procs]

    # ---------------------------------------------------------------- processes

    def _temporal_proc(self) -> Proc:
        server = TemporalDevServer(
            db_file=self.root / "temporal.db", port=self.temporal_port, ui_port=free_port()
        )
        return Proc("temporal", server.command(), dict(os.environ), self.root / "temporal.log")

    def start_temporal(self, within_s: float = 60.0) -> None:
        assert self.temporal is not None
        self.temporal.start()
        _wait_port(self.temporal_port, within_s, self.temporal)

    def _fleet_proc(self) -> Proc:
        assert self.broker is not None
        command = [
            sys.executable,
            "-m",
            "tests.chaos.fleet",
            "--bootstrap",
            self.broker.bootstrap,
            "--registry-port",
            str(self.registry_port),
            "--stats",
            str(self.stats_path),
            "--agents",
            str(self.agents),
            "--speed",
            str(self.agent_speed),
        ]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
        return Proc("fleet", command, env, self.root / "fleet.log")

    @property
    def stats_path(self) -> Path:
        return self.root / "fleet-stats.json"

    def role_env(self, role: str, index: int) -> dict[str, str]:
        assert self.broker is not None and self.postgres is not None and self.redis is not None
        return {
            **os.environ,
            "TEMPORAL_HOST": "127.0.0.1",
            "TEMPORAL_PORT": str(self.temporal_port),
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "KAFKA_ENABLE_IDEMPOTENCE": "false",
            "STORE_URL": self.postgres.dsn,
            "REDIS_CLUSTER_NODES": f"127.0.0.1:{self.redis.port}",
            "SERVICE_REGISTRY_HOST": "127.0.0.1",
            "SERVICE_REGISTRY_PORT": str(self.registry_port),
            "DATA_DIR": str(self.root / f"{role}-{index}"),
            "LOG_LEVEL": "WARNING",
            **self.env,
        }

    def _role_proc(self, role: str, index: int) -> Proc:
        command = [str(BIN / "orchestrator-dynamic"), role]
        env = self.role_env(role, index)
        if role == "api":
            env["API_PORT"] = str(free_port())
        return Proc(f"{role}-{index}", command, env, self.root / f"{role}-{index}.log")

    def api_url(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.replicas['api'][index].env['API_PORT']}"

    def restart(self, proc: Proc) -> None:
        """A replica killed, started again under the same name and settings."""
        proc.kill()
        proc.start()

    def wait_ready(self, within_s: float = 120.0) -> None:
        """Every replica started (its banner line), the API answering, the agents registered."""
        deadline = time.monotonic() + within_s
        pending = list(self.all_replicas())
        while pending:
            for proc in list(pending):
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
                if "replica running" in proc.tail(50):
                    pending.remove(proc)
            if time.monotonic() > deadline:
                names = ", ".join(p.name for p in pending)
                raise RuntimeError(f"not started in {within_s} s: {names}\n{pending[0].tail()}")
            time.sleep(0.3)
        for index in range(self.apis):
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.api_url(index)}/health", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("the API did not answer")
                time.sleep(0.3)
        while not self.fleet_stats().get("capacity"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the fleet did not start:\n{self.fleet and self.fleet.tail()}")
            time.sleep(0.3)

    # ---------------------------------------------------------------- plans and outcomes

    def fleet_stats(self) -> dict[str, Any]:
        try:
            stats: dict[str, Any] = json.loads(self.stats_path.read_text())
        except (OSError, ValueError):
            return {}
        return stats

    def decisions(self, count: int, fixtures: Iterable[str] = COMPLETING) -> list[dict[str, Any]]:
        names = list(fixtures)
        run = uuid.uuid4().hex[:6]
        return [unique_decision(names[i % len(names)], f"{run}-{i}") for i in range(count)]

    async def publish(self, decisions: list[dict[str, Any]]) -> None:
        assert self.broker is not None
        bus = KafkaBus(self.broker.bootstrap, idempotent=False, group_membership=False)
        await bus.start()
        try:
            for doc in decisions:
                raw = json.dumps(doc).encode()
                await bus.publish(CONSENSUS_TOPIC, raw, key=doc["decision_id"])
        finally:
            await bus.stop()

    async def statuses(self, workflow_ids: list[str]) -> dict[str, str]:
        """Each workflow's status in the engine ('MISSING' when it has none)."""
        from temporalio.client import Client
        from temporalio.service import RPCError

        client = await Client.connect(f"127.0.0.1:{self.temporal_port}")
        found: dict[str, str] = {}
        for workflow_id in workflow_ids:
            try:
                described = await client.get_workflow_handle(workflow_id).describe()
            except RPCError:
                found[workflow_id] = "MISSING"
                continue
            status = described.status
            found[workflow_id] = status.name if status is not None else "UNKNOWN"
        return found

    async def stale_tickets(self, workflow_ids: list[str]) -> list[str]:
        """Tickets of completed workflows whose stored record does not say COMPLETED: a write
        applied after the outcome (a zombie's, a replay's) would show here."""
        assert self.postgres is not None
        store = PostgresStore(self.postgres.dsn)
        await store.start()
        try:
            stale: list[str] = []
            wanted = set(workflow_ids)
            for record in await store.find(Collection.TICKETS, limit=100_000):
                if record.get("workflow_id") in wanted and record.get("status") != "COMPLETED":
                    stale.append(str(record.get("ticket_id")))
            return stale
        finally:
            await store.stop()


def _wait_port(port: int, within_s: float, proc: Proc) -> None:
    import socket

    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.3).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not listen on {port}:\n{proc.tail()}")


def run(coro: Any) -> Any:
    return asyncio.run(coro)
