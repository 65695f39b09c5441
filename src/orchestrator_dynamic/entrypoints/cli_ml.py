"""`orchestrator-dynamic ml train|predict|status`: the ML models, offline.

scikit-learn and MLflow load only when an `ml` command runs, never for the other commands."""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec

import structlog
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from orchestrator_dynamic.domain.errors import ModelRegistryUnavailable, OrchestratorError
from orchestrator_dynamic.domain.ml import ANOMALY_MODEL, DURATION_MODEL
from orchestrator_dynamic.entrypoints.console import console, err_console, print_json, table
from orchestrator_dynamic.services.ml.history import BadHistory, History, parse_lines
from orchestrator_dynamic.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from orchestrator_dynamic.services.ml.training import TrainingConfig

P = ParamSpec("P")
ml_app = typer.Typer(help="ML models: train, predict offline, show the production versions.")
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
STEPS = ("statistics", "anomaly detector", "duration predictor", "evaluation", "registry")


@contextmanager
def _quiet() -> Iterator[None]:
    """While a command runs, only warnings are logged, on stderr: the commands print tables or
    JSON on stdout. The previous configuration comes back afterwards (nothing keeps a stream
    that the caller may close, as a test runner does)."""
    previous = structlog.get_config()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    try:
        yield
    finally:
        structlog.configure(**previous)


def _quietly(command: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(command)  # typer reads the options from the wrapped signature
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        with _quiet():
            command(*args, **kwargs)

    return run


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def _read(path: Path) -> History:
    try:
        with path.open(encoding="utf-8") as lines:
            return parse_lines(lines, str(path))
    except OSError as exc:
        err_console.print(f"[red]cannot read {path}: {exc.strerror}[/red]")
        raise typer.Exit(1) from exc
    except BadHistory as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def config_of(settings: Settings) -> TrainingConfig:
    from orchestrator_dynamic.services.ml.training import TrainingConfig

    return TrainingConfig(
        min_samples=settings.ml_min_training_samples,
        contamination=settings.ml_anomaly_contamination,
        error_threshold=settings.ml_duration_error_threshold,
        precision_threshold=settings.ml_anomaly_precision_threshold,
    )


async def _from_store(settings: Settings) -> History:
    from orchestrator_dynamic import bootstrap
    from orchestrator_dynamic.services.ml.history import finished_from_store

    since = int(time.time() * 1000) - settings.ml_training_window_days * 86_400_000
    async with AsyncExitStack() as stack:
        store = await bootstrap.open_store(settings, stack)
        return History(await finished_from_store(store, since))


@ml_app.command("train")
@_quietly
def train_command(
    history: Annotated[
        Path | None,
        typer.Option(
            help="JSONL of finished tickets (default: the store, ML_TRAINING_WINDOW_DAYS)."
        ),
    ] = None,
    labels: Annotated[
        Path | None, typer.Option(help="JSONL of tickets with a `label`, to judge anomalies.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Train both models, log them to the registry, promote them when they are good enough."""
    from orchestrator_dynamic import bootstrap
    from orchestrator_dynamic.services.ml.training import InsufficientHistory, train

    settings = _settings()
    try:
        data = _read(history) if history else asyncio.run(_from_store(settings))
    except OrchestratorError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    if labels is not None:
        extra = _read(labels)
        data.labels.update(extra.labels)
        data.tickets.extend(extra.tickets)
    registry = bootstrap.open_model_registry(settings)
    try:
        with Progress(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=as_json,
            disable=as_json,
        ) as bar:
            task = bar.add_task("training", total=len(STEPS))

            def step(name: str) -> None:
                bar.update(task, description=name, completed=STEPS.index(name))

            trained = train(data.tickets, config_of(settings), registry, data.labels, step)
            bar.update(task, description="done", completed=len(STEPS))
    except InsufficientHistory as exc:
        err_console.print(f"[red]not enough history: {exc}[/red] (ML_MIN_TRAINING_SAMPLES)")
        raise typer.Exit(2) from exc
    report = trained.report
    if as_json:
        print_json(report.as_dict())
        return
    _print_report(report.as_dict())


def _print_report(doc: dict[str, Any]) -> None:
    rows = []
    for key in ("duration", "anomaly"):
        outcome = doc[key]
        for metric, value in outcome["metrics"].items():
            rows.append((outcome["name"], metric, f"{value:.4g}"))
    rows.append(
        (DURATION_MODEL, "baseline_mae_pct (mean per type)", f"{doc['baseline_mae_pct']:.4g}")
    )
    console.print(
        f"{doc['samples']} tickets: trained on {doc['trained_on']}, held out {doc['held_out']} "
        f"(newest); anomalies judged on {doc['anomaly_evaluation']} tickets; {doc['seconds']:.1f} s"
    )
    console.print(table("Held-out metrics", ["model", "metric", "value"], rows))
    for key in ("duration", "anomaly"):
        outcome = doc[key]
        version = f"v{outcome['version']}" if outcome["version"] else "not registered"
        console.print(f"{outcome['name']} {version}: {outcome['reason'] or '-'}")
    for note in doc["notes"]:
        console.print(f"[yellow]{note}[/yellow]")


@ml_app.command("predict")
@_quietly
def predict_command(
    input_file: Annotated[Path, typer.Option("--input", help="JSONL of tickets to predict.")],
    as_json: JsonOption = False,
) -> None:
    """Predict each ticket with the production models (the heuristic when there are none)."""
    from orchestrator_dynamic import bootstrap
    from orchestrator_dynamic.services.ml.predictor import MLPredictor

    settings = _settings()
    data = _read(input_file)
    predictor = MLPredictor(bootstrap.open_model_registry(settings), 0.0)
    asyncio.run(predictor.refresh())
    results = predictor.predict(data.tickets)
    doc = [
        {
            "ticket_id": t.ticket_id,
            "duration_ms": p.duration_ms,
            "duration_confidence": p.duration_confidence,
            "is_anomaly": p.anomaly.is_anomaly,
            "anomaly_score": p.anomaly.anomaly_score,
            "anomaly_type": p.anomaly.anomaly_type,
        }
        for t, p in zip(data.tickets, results, strict=True)
    ]
    if as_json:
        print_json(doc)
        return
    rows = [
        (
            d["ticket_id"],
            f"{d['duration_ms']:.0f}",
            d["duration_confidence"],
            d["anomaly_type"] or "-",
        )
        for d in doc
    ]
    source = results[0].source if results else "-"
    console.print(
        table(f"Predictions ({source})", ["ticket", "duration_ms", "confidence", "anomaly"], rows)
    )


@ml_app.command("status")
@_quietly
def status_command(as_json: JsonOption = False) -> None:
    """Production versions, their held-out metrics and age; the live error of a running service."""
    from orchestrator_dynamic import bootstrap

    settings = _settings()
    registry = bootstrap.open_model_registry(settings)
    now_ms = int(time.time() * 1000)
    models: list[dict[str, Any]] = []
    for name in (DURATION_MODEL, ANOMALY_MODEL):
        try:
            version = registry.production(name)
        except ModelRegistryUnavailable as exc:
            err_console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
        models.append(
            {
                "model": name,
                "production_version": version.version if version else None,
                "metrics": dict(version.metrics) if version else {},
                "trained_hours_ago": round((now_ms - version.created_at_ms) / 3_600_000, 2)
                if version and version.created_at_ms
                else None,
            }
        )
    doc = {"registry": registry.uri, "models": models, "live_mae_pct": _live_error(settings)}
    if as_json:
        print_json(doc)
        return
    rows = []
    for model in models:
        shown = ", ".join(
            f"{k}={v:.3g}"
            for k, v in sorted(model["metrics"].items())
            if k in ("mae_pct", "r2", "precision", "recall")
        )
        rows.append(
            (
                model["model"],
                model["production_version"] or "none",
                model["trained_hours_ago"],
                shown,
            )
        )
    console.print(
        table(
            f"Models in {doc['registry']}",
            ["model", "production", "trained h ago", "metrics"],
            rows,
        )
    )
    live = doc["live_mae_pct"]
    console.print(f"live MAE%: {live:.2f}" if live is not None else "live MAE%: no running service")


def _live_error(settings: Settings) -> float | None:
    """The running service's live MAE% from its /metrics (None when none answers)."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    url = f"http://{settings.api_host}:{settings.api_port}/metrics"
    try:
        text = httpx.get(url, timeout=2.0).text
    except httpx.HTTPError:
        return None
    for family in text_string_to_metric_families(text):
        if family.name != "orchestration_ml_model_accuracy":
            continue
        for sample in family.samples:
            if sample.labels.get("metric_type") == "live_mae_pct":
                return float(sample.value)
    return None
