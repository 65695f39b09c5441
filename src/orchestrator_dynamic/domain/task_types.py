"""Task types as upstream emits them, mapped onto the eight ticket task types.

The semantic translation engine writes lower-case types, some of which are not ticket types at all
(``create``, ``update``, ``delete``: it decomposes intents into data operations). The alias table
(setting TASK_TYPE_ALIASES) says which ticket type each of those becomes; the eight ticket types
themselves are always accepted in any case. A type neither covers refuses the plan.
"""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator_dynamic.domain.model import TaskType

# What upstream's semantic translation engine emits beyond the ticket types (its DAG generator
# and decomposition templates): writes of data are executions.
DEFAULT_TASK_TYPE_ALIASES: dict[str, str] = {
    "create": "EXECUTE",
    "update": "EXECUTE",
    "delete": "EXECUTE",
}
ORIGINAL_TYPE_KEY = "original_task_type"


def alias_table(aliases: Mapping[str, str]) -> dict[str, TaskType]:
    """Normalised table: keys lower-case and stripped, values TaskType; ValueError names a bad
    entry."""
    out: dict[str, TaskType] = {}
    for raw, target in aliases.items():
        key = raw.strip().lower()
        if not key:
            raise ValueError("an alias cannot be empty")
        try:
            out[key] = TaskType(str(target).strip().upper())
        except ValueError:
            allowed = ", ".join(t.value for t in TaskType)
            raise ValueError(f"alias {raw!r} maps to {target!r}, not one of {allowed}") from None
    return out


def resolve(raw: str, aliases: Mapping[str, TaskType]) -> TaskType | None:
    """The ticket type for ``raw``: a ticket type in any case, else the alias; None if neither."""
    text = raw.strip()
    try:
        return TaskType(text.upper())
    except ValueError:
        return aliases.get(text.lower())
