"""The engine's floor: a bare workflow running no-op activities with the plan's layering."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from temporalio import activity, workflow

# When each floor workflow's first activity ran, by workflow id (same clock as the caller's), so
# "accepted -> first work item" is measured the same way for the floor and for Flow C.
FIRST_ACTIVITY: dict[str, float] = {}


@activity.defn(name="noop")
async def noop(index: int) -> int:
    FIRST_ACTIVITY.setdefault(activity.info().workflow_id, time.perf_counter())
    return index


@workflow.defn(name="Floor")
class FloorWorkflow:
    @workflow.run
    async def run(self, layers: list[int]) -> int:
        done = 0
        for width in layers:
            results = await asyncio.gather(
                *(
                    workflow.execute_activity(noop, i, start_to_close_timeout=timedelta(seconds=30))
                    for i in range(width)
                )
            )
            done += len(results)
        return done
