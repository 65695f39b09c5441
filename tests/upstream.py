"""Decisions built the way the upstream consensus engine builds them (our own code from its facts).

The facts, from the platform's consensus engine and semantic translation engine:
- the plan reaches the consensus engine as a dict whose datetimes are ``datetime`` objects (its
  Avro deserializer turns timestamp-millis into aware datetimes); the decision embeds it as
  ``json.dumps(plan, default=str)``, so they arrive as ``"2026-02-21 10:18:08.353000+00:00"``;
- task types are lower-case and include ``create``/``update``; capabilities are ``read``,
  ``write``, ``analyze``...; task parameters and metadata were stringified by the translator;
- the decision's ``created_at`` is ``datetime.now(UTC)`` (microseconds), sent as
  ``int(created_at.timestamp() * 1000)``; its metadata values are ``str(v)``;
- the integrity hash is SHA-256 of the sorted-key JSON (``ensure_ascii=False``) of decision_id,
  plan_id, final_decision, aggregated_confidence, aggregated_risk, the votes as the vote model
  dumps them (seniority_level and seniority_multiplier included, null when unset) and
  ``created_at.isoformat()``;
- the JSON path sends ``json.dumps(avro_dict)``; the Avro path serialises the same dict with the
  Confluent serializer and upstream's schema, whose enum is ``DecisionType`` (ours
  ``FinalDecision``).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro

from orchestrator_dynamic.adapters.serialization.avro import schema_json, to_confluent

CREATED = datetime(2026, 2, 21, 10, 18, 8, 353_127, tzinfo=UTC)


def upstream_plan(plan_id: str, created: datetime = CREATED) -> dict[str, Any]:
    """A cognitive plan as the consensus engine holds it (datetimes as datetime objects)."""
    tasks = [
        ("task_0", "query", [], ["read", "analyze"]),
        ("task_1", "create", ["task_0"], ["write"]),
        ("task_2", "update", ["task_1"], ["write"]),
        ("task_3", "validate", ["task_2"], ["read", "security"]),
    ]
    return {
        "plan_id": plan_id,
        "version": "1.0.0",
        "intent_id": f"intent-{plan_id}",
        "original_intent_text": "Criar usuário e atualizar permissões",
        "correlation_id": f"corr-{plan_id}",
        "trace_id": None,
        "span_id": None,
        "tasks": [
            {
                "task_id": task_id,
                "task_type": task_type,
                "description": f"{task_type} step of the intent",
                "dependencies": deps,
                "estimated_duration_ms": 800,
                "required_capabilities": caps,
                "parameters": {"objective": task_type, "entities": "[{'type': 'user'}]"},
                "metadata": {"description_quality_score": "0.8", "domain": "security-analysis"},
            }
            for task_id, task_type, deps, caps in tasks
        ],
        "execution_order": [t[0] for t in tasks],
        "risk_score": 0.42,
        "risk_band": "medium",
        "risk_factors": {"destructive": 0.0},
        "explainability_token": f"exp-{plan_id}",
        "reasoning_summary": "Plano gerado pelo motor de tradução semântica",
        "status": "validated",
        "created_at": created - timedelta(seconds=2),
        "valid_until": created + timedelta(days=3650),
        "estimated_total_duration_ms": 3200,
        "complexity_score": 0.4,
        "original_domain": "SECURITY",
        "original_priority": "normal",
        "original_security_level": "internal",
        "metadata": {"num_tasks": "4"},
        "requires_approval": False,
        "approval_status": None,
        "approved_by": None,
        "approved_at": None,
        "is_destructive": False,
        "destructive_tasks": [],
        "risk_matrix": None,
        "schema_version": 1,
    }


def votes(decision_id: str, seniority: bool = True) -> list[dict[str, Any]]:
    """Votes as upstream's vote model dumps them (mode="json")."""
    out = []
    for kind in ("business", "technical", "segurança"):
        vote: dict[str, Any] = {
            "specialist_type": kind,
            "opinion_id": f"op-{decision_id}-{kind}",
            "confidence_score": 0.87,
            "risk_score": 0.31,
            "recommendation": "approve",
            "weight": 0.2,
            "processing_time_ms": 132,
        }
        if seniority:
            vote["seniority_level"] = None
            vote["seniority_multiplier"] = None
        out.append(vote)
    return out


def upstream_hash(decision: dict[str, Any], created: datetime) -> str:
    """Upstream's calculate_hash over the decision's fields and its datetime created_at."""
    data = {
        "decision_id": decision["decision_id"],
        "plan_id": decision["plan_id"],
        "final_decision": decision["final_decision"],
        "aggregated_confidence": decision["aggregated_confidence"],
        "aggregated_risk": decision["aggregated_risk"],
        "specialist_votes": decision["_votes_dumped"],
        "created_at": created.isoformat(),
    }
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def upstream_decision(
    decision_id: str | None = None, created: datetime = CREATED, seniority: bool = True
) -> dict[str, Any]:
    """The dict upstream's ``to_avro_dict`` produces (what both its JSON and Avro paths send)."""
    decision_id = decision_id or str(uuid.uuid4())
    plan_id = f"plan-{decision_id}"
    plan = upstream_plan(plan_id, created)
    dumped = votes(decision_id, seniority)
    doc: dict[str, Any] = {
        "decision_id": decision_id,
        "plan_id": plan_id,
        "intent_id": plan["intent_id"],
        "correlation_id": plan["correlation_id"],
        "trace_id": None,
        "span_id": None,
        "final_decision": "approve",
        "consensus_method": "bayesian",
        "aggregated_confidence": 0.87,
        "aggregated_risk": 0.31,
        "specialist_votes": [dict(v) for v in dumped],
        "consensus_metrics": {
            "divergence_score": 0.05,
            "convergence_time_ms": 41,
            "unanimous": True,
            "fallback_used": False,
            "pheromone_strength": 0.0,
            "bayesian_confidence": 0.87,
            "voting_confidence": 1.0,
        },
        "explainability_token": f"explain-{plan_id}",
        "reasoning_summary": "Decisão unânime: approve.",
        "compliance_checks": {"confidence_threshold": True, "risk_acceptable": True},
        "guardrails_triggered": [],
        "cognitive_plan": json.dumps(plan, default=str),
        "requires_human_review": False,
        "created_at": int(created.timestamp() * 1000),
        "valid_until": None,
        "metadata": {k: str(v) for k, v in {"num_specialists": 3, "domain": "SECURITY"}.items()},
        "hash": None,
        "schema_version": 1,
        "_votes_dumped": dumped,
    }
    doc["hash"] = upstream_hash(doc, created)
    del doc["_votes_dumped"]
    return doc


def as_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode("utf-8")


def upstream_writer_schema() -> dict[str, Any]:
    """A writer schema with upstream's names: the decision enum is ``DecisionType``, and (as a
    registry may hold it) the nested records sit in other namespaces."""
    schema = copy.deepcopy(schema_json("ConsolidatedDecision"))
    for field in schema["fields"]:
        if field["name"] == "final_decision":
            field["type"]["name"] = "DecisionType"
        elif field["name"] == "specialist_votes":
            field["type"]["items"]["namespace"] = "com.neuralhivemind.consensus.votes"
        elif field["name"] == "consensus_metrics":
            field["type"]["name"] = "com.neuralhivemind.consensus.metrics.ConsensusMetrics"
    return schema


def as_avro(doc: dict[str, Any], schema_id: int, schema: dict[str, Any] | None = None) -> bytes:
    """Confluent framing of the record written with the (upstream) writer schema."""
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema or upstream_writer_schema()), doc)
    return to_confluent(schema_id, out.getvalue())
