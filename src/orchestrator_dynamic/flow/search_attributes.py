"""Temporal search attributes that make a Flow C workflow findable by what an operator knows.

The workflow id is the decision id; these add the plan, the intent, the plan's risk band and the
consensus verdict, all known when the workflow is started, so they are set with the start and the
workflow's code never touches them. In the Temporal UI or with a visibility query:
``NeuralHivePlanId = "plan-123"``, ``NeuralHiveRiskBand = "high"``.

The engine refuses a start that carries an attribute it has not registered. The embedded dev
server registers them when it starts; on an external cluster ``ensure_registered`` adds the missing
ones at startup where we have the rights, and otherwise the workflows start without them.
"""

from __future__ import annotations

import contextlib

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from orchestrator_dynamic.domain.decode import parse_plan
from orchestrator_dynamic.domain.errors import OrchestratorError
from orchestrator_dynamic.domain.model import CognitivePlan, ConsolidatedDecision

log = structlog.get_logger(__name__)

PLAN_ID = SearchAttributeKey.for_keyword("NeuralHivePlanId")
INTENT_ID = SearchAttributeKey.for_keyword("NeuralHiveIntentId")
RISK_BAND = SearchAttributeKey.for_keyword("NeuralHiveRiskBand")
FINAL_DECISION = SearchAttributeKey.for_keyword("NeuralHiveFinalDecision")
KEYS = (PLAN_ID, INTENT_ID, RISK_BAND, FINAL_DECISION)
NAMES = tuple(key.name for key in KEYS)


def dev_server_args() -> list[str]:
    """``temporal server start-dev`` arguments registering every attribute (all namespaces)."""
    args: list[str] = []
    for name in NAMES:
        args += ["--search-attribute", f"{name}=Keyword"]
    return args


def for_decision(
    decision: ConsolidatedDecision, plan: CognitivePlan | None = None
) -> TypedSearchAttributes:
    """The attributes of a decision's workflow. The risk band comes from the plan; a decision
    whose plan cannot be read (C1 will refuse it and say why) is still findable by the rest."""
    if plan is None:
        with contextlib.suppress(OrchestratorError):
            plan = parse_plan(decision)
    pairs = [
        SearchAttributePair(PLAN_ID, decision.plan_id),
        SearchAttributePair(INTENT_ID, decision.intent_id),
        SearchAttributePair(FINAL_DECISION, decision.final_decision.value),
    ]
    if plan is not None:
        pairs.append(SearchAttributePair(RISK_BAND, plan.risk_band.value))
    return TypedSearchAttributes(pairs)


def is_unregistered(exc: RPCError) -> bool:
    """The engine's refusal of a start whose search attributes it does not know (SQL visibility
    says "has no mapping defined for search attribute X", Elasticsearch "search attribute X is
    not defined"); not its other refusals about them (sizes, types)."""
    said = exc.message.lower()
    unknown = "no mapping defined for search attribute" in said or (
        "search attribute" in said and "is not defined" in said
    )
    return exc.status is RPCStatusCode.INVALID_ARGUMENT and unknown


async def ensure_registered(client: Client, namespace: str) -> bool:
    """Register the attributes the namespace lacks (idempotent). False, after one warning line,
    when they are missing and cannot be added (no operator rights, a managed cluster): the
    workflows then start without them. True when they are there or cannot be checked; a start
    that the engine refuses for them still falls back (see the gateway)."""
    try:
        missing = await _missing(client, namespace)
    except RPCError as exc:
        log.warning("search_attributes_unchecked", namespace=namespace, reason=exc.message)
        return True
    if not missing:
        return True
    try:
        # One by one: an older server refuses a batch that holds one it knows.
        added = [name for name in missing if await _add(client, namespace, name)]
    except RPCError as exc:
        log.warning(
            "search_attributes_unregistered",
            namespace=namespace,
            missing=",".join(missing),
            reason=exc.message,
            hint="temporal operator search-attribute create --name NAME --type Keyword",
        )
        return False
    if added:
        log.info("search_attributes_registered", namespace=namespace, added=",".join(added))
    return True


async def _missing(client: Client, namespace: str) -> list[str]:
    try:
        known = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.UNIMPLEMENTED:
            return list(NAMES)  # a server that cannot list them may still add them
        raise
    registered = {**known.system_attributes, **known.custom_attributes}
    return [name for name in NAMES if name not in registered]


async def _add(client: Client, namespace: str, name: str) -> bool:
    """Whether the attribute was added (False: the server had it already)."""
    keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    request = AddSearchAttributesRequest(namespace=namespace, search_attributes={name: keyword})
    try:
        await client.operator_service.add_search_attributes(request)
    except RPCError as exc:
        if exc.status is RPCStatusCode.ALREADY_EXISTS:  # older servers are not idempotent
            return False
        raise
    return True
