"""Rich rendering shared by the CLI commands: tables for people, JSON for scripts."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

# Piped output (logs, CI, `| less`) has no terminal width: give tables room rather than Rich's 80
# columns. A real terminal keeps its own width; COLUMNS still overrides both.
PIPED_WIDTH = 120


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or "COLUMNS" in os.environ else PIPED_WIDTH
    return Console(stderr=stderr, width=width)


console = _console()
err_console = _console(stderr=True)


def print_json(doc: Any) -> None:
    """Plain JSON on stdout (no Rich markup), so `| jq` always works."""
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    out = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    # A header never breaks mid-word; cells wrap (never crop) when the terminal is narrow.
    for column in columns:
        out.add_column(column, overflow="fold", min_width=len(column))
    for row in rows:
        out.add_row(*("" if cell is None else str(cell) for cell in row))
    return out


def print_issues(issues: Iterable[dict[str, str]], title: str = "Refused") -> None:
    rows = [(i.get("code", ""), i.get("path", ""), i.get("message", "")) for i in issues]
    err_console.print(table(title, ["code", "field", "reason"], rows))
