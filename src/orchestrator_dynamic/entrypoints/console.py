"""Rich rendering shared by the CLI commands: tables for people, JSON for scripts.

People read times as ISO-8601 local time and nested values as ``key=value`` text; `--json`
keeps the API's own values (epoch milliseconds, nested objects) for scripts.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator_dynamic.settings import Settings, SettingsError, load_settings

# Piped output (logs, CI, `| less`) has no terminal width: give tables room rather than Rich's 80
# columns. A real terminal keeps its own width; COLUMNS still overrides both.
PIPED_WIDTH = 120
# Fields that hold a moment (epoch ms on the wire), whatever table or object they appear in.
TIME_NAMES = frozenset({"timestamp", "deadline", "since", "until"})


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or "COLUMNS" in os.environ else PIPED_WIDTH
    return Console(stderr=stderr, width=width)


console = _console()
err_console = _console(stderr=True)


def print_json(doc: Any) -> None:
    """Plain JSON on stdout (no Rich markup), so `| jq` always works."""
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def is_time(name: str) -> bool:
    """Whether a field of this name holds a moment (``started_at``, ``timestamp``, ...)."""
    key = name.strip().lower().replace(" ", "_").rsplit(".", 1)[-1]
    return key.endswith("_at") or key in TIME_NAMES


def local_time(value: int | float | str) -> str:
    """Epoch milliseconds (or an ISO-8601 text) as ISO-8601 in the local time zone, to the
    second. A value that is neither is shown as it is."""
    if isinstance(value, bool):
        return str(value).lower()
    try:
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(value / 1000).astimezone()
        else:
            moment = datetime.fromisoformat(value).astimezone()
    except (ValueError, OverflowError, OSError):
        return str(value)
    return moment.isoformat(timespec="seconds")


def cell(value: Any, name: str = "") -> str:
    """One value as table text: times local, nested objects as ``key=value``, no reprs."""
    if value is None:
        return ""
    if name and is_time(name) and isinstance(value, int | float | str) and value != "":
        return local_time(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_nested(v, str(k))}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_nested(v, name) for v in value)
    return str(value)


def _nested(value: Any, name: str) -> str:
    """A value inside an object or a list: brackets keep its own separators apart."""
    if isinstance(value, Mapping):
        return f"({cell(value, name)})"
    if isinstance(value, list | tuple | set | frozenset):
        return f"[{cell(value, name)}]"
    return cell(value, name)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    out = Table(
        title=escape(title),
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
        out.add_row(*(escape(cell(value, name)) for value, name in zip(row, columns, strict=True)))
    return out


def print_issues(issues: Iterable[Mapping[str, str]], title: str = "Refused") -> None:
    rows = [(i.get("code", ""), i.get("path", ""), i.get("message", "")) for i in issues]
    err_console.print(table(title, ["code", "field", "reason"], rows))


def die(message: str, code: int = 1) -> NoReturn:
    """A user error as one line on stderr (never a traceback), then exit with ``code``."""
    err_console.print(f"[red]error[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def choice(value: str | None, allowed: Iterable[str], option: str) -> str | None:
    """An option value matched case-insensitively against ``allowed`` (returned in its canonical
    spelling); an unknown one exits 2 naming the values allowed."""
    if value is None:
        return None
    names = list(allowed)
    for name in names:
        if name.lower() == value.strip().lower():
            return name
    die(f"{option} {value!r} is not one of {', '.join(names)}", 2)


def settings_or_exit() -> Settings:
    """The validated settings, or exit 2 with what is wrong (one line per bad setting)."""
    try:
        return load_settings()
    except SettingsError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(2) from exc
