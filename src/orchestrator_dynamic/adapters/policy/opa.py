"""OPA server adapter: ``POST /v1/data/<package>/decision`` with ``{"input": ...}`` (OPA's
REST Data API), with a timeout, a result cache, a circuit breaker and fail-open/closed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from orchestrator_dynamic.adapters.policy.breaker import CircuitBreaker
from orchestrator_dynamic.adapters.policy.documents import DECISION_RULE, parse_decision
from orchestrator_dynamic.domain.errors import PolicyUnavailable
from orchestrator_dynamic.domain.ports import Cache, PolicyDecision
from orchestrator_dynamic.observability import policy_metrics

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OpaConfig:
    """OPA_* settings as plain values."""

    url: str
    timeout_seconds: float = 2.0
    cache_ttl_seconds: float = 30.0
    failure_threshold: int = 5
    reset_seconds: float = 30.0
    fail_open: bool = False


class OpaPolicyEngine:
    """PolicyEngine over an OPA server. Errors (timeout, 5xx, connection, bad body) count
    against the breaker; while it is open no request is made. Unavailable means
    PolicyUnavailable (fail closed) or an allow with a warning (fail open)."""

    name = "opa"

    def __init__(
        self,
        config: OpaConfig,
        cache: Cache,
        breaker: CircuitBreaker | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._config = config
        self._cache = cache
        self._breaker = breaker or CircuitBreaker(config.failure_threshold, config.reset_seconds)
        self._client = client or httpx.AsyncClient(
            base_url=config.url.rstrip("/"), timeout=config.timeout_seconds
        )

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    async def close(self) -> None:
        await self._client.aclose()

    async def ping(self) -> None:
        try:
            response = await self._client.get("/health")
        except httpx.HTTPError as exc:
            raise PolicyUnavailable("policy", f"OPA health check failed: {exc!r}") from exc
        if response.status_code != 200:
            raise PolicyUnavailable("policy", f"OPA health answered {response.status_code}")

    async def evaluate(self, package: str, input_doc: Mapping[str, Any]) -> PolicyDecision:
        key = _cache_key(package, input_doc)
        if self._config.cache_ttl_seconds > 0 and (cached := await self._cache.get(key)):
            policy_metrics.CACHE_HITS.inc()
            return parse_decision(package, json.loads(cached))
        try:
            doc = await self._query(package, input_doc)
        except PolicyUnavailable as exc:
            return self._unavailable(package, exc)
        decision = parse_decision(package, doc)
        if self._config.cache_ttl_seconds > 0:
            await self._cache.set(key, json.dumps(doc).encode(), self._config.cache_ttl_seconds)
        return decision

    async def evaluate_many(
        self, packages: Sequence[str], input_doc: Mapping[str, Any]
    ) -> list[PolicyDecision]:
        """One query per package (OPA's Data API answers one document per request)."""
        return [await self.evaluate(p, input_doc) for p in packages]

    async def _query(self, package: str, input_doc: Mapping[str, Any]) -> Any:
        if not self._breaker.allows():
            raise PolicyUnavailable("policy", "OPA circuit breaker is open")
        path = f"/v1/data/{package.strip('/')}/{DECISION_RULE}"
        try:
            response = await self._client.post(path, json={"input": dict(input_doc)})
            doc = self._result(package, response)
        except httpx.TimeoutException as exc:
            self._failed("timeout")
            raise PolicyUnavailable("policy", f"OPA timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            self._failed("connection")
            raise PolicyUnavailable("policy", f"OPA unreachable: {exc!r}") from exc
        except PolicyUnavailable:
            raise
        self._breaker.succeeded()
        return doc

    def _result(self, package: str, response: httpx.Response) -> Any:
        if response.status_code >= 500:
            self._failed("http_5xx")
            raise PolicyUnavailable("policy", f"OPA answered {response.status_code}")
        if response.status_code != 200:
            # A 4xx is our request's fault (bad input, unknown package): the server is fine.
            policy_metrics.EVALUATION_ERRORS.labels("http_4xx").inc()
            raise PolicyUnavailable("policy", f"OPA refused the query: {response.text[:200]}")
        try:
            body = response.json()
        except ValueError as exc:
            self._failed("bad_response")
            raise PolicyUnavailable("policy", "OPA answered with invalid JSON") from exc
        if "result" not in body:
            policy_metrics.EVALUATION_ERRORS.labels("undefined").inc()
            raise PolicyUnavailable("policy", f"{package}: decision is undefined on OPA")
        return body["result"]

    def _failed(self, error_type: str) -> None:
        policy_metrics.EVALUATION_ERRORS.labels(error_type).inc()
        self._breaker.failed()

    def _unavailable(self, package: str, exc: PolicyUnavailable) -> PolicyDecision:
        if not self._config.fail_open:
            raise exc
        log.warning("policy_fail_open", package=package, reason=exc.reason)
        policy_metrics.EVALUATION_ERRORS.labels("fail_open").inc()
        return PolicyDecision(True, (), (f"policy not evaluated (fail open): {exc.reason}",))


def _cache_key(package: str, input_doc: Mapping[str, Any]) -> str:
    canonical = json.dumps(input_doc, sort_keys=True, separators=(",", ":"), default=str)
    return f"opa:{package}:{hashlib.sha256(canonical.encode()).hexdigest()}"
