"""A local durable bus on SQLite: the embedded default, with Kafka's contract.

One append-only log per topic (one partition), committed offsets per consumer group,
at-least-once delivery: a record is delivered again until its group commits it. The file survives
restarts and can be shared by several processes (WAL, busy timeout).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from orchestrator_dynamic.domain.errors import BusUnavailable
from orchestrator_dynamic.domain.ports import BusMessage
from orchestrator_dynamic.observability import metrics

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS records (topic TEXT NOT NULL, offset INTEGER NOT NULL, "
    "key BLOB, value BLOB NOT NULL, headers TEXT NOT NULL, timestamp INTEGER NOT NULL, "
    "PRIMARY KEY (topic, offset))",
    "CREATE TABLE IF NOT EXISTS group_offsets (group_id TEXT NOT NULL, topic TEXT NOT NULL, "
    "offset INTEGER NOT NULL, PRIMARY KEY (group_id, topic))",
)
# Another process may append; without a notification from it, look again this often.
CROSS_PROCESS_POLL_S = 0.05


class LocalBus:
    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._db: aiosqlite.Connection | None = None
        self._appended = asyncio.Event()

    async def start(self) -> None:
        try:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            self._db = await aiosqlite.connect(self._path, isolation_level=None)
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA busy_timeout=10000")
            await self._db.execute("PRAGMA synchronous=NORMAL")
            for statement in SCHEMA:
                await self._db.execute(statement)
        except (sqlite3.Error, OSError) as exc:
            raise BusUnavailable("bus", f"local bus {self._path}: {exc}") from exc

    async def stop(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    def conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise BusUnavailable("bus", "local bus is not started")
        return self._db

    async def ping(self) -> None:
        await self._run("SELECT 1", ())

    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Appended and fsynced (WAL) before returning: the local equivalent of acks=all."""
        await self._run(
            "INSERT INTO records (topic, offset, key, value, headers, timestamp) "
            "SELECT ?, COALESCE(MAX(offset), -1) + 1, ?, ?, ?, ? FROM records WHERE topic = ?",
            (
                topic,
                key.encode() if key is not None else None,
                value,
                json.dumps(dict(headers or {})),
                int(time.time() * 1000),
                topic,
            ),
        )
        self._appended.set()
        self._appended = asyncio.Event()
        metrics.MESSAGES_PRODUCED.labels(topic).inc()

    async def subscribe(self, topics: Sequence[str], group_id: str) -> LocalSubscription:
        positions = {}
        for topic in topics:
            rows = await self._rows(
                "SELECT offset FROM group_offsets WHERE group_id = ? AND topic = ?",
                (group_id, topic),
            )
            positions[topic] = rows[0][0] if rows else 0
        return LocalSubscription(self, group_id, positions)

    async def wait_for_append(self, timeout_s: float) -> None:
        event = self._appended
        try:
            await asyncio.wait_for(event.wait(), min(timeout_s, CROSS_PROCESS_POLL_S))
        except TimeoutError:
            return

    async def _run(self, sql: str, args: tuple[object, ...]) -> None:
        try:
            await self.conn().execute(sql, args)
        except sqlite3.Error as exc:
            raise BusUnavailable("bus", f"local bus: {exc}") from exc

    async def _rows(self, sql: str, args: tuple[object, ...]) -> list[tuple[Any, ...]]:
        try:
            cursor = await self.conn().execute(sql, args)
            return [tuple(r) for r in await cursor.fetchall()]
        except sqlite3.Error as exc:
            raise BusUnavailable("bus", f"local bus: {exc}") from exc


class LocalSubscription:
    def __init__(self, bus: LocalBus, group_id: str, positions: dict[str, int]) -> None:
        self._bus = bus
        self._group = group_id
        self._positions = positions  # next offset to hand out, per topic

    async def poll(self, max_records: int = 100, timeout_ms: int = 1000) -> list[BusMessage]:
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            batch = await self._fetch(max_records)
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0:
                return batch
            await self._bus.wait_for_append(remaining)

    async def _fetch(self, max_records: int) -> list[BusMessage]:
        out: list[BusMessage] = []
        for topic, position in self._positions.items():
            if len(out) >= max_records:
                break
            rows = await self._bus._rows(
                "SELECT offset, key, value, headers, timestamp FROM records "
                "WHERE topic = ? AND offset >= ? ORDER BY offset LIMIT ?",
                (topic, position, max_records - len(out)),
            )
            for offset, key, value, headers, timestamp in rows:
                out.append(_message(topic, offset, key, value, headers, timestamp))
            if rows:
                self._positions[topic] = int(rows[-1][0]) + 1
        return out

    async def commit(self, message: BusMessage) -> None:
        await self._bus._run(
            "INSERT INTO group_offsets (group_id, topic, offset) VALUES (?, ?, ?) "
            "ON CONFLICT (group_id, topic) DO UPDATE SET offset = MAX(offset, excluded.offset)",
            (self._group, message.topic, message.offset + 1),
        )

    async def lag(self) -> int:
        total = 0
        for topic in self._positions:
            rows = await self._bus._rows(
                "SELECT COALESCE(MAX(r.offset) + 1, 0) - COALESCE((SELECT offset FROM group_offsets "
                "WHERE group_id = ? AND topic = ?), 0) FROM records r WHERE r.topic = ?",
                (self._group, topic, topic),
            )
            waiting = max(0, int(rows[0][0] or 0))
            metrics.CONSUMER_LAG.labels(topic, self._group).set(waiting)
            total += waiting
        return total

    async def close(self) -> None:
        return None


def _message(
    topic: str, offset: int, key: bytes | None, value: bytes, headers: str, timestamp: int
) -> BusMessage:
    decoded = json.loads(headers)
    return BusMessage(
        topic=topic,
        value=bytes(value),
        key=bytes(key) if key is not None else None,
        headers=tuple((k, v.encode()) for k, v in decoded.items()),
        partition=0,
        offset=int(offset),
        timestamp_ms=int(timestamp),
    )
