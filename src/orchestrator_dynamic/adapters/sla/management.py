"""Client of the external SLA management API: error budgets per service, cached, fail-open.

``GET /api/v1/budgets?service_name=NAME`` answers a JSON list of budgets, or an object with a
``budgets`` list (the upstream SLA management system answers ``{"budgets": [...], "total": N}``).
Each budget: ``service_name``, ``slo_id``, ``error_budget_remaining`` (percent), ``status``
(HEALTHY/WARNING/CRITICAL/EXHAUSTED), the SLO target as a fraction in ``slo_target`` (upstream's
name) or ``target``, and ``burn_rates`` (``[{"window_hours": 1, "rate": 2.5, ...}, ...]``); the
other fields upstream sends (``sli_value``, ``error_budget_consumed``, ``window_start``, burn-rate
``level``, ...) are not needed and ignored. When the API is down or answers nonsense the monitor
falls back to its own computation: SLA monitoring must never stop the orchestrator.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import structlog
from pydantic import BaseModel, Field, ValidationError

from orchestrator_dynamic.domain.errors import DependencyDown
from orchestrator_dynamic.domain.sla_budget import BudgetStatus, ErrorBudget

log = structlog.get_logger(__name__)


class _BurnRate(BaseModel):
    window_hours: int = Field(gt=0)
    rate: float = Field(ge=0)


class _Budget(BaseModel):
    service_name: str
    slo_id: str
    error_budget_remaining: float = Field(ge=0, le=100)
    status: BudgetStatus
    # A target of 1 is legal upstream (no budget at all: EXHAUSTED), so the bound is inclusive.
    slo_target: float | None = Field(None, gt=0, le=1)
    target: float | None = Field(None, gt=0, le=1)
    burn_rates: list[_BurnRate] = Field(default_factory=list)

    def to_domain(self, default_target: float) -> ErrorBudget:
        target = self.slo_target if self.slo_target is not None else self.target
        return ErrorBudget(
            service_name=self.service_name,
            slo_id=self.slo_id,
            target=target if target is not None else default_target,
            total=0,
            bad=0,
            remaining=self.error_budget_remaining / 100.0,
            status=self.status,
            burn_rates={b.window_hours: b.rate for b in self.burn_rates},
            source="sla_management",
        )


def base_url(host: str, port: int) -> str:
    """``host`` may carry its own scheme (https://sla.example); plain hosts get http."""
    if "://" in host:
        return host.rstrip("/")
    return f"http://{host}:{port}"


class SlaManagementClient:
    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 2.0,
        cache_ttl_s: float = 10.0,
        default_target: float = 0.99,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=url, timeout=timeout_s, transport=transport)
        self._ttl = cache_ttl_s
        self._target = default_target
        self._clock = clock
        self._cache: dict[str, tuple[float, list[ErrorBudget]]] = {}

    async def close(self) -> None:
        await self._http.aclose()

    async def budgets(self, service_name: str) -> list[ErrorBudget] | None:
        """The service's budgets, from cache for ``cache_ttl_s``; None when unavailable."""
        cached = self._cache.get(service_name)
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        try:
            found = await self.fetch(service_name)
        except DependencyDown as exc:
            log.warning("sla_management_unavailable", reason=exc.reason)
            return None
        self._cache[service_name] = (self._clock() + self._ttl, found)
        return found

    async def fetch(self, service_name: str) -> list[ErrorBudget]:
        """One uncached call; every failure becomes DependencyDown("sla_management", ...)."""
        try:
            response = await self._http.get(
                "/api/v1/budgets", params={"service_name": service_name}
            )
            response.raise_for_status()
            body: Any = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise DependencyDown("sla_management", f"{type(exc).__name__}: {exc}") from exc
        items = body.get("budgets") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise DependencyDown("sla_management", "answer has no list of budgets")
        try:
            return [_Budget.model_validate(item).to_domain(self._target) for item in items]
        except ValidationError as exc:
            raise DependencyDown("sla_management", f"bad budget: {exc.errors()[0]}") from exc
