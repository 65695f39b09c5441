"""Real servers for the scheduler's adapters, one per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.redis import redis_cluster, redis_server


@pytest.fixture(scope="session")
def redis_port() -> Iterator[int]:
    with redis_server() as port:
        yield port


@pytest.fixture(scope="session")
def redis_cluster_ports() -> Iterator[list[int]]:
    with redis_cluster() as ports:
        yield ports
