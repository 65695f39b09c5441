"""OPA server adapter: ``POST /v1/data/<package>/decision`` with ``{"input": ...}`` (OPA's
REST Data API), with a timeout, a result cache, a circuit breaker and fail-open/closed, and a
check that the server's packages answer with our contract (see ``check_contract``)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from orchestrator_dynamic.adapters.policy.breaker import CircuitBreaker
from orchestrator_dynamic.adapters.policy.documents import (
    DECISION_RULE,
    OLDER_CONTRACT,
    OLDER_RULE,
    ContractProblem,
    brief,
    mismatch_reason,
    parse_decision,
    shape_problem,
)
from orchestrator_dynamic.domain.errors import PolicyContractMismatch, PolicyUnavailable
from orchestrator_dynamic.domain.ports import Cache, PolicyDecision
from orchestrator_dynamic.observability import policy_metrics

log = structlog.get_logger(__name__)
CONTRACT_SETTING = (
    "OPA_URL to an OPA server that has our policy bundle loaded, or load the bundle into this one"
)
# OPA answers an undefined document with a body that has no "result".
UNDEFINED = object()


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

    async def check_contract(self, packages: Sequence[str], input_doc: Mapping[str, Any]) -> None:
        """Each package answers the probe ``input_doc`` with our decision document, or
        PolicyContractMismatch names those that do not and what they answered. Around the
        cache and the breaker: a readiness check is neither answered from memory nor opens the
        breaker for the tickets. A server that cannot be asked raises PolicyUnavailable."""
        found = await asyncio.gather(*(self._contract_problem(p, input_doc) for p in packages))
        problems = [p for p in found if p is not None]
        if problems:
            raise PolicyContractMismatch(mismatch_reason(problems), CONTRACT_SETTING)

    async def _contract_problem(
        self, package: str, input_doc: Mapping[str, Any]
    ) -> ContractProblem | None:
        package = package.strip("/")
        answer = await self._probe(f"{package}/{DECISION_RULE}", input_doc)
        if isinstance(answer, ContractProblem):
            return ContractProblem(package, answer.answered)
        if answer is not UNDEFINED:
            return shape_problem(package, answer)
        # No decision: ask for the whole package to say what is there instead.
        whole = await self._probe(package, input_doc)
        nothing = f"/{DECISION_RULE} answered nothing (undefined)"
        if isinstance(whole, Mapping) and OLDER_RULE in whole:
            return ContractProblem(package, f"{nothing}; {OLDER_CONTRACT}")
        if isinstance(whole, Mapping) and whole:
            rules = ", ".join(sorted(whole))
            return ContractProblem(package, f"{nothing}; the package has only: {rules}")
        return ContractProblem(package, f"{nothing}: the package is not loaded on this OPA server")

    async def _probe(self, path: str, input_doc: Mapping[str, Any]) -> Any:
        """The document at ``/v1/data/<path>`` for the input, UNDEFINED, or the server's
        refusal of the query (a 4xx) as a ContractProblem."""
        try:
            response = await self._client.post(f"/v1/data/{path}", json={"input": dict(input_doc)})
        except httpx.HTTPError as exc:
            raise PolicyUnavailable("policy", f"OPA unreachable: {exc!r}") from exc
        if response.status_code >= 500:
            raise PolicyUnavailable("policy", f"OPA answered {response.status_code}")
        if response.status_code != 200:
            text = " ".join(response.text.split())[:120]
            return ContractProblem(path, f"refused with HTTP {response.status_code}: {text}")
        try:
            body = response.json()
        except ValueError as exc:
            raise PolicyUnavailable("policy", "OPA answered with invalid JSON") from exc
        if not isinstance(body, Mapping):
            return ContractProblem(path, f"answered {brief(body)}")
        return body.get("result", UNDEFINED)

    async def evaluate(self, package: str, input_doc: Mapping[str, Any]) -> PolicyDecision:
        key = _cache_key(package, input_doc)
        if self._config.cache_ttl_seconds > 0 and (cached := await self._cache.get(key)):
            policy_metrics.CACHE_HITS.inc()
            return parse_decision(package, json.loads(cached))
        try:
            doc = await self._query(package, input_doc)
            # A decision of the wrong shape is as unusable as none: fail open or closed alike.
            decision = parse_decision(package, doc)
        except PolicyUnavailable as exc:
            return self._unavailable(package, exc)
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
