"""The policy contract check: every package we query answers a probe ticket with our
``decision`` document, or one line names the package, what it answered and the setting to
change. OPA side against the OPA stand-in of tests/servers/opa_standin.py (no OPA server runs
here; it speaks OPA's Data API over regorus), loaded with our packages and with others: the
platform's older resource_limits (tests/fixtures/policies/older), a wrong-shaped decision, a
missing package."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.policy.embedded import EmbeddedPolicyEngine
from orchestrator_dynamic.adapters.policy.opa import OpaConfig, OpaPolicyEngine
from orchestrator_dynamic.domain.errors import PolicyContractMismatch, PolicyUnavailable
from orchestrator_dynamic.services.policy import (
    ALL_PACKAGES,
    FEATURE_FLAGS,
    RESOURCE_LIMITS,
    SECURITY_CONSTRAINTS,
    SLA_ENFORCEMENT,
    PolicyValidator,
)
from tests.integration.policy.policy_dirs import with_odd_packages, with_older_resource_limits
from tests.integration.policy.test_engine_contract import doc_of, ticket
from tests.servers.opa_standin import OpaStandIn, free_port

pytestmark = pytest.mark.integration
OLDER = "the package has a `result` rule instead: the platform's older contract"


def served(directory: Path) -> Iterator[OpaStandIn]:
    server = OpaStandIn(directory)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def older_opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpaStandIn]:
    yield from served(with_older_resource_limits(tmp_path_factory.mktemp("older") / "policies"))


@pytest.fixture(scope="module")
def odd_opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpaStandIn]:
    yield from served(with_odd_packages(tmp_path_factory.mktemp("odd") / "policies"))


@pytest.fixture
async def opa_at() -> AsyncIterator[Any]:
    engines: list[OpaPolicyEngine] = []

    def make(url: str, fail_open: bool = False) -> OpaPolicyEngine:
        engine = OpaPolicyEngine(
            OpaConfig(url, cache_ttl_seconds=0, fail_open=fail_open), MemoryCache()
        )
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.close()


async def mismatch(engine: Any) -> PolicyContractMismatch:
    with pytest.raises(PolicyContractMismatch) as caught:
        await PolicyValidator(engine).check_contract()
    return caught.value


async def test_our_packages_answer_our_contract(engine: Any) -> None:
    await PolicyValidator(engine).check_contract()


async def test_every_queried_package_is_probed(opa: OpaStandIn, opa_engine_factory: Any) -> None:
    await PolicyValidator(opa_engine_factory()).check_contract()
    assert set(ALL_PACKAGES) == {
        RESOURCE_LIMITS,
        SLA_ENFORCEMENT,
        SECURITY_CONSTRAINTS,
        FEATURE_FLAGS,
    }
    assert opa.requests == len(ALL_PACKAGES), "one query per package when all answer"


async def test_an_older_package_on_opa_is_named_with_what_it_answered(
    older_opa: OpaStandIn, opa_at: Any
) -> None:
    error = await mismatch(opa_at(older_opa.url))
    assert error.reason.startswith(
        f"{RESOURCE_LIMITS}: /decision answered nothing (undefined); {OLDER}"
    ), error.reason
    for ours in (SLA_ENFORCEMENT, SECURITY_CONSTRAINTS, FEATURE_FLAGS):
        assert ours not in error.reason, "only the package that differs is named"
    assert "OPA_URL" in error.setting and "bundle" in error.setting
    line = str(error)
    assert "\n" not in line and RESOURCE_LIMITS in line and "OPA_URL" in line, line


async def test_the_embedded_engine_names_an_older_package_too(tmp_path: Path) -> None:
    engine = EmbeddedPolicyEngine(with_older_resource_limits(tmp_path / "policies"))
    try:
        error = await mismatch(engine)
    finally:
        await engine.close()
    expected = (
        f"{RESOURCE_LIMITS}: no `decision` rule; {OLDER} over input.resource/input.parameters"
    )
    assert error.reason == expected
    assert "OPA_POLICY_DIR" in error.setting


async def test_a_wrong_shape_and_a_missing_package_are_said_apart(
    odd_opa: OpaStandIn, opa_at: Any, tmp_path: Path
) -> None:
    error = await mismatch(opa_at(odd_opa.url))
    assert (
        f"{SECURITY_CONSTRAINTS}: /decision answered nothing (undefined): the package is not loaded"
        in error.reason
    ), error.reason
    assert (
        f"""{FEATURE_FLAGS}: /decision answered {{"flags":{{}}}} (no boolean 'allow')"""
        in error.reason
    ), error.reason
    assert RESOURCE_LIMITS not in error.reason
    embedded = EmbeddedPolicyEngine(with_odd_packages(tmp_path / "policies"))
    try:
        local = await mismatch(embedded)
    finally:
        await embedded.close()
    assert f"{SECURITY_CONSTRAINTS}: the package is not in the policy directory" in local.reason, (
        local.reason
    )
    assert f"{FEATURE_FLAGS}: /decision answered" in local.reason


async def test_a_wrong_shaped_decision_fails_open_or_closed_like_no_decision(
    odd_opa: OpaStandIn, opa_at: Any
) -> None:
    with pytest.raises(PolicyUnavailable, match="no boolean 'allow'"):
        await opa_at(odd_opa.url).evaluate(FEATURE_FLAGS, doc_of(ticket()))
    decision = await opa_at(odd_opa.url, fail_open=True).evaluate(FEATURE_FLAGS, doc_of(ticket()))
    assert decision.allow and "fail open" in decision.warnings[0]


async def test_at_start_a_mismatch_stops_fail_closed_and_warns_once_fail_open(
    older_opa: OpaStandIn, opa_at: Any
) -> None:
    validator = PolicyValidator(opa_at(older_opa.url))
    with pytest.raises(PolicyContractMismatch):
        await validator.check_at_start(fail_open=False)
    with structlog.testing.capture_logs() as logs:
        await validator.check_at_start(fail_open=True)
    assert [e["event"] for e in logs] == ["policy_contract_mismatch"]
    assert logs[0]["log_level"] == "warning" and RESOURCE_LIMITS in logs[0]["reason"]


async def test_an_unreachable_server_is_an_outage_not_a_mismatch(opa_at: Any) -> None:
    validator = PolicyValidator(opa_at(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(PolicyUnavailable) as caught:
        await validator.check_contract()
    assert not isinstance(caught.value, PolicyContractMismatch)
    with structlog.testing.capture_logs() as logs:
        await validator.check_at_start(fail_open=False)  # left to readiness, which repeats it
    assert [e["event"] for e in logs] == ["policy_contract_unchecked"]
