"""Errors are classified once, from the domain tree: what a failed step does about each."""

from __future__ import annotations

import pytest

from orchestrator_dynamic.domain.errors import (
    BusUnavailable,
    CacheUnavailable,
    Conflict,
    EngineUnavailable,
    Handling,
    Issue,
    MalformedMessage,
    NotFound,
    OrchestratorError,
    PlanRefused,
    PolicyUnavailable,
    RegistryUnavailable,
    StoreUnavailable,
    Unauthorized,
    dependency_of,
    handling,
)

ISSUE = [Issue("x", "bad", "f")]


@pytest.mark.parametrize(
    "exc",
    [
        MalformedMessage(ISSUE),
        PlanRefused(ISSUE),
        NotFound("no ticket t"),
        Conflict("already ended"),
        Unauthorized("kafka refused publish"),
        OrchestratorError("anything of ours that is not an outage"),
    ],
)
def test_what_retrying_cannot_fix_fails_at_once(exc: OrchestratorError) -> None:
    assert handling(exc) is Handling.FAIL
    assert dependency_of(exc) == ""


@pytest.mark.parametrize(
    ("exc", "dependency"),
    [
        (StoreUnavailable("store", "down"), "store"),
        (BusUnavailable("bus", "down"), "bus"),
        (RegistryUnavailable("registry", "down"), "registry"),
        (PolicyUnavailable("opa", "down"), "opa"),
        (EngineUnavailable("temporal", "down"), "temporal"),
        (CacheUnavailable("redis", "down"), "redis"),
    ],
)
def test_dependency_outages_wait(exc: OrchestratorError, dependency: str) -> None:
    assert handling(exc) is Handling.WAIT
    assert dependency_of(exc) == dependency


@pytest.mark.parametrize("exc", [KeyError("k"), ValueError("v"), RuntimeError("r"), OSError()])
def test_anything_else_is_unexpected_and_bounded(exc: Exception) -> None:
    assert handling(exc) is Handling.BOUNDED


def test_the_retryable_flag_decides_for_our_own_errors() -> None:
    class Transient(OrchestratorError):
        retryable = True

    assert handling(Transient("try again")) is Handling.WAIT
