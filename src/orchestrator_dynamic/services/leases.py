"""Loops that must run once across replicas run under a lease.

Every replica runs ``LeasedLoop.run``; the one that takes the lease runs the guarded loop and
renews the lease every third of its TTL. A renewal refused (another replica took it after we
stalled) or impossible (the lease store is unreachable) cancels the guarded loop at once, before
the TTL runs out, so two replicas never run it side by side for longer than one renewal step of a
frozen process's clock (a frozen process does nothing while frozen; on waking its first renewal
fails and it stops). The others retry every renewal step and take over after the TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog

from orchestrator_dynamic.domain.errors import OrchestratorError
from orchestrator_dynamic.domain.ports import Leases
from orchestrator_dynamic.observability import metrics

log = structlog.get_logger(__name__)

LoopFactory = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class LeasedLoop:
    leases: Leases
    name: str
    holder: str
    loop: LoopFactory
    ttl_s: float = 15.0

    @property
    def step_s(self) -> float:
        return self.ttl_s / 3

    async def _holds(self) -> bool:
        try:
            return await self.leases.acquire(self.name, self.holder, self.ttl_s)
        except OrchestratorError as exc:
            log.warning("lease_unknown", lease=self.name, reason=str(exc))
            return False

    async def run(self) -> None:
        try:
            while True:
                if await self._holds():
                    await self._lead()
                await asyncio.sleep(self.step_s)
        finally:
            with contextlib.suppress(OrchestratorError, asyncio.CancelledError):
                await asyncio.shield(self.leases.release(self.name, self.holder))

    async def _lead(self) -> None:
        """Run the guarded loop while every renewal succeeds; stop it on the first that fails."""
        log.info("lease_taken", lease=self.name, holder=self.holder)
        metrics.LEASES_HELD.labels(self.name).set(1)
        task = asyncio.create_task(self.loop(), name=f"leased-{self.name}")
        try:
            while True:
                done, _ = await asyncio.wait([task], timeout=self.step_s)
                if done:
                    task.result()  # a guarded loop that ended: say why, then try again
                    return
                if not await self._holds():
                    log.warning("lease_lost", lease=self.name, holder=self.holder)
                    return
        except OrchestratorError as exc:
            log.warning("leased_loop_failed", lease=self.name, reason=str(exc))
        finally:
            metrics.LEASES_HELD.labels(self.name).set(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, OrchestratorError):
                await task
