"""Retries, fail-open and a replayed spool around any Store.

A write is retried with exponential back-off (RetryConfig). If it still fails and the store is
fail-open (the default), the write goes to a local durable spool and the caller carries on; a
background task replays the spool, oldest first, once the store answers again. Replays are
idempotent upserts by key, so a replayed record is never duplicated.

Ordering: while anything waits in the spool, new writes go to the spool too (no retries, no
waiting on a store that just failed). Replay is in spool order and the spool keeps only the newest
version of each record, so an older version can never overwrite a newer one.

Reads are not spooled: they retry and then raise, except ``get`` of a record this process wrote
recently (a bounded LRU), which is answered locally while the store is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from orchestrator_dynamic.adapters.store.indexes import check_collection, record_timestamp
from orchestrator_dynamic.adapters.store.spool import Spool, SpooledWrite
from orchestrator_dynamic.domain.errors import StoreUnavailable
from orchestrator_dynamic.domain.ports import Collection, Store
from orchestrator_dynamic.observability import store_metrics as m
from orchestrator_dynamic.settings import RetryConfig

log = structlog.get_logger(__name__)

T = TypeVar("T")

# The event prefix of each collection in logs: "<prefix>_persist_failed".
EVENT_PREFIX = {
    Collection.VALIDATION_AUDIT: "validation_audit",
    Collection.WORKFLOW_RESULTS: "workflow_result",
    Collection.INCIDENTS: "incident",
    Collection.TELEMETRY_BUFFER: "telemetry",
    Collection.TICKETS: "ticket",
    Collection.DECISIONS: "decision",
    Collection.POLICY_DECISIONS: "policy_decision",
    Collection.AUDIT: "operator_audit",
}


def _now_ms() -> int:
    return int(time.time() * 1000)


class ResilientStore:
    """A Store that retries, and (fail-open) spools the writes that still fail."""

    def __init__(
        self,
        inner: Store,
        spool: Spool,
        retry: RetryConfig,
        *,
        fail_open: bool = True,
        replay_interval_s: float = 5.0,
        recent_writes: int = 10_000,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.inner = inner
        self.spool = spool
        self._retry = retry
        self._fail_open = fail_open
        self._interval = replay_interval_s
        self._clock = clock
        self._inner_started = False
        # The spool's depth after our last change to it: the happy path reads this, not the file.
        # Only this process adds to the spool (a `store spool --drain` elsewhere only empties
        # it), so a zero here means nothing waits.
        self.last_depth = 0
        self._drain_lock = asyncio.Lock()
        self._start_lock = asyncio.Lock()
        self._replayer: asyncio.Task[None] | None = None
        self._recent: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._recent_max = recent_writes

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the spool and the store; fail-open, a store that is down is opened later."""
        await self.spool.start()
        await self._refresh_depth()
        try:
            await self._start_inner()
        except StoreUnavailable as exc:
            if not self._fail_open:
                await self.spool.stop()
                raise
            log.warning("store_start_failed", reason=str(exc), fail_open=True)
        self._replayer = asyncio.create_task(self._replay_forever(), name="store-spool-replayer")

    async def _start_inner(self) -> None:
        if self._inner_started:
            return
        async with self._start_lock:  # the replayer and a writer may both try to open it
            if not self._inner_started:
                await self.inner.start()
                self._inner_started = True

    async def stop(self) -> None:
        if self._replayer is not None:
            self._replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replayer
            self._replayer = None
        if self._inner_started:
            await self.inner.stop()
            self._inner_started = False
        await self.spool.stop()

    # ------------------------------------------------------------ writes

    async def put(self, collection: str, key: str, record: Mapping[str, Any]) -> None:
        # Refuse bad input now: a spooled write that the store would refuse could never land.
        check_collection(collection)
        record_timestamp(record)
        self._remember(collection, key, record)
        if self._fail_open and not self._inner_started:
            await self._spool(collection, key, record, "the store has not answered since start")
            return
        if self._fail_open and self.last_depth > 0:
            await self._spool(collection, key, record, "earlier writes are still spooled")
            return
        try:
            await self._retrying("put", lambda: self.inner.put(collection, key, record))
        except StoreUnavailable as exc:
            prefix = EVENT_PREFIX.get(collection, collection)
            log.error(f"{prefix}_persist_failed", collection=collection, key=key, reason=str(exc))
            if not self._fail_open:
                raise
            await self._spool(collection, key, record, str(exc))

    async def _spool(
        self, collection: str, key: str, record: Mapping[str, Any], reason: str
    ) -> None:
        await self.spool.add(collection, key, record, self._clock(), reason)
        m.STORE_WRITES_SPOOLED.labels(collection).inc()
        log.warning("store_write_spooled", collection=collection, key=key, reason=reason)
        await self._refresh_depth()

    async def delete(self, collection: str, keys: Sequence[str]) -> None:
        if self.last_depth > 0:
            await self.spool.discard(collection, keys)
            await self._refresh_depth()
        for key in keys:
            self._recent.pop((collection, key), None)
        await self._retrying("delete", lambda: self.inner.delete(collection, keys))

    async def purge(self, collection: str, before_ms: int) -> int:
        return await self._retrying("purge", lambda: self.inner.purge(collection, before_ms))

    # ------------------------------------------------------------ reads

    async def ping(self) -> None:
        await self._start_inner()
        await self.inner.ping()

    async def get(self, collection: str, key: str) -> dict[str, Any] | None:
        """Spooled version first (it is the newest); while the store is down, what we wrote last.

        Result routing reads the ticket this process just wrote: keeping the recently written
        records lets a flow go on through an outage instead of stalling on a read.
        """
        spooled = await self.spool.get(collection, key) if self.last_depth > 0 else None
        if spooled is not None:
            return spooled
        recent = self._recent.get((collection, key))
        if recent is not None and self._fail_open and self.last_depth > 0:
            return copy.deepcopy(recent)
        try:
            return await self._retrying("get", lambda: self.inner.get(collection, key))
        except StoreUnavailable:
            if recent is None or not self._fail_open:
                raise
            log.warning("store_read_from_recent_writes", collection=collection, key=key)
            return copy.deepcopy(recent)

    def _remember(self, collection: str, key: str, record: Mapping[str, Any]) -> None:
        self._recent[(collection, key)] = json.loads(json.dumps(record, default=str))
        self._recent.move_to_end((collection, key))
        while len(self._recent) > self._recent_max:
            self._recent.popitem(last=False)

    async def find(
        self,
        collection: str,
        filters: Mapping[str, Any] | None = None,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        return await self._retrying(
            "find",
            lambda: self.inner.find(
                collection,
                filters,
                since_ms=since_ms,
                until_ms=until_ms,
                limit=limit,
                offset=offset,
            ),
        )

    # ------------------------------------------------------------ replay

    async def drain(self, batch: int = 100) -> int:
        """Replay spooled writes oldest first until the spool is empty or the store fails."""
        replayed = 0
        async with self._drain_lock:
            try:
                await self._start_inner()
                while entries := await self.spool.oldest(batch):
                    replayed += await self._replay(entries)
            except StoreUnavailable as exc:
                log.info("store_spool_replay_paused", replayed=replayed, reason=str(exc))
            finally:
                depth = await self._refresh_depth()
        if replayed:
            log.info("store_spool_replayed", replayed=replayed, remaining=depth)
        return replayed

    async def _replay(self, entries: Sequence[SpooledWrite]) -> int:
        landed: list[int] = []
        try:
            for entry in entries:
                try:
                    await self.inner.put(entry.collection, entry.key, entry.record)
                except ValueError as exc:  # bad data, not an outage: set it aside, keep going
                    await self.spool.refuse(entry, str(exc))
                    log.error("store_spool_write_refused", key=entry.key, reason=str(exc))
                    continue
                landed.append(entry.seq)
                m.STORE_SPOOL_REPLAYED.labels(entry.collection).inc()
        finally:
            # One removal per batch; a crash before it only replays idempotent upserts again.
            await self.spool.remove(landed)
        return len(landed)

    async def _replay_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.drain()
            except Exception:  # the replayer must outlive any single bad round
                log.exception("store_spool_replay_failed")

    async def depth(self) -> int:
        return await self.spool.depth()

    async def _refresh_depth(self) -> int:
        depth = await self.spool.depth()
        self.last_depth = depth
        m.STORE_SPOOL_DEPTH.set(depth)
        return depth

    # ------------------------------------------------------------ retries

    async def _retrying(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=wait_exponential(
                multiplier=self._retry.initial_ms / 1000,
                exp_base=self._retry.backoff,
                max=self._retry.max_ms / 1000,
            ),
            retry=retry_if_exception_type(StoreUnavailable),
            before_sleep=_log_retry(operation),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._start_inner()  # a store that was down at start opens here
                return await call()
        raise AssertionError("unreachable: tenacity re-raises the last error")


def _log_retry(operation: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        m.STORE_RETRIES.labels(operation).inc()
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "store_retry",
            operation=operation,
            attempt=state.attempt_number,
            reason=str(error),
        )

    return before_sleep
