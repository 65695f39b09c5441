"""Flow C tests run against a real Temporal dev server (started once per session)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from orchestrator_dynamic.flow.payloads import FlowOptions
from tests.integration.flow.harness import Behaviour, FlowRig

FAST = FlowOptions(retry_initial_ms=20, retry_backoff=2.0, retry_max_ms=100)

RigFactory = Callable[..., Any]


@pytest.fixture
async def rig_factory(temporal_env: Any) -> AsyncIterator[RigFactory]:
    running: list[Any] = []

    async def make(behaviour: Behaviour = lambda t: True, options: FlowOptions = FAST) -> FlowRig:
        rig = FlowRig(temporal_env.client, options, behaviour)
        ctx = rig.worker
        await ctx.__aenter__()
        running.append(ctx)
        return rig

    yield make
    for worker in running:
        await worker.__aexit__(None, None, None)
