"""One exception tree for the whole service.

Adapters translate driver errors into these (``raise ... from exc``); the API maps them to
problem+json, and ``handling`` below is the one place that says what a failed step does about
each of them (activities follow it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class Issue:
    """One reason a message or plan was refused: a stable code, a sentence, and where."""

    code: str
    message: str
    path: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "path": self.path}


class OrchestratorError(Exception):
    """Base of every error this service raises on purpose."""

    retryable: bool = False


class MalformedMessage(OrchestratorError):
    """Bytes that cannot be read as the expected message (bad JSON, bad Avro, wrong field types)."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{i.path or '<message>'}: {i.message}" for i in issues))

    @property
    def field(self) -> str:
        return self.issues[0].path if self.issues else ""


class TooLarge(MalformedMessage):
    """A message bigger than a limit on the way (the API's, or the workflow engine's)."""


class PlanRefused(OrchestratorError):
    """A well-formed decision whose plan breaks a rule (C1): never executed, always audited."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{i.code}: {i.message}" for i in issues))


class NotFound(OrchestratorError):
    """The thing asked for (workflow, ticket, worker) does not exist."""


class Conflict(OrchestratorError):
    """The request contradicts current state (approving a finished workflow, say)."""


class Unauthorized(OrchestratorError):
    """Missing or wrong credentials, or a scope that does not allow the operation."""


@dataclass
class DependencyDown(OrchestratorError):
    """A backing service (store, bus, registry, policy engine, workflow engine) did not answer."""

    dependency: str
    reason: str
    details: dict[str, str] = field(default_factory=dict)

    retryable = True

    def __str__(self) -> str:
        return f"{self.dependency} unavailable: {self.reason}"


class StoreUnavailable(DependencyDown):
    pass


class BusUnavailable(DependencyDown):
    pass


class RegistryUnavailable(DependencyDown):
    pass


class PolicyUnavailable(DependencyDown):
    pass


class PolicyContractMismatch(PolicyUnavailable):
    """The policy engine answers, but a package we query does not answer with our contract
    (a ``decision`` with a boolean ``allow``): every ticket would be refused. ``reason`` names
    each such package and what it answered; ``setting`` is what to change."""

    def __init__(self, reason: str, setting: str) -> None:
        super().__init__("policy", reason, {"setting": setting})

    @property
    def setting(self) -> str:
        return self.details["setting"]

    def __str__(self) -> str:
        return f"policy contract mismatch: {self.reason} (set {self.setting})"


class EngineUnavailable(DependencyDown):
    pass


class CacheUnavailable(DependencyDown):
    pass


class ModelRegistryUnavailable(DependencyDown):
    """The ML model registry (MLflow) did not answer: the last loaded model stays in use."""


class Handling(StrEnum):
    """What a workflow step does when its work raised."""

    FAIL = "fail"  # retrying cannot help (bad input, refused, not found, conflict, authorisation)
    WAIT = "wait"  # a dependency is away: retry with back-off without limit, and say so
    BOUNDED = "bounded"  # not one of ours (a bug?): a few more attempts, then fail with an incident


def handling(exc: BaseException) -> Handling:
    """The classification of an error, from the tree above: ``retryable`` decides for ours."""
    if isinstance(exc, OrchestratorError):
        return Handling.WAIT if exc.retryable else Handling.FAIL
    return Handling.BOUNDED


def dependency_of(exc: BaseException) -> str:
    """The backing service an error is waiting for ("" when it is not an outage)."""
    return exc.dependency if isinstance(exc, DependencyDown) else ""
