"""Bearer tokens with a scope each (API_TOKENS = {"<token>": "read" | "admin"})."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from enum import StrEnum

from fastapi import HTTPException, Request, status

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class Scope(StrEnum):
    READ = "read"
    ADMIN = "admin"


class TokenAuth:
    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = {token: Scope(scope) for token, scope in tokens.items()}

    @property
    def open(self) -> bool:
        """No tokens configured: the API runs open, which is only allowed on loopback."""
        return not self._tokens

    def scope_of(self, request: Request) -> Scope:
        if self.open:
            return Scope.ADMIN
        header = request.headers.get("authorization", "")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        scope = self.scope_for(token)
        if scope is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "unknown token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return scope

    def scope_for(self, token: str) -> Scope | None:
        """The scope of a token (from a header or the console's cookie); None if unknown."""
        if self.open:
            return Scope.ADMIN
        for known, scope in self._tokens.items():
            if secrets.compare_digest(known, token):
                return scope
        return None


def check_bind(host: str, tokens: Mapping[str, str]) -> None:
    """Refuse to serve an open API beyond loopback."""
    if not tokens and host not in LOOPBACK:
        raise ValueError(
            f"API_HOST={host} is not loopback and API_TOKENS is empty: set API_TOKENS "
            "(a JSON object of token -> read|admin) or bind to 127.0.0.1"
        )
