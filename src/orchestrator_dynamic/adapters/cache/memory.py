"""In-process TTL cache with the same atomic operations as Redis (single event loop), and the
capacity ledger."""

from __future__ import annotations

import time
from collections.abc import Callable

from orchestrator_dynamic.adapters.cache.memory_ledger import MemoryLedger


class MemoryCache(MemoryLedger):
    """The Cache port and the capacity ledger (``MemoryLedger``) of one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self._clock = clock
        self._items: dict[str, tuple[bytes, float | None]] = {}

    def _live(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and self._clock() >= expires:
            del self._items[key]
            return None
        return value

    async def ping(self) -> None:
        return None

    async def get(self, key: str) -> bytes | None:
        return self._live(key)

    async def set(self, key: str, value: bytes, ttl_seconds: float | None = None) -> None:
        expires = self._clock() + ttl_seconds if ttl_seconds else None
        self._items[key] = (value, expires)

    async def add(self, key: str, value: bytes, ttl_seconds: float) -> bool:
        if self._live(key) is not None:
            return False
        await self.set(key, value, ttl_seconds)
        return True

    async def incr(self, key: str, amount: int = 1) -> int:
        current = int(self._live(key) or b"0") + amount
        expires = self._items.get(key, (b"", None))[1]
        self._items[key] = (str(current).encode(), expires)
        return current

    async def delete(self, key: str) -> bool:
        existed = self._live(key) is not None
        self._items.pop(key, None)
        return existed
