"""Real servers for the scheduler's adapters, one per test session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.servers.redis import redis_cluster
from tests.servers.service_registry import RegistryServer


@pytest.fixture(scope="session")
def redis_cluster_ports() -> Iterator[list[int]]:
    with redis_cluster() as ports:
        yield ports


@pytest.fixture
async def grpc_registry_server() -> AsyncIterator[RegistryServer]:
    server = RegistryServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def shared_registry_server() -> AsyncIterator[RegistryServer]:
    """One gRPC registry for the contract suite (tests use unique capabilities)."""
    server = RegistryServer()
    await server.start()
    yield server
    await server.stop()
