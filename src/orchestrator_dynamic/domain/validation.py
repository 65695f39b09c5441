"""C1 structural rules for a decision and its plan. Pure: the clock is passed in."""

from __future__ import annotations

import re
from collections.abc import Mapping

from orchestrator_dynamic.domain import dag
from orchestrator_dynamic.domain.errors import Issue
from orchestrator_dynamic.domain.model import CognitivePlan, ConsolidatedDecision, TaskType
from orchestrator_dynamic.domain.task_types import DEFAULT_TASK_TYPE_ALIASES, alias_table, resolve

SUPPORTED_MAJOR_VERSION = 1
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
SUPPORTED_SCHEMA_VERSION = 1
DEFAULT_ALIASES = alias_table(DEFAULT_TASK_TYPE_ALIASES)


def plan_issues(
    decision: ConsolidatedDecision,
    plan: CognitivePlan,
    now_ms: int,
    task_types: Mapping[str, TaskType] = DEFAULT_ALIASES,
) -> list[Issue]:
    """Every reason to refuse this plan; an empty list means it may run. ``task_types`` is the
    alias table for task types beyond the eight ticket types."""
    issues = _identity_issues(decision, plan)
    issues += _version_issues(plan)
    issues += _expiry_issues(decision, plan, now_ms)
    if not plan.tasks:
        issues.append(Issue("plan.empty", "the plan has no tasks", "cognitive_plan.tasks"))
        return issues
    issues += _task_type_issues(plan, task_types)
    graph = {t.task_id: t.dependencies for t in plan.tasks}
    issues += dag.structural_issues([t.task_id for t in plan.tasks], graph)
    return issues


def _identity_issues(decision: ConsolidatedDecision, plan: CognitivePlan) -> list[Issue]:
    if plan.plan_id != decision.plan_id:
        message = f"plan_id {plan.plan_id!r} differs from the decision's {decision.plan_id!r}"
        return [Issue("plan.id_mismatch", message, "cognitive_plan.plan_id")]
    return []


def _version_issues(plan: CognitivePlan) -> list[Issue]:
    out = []
    match = _VERSION.match(plan.version)
    if not match or int(match.group(1)) != SUPPORTED_MAJOR_VERSION:
        message = (
            f"version {plan.version!r} is not supported (expected {SUPPORTED_MAJOR_VERSION}.x)"
        )
        out.append(Issue("plan.version", message, "cognitive_plan.version"))
    if plan.schema_version > SUPPORTED_SCHEMA_VERSION:
        message = f"schema_version {plan.schema_version} is newer than {SUPPORTED_SCHEMA_VERSION}"
        out.append(Issue("plan.schema_version", message, "cognitive_plan.schema_version"))
    return out


def _expiry_issues(decision: ConsolidatedDecision, plan: CognitivePlan, now_ms: int) -> list[Issue]:
    out = []
    for path, valid_until in (
        ("valid_until", decision.valid_until),
        ("cognitive_plan.valid_until", plan.valid_until),
    ):
        if valid_until is not None and valid_until <= now_ms:
            message = f"valid_until {valid_until} is in the past (now {now_ms})"
            out.append(Issue("plan.expired", message, path))
    return out


def _task_type_issues(plan: CognitivePlan, task_types: Mapping[str, TaskType]) -> list[Issue]:
    known = ", ".join(sorted({t.value for t in TaskType} | set(task_types)))
    return [
        Issue(
            "task.unknown_type",
            f"task {task.task_id!r} has task_type {task.task_type!r}, which is neither a ticket "
            f"type nor in the alias table (TASK_TYPE_ALIASES); known: {known}",
            f"cognitive_plan.tasks[{task.task_id}].task_type",
        )
        for task in plan.tasks
        if resolve(task.task_type, task_types) is None
    ]
