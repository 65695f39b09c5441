"""A local durable spool for store writes that could not land: one SQLite file in the data dir.

One row per (collection, key): spooling a newer version of a record replaces the older one and
moves it to the back of the queue (``INSERT OR REPLACE`` gives it a new ``seq``), so a replay in
``seq`` order always ends with the newest version of every record.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from orchestrator_dynamic.domain.errors import StoreUnavailable

SPOOL_FILE = "store-spool.db"  # in DATA_DIR

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "collection TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, "
    "spooled_at INTEGER NOT NULL, reason TEXT NOT NULL, UNIQUE (collection, key))"
)


@dataclass(frozen=True)
class SpooledWrite:
    seq: int
    collection: str
    key: str
    record: dict[str, Any]
    spooled_at: int
    reason: str


_REFUSED = (
    "CREATE TABLE IF NOT EXISTS refused (seq INTEGER PRIMARY KEY, collection TEXT NOT NULL, "
    "key TEXT NOT NULL, doc TEXT NOT NULL, spooled_at INTEGER NOT NULL, reason TEXT NOT NULL, "
    "refused_reason TEXT NOT NULL)"
)


class Spool:
    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._db: aiosqlite.Connection | None = None

    async def start(self) -> None:
        Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = await aiosqlite.connect(self._path)
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA busy_timeout=5000")  # `store spool --drain` may share it
            # A spooled write is the only copy of that record: it must survive a power cut.
            await self._db.execute("PRAGMA synchronous=FULL")
            await self._db.execute(_SCHEMA)
            await self._db.execute(_REFUSED)
            await self._db.commit()
        except sqlite3.Error as exc:
            raise StoreUnavailable("store", f"spool {self._path}: {exc}") from exc

    async def stop(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreUnavailable("store", "the spool is not started")
        return self._db

    async def _write(self, sql: str, args: Sequence[Any]) -> int:
        try:
            cursor = await self._conn().execute(sql, args)
            await self._conn().commit()
        except sqlite3.Error as exc:
            raise StoreUnavailable("store", f"spool write: {exc}") from exc
        return cursor.rowcount

    async def add(
        self, collection: str, key: str, record: Mapping[str, Any], now_ms: int, reason: str
    ) -> None:
        doc = json.dumps(record, default=str)
        sql = (
            "INSERT OR REPLACE INTO spool (collection, key, doc, spooled_at, reason) "
            "VALUES (?, ?, ?, ?, ?)"
        )
        await self._write(sql, (collection, key, doc, now_ms, reason))

    async def remove(self, seqs: Sequence[int]) -> None:
        """Forget spooled writes that landed (by ``seq``: a newer version of a record stays)."""
        marks = ", ".join("?" for _ in seqs)
        if seqs:
            await self._write(f"DELETE FROM spool WHERE seq IN ({marks})", list(seqs))

    async def refuse(self, entry: SpooledWrite, reason: str) -> None:
        """Set aside a write the store refuses as bad data: kept (never lost), no longer replayed."""
        doc = json.dumps(entry.record, default=str)
        row = (entry.seq, entry.collection, entry.key, doc, entry.spooled_at, entry.reason, reason)
        try:
            await self._conn().execute(
                "INSERT OR REPLACE INTO refused VALUES (?, ?, ?, ?, ?, ?, ?)", row
            )
            await self._conn().execute("DELETE FROM spool WHERE seq = ?", (entry.seq,))
            await self._conn().commit()
        except sqlite3.Error as exc:
            raise StoreUnavailable("store", f"spool write: {exc}") from exc

    async def refused(self) -> list[SpooledWrite]:
        rows = await self._fetch(
            "SELECT seq, collection, key, doc, spooled_at, refused_reason FROM refused "
            "ORDER BY seq",
            (),
        )
        return [SpooledWrite(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

    async def discard(self, collection: str, keys: Sequence[str]) -> None:
        """Forget spooled writes of records that are being deleted, so no replay revives them."""
        for key in keys:
            await self._write(
                "DELETE FROM spool WHERE collection = ? AND key = ?", (collection, key)
            )

    async def _fetch(self, sql: str, args: Sequence[Any]) -> list[Any]:
        try:
            cursor = await self._conn().execute(sql, args)
            return list(await cursor.fetchall())
        except sqlite3.Error as exc:
            raise StoreUnavailable("store", f"spool read: {exc}") from exc

    async def oldest(self, limit: int = 100) -> list[SpooledWrite]:
        rows = await self._fetch(
            "SELECT seq, collection, key, doc, spooled_at, reason FROM spool ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [SpooledWrite(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

    async def get(self, collection: str, key: str) -> dict[str, Any] | None:
        rows = await self._fetch(
            "SELECT doc FROM spool WHERE collection = ? AND key = ?", (collection, key)
        )
        return json.loads(rows[0][0]) if rows else None

    async def depth(self) -> int:
        rows = await self._fetch("SELECT count(*) FROM spool", ())
        return int(rows[0][0])
