"""Shared by both engines: where a package's decision lives and how to read it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator_dynamic.domain.errors import PolicyUnavailable
from orchestrator_dynamic.domain.ports import PolicyDecision, PolicyViolation

DECISION_RULE = "decision"


def rule_path(package: str) -> str:
    """``neuralhive/orchestrator/resource_limits`` -> ``data.neuralhive.orchestrator.resource_limits.decision``."""
    dotted = package.strip("/").replace("/", ".")
    return f"data.{dotted}.{DECISION_RULE}"


def parse_decision(package: str, doc: Any) -> PolicyDecision:
    """Read the ``decision`` document every package returns; a bad shape is an engine error."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("allow"), bool):
        raise PolicyUnavailable("policy", f"{package}: the decision has no boolean 'allow'")
    name = package.strip("/").rsplit("/", 1)[-1]
    violations = tuple(
        PolicyViolation(
            policy=name,
            rule=str(v.get("rule", "unnamed")),
            severity=str(v.get("severity", "high")),
            message=str(v.get("message", "")),
        )
        for v in doc.get("violations") or []
        if isinstance(v, Mapping)
    )
    warnings = tuple(str(w) for w in doc.get("warnings") or [])
    flags = {str(k): bool(v) for k, v in (doc.get("flags") or {}).items()}
    # A decision that allows while listing violations is contradictory: trust the violations.
    return PolicyDecision(doc["allow"] and not violations, violations, warnings, flags)


def short_error(exc: BaseException) -> str:
    """regorus errors carry a Rust backtrace after the message; keep the message."""
    return str(exc).split("Stack backtrace:", 1)[0].strip()
