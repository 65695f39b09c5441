"""`orchestrator-dynamic simulate`: what-if runs of a day of plans against a fleet, in virtual
time, with the real scheduling code; and `simulate generate`, a day of generated traffic."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.entrypoints.console import console, die, err_console, print_json, table
from orchestrator_dynamic.services.simulation.behaviour import Behaviour
from orchestrator_dynamic.services.simulation.config import (
    KEYS,
    SettingError,
    SimConfig,
    compare_values,
    split_assignment,
    sweep_values,
    with_setting,
)
from orchestrator_dynamic.services.simulation.inputs import (
    SimInputError,
    load_history,
    load_plans,
    load_workers,
)
from orchestrator_dynamic.services.simulation.report import BANDS, SimReport
from orchestrator_dynamic.services.simulation.study import Outcome, best, run_all, settings_for

simulate_app = typer.Typer(
    help="What-if runs of plans against a fleet in virtual time, with the real C1-C5 code and "
    "scheduler; `simulate generate` writes a day of traffic.",
    no_args_is_help=False,
)
SET_HELP = "A setting, KEY=VALUE (repeatable). Keys: " + "; ".join(
    f"{k}: {doc}" for k, (_, doc) in KEYS.items()
)


@simulate_app.callback(invoke_without_command=True)
def simulate_command(
    ctx: typer.Context,
    plans: Annotated[
        Path | None, typer.Option(help="Decisions, one JSON a line (the wire format).")
    ] = None,
    workers: Annotated[
        Path | None, typer.Option(help="Workers in the registry's shape (JSON array or lines).")
    ] = None,
    durations: Annotated[
        Path | None,
        typer.Option(help="Finished-ticket history (JSONL): durations and failure rates by type."),
    ] = None,
    predictor: Annotated[
        bool, typer.Option(help="Durations from the ML predictor instead of history draws.")
    ] = False,
    arrival: Annotated[
        float | None,
        typer.Option(min=0, help="Seconds between arrivals (default: each decision's created_at)."),
    ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help=SET_HELP)] = None,
    compare: Annotated[
        str | None, typer.Option(help="KEY=V1,V2,...: one run per value, side by side.")
    ] = None,
    sweep: Annotated[
        str | None, typer.Option(help="KEY=lo..hi:steps: a numeric setting; prints the best.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the duration and failure draws.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    plot: Annotated[
        Path | None, typer.Option(help="Write a PNG: makespan and SLA misses per setting.")
    ] = None,
) -> None:
    """Replay plans against a fleet with the real C1-C5 code in virtual time; report SLA misses,
    makespan, queue waits, utilisation, retries and compensations per setting."""
    if ctx.invoked_subcommand is not None:
        return
    if plans is None or workers is None:
        die("simulate needs --plans FILE and --workers FILE (or: simulate generate --help)", 2)
    if compare and sweep:
        die("--compare and --sweep cannot be used together", 2)
    try:
        base = SimConfig()
        for assignment in set_ or []:
            base = with_setting(base, *split_assignment(assignment, "--set"))
        key, values = compare_values(compare) if compare else (None, [])
        if sweep:
            key, values = sweep_values(sweep)
        settings = settings_for(base, key, values)
        spacing = None if arrival is None else round(arrival * 1000)
        loaded = load_plans(plans, spacing)
        fleet = load_workers(workers)
        history = load_history(durations) if durations else []
    except (SettingError, SimInputError) as exc:
        die(str(exc), 2)
    for letter in loaded.dead_letters[:3]:
        err_console.print(f"dead-lettered line {letter.line}: {letter.reason}", markup=False)
    behaviour = Behaviour(history, seed, "predictor" if predictor else "history")
    total = len(loaded.arrivals) * len(settings)
    with _progress(total) as advance:
        # Each run gets the embedded ledger on its virtual clock.
        outcomes = asyncio.run(
            run_all(loaded, fleet, behaviour, settings, advance, ledger=MemoryCache)
        )
    chosen = best(outcomes) if sweep else None
    if plot is not None:
        from orchestrator_dynamic.entrypoints.simulate_plot import plot as draw

        try:
            draw(outcomes, plot)
        except OSError as exc:
            die(f"--plot {plot}: cannot be written: {exc.strerror or exc}", 1)
    if as_json:
        print_json(_document(outcomes, chosen))
        return
    console.print(
        table("What-if simulation", ["", *(o.setting.label for o in outcomes)], _rows(outcomes))
    )
    if chosen is not None:
        r = chosen.report
        console.print(
            f"Best {chosen.setting.label} for SLA misses: {r.plans_sla_violated} plans "
            f"({r.sla_violation_pct:.2f} %), p95 makespan {_duration(r.makespan_p95_ms)}"
        )
    if plot is not None:
        console.print(f"Plot written to {plot}")


class _progress:
    """A Rich progress bar on stderr while plans run (nothing when stderr is not a terminal)."""

    def __init__(self, total: int) -> None:
        self._bar = Progress(
            TextColumn("simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,
        )
        self._task = self._bar.add_task("plans", total=total)

    def __enter__(self) -> Callable[[int], None]:
        self._bar.start()
        return lambda n: self._bar.advance(self._task, n)

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()


def _document(outcomes: Sequence[Outcome], chosen: Outcome | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "settings": [
            {
                "setting": o.setting.label,
                "config": dataclasses.asdict(o.setting.config),
                "report": o.report.as_dict(),
            }
            for o in outcomes
        ]
    }
    if chosen is not None:
        doc["best"] = chosen.setting.label
    return doc


def _rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    reports = [o.report for o in outcomes]

    def row(name: str, value: Callable[[SimReport], str]) -> list[str]:
        return [name, *(value(r) for r in reports)]

    rows = [
        row("plans completed", lambda r: f"{r.completed}/{r.plans}"),
        row("plans failed / refused", lambda r: f"{r.failed} / {r.refused}"),
        row(
            "SLA misses (plans)", lambda r: f"{r.plans_sla_violated} ({r.sla_violation_pct:.2f} %)"
        ),
        row("SLA violations (tickets)", lambda r: str(r.ticket_sla_violations)),
        row("makespan p50", lambda r: _duration(r.makespan_p50_ms)),
        row("makespan p95", lambda r: _duration(r.makespan_p95_ms)),
    ]
    for band in BANDS:
        if any(band in r.queue_wait_p95_ms for r in reports):
            rows.append(row(f"queue wait p95 {band}", _band_wait(band)))
    rows += [
        row("worker utilisation", lambda r: f"{100 * r.utilisation:.1f} %"),
        row("retries", lambda r: str(r.retries)),
        row("compensations", lambda r: f"{r.compensations} ({r.plans_compensated} plans)"),
    ]
    return rows


def _band_wait(band: str) -> Callable[[SimReport], str]:
    return lambda r: _duration(r.queue_wait_p95_ms.get(band))


def _duration(ms: int | None) -> str:
    if ms is None:
        return "-"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@simulate_app.command("generate")
def generate_command(
    out: Annotated[Path, typer.Option(help="Where to write the decisions (JSON lines).")],
    plans: Annotated[int, typer.Option(min=1, help="Plans over the day.")] = 1000,
    tasks: Annotated[int, typer.Option(min=1, help="Tasks per plan.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="Workers in --workers-out.")] = 8,
    capacity: Annotated[int, typer.Option(min=1, help="Their max_concurrent_tasks.")] = 4,
    workers_out: Annotated[
        Path | None, typer.Option(help="Also write a fleet (registry shape, JSON).")
    ] = None,
) -> None:
    """Write a day of generated traffic (decisions arriving over 24 h, busiest mid-afternoon)."""
    from orchestrator_dynamic.services.simulation.traffic import generate_day, generate_fleet

    try:
        with out.open("w", encoding="utf-8") as sink:
            for doc in generate_day(plans, tasks, seed):
                sink.write(json.dumps(doc, separators=(",", ":")) + "\n")
        if workers_out is not None:
            fleet = generate_fleet(workers, capacity)
            workers_out.write_text(json.dumps(fleet, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        die(f"cannot write: {exc}", 1)
    console.print(
        f"{plans} plans written to {out}"
        + (f", {workers} workers to {workers_out}" if workers_out else "")
    )
