"""The campaign's table: one row per scenario, printed and written to chaos-report.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

COLUMNS = (
    ("scenario", "scenario"),
    ("runs", "runs"),
    ("plans", "plans"),
    ("completed", "completed"),
    ("lost", "lost"),
    ("tickets_with_two_contents", "tickets with two contents"),
    ("over_capacity", "over-capacity"),
    ("recovery_s", "recovery s"),
)


@dataclass
class Row:
    scenario: str
    runs: int = 0
    plans: int = 0
    completed: int = 0
    lost: int = 0
    tickets_with_two_contents: int = 0
    over_capacity: int = 0
    recovery_s: float = 0.0
    # Not columns of the table: what else a scenario measured (p95, RSS, faults, lost ids...).
    notes: dict[str, Any] = field(default_factory=dict)

    def met(self) -> bool:
        """Every figure the campaign must show: all completed, none lost, no ticket published
        with two contents, no worker over capacity."""
        return (
            self.plans > 0
            and self.completed == self.plans
            and self.lost == 0
            and self.tickets_with_two_contents == 0
            and self.over_capacity == 0
        )

    def as_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["recovery_s"] = round(self.recovery_s, 1)
        doc["completed_percent"] = round(100 * self.completed / self.plans, 1) if self.plans else 0
        return doc


def table(rows: list[Row]) -> str:
    header = [title for _, title in COLUMNS]
    cells = [
        [
            str(round(v, 1)) if isinstance(v := getattr(row, name), float) else str(v)
            for name, _ in COLUMNS
        ]
        for row in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-|-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    for row in rows:
        if row.notes:
            notes = ", ".join(f"{k} {v}" for k, v in row.notes.items())
            lines.append(f"  {row.scenario}: {notes}")
    return "\n".join(lines)


def write(rows: list[Row], path: Path) -> None:
    path.write_text(json.dumps([row.as_json() for row in rows], indent=2) + "\n")
