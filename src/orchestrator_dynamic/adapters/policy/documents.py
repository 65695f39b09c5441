"""Shared by both engines: where a package's decision lives and how to read it."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator_dynamic.domain.errors import PolicyUnavailable
from orchestrator_dynamic.domain.ports import PolicyDecision, PolicyViolation

DECISION_RULE = "decision"
# The platform's older packages, under the same names, answer with this rule instead (over
# input.resource / input.parameters): our queries find no decision there.
OLDER_RULE = "result"
OLDER_CONTRACT = (
    f"the package has a `{OLDER_RULE}` rule instead: the platform's older contract"
    " over input.resource/input.parameters"
)
ANSWER_CHARS = 80


@functools.cache  # a handful of package names, asked on every evaluation
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


@dataclass(frozen=True)
class ContractProblem:
    """A package that does not answer our contract, and what it answered instead."""

    package: str
    answered: str


def shape_problem(package: str, doc: Any) -> ContractProblem | None:
    """None when ``doc`` reads as our decision; else what is wrong with it."""
    try:
        parse_decision(package, doc)
    except PolicyUnavailable:
        return ContractProblem(
            package, f"/{DECISION_RULE} answered {brief(doc)} (no boolean 'allow')"
        )
    return None


def brief(doc: Any) -> str:
    """A document as compact JSON, cut to a readable length."""
    text = json.dumps(doc, separators=(",", ":"), sort_keys=True, default=str)
    return text if len(text) <= ANSWER_CHARS else text[: ANSWER_CHARS - 1] + "…"


def mismatch_reason(problems: Sequence[ContractProblem]) -> str:
    """One line naming every package that does not answer with our contract; packages that
    answered alike share their explanation."""
    packages_by_answer: dict[str, list[str]] = {}
    for problem in problems:
        packages_by_answer.setdefault(problem.answered, []).append(problem.package)
    return "; ".join(
        f"{', '.join(packages)}: {answered}" for answered, packages in packages_by_answer.items()
    )
