"""Servers for the SLA tests, one per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.sla_management import StandIn, sla_management_stand_in


@pytest.fixture(scope="session")
def sla_api_server() -> Iterator[StandIn]:
    with sla_management_stand_in() as server:
        yield server


@pytest.fixture
def sla_api(sla_api_server: StandIn) -> StandIn:
    """The session's stand-in, reset to a healthy empty answer for each test."""
    sla_api_server.status, sla_api_server.body, sla_api_server.raw = 200, [], None
    sla_api_server.upstream = None
    sla_api_server.requests.clear()
    return sla_api_server
