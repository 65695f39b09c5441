"""What the web console shows, one call per page, over the services the API already uses
(Operations, the worker directory, the SLA monitor) and the store's indexed look-ups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from orchestrator_dynamic.domain import plan_graph
from orchestrator_dynamic.domain.errors import DependencyDown, NotFound, OrchestratorError
from orchestrator_dynamic.domain.ports import Collection, Store
from orchestrator_dynamic.domain.workflows import TERMINAL
from orchestrator_dynamic.services.audit import LOCAL, Actor
from orchestrator_dynamic.services.operations import Operations
from orchestrator_dynamic.services.sla_monitor import SlaMonitor
from orchestrator_dynamic.services.workers import WorkerDirectory

AWAITING_APPROVAL = "AWAITING_APPROVAL"
TERMINAL_NAMES = frozenset(s.value for s in TERMINAL)


@dataclass(frozen=True)
class TemporalUi:
    """Where the Temporal web UI shows a workflow (None when no UI is known)."""

    base_url: str | None
    namespace: str = "default"

    def link(self, workflow_id: str) -> str | None:
        if not self.base_url:
            return None
        ns, wid = quote(self.namespace, safe=""), quote(workflow_id, safe="")
        return f"{self.base_url.rstrip('/')}/namespaces/{ns}/workflows/{wid}"


class Console:
    def __init__(
        self,
        ops: Operations,
        directory: WorkerDirectory,
        monitor: SlaMonitor | None,
        store: Store,
        clock: Callable[[], int],
        temporal_ui: TemporalUi,
    ) -> None:
        self._ops = ops
        self._directory = directory
        self._monitor = monitor
        self._store = store
        self._clock = clock
        self._temporal_ui = temporal_ui

    # ------------------------------------------------------------ workflows list

    async def workflows(
        self, status: str | None, search: str | None, limit: int, offset: int
    ) -> dict[str, Any]:
        """A page of workflows newest first (one more is fetched to know whether a next page
        exists), each with its step, risk band and SLA state. ``search`` is an exact decision,
        plan or intent id."""
        if search:
            rows = await self._search(search.strip())
            if status:
                rows = [r for r in rows if r["status"] == status.upper()]
            rows = rows[offset : offset + limit + 1]
        else:
            rows = await self._ops.workflows(status, None, limit + 1, offset)
        page = [await self._row(r) for r in rows[:limit]]
        return {"rows": page, "has_next": len(rows) > limit, "now": self._clock()}

    async def _search(self, text: str) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        by_key = await self._store.get(Collection.DECISIONS, text)
        candidates = [by_key] if by_key else []
        for name in ("plan_id", "intent_id"):
            candidates += await self._store.find(Collection.DECISIONS, {name: text}, limit=200)
        for decision in candidates:
            if decision.get("disposition") == "started":
                found.setdefault(str(decision["decision_id"]), decision)
        rows = []
        for decision in sorted(found.values(), key=lambda d: -int(d.get("timestamp") or 0)):
            rows.append(
                {
                    "workflow_id": decision["decision_id"],
                    "plan_id": decision.get("plan_id"),
                    "status": await self._status_of(str(decision["decision_id"])),
                    "started_at": decision.get("timestamp"),
                }
            )
        return rows

    async def _status_of(self, workflow_id: str) -> str:
        try:
            return str((await self._ops.workflow(workflow_id))["status"])
        except (NotFound, DependencyDown):
            return "UNKNOWN"

    async def _row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A finished workflow is read from its stored result (asking the engine would replay
        its whole history); a live one from the workflow's query."""
        out = {**row, "step": "", "risk_band": "", "sla_state": "NONE"}
        workflow_id = str(row["workflow_id"])
        if row["status"] in TERMINAL_NAMES:
            stored = await self._store.get(Collection.WORKFLOW_RESULTS, workflow_id) or {}
            violations = (stored.get("sla_status") or {}).get("violations_count")
            out["step"] = "DONE"
            out["risk_band"] = stored.get("risk_band") or ""
            out["sla_state"] = "NONE" if violations is None else "VIOLATED" if violations else "OK"
            return out
        try:
            view = await self._ops.workflow(workflow_id)
        except (NotFound, DependencyDown):
            return out
        out["status"] = view["status"]
        out["step"] = view.get("step", "")
        out["risk_band"] = view.get("risk_band", "")
        out["sla_state"] = plan_graph.sla_state(view.get("tickets", []), self._clock())
        return out

    # ------------------------------------------------------------ one workflow

    async def plan(self, workflow_id: str) -> dict[str, Any]:
        """The workflow's view with its DAG read for drawing (what the plan page polls)."""
        view = await self._ops.workflow(workflow_id)
        now = self._clock()
        return {
            "view": view,
            "graph": plan_graph.graph(view.get("tickets") or _planned(view.get("plan")), now),
            "finished": view["status"] in TERMINAL_NAMES,
            "temporal_ui": self._temporal_ui.link(workflow_id),
            "now": now,
        }

    async def ticket(self, ticket_id: str) -> dict[str, Any]:
        """A ticket with its allocation explanation, policy decisions and history."""
        detail = await self._ops.ticket(ticket_id)
        ticket = detail["ticket"]
        detail["sla_used"] = plan_graph.sla_used(
            {**ticket, "deadline": (ticket.get("sla") or {}).get("deadline")}, self._clock()
        )
        return detail

    # ------------------------------------------------------------ approvals

    async def approvals(self) -> list[dict[str, Any]]:
        """Workflows waiting for a human, each with its plan outline, risk and guardrails."""
        waiting = await self._ops.workflows(AWAITING_APPROVAL, None, 100, 0)
        out = []
        for row in waiting:
            try:
                view = await self._ops.workflow(str(row["workflow_id"]))
            except (NotFound, DependencyDown):
                continue
            if view["status"] == AWAITING_APPROVAL:
                out.append({**row, "view": view})
        return out

    async def decide(
        self, workflow_id: str, approve: bool, by: str, reason: str, actor: Actor = LOCAL
    ) -> None:
        """Approve or reject exactly as the API does (the same signal, the same record, the
        same audit entry with the console as its channel)."""
        if approve:
            await self._ops.approve(workflow_id, by, reason, actor)
        else:
            await self._ops.reject(workflow_id, by, reason, actor)

    # ------------------------------------------------------------ operations

    async def operations(self) -> dict[str, Any]:
        """Workers, SLA budgets and burn rates, recent dead letters; each part says when its
        source cannot answer instead of failing the page."""
        out: dict[str, Any] = {"workers": [], "sla": None, "dead_letters": [], "errors": {}}
        try:
            out["workers"] = await self._directory.list([], None, 500, 0)
        except OrchestratorError as exc:
            out["errors"]["workers"] = str(exc)
        if self._monitor is None:
            out["errors"]["sla"] = "SLA monitoring is not running"
        else:
            try:
                out["sla"] = await self._monitor.overview()
            except OrchestratorError as exc:
                out["errors"]["sla"] = str(exc)
        try:
            out["dead_letters"] = await self._store.find(
                Collection.DECISIONS, {"disposition": "dead-lettered"}, limit=50
            )
        except OrchestratorError as exc:
            out["errors"]["dead_letters"] = str(exc)
        out["temporal_ui"] = self._temporal_ui.base_url
        return out

    def temporal_link(self, workflow_id: str) -> str | None:
        return self._temporal_ui.link(workflow_id)


def _planned(outline: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Before C2 (awaiting approval) there are no tickets yet: the plan's tasks, drawn as PLANNED
    nodes keyed by task id, so an approver sees the DAG they are asked about."""
    return [
        {**task, "ticket_id": task["task_id"], "status": "PLANNED"}
        for task in (outline or {}).get("tasks", [])
    ]
