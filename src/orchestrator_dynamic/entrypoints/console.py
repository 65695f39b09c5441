"""Rich rendering shared by the CLI commands: tables for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def print_json(doc: Any) -> None:
    """Plain JSON on stdout (no Rich markup), so `| jq` always works."""
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    out = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*("" if cell is None else str(cell) for cell in row))
    return out


def print_issues(issues: Iterable[dict[str, str]], title: str = "Refused") -> None:
    rows = [(i.get("code", ""), i.get("path", ""), i.get("message", "")) for i in issues]
    err_console.print(table(title, ["code", "field", "reason"], rows))
