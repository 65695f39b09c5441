"""The engine's floor: a bare workflow running no-op activities with the plan's layering."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="noop")
async def noop(index: int) -> int:
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
