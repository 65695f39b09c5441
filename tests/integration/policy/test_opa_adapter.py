"""The OPA adapter's resilience, against the OPA stand-in of tests/servers/opa_standin.py
(no OPA server can run here; the stand-in speaks OPA's Data API and evaluates the same
policies with regorus). ``OPA_TEST_URL`` runs one test against a real OPA server, the contract
check included (the stand-in's are in test_policy_contract.py)."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.policy.breaker import BreakerState, CircuitBreaker
from orchestrator_dynamic.adapters.policy.opa import OpaConfig, OpaPolicyEngine
from orchestrator_dynamic.domain.errors import PolicyContractMismatch, PolicyUnavailable
from orchestrator_dynamic.services.policy import RESOURCE_LIMITS, PolicyValidator
from orchestrator_dynamic.settings import DEFAULT_POLICY_DIR
from tests.integration.policy.policy_dirs import OLDER_DIR
from tests.integration.policy.test_engine_contract import doc_of, ticket
from tests.servers.opa_standin import OpaStandIn
from tests.unit.policy.helpers import planned

pytestmark = pytest.mark.integration


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_answers_are_cached_for_the_ttl(opa: OpaStandIn, opa_engine_factory: Any) -> None:
    engine = opa_engine_factory(cache_ttl_seconds=30.0)
    hits = sample("orchestration_opa_cache_hits_total")
    first = await engine.evaluate(RESOURCE_LIMITS, doc_of(ticket()))
    second = await engine.evaluate(RESOURCE_LIMITS, doc_of(ticket()))
    assert first == second and opa.requests == 1
    assert sample("orchestration_opa_cache_hits_total") == hits + 1
    await engine.evaluate(RESOURCE_LIMITS, doc_of(ticket(task_id="other")))
    assert opa.requests == 2, "another input is another question"


async def test_server_errors_open_the_breaker(opa: OpaStandIn, opa_engine_factory: Any) -> None:
    engine = opa_engine_factory(failure_threshold=2)
    opa.mode = "error"
    errors = sample("orchestration_opa_evaluation_errors_total", error_type="http_5xx")
    for _ in range(2):
        with pytest.raises(PolicyUnavailable, match="500"):
            await engine.evaluate(RESOURCE_LIMITS, doc_of(ticket()))
    assert engine.breaker.state is BreakerState.OPEN
    assert sample("orchestration_opa_circuit_breaker_state") == 1
    with pytest.raises(PolicyUnavailable, match="breaker is open"):
        await engine.evaluate(RESOURCE_LIMITS, doc_of(ticket()))
    assert opa.requests == 2, "an open breaker sends nothing"
    assert sample("orchestration_opa_evaluation_errors_total", error_type="http_5xx") == errors + 2


async def test_timeouts_open_the_breaker(opa: OpaStandIn, opa_engine_factory: Any) -> None:
    engine = opa_engine_factory(failure_threshold=1, timeout_seconds=0.1)
    opa.mode, opa.delay_s = "slow", 2.0
    with pytest.raises(PolicyUnavailable, match="timed out"):
        await engine.evaluate(RESOURCE_LIMITS, doc_of(ticket()))
    assert engine.breaker.state is BreakerState.OPEN


async def test_half_open_trial_closes_the_breaker_again(opa: OpaStandIn) -> None:
    now = [0.0]
    breaker = CircuitBreaker(1, reset_seconds=30, clock=lambda: now[0])
    engine = OpaPolicyEngine(OpaConfig(opa.url, cache_ttl_seconds=0), MemoryCache(), breaker)
    try:
        opa.mode = "error"
        with pytest.raises(PolicyUnavailable):
            await engine.evaluate(RESOURCE_LIMITS, doc_of(ticket()))
        opa.mode = "ok"
        now[0] = 31.0
        assert breaker.state is BreakerState.HALF_OPEN
        assert (await engine.evaluate(RESOURCE_LIMITS, doc_of(ticket()))).allow
        assert breaker.state is BreakerState.CLOSED
    finally:
        await engine.close()


async def test_fail_closed_refuses_with_the_reason(
    opa: OpaStandIn, opa_engine_factory: Any
) -> None:
    validator = PolicyValidator(opa_engine_factory(), engine_name="opa")
    opa.mode = "error"
    first = planned("approve-5-task-dag").tickets[0]
    verdict = await validator.validate_ticket(first, first.created_at)
    assert not verdict.allowed
    assert {i.code for i in verdict.issues()} >= {"policy.resource_limits.engine_unavailable"}


async def test_fail_open_lets_through_with_a_warning_and_a_metric(
    opa: OpaStandIn, opa_engine_factory: Any
) -> None:
    engine = opa_engine_factory(fail_open=True)
    opa.mode = "error"
    before = sample("orchestration_opa_evaluation_errors_total", error_type="fail_open")
    bad = ticket(required_capabilities=["shell"])
    decision = await engine.evaluate(RESOURCE_LIMITS, doc_of(bad))
    assert decision.allow
    assert decision.warnings and "fail open" in decision.warnings[0]
    assert sample("orchestration_opa_evaluation_errors_total", error_type="fail_open") == before + 1


async def test_ping_reports_a_dead_server() -> None:
    from tests.servers.opa_standin import free_port

    engine = OpaPolicyEngine(OpaConfig(f"http://127.0.0.1:{free_port()}"), MemoryCache())
    try:
        with pytest.raises(PolicyUnavailable, match="health"):
            await engine.ping()
    finally:
        await engine.close()


@pytest.mark.skipif(not os.environ.get("OPA_TEST_URL"), reason="OPA_TEST_URL not set")
async def test_real_opa_server() -> None:
    """Loads the policies into a real OPA server, checks one decision each way and the
    contract check: ours pass; the platform's older resource_limits in place of ours is named."""
    url = os.environ["OPA_TEST_URL"].rstrip("/")
    ours = {
        path.relative_to(DEFAULT_POLICY_DIR).as_posix(): path.read_bytes()
        for path in sorted(DEFAULT_POLICY_DIR.rglob("*.rego"))
    }
    engine = OpaPolicyEngine(OpaConfig(url, cache_ttl_seconds=0), MemoryCache())
    async with httpx.AsyncClient(base_url=url) as client:
        for name, text in ours.items():
            (await client.put(f"/v1/policies/{name}", content=text)).raise_for_status()
        try:
            await engine.ping()
            assert (await engine.evaluate(RESOURCE_LIMITS, doc_of(ticket()))).allow
            bad = ticket(required_capabilities=["shell"])
            listed = doc_of(bad, config={"allowed_capabilities": ["code_generation"]})
            decision = await engine.evaluate(RESOURCE_LIMITS, listed)
            assert [v.rule for v in decision.violations] == ["capability_not_allowed"]
            await PolicyValidator(engine).check_contract()
            await _load_older_resource_limits(client)
            with pytest.raises(PolicyContractMismatch) as caught:
                await PolicyValidator(engine).check_contract()
            reason = caught.value.reason
            assert reason.startswith(f"{RESOURCE_LIMITS}: /decision answered nothing"), reason
            assert "`result` rule instead" in reason and "sla_enforcement" not in reason, reason
        finally:
            for name, text in ours.items():  # ours back, the test module after its package
                (await client.put(f"/v1/policies/{name}", content=text)).raise_for_status()
            await engine.close()


async def _load_older_resource_limits(client: httpx.AsyncClient) -> None:
    """Our resource_limits replaced by the older one (our tests of it go first: they refer to
    its ``decision``)."""
    tests = "neuralhive/orchestrator/resource_limits_test.rego"
    (await client.delete(f"/v1/policies/{tests}")).raise_for_status()
    older = (OLDER_DIR / "resource_limits.rego").read_bytes()
    name = "neuralhive/orchestrator/resource_limits.rego"
    (await client.put(f"/v1/policies/{name}", content=older)).raise_for_status()
