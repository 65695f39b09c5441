"""The built-in registry: worker agents register and heartbeat over the HTTP API.

Health follows the heartbeat: silent for ``degraded_after_s`` -> DEGRADED, for
``unhealthy_after_s`` -> UNHEALTHY (never allocated). Kept in process; several orchestrator
replicas should share the gRPC Service Registry instead.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

from orchestrator_dynamic.domain.errors import NotFound
from orchestrator_dynamic.domain.model import SecurityLevel
from orchestrator_dynamic.domain.rules import SECURITY_RANK
from orchestrator_dynamic.domain.scoring import Health, WorkerProfile


def wall_ms() -> int:
    return int(time.time() * 1000)


class BuiltinRegistry:
    def __init__(
        self,
        degraded_after_s: float = 30.0,
        unhealthy_after_s: float = 90.0,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self._degraded_ms = degraded_after_s * 1000
        self._unhealthy_ms = unhealthy_after_s * 1000
        self._clock = clock
        self._workers: dict[str, WorkerProfile] = {}
        self._seen: dict[str, int] = {}
        self._by_capability: dict[str, set[str]] = {}
        # Sorted views of the index, rebuilt lazily after a change: discovery walks the
        # smallest one in id order and stops at max_results instead of sorting every time.
        self._sorted: dict[str | None, list[str]] = {}

    async def ping(self) -> None:
        return None

    async def register(self, worker: WorkerProfile) -> None:
        self._forget(worker.worker_id)
        self._workers[worker.worker_id] = worker
        self._seen[worker.worker_id] = self._clock()
        for capability in worker.capabilities:
            self._by_capability.setdefault(capability, set()).add(worker.worker_id)
        self._invalidate(worker.capabilities)

    def _forget(self, worker_id: str) -> None:
        old = self._workers.pop(worker_id, None)
        for capability in old.capabilities if old else ():
            self._by_capability.get(capability, set()).discard(worker_id)
        if old is not None:
            self._invalidate(old.capabilities)

    def _invalidate(self, capabilities: frozenset[str]) -> None:
        self._sorted.pop(None, None)
        for capability in capabilities:
            self._sorted.pop(capability, None)

    def _ids_in_order(self, capability: str | None) -> list[str]:
        ids = self._sorted.get(capability)
        if ids is None:
            pool = self._by_capability.get(capability, set()) if capability else self._workers
            ids = self._sorted[capability] = sorted(pool)
        return ids

    async def heartbeat(self, worker_id: str, active_tasks: int | None = None) -> None:
        worker = self._workers.get(worker_id)
        if worker is None:
            raise NotFound(f"worker {worker_id} is not registered")
        self._seen[worker_id] = self._clock()
        if active_tasks is not None:
            self._workers[worker_id] = dataclasses.replace(worker, active_tasks=active_tasks)

    async def deregister(self, worker_id: str) -> None:
        self._forget(worker_id)
        self._seen.pop(worker_id, None)

    def _current(self, worker_id: str) -> WorkerProfile:
        worker = self._workers[worker_id]
        silent = self._clock() - self._seen[worker_id]
        health = worker.health
        if silent >= self._unhealthy_ms:
            health = Health.UNHEALTHY
        elif silent >= self._degraded_ms and health is Health.HEALTHY:
            health = Health.DEGRADED
        if health is worker.health:
            return worker  # frozen: sharing it is safe, and copying is most of discover's cost
        return dataclasses.replace(worker, health=health)

    async def get(self, worker_id: str) -> WorkerProfile:
        if worker_id not in self._workers:
            raise NotFound(f"worker {worker_id} is not registered")
        return self._current(worker_id)

    async def all_workers(self) -> list[WorkerProfile]:
        return [self._current(w) for w in sorted(self._workers)]

    async def discover(
        self,
        capabilities: Sequence[str],
        *,
        namespace: str | None = None,
        security_level: SecurityLevel | None = None,
        max_results: int = 100,
    ) -> list[WorkerProfile]:
        """Candidates with every capability, by index (no scan of the whole fleet)."""
        need = set(capabilities)
        # Walk the rarest capability's workers in id order; check the others per worker.
        rarest = min(need, key=lambda c: len(self._by_capability.get(c, ())), default=None)
        out = []
        for worker_id in self._ids_in_order(rarest):
            if not need <= self._workers[worker_id].capabilities:
                continue
            worker = self._current(worker_id)
            if namespace is not None and worker.namespace != namespace:
                continue
            if (
                security_level
                and SECURITY_RANK[worker.security_level] < SECURITY_RANK[security_level]
            ):
                continue
            out.append(worker)
            if len(out) >= max_results:
                break
        return out
