"""Readiness: ping every dependency, timed, and say which required one is down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel


class DependencyReport(BaseModel):
    name: str
    required: bool
    ok: bool
    latency_ms: float
    error: str | None = None


class ReadinessReport(BaseModel):
    ready: bool
    dependencies: list[DependencyReport]


@dataclass(frozen=True)
class Check:
    name: str
    ping: Callable[[], Awaitable[object]]
    required: bool = True


class Readiness:
    def __init__(self, checks: list[Check], timeout_s: float = 2.0) -> None:
        self._checks = checks
        self._timeout_s = timeout_s

    async def __call__(self) -> ReadinessReport:
        reports = await asyncio.gather(*(self._run(c) for c in self._checks))
        ready = all(r.ok for r in reports if r.required)
        return ReadinessReport(ready=ready, dependencies=list(reports))

    async def _run(self, check: Check) -> DependencyReport:
        started = time.perf_counter()
        error = None
        try:
            await asyncio.wait_for(check.ping(), self._timeout_s)
        except TimeoutError:
            error = f"no answer within {self._timeout_s} s"
        except Exception as exc:  # any failure means "not ready", with its reason
            error = f"{type(exc).__name__}: {exc}"
        latency = round((time.perf_counter() - started) * 1000, 2)
        return DependencyReport(
            name=check.name,
            required=check.required,
            ok=error is None,
            latency_ms=latency,
            error=error,
        )
