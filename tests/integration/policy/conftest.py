"""Policy engine tests: one OPA stand-in per session, and both engines behind one fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.policy.embedded import EmbeddedPolicyEngine
from orchestrator_dynamic.adapters.policy.opa import OpaConfig, OpaPolicyEngine
from orchestrator_dynamic.settings import DEFAULT_POLICY_DIR
from tests.servers.opa_standin import OpaStandIn


@pytest.fixture(scope="session")
def opa_server() -> Iterator[OpaStandIn]:
    server = OpaStandIn(DEFAULT_POLICY_DIR)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def opa(opa_server: OpaStandIn) -> Iterator[OpaStandIn]:
    opa_server.reset()
    yield opa_server
    opa_server.reset()


@pytest.fixture
async def opa_engine_factory(opa: OpaStandIn) -> AsyncIterator[Any]:
    engines: list[OpaPolicyEngine] = []

    def make(**overrides: Any) -> OpaPolicyEngine:
        config = OpaConfig(**{"url": opa.url, "cache_ttl_seconds": 0.0, **overrides})
        engine = OpaPolicyEngine(config, MemoryCache())
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.close()


@pytest.fixture
async def embedded() -> AsyncIterator[EmbeddedPolicyEngine]:
    """The embedded engine, freed on this thread afterwards (regorus objects must not be freed
    by a garbage collection that happens to run on another thread)."""
    engine = EmbeddedPolicyEngine(DEFAULT_POLICY_DIR)
    yield engine
    await engine.close()


@pytest.fixture(params=["embedded", "opa"])
def engine(
    request: pytest.FixtureRequest, embedded: EmbeddedPolicyEngine, opa_engine_factory: Any
) -> Any:
    """Every adapter of the PolicyEngine port; the contract suite runs once per adapter."""
    if request.param == "embedded":
        return embedded
    return opa_engine_factory()
