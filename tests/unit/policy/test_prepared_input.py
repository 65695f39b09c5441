"""The embedded engine's fast path decides exactly as before: the input the validator writes
as JSON text is the input document, the answers cache gives the answers evaluation gives, stays
bounded, and a reload (a new compiled program) starts it afresh."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from orchestrator_dynamic.adapters.policy.compile import CompiledPolicies
from orchestrator_dynamic.adapters.policy.embedded import EmbeddedPolicyEngine
from orchestrator_dynamic.domain.model import ExecutionTicket, SecurityLevel
from orchestrator_dynamic.domain.ports import Collection, PolicyDecision
from orchestrator_dynamic.services.policy import (
    TICKET_PACKAGES,
    PlanContext,
    PolicyValidator,
    digest,
    input_json,
)
from orchestrator_dynamic.settings import DEFAULT_POLICY_DIR
from tests.fakes import MemoryStoreFake
from tests.unit.policy.helpers import planned

ENTRY_POINTS = ["data." + p.replace("/", ".") + ".decision" for p in TICKET_PACKAGES]
CONTEXTS = [
    PlanContext(),
    PlanContext(namespace="prod", is_destructive=True, destructive_tasks=("t1",)),
    PlanContext(approved=False, approved_by="ana", sla_budget_remaining=0.1),
    PlanContext(signals={"tenant_tier": "premium", "load": float("nan"), "queue_depth": 2**70}),
]
EXTRAS: list[dict[str, Any]] = [
    {},
    {"concurrent_tickets": 101},
    {"worker": {"worker_id": "w", "security_level": "PUBLIC", "namespace": "other"}},
]


class DocumentsOnly:
    """The embedded engine seen through the port alone (no JSON-text entry point)."""

    def __init__(self, engine: EmbeddedPolicyEngine) -> None:
        self._engine = engine

    async def evaluate(self, package: str, input_doc: Mapping[str, Any]) -> PolicyDecision:
        return await self._engine.evaluate(package, input_doc)

    async def evaluate_many(
        self, packages: Sequence[str], input_doc: Mapping[str, Any]
    ) -> list[PolicyDecision]:
        return await self._engine.evaluate_many(packages, input_doc)

    async def ping(self) -> None:
        await self._engine.ping()


@pytest.fixture(scope="module")
async def engine() -> AsyncIterator[EmbeddedPolicyEngine]:
    engine = EmbeddedPolicyEngine(DEFAULT_POLICY_DIR)
    yield engine
    await engine.close()


def tickets() -> list[ExecutionTicket]:
    found = [
        t
        for name in ("approve-5-task-dag", "critical-security-3-task")
        for t in planned(name).tickets
    ]
    odd = found[0].model_copy(
        update={
            "description": "déploiement ✓ \u2028 \x00",
            "parameters": {"cpu": "5", "memory": "9Gi"},
            "security_level": SecurityLevel.RESTRICTED,
        }
    )
    return [*found, odd]


def canonical(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True)  # NaN written as NaN on both sides


def test_the_input_text_is_the_input_document() -> None:
    validator = PolicyValidator(None)  # type: ignore[arg-type]  # no engine needed
    for ticket in tickets():
        for context in CONTEXTS:
            for extra in EXTRAS:
                now = ticket.created_at + 1_000
                doc = {**validator.input_document("ticket", now, [ticket], context), **extra}
                text = validator.input_text("ticket", now, [ticket], context, extra)
                assert canonical(json.loads(text)) == canonical(doc)


def test_what_the_fast_encoder_cannot_write_goes_through_json_dumps() -> None:
    doc = {"text": "lone \ud800 surrogate", "n": [1, 2.5, None]}
    assert input_json(doc) == json.dumps(doc, separators=(",", ":"))


async def test_both_paths_decide_alike_and_log_the_same_digest(engine: Any) -> None:
    fast_store, plain_store = MemoryStoreFake(), MemoryStoreFake()
    fast = PolicyValidator(engine, fast_store)
    plain = PolicyValidator(DocumentsOnly(engine), plain_store)
    refused = 0
    for ticket in tickets():
        for context in CONTEXTS:
            now = ticket.created_at + 1_000
            a = await fast.validate_ticket(ticket, now, context, concurrent_tickets=101)
            b = await plain.validate_ticket(ticket, now, context, concurrent_tickets=101)
            assert a == b
            refused += not a.allowed
            worker = EXTRAS[2]["worker"]
            assert await fast.validate_allocation(
                ticket, worker, now, context
            ) == await plain.validate_allocation(ticket, worker, now, context)
    assert refused  # the comparison covers refusals too
    fast_log = await fast_store.find(Collection.POLICY_DECISIONS, {})
    plain_log = await plain_store.find(Collection.POLICY_DECISIONS, {})
    assert sorted(r["input_digest"] for r in fast_log) == sorted(
        r["input_digest"] for r in plain_log
    )


async def test_the_digest_is_the_input_documents(engine: Any) -> None:
    store = MemoryStoreFake()
    validator = PolicyValidator(engine, store)
    ticket = tickets()[0]
    await validator.validate_ticket(ticket, ticket.created_at, PlanContext())
    doc = validator.input_document("ticket", ticket.created_at, [ticket], PlanContext())
    records = await store.find(Collection.POLICY_DECISIONS, {})
    assert {r["input_digest"] for r in records} == {digest(doc)}


def test_an_identical_input_is_answered_from_the_cache_with_the_same_answer() -> None:
    compiled = CompiledPolicies(DEFAULT_POLICY_DIR)
    validator = PolicyValidator(None)  # type: ignore[arg-type]
    first, second = tickets()[0], tickets()[-1]  # allowed, refused
    text = validator.input_text("ticket", first.created_at, [first], PlanContext(), {})
    other = validator.input_text("ticket", second.created_at, [second], PlanContext(), {})
    answers = compiled.answers(ENTRY_POINTS, text)
    assert compiled.cache_hits == 0
    assert compiled.answers(ENTRY_POINTS, other) != answers
    assert compiled.answers(ENTRY_POINTS, text) == answers
    assert compiled.cache_hits == 1
    # Fewer packages asked: another question, evaluated afresh.
    assert compiled.answers(ENTRY_POINTS[:1], text) == answers[:1]
    assert compiled.cache_hits == 1
    compiled.release()


def test_the_cache_is_bounded() -> None:
    compiled = CompiledPolicies(DEFAULT_POLICY_DIR, answer_cache_size=2)
    validator = PolicyValidator(None)  # type: ignore[arg-type]
    texts = [
        validator.input_text("ticket", t.created_at, [t], PlanContext(), {}) for t in tickets()[:3]
    ]
    for text in texts:
        compiled.answers(ENTRY_POINTS, text)
    compiled.answers(ENTRY_POINTS, texts[0])  # the oldest was dropped: evaluated again
    assert compiled.cache_hits == 0
    compiled.answers(ENTRY_POINTS, texts[2])
    assert compiled.cache_hits == 1
    plan = planned("approve-5-task-dag").tickets * 20  # a whole plan's input: never kept
    big = validator.input_text("plan", plan[0].created_at, plan, PlanContext(), {})
    compiled.answers(ENTRY_POINTS[:2], big)
    compiled.answers(ENTRY_POINTS[:2], big)
    assert compiled.cache_hits == 1
    compiled.release()


async def test_a_reload_starts_the_cache_afresh(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    engine = EmbeddedPolicyEngine(folder)
    ticket = tickets()[0].model_copy(update={"parameters": {"cpu": "2"}})
    doc = PolicyValidator(None).input_document(  # type: ignore[arg-type]
        "ticket", ticket.created_at, [ticket], PlanContext()
    )
    del doc["config"]  # the policy's own default limits apply
    package = TICKET_PACKAGES[0]
    try:
        assert (await engine.evaluate(package, doc)).allow
        assert (await engine.evaluate(package, doc)).allow  # from the cache
        rego = folder / "neuralhive" / "orchestrator" / "resource_limits.rego"
        rego.write_text(rego.read_text().replace('"max_cpu": "4000m"', '"max_cpu": "1000m"'))
        assert engine.reload()
        decision = await engine.evaluate(package, doc)
        assert [v.rule for v in decision.violations] == ["cpu_exceeds_limit"]
    finally:
        await engine.close()
