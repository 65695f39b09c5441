"""Leases in one process: enough when a single replica runs (the embedded `up`)."""

from __future__ import annotations

import time
from collections.abc import Callable


class MemoryLeases:
    """Implements the Leases port for the replicas of one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._held: dict[str, tuple[str, float]] = {}

    async def acquire(self, name: str, holder: str, ttl_seconds: float) -> bool:
        now = self._clock()
        current = self._held.get(name)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self._held[name] = (holder, now + ttl_seconds)
        return True

    async def release(self, name: str, holder: str) -> None:
        current = self._held.get(name)
        if current is not None and current[0] == holder:
            del self._held[name]
