"""Rate limits on the routes that change something, per token (else per client address).

A moving window from the ``limits`` library, kept in this process's memory: each API replica
counts on its own. Over the limit, the answer is 429 problem+json with ``Retry-After`` (seconds).
Three budgets: operators' changes (approve, reject, cancel, worker registration, the console's
forms and sign-in); decisions submitted (``POST /decisions``), which a submitting service sends in
bursts of hundreds; and workers' reports (results and heartbeats), which come far more often by
nature.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import StrEnum

from fastapi import HTTPException, Request, status
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from orchestrator_dynamic.entrypoints.api.security import TokenAuth
from orchestrator_dynamic.entrypoints.api.ui_session import COOKIE

DEFAULT_OPERATOR_LIMIT = "600/minute"
DEFAULT_WORKER_LIMIT = "6000/minute"
DEFAULT_DECISION_LIMIT = "6000/minute"


class Budget(StrEnum):
    OPERATOR = "operator"
    WORKER = "worker"
    DECISION = "decision"


@dataclass(frozen=True)
class RateLimits:
    operator: str = DEFAULT_OPERATOR_LIMIT
    worker: str = DEFAULT_WORKER_LIMIT
    enabled: bool = True
    decision: str = DEFAULT_DECISION_LIMIT


class RateLimiter:
    def __init__(self, config: RateLimits) -> None:
        self._enabled = config.enabled
        self._items: dict[Budget, RateLimitItem] = {
            Budget.OPERATOR: parse(config.operator),
            Budget.WORKER: parse(config.worker),
            Budget.DECISION: parse(config.decision),
        }
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, budget: Budget, key: str) -> None:
        """Count one request; HTTPException 429 with Retry-After when over the budget."""
        if not self._enabled:
            return
        item = self._items[budget]
        if self._limiter.hit(item, budget.value, key):
            return
        reset = self._limiter.get_window_stats(item, budget.value, key).reset_time
        retry_after = max(1, math.ceil(reset - time.time()))
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"rate limit exceeded ({item}): retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


def client_key(request: Request) -> str:
    """The caller: its token's public id when it presents a known one, else its address."""
    auth: TokenAuth = request.app.state.auth
    header = request.headers.get("authorization", "")
    kind, _, token = header.partition(" ")
    token = token if kind.lower() == "bearer" else request.cookies.get(COOKIE, "")
    principal = auth.principal_for(token) if token and not auth.open else None
    if principal is not None:
        return f"token:{principal.token_id}"
    return f"addr:{request.client.host if request.client else 'unknown'}"


def _limited(budget: Budget, request: Request) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.hit(budget, client_key(request))


def operator_limit(request: Request) -> None:
    _limited(Budget.OPERATOR, request)


def worker_limit(request: Request) -> None:
    _limited(Budget.WORKER, request)


def decision_limit(request: Request) -> None:
    _limited(Budget.DECISION, request)
