"""Finished tickets for training: from the store (the service's loop) or a JSONL file (the CLI).

A file holds one finished ExecutionTicket JSON per line, as the store keeps them; a ``label``
object (``{"is_anomaly": bool, "anomaly_type": str | null}``) beside a ticket is read as its
anomaly label. A line that is not a ticket is refused with its line number and field."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError

from orchestrator_dynamic.domain.model import ExecutionTicket, TicketStatus
from orchestrator_dynamic.domain.ports import Collection, Store

PAGE = 1000


class BadHistory(ValueError):
    pass


@dataclass
class History:
    tickets: list[ExecutionTicket] = field(default_factory=list)
    labels: dict[str, bool] = field(default_factory=dict)


def parse_lines(lines: Iterable[str], source: str = "input") -> History:
    out = History()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError as exc:
            raise BadHistory(f"{source} line {number}: not JSON ({exc})") from exc
        if not isinstance(doc, dict):
            raise BadHistory(f"{source} line {number}: not a JSON object")
        try:
            ticket = ExecutionTicket.model_validate(doc)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "ticket"
            raise BadHistory(f"{source} line {number}: {where}: {first['msg']}") from exc
        out.tickets.append(ticket)
        label = doc.get("label")
        if isinstance(label, dict) and isinstance(label.get("is_anomaly"), bool):
            out.labels[ticket.ticket_id] = label["is_anomaly"]
    return out


async def finished_from_store(store: Store, since_ms: int) -> list[ExecutionTicket]:
    """Completed and failed tickets whose record is newer than ``since_ms``."""
    out: list[ExecutionTicket] = []
    for status in (TicketStatus.COMPLETED, TicketStatus.FAILED):
        offset = 0
        while True:
            page = await store.find(
                Collection.TICKETS,
                {"status": status.value},
                since_ms=since_ms,
                limit=PAGE,
                offset=offset,
            )
            for doc in page:
                try:
                    out.append(ExecutionTicket.model_validate(doc))
                except ValidationError:
                    continue  # an old record in another shape: not worth failing training
            if len(page) < PAGE:
                break
            offset += PAGE
    return out
