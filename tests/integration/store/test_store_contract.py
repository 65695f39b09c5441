"""The Store port's contract: every adapter (memory, SQLite, PostgreSQL, MongoDB) passes it.

The MongoDB cases are described in this folder's conftest: ``mongo`` is the real adapter over
mongomock (an in-process stand-in with MongoDB's query semantics), ``mongo-server`` a real server
when MONGODB_URI is set.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator_dynamic.domain.ports import Collection, Store
from orchestrator_dynamic.services.retention import DAY_MS, purge_expired
from orchestrator_dynamic.services.store_queries import StoreQueries, Window

pytestmark = pytest.mark.integration

TICKETS = Collection.TICKETS
RESULTS = Collection.WORKFLOW_RESULTS


async def test_put_then_get_returns_the_document(store: Store) -> None:
    doc = {"ticket_id": "t1", "status": "PENDING", "history": [{"s": "PENDING"}], "timestamp": 10}
    await store.put(TICKETS, "t1", doc)
    assert await store.get(TICKETS, "t1") == doc
    assert await store.get(TICKETS, "absent") is None


async def test_put_is_an_idempotent_upsert_by_key(store: Store) -> None:
    await store.put(TICKETS, "t1", {"status": "PENDING", "timestamp": 10})
    await store.put(TICKETS, "t1", {"status": "PENDING", "timestamp": 10})
    await store.put(TICKETS, "t1", {"status": "COMPLETED", "timestamp": 20})
    rows = await store.find(TICKETS)
    assert rows == [{"status": "COMPLETED", "timestamp": 20}]


async def test_find_filters_on_fields_and_dotted_paths(store: Store) -> None:
    await store.put(RESULTS, "w1", _result("w1", "COMPLETED", 1, compliant=True))
    await store.put(RESULTS, "w2", _result("w2", "COMPLETED", 2, compliant=False))
    await store.put(RESULTS, "w3", _result("w3", "FAILED", 3, compliant=False))
    completed = await store.find(RESULTS, {"status": "COMPLETED"})
    assert [r["workflow_id"] for r in completed] == ["w2", "w1"]
    late = await store.find(RESULTS, {"sla_status.compliant": False})
    assert [r["workflow_id"] for r in late] == ["w3", "w2"]
    both = await store.find(RESULTS, {"status": "COMPLETED", "sla_status.compliant": False})
    assert [r["workflow_id"] for r in both] == ["w2"]
    assert await store.find(RESULTS, {"status": "UNKNOWN"}) == []


async def test_filters_compare_json_types_strictly(store: Store) -> None:
    await store.put(TICKETS, "bool", {"flag": True, "timestamp": 1})
    await store.put(TICKETS, "int", {"flag": 1, "timestamp": 2})
    await store.put(TICKETS, "text", {"flag": "1", "timestamp": 3})
    await store.put(TICKETS, "null", {"flag": None, "timestamp": 4})
    await store.put(TICKETS, "missing", {"timestamp": 5})

    async def keys(value: Any) -> list[int]:
        return [r["timestamp"] for r in await store.find(TICKETS, {"flag": value})]

    assert await keys(True) == [1]
    assert await keys(1) == [2]
    assert await keys("1") == [3]
    assert await keys(None) == [4]


async def test_find_windows_pages_and_orders_newest_first(store: Store) -> None:
    for stamp in range(1, 11):
        await store.put(TICKETS, f"t{stamp}", {"task_type": "BUILD", "timestamp": stamp * 100})
    await store.put(TICKETS, "no-stamp", {"task_type": "BUILD"})

    async def stamps(**kw: Any) -> list[int | None]:
        return [r.get("timestamp") for r in await store.find(TICKETS, {"task_type": "BUILD"}, **kw)]

    assert await stamps(limit=3) == [1000, 900, 800]
    assert await stamps(limit=3, offset=3) == [700, 600, 500]
    assert await stamps(since_ms=800) == [1000, 900, 800]
    assert await stamps(since_ms=300, until_ms=600) == [500, 400, 300]
    assert (await stamps())[-1] is None  # no timestamp: last
    assert await stamps(limit=0) == []


async def test_delete_removes_only_the_given_keys(store: Store) -> None:
    for key in ("a", "b", "c"):
        await store.put(Collection.TELEMETRY_BUFFER, key, {"frame": {"k": key}, "timestamp": 1})
    await store.delete(Collection.TELEMETRY_BUFFER, ["a", "c", "never-there"])
    rows = await store.find(Collection.TELEMETRY_BUFFER)
    assert [r["frame"]["k"] for r in rows] == ["b"]
    await store.delete(Collection.TELEMETRY_BUFFER, [])


async def test_ping_answers_when_reachable(store: Store) -> None:
    await store.ping()


async def test_collections_are_separate(store: Store) -> None:
    await store.put(Collection.INCIDENTS, "x", {"severity": "HIGH", "timestamp": 1})
    assert await store.get(Collection.DECISIONS, "x") is None
    assert await store.find(Collection.DECISIONS) == []


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda s: s.put("nope", "k", {}), "unknown collection"),
        (lambda s: s.find(TICKETS, {"a;drop": 1}), "bad filter field"),
        (lambda s: s.find(TICKETS, {"a": [1]}), "filter 'a'"),
        (lambda s: s.find(TICKETS, limit=-1), "limit"),
        (lambda s: s.put(TICKETS, "k", {"timestamp": "yesterday"}), "timestamp"),
    ],
)
async def test_bad_input_is_refused_naming_the_field(store: Store, call: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        await call(store)


async def test_purge_drops_records_older_than_the_cutoff(store: Store) -> None:
    await store.put(Collection.TELEMETRY_BUFFER, "old", {"timestamp": 100})
    await store.put(Collection.TELEMETRY_BUFFER, "new", {"timestamp": 200})
    await store.put(Collection.TELEMETRY_BUFFER, "none", {"frame": {}})
    assert await store.purge(Collection.TELEMETRY_BUFFER, 200) == 1
    assert await store.get(Collection.TELEMETRY_BUFFER, "old") is None
    assert await store.get(Collection.TELEMETRY_BUFFER, "new") is not None
    assert await store.get(Collection.TELEMETRY_BUFFER, "none") is not None


async def test_retention_applies_each_collections_ttl(store: Store) -> None:
    now = 100 * DAY_MS
    await store.put(Collection.TELEMETRY_BUFFER, "f", {"timestamp": now - 8 * DAY_MS})
    await store.put(Collection.INCIDENTS, "i", {"timestamp": now - 8 * DAY_MS})
    await store.put(Collection.INCIDENTS, "j", {"timestamp": now - 1 * DAY_MS})
    purged = await purge_expired(store, {"telemetry_buffer": 7, "incidents": 2}, now)
    assert purged == {"telemetry_buffer": 1, "incidents": 1}
    assert [r["timestamp"] for r in await store.find(Collection.INCIDENTS)] == [now - DAY_MS]


# ---------------------------------------------------------------- the queries of the API and CLI


async def test_queries_workflows_by_status_and_time_and_sla(store: Store) -> None:
    q = StoreQueries(store)
    await store.put(RESULTS, "w1", _result("w1", "COMPLETED", 1_000, compliant=True))
    await store.put(RESULTS, "w2", _result("w2", "FAILED", 2_000, compliant=False))
    await store.put(RESULTS, "w3", _result("w3", "COMPLETED", 3_000, compliant=False))
    assert _ids(await q.workflows("COMPLETED")) == ["w3", "w1"]
    assert _ids(await q.workflows(window=Window(since_ms=1_500, until_ms=3_000))) == ["w2"]
    assert _ids(await q.sla_violating_workflows()) == ["w3", "w2"]
    assert _ids(await q.sla_violating_workflows(Window(limit=1, offset=1))) == ["w2"]


async def test_queries_incidents_validations_and_ticket_history(store: Store) -> None:
    q = StoreQueries(store)
    for i, sev in enumerate(["HIGH", "CRITICAL", "HIGH"]):
        await store.put(Collection.INCIDENTS, f"i{i}", {"severity": sev, "timestamp": i})
    await store.put(Collection.VALIDATION_AUDIT, "a1", {"plan_id": "p1", "timestamp": 1})
    await store.put(Collection.VALIDATION_AUDIT, "a2", {"plan_id": "p2", "timestamp": 2})
    await store.put(Collection.VALIDATION_AUDIT, "a3", {"plan_id": "p1", "timestamp": 3})
    for i, kind in enumerate(["BUILD", "TEST", "BUILD", "BUILD"]):
        doc = {"ticket_id": f"t{i}", "task_type": kind, "status": "COMPLETED", "timestamp": i}
        await store.put(TICKETS, f"t{i}", doc)
    assert [r["timestamp"] for r in await q.incidents("HIGH")] == [2, 0]
    assert len(await q.incidents()) == 3
    assert [r["timestamp"] for r in await q.validations("p1")] == [3, 1]
    history = await q.ticket_history("BUILD", window=Window(since_ms=1, until_ms=4))
    assert [r["ticket_id"] for r in history] == ["t3", "t2"]


def _result(workflow_id: str, status: str, stamp: int, *, compliant: bool) -> dict[str, Any]:
    return {
        "workflow_id": workflow_id,
        "status": status,
        "consolidated_at": stamp,
        "sla_status": {"violations_count": 0 if compliant else 1, "compliant": compliant},
        "timestamp": stamp,
    }


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["workflow_id"] for r in rows]
