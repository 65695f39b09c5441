"""Bearer tokens with a scope each.

API_TOKENS = {"<token>" | "sha256:<hex digest of the token>": "read" | "admin" | "worker:<id>"}.
A digest entry lets the environment hold no usable secret: a presented token is hashed once and
compared, in constant time, with every entry's digest (a plain entry is hashed at start), always
all of them, so neither the answer's time nor its position among the entries tells anything.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from fastapi import HTTPException, Request, status

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
DIGEST_PREFIX = "sha256:"
WORKER_PREFIX = "worker:"
# How a token is named in the audit trail and logs: a prefix of its digest, never the token.
TOKEN_ID_CHARS = 12


class Scope(StrEnum):
    READ = "read"
    ADMIN = "admin"
    # Posts results and heartbeats for its own worker id, nothing else.
    WORKER = "worker"


@dataclass(frozen=True)
class Principal:
    """Who a request is: the token's scope, its worker id (worker scope) and its public id."""

    scope: Scope
    worker_id: str | None = None
    token_id: str = "open"

    @property
    def label(self) -> str:
        return f"worker:{self.worker_id}" if self.scope is Scope.WORKER else self.scope.value


OPEN = Principal(Scope.ADMIN, None, "open")


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scope(value: str) -> tuple[Scope, str | None]:
    """``read``, ``admin`` or ``worker:<id>``; ValueError names what is wrong."""
    if value.startswith(WORKER_PREFIX):
        worker_id = value[len(WORKER_PREFIX) :]
        if not worker_id.strip():
            raise ValueError("a worker scope needs its worker id: worker:<id>")
        return Scope.WORKER, worker_id
    if value in (Scope.READ.value, Scope.ADMIN.value):
        return Scope(value), None
    raise ValueError(f"unknown scope {value!r}: read, admin or worker:<id>")


def entry_digest(key: str) -> str:
    """The digest an API_TOKENS key stands for; ValueError for a malformed ``sha256:`` key."""
    if not key.startswith(DIGEST_PREFIX):
        return digest_of(key)
    hexdigest = key[len(DIGEST_PREFIX) :].lower()
    if len(hexdigest) != 64 or any(c not in "0123456789abcdef" for c in hexdigest):
        raise ValueError("a sha256: entry needs 64 hex digits (sha256sum of the token)")
    return hexdigest


class TokenAuth:
    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._entries: list[tuple[bytes, Principal]] = []
        for key, value in tokens.items():
            digest = entry_digest(key)
            scope, worker_id = parse_scope(value)
            principal = Principal(scope, worker_id, digest[:TOKEN_ID_CHARS])
            self._entries.append((digest.encode(), principal))

    @property
    def open(self) -> bool:
        """No tokens configured: the API runs open, which is only allowed on loopback."""
        return not self._entries

    def principal_of(self, request: Request) -> Principal:
        """The request's bearer token as a Principal; 401 without a known one."""
        if self.open:
            return OPEN
        header = request.headers.get("authorization", "")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = self.principal_for(token)
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "unknown token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return principal

    def scope_of(self, request: Request) -> Scope:
        return self.principal_of(request).scope

    def principal_for(self, token: str) -> Principal | None:
        """The Principal of a token (from a header or the console's cookie); None if unknown."""
        if self.open:
            return OPEN
        presented = digest_of(token).encode()
        found: Principal | None = None
        for digest, principal in self._entries:  # every entry, no early exit
            if hmac.compare_digest(digest, presented):
                found = principal
        return found

    def scope_for(self, token: str) -> Scope | None:
        principal = self.principal_for(token)
        return principal.scope if principal else None


def check_bind(host: str, tokens: Mapping[str, str]) -> None:
    """Refuse to serve an open API beyond loopback."""
    if not tokens and host not in LOOPBACK:
        raise ValueError(
            f"API_HOST={host} is not loopback and API_TOKENS is empty: set API_TOKENS "
            "(a JSON object of token -> read|admin|worker:<id>) or bind to 127.0.0.1"
        )
