"""The Grafana dashboards, checked against a real Prometheus scraping a real service.

The test runs `orchestrator-dynamic up` (embedded Temporal, local bus, four simulated agents),
starts Debian's `prometheus` on a free loopback port scraping the service's /metrics every
second, drives decision fixtures through the service, and then runs every panel's PromQL through
Prometheus's HTTP API: no query may error, every metric a panel names must be one the service
exports, and the overview, tickets and scheduler panels must return data. Grafana itself is not
run (no server here); `$__rate_interval` is given the value Grafana would compute for this scrape
interval. The committed JSON must equal what ops/grafana/dashboards.py generates.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.conftest import DECISIONS
from tests.e2e.service import Service, free_port
from tests.integration.sla.test_ops_files import tool

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "ops" / "grafana"
# Grafana's $__rate_interval is max(4 x scrape interval, the step + scrape interval); with a
# 1 s scrape and a short range that is well under 30 s. 30 s keeps rate() over >= 2 samples.
RATE_INTERVAL = "30s"
FIXTURES = ("approve-5-task-dag", "critical-security-3-task", "invalid-cycle", "rejected")
MUST_HAVE_DATA = {
    ("fluxo-c-orquestracao", "Overview"),
    ("fluxo-c-orquestracao", "Tickets"),
    ("orchestrator-intelligent-scheduler", "Allocation"),
    ("orchestrator-intelligent-scheduler", "Discovery"),
}
SPEC_NAMES = {
    "fluxo-c-orquestracao",
    "orchestrator-intelligent-scheduler",
    "orchestrator-ml-predictions",
    "orchestrator-policy",
}


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ops_dashboards", GRAFANA / "dashboards.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def committed() -> dict[str, dict[str, Any]]:
    boards = {}
    for path in sorted(GRAFANA.glob("*.json")):
        doc = json.loads(path.read_text())
        boards[doc["uid"]] = doc
    return boards


def panels_with_rows(board: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    row = ""
    for panel in board["panels"]:
        if panel["type"] == "row":
            row = panel["title"]
        else:
            yield row, panel


def promql(board: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(row, panel title, expr) of every Prometheus query of a dashboard."""
    for row, panel in panels_with_rows(board):
        for target in panel.get("targets") or []:
            assert target["datasource"]["type"] == "prometheus", panel["title"]
            yield row, panel["title"], target["expr"]


# ------------------------------------------------------------------ static checks


def test_the_committed_json_is_what_the_code_generates() -> None:
    gen = generator()
    expected = {gen.path_of(spec).name: gen.render(spec) for spec in gen.DASHBOARDS}
    actual = {p.name: p.read_text() for p in GRAFANA.glob("*.json")}
    assert actual == expected, "run `python ops/grafana/dashboards.py` and commit the JSON"


def test_the_dashboards_the_specification_names() -> None:
    boards = committed()
    assert set(boards) == SPEC_NAMES
    rows = [p["title"] for p in boards["fluxo-c-orquestracao"]["panels"] if p["type"] == "row"]
    assert rows == [
        "Overview",
        "Workflow duration",
        "Tickets",
        "SLA tracking",
        "Retry and compensation",
        "Kafka",
        "Validations and policy",
        "Resources",
        "Logs and traces",
    ]
    sla = [p for r, p in panels_with_rows(boards["fluxo-c-orquestracao"]) if r == "SLA tracking"]
    assert len(sla) == 8
    for panel in sla:
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert len(steps) >= 2, f"{panel['title']} has no threshold"
    durations = [
        e for r, _, e in promql(boards["fluxo-c-orquestracao"]) if r == "Workflow duration"
    ]
    for quantile in ("0.5", "0.95", "0.99"):
        assert any(e.startswith(f"histogram_quantile({quantile},") for e in durations)


# ------------------------------------------------------------------ on a real Prometheus


class Prometheus:
    def __init__(self, work: Path, target: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = work / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: orchestrator-dynamic\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        self.log = work / "prometheus.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    tool("prometheus", "prometheus"),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={work / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=1h",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"prometheus not ready:\n{self.log.read_text()}")

    def query(self, expr: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        doc: dict[str, Any] = response.json()
        return doc

    def scrapes(self) -> int:
        doc = self.query('count_over_time(up{job="orchestrator-dynamic"}[5m])')
        result = doc["data"]["result"]
        return int(float(result[0]["value"][1])) if result else 0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, set[str]]]:
    """A service that ran the fixtures, a Prometheus that scraped it, and its metric families."""
    shutil.which("prometheus") or tool("prometheus", "prometheus")
    work = tmp_path_factory.mktemp("dashboards")
    service = Service(work / "up")
    service.start()
    prometheus: Prometheus | None = None
    try:
        prometheus = Prometheus(work, f"127.0.0.1:{service.api_port}")
        for name in FIXTURES:
            proc = service.cli("submit", str(DECISIONS / f"{name}.json"), "--wait")
            assert proc.returncode in (0, 3), proc.stderr
        exported = httpx.get(f"{service.url}/metrics", timeout=10).text
        families = set(re.findall(r"^# TYPE (\S+) ", exported, re.M))
        # Several scrapes after the last workflow ended, so rate() sees the change.
        before = prometheus.scrapes()
        deadline = time.monotonic() + 30
        while prometheus.scrapes() < before + 5 and time.monotonic() < deadline:
            time.sleep(0.5)
        yield prometheus, families
    finally:
        if prometheus is not None:
            prometheus.stop()
        assert service.stop() == 0, service.log.read_text()


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b((?:orchestration|process)_[a-z0-9_]+)\b", expr))


def is_exported(name: str, families: set[str]) -> bool:
    if name in families:
        return True
    base = re.sub(r"_(total|bucket|count|sum|created)$", "", name)
    return base in families


@pytest.mark.parametrize("uid", sorted(SPEC_NAMES))
def test_every_panel_query_runs_on_prometheus(
    scraped: tuple[Prometheus, set[str]], uid: str
) -> None:
    prometheus, families = scraped
    board = committed()[uid]
    empty = []
    queries = list(promql(board))
    assert queries
    with_data: dict[tuple[str, str], bool] = {}
    for row, title, expr in queries:
        names = metric_names(expr)
        assert names, f"{title}: names no metric: {expr}"
        unknown = sorted(n for n in names if not is_exported(n, families))
        assert unknown == [], f"{uid} / {title}: not exported by the service: {unknown}"
        doc = prometheus.query(expr.replace("$__rate_interval", RATE_INTERVAL))
        assert doc["status"] == "success", f"{uid} / {title}: {doc.get('error')}\n{expr}"
        assert not doc.get("warnings"), f"{uid} / {title}: {doc['warnings']}"
        has = bool(doc["data"]["result"])
        with_data[(row, title)] = with_data.get((row, title), False) or has
    for (row, title), has in with_data.items():
        if (uid, row) in MUST_HAVE_DATA and not has:
            empty.append(f"{row} / {title}")
    assert empty == [], f"{uid}: panels without data after the fixtures ran: {empty}"


def test_every_panel_query_runs_as_grafana_runs_it_over_a_range(
    scraped: tuple[Prometheus, set[str]],
) -> None:
    """Grafana's time series panels send range queries: the same expressions over the last
    minutes with a step, through /api/v1/query_range."""
    prometheus, _ = scraped
    end = time.time()
    for uid, board in sorted(committed().items()):
        for _row, title, expr in promql(board):
            response = httpx.get(
                f"{prometheus.url}/api/v1/query_range",
                params={
                    "query": expr.replace("$__rate_interval", RATE_INTERVAL),
                    "start": end - 120,
                    "end": end,
                    "step": 5,
                },
                timeout=10,
            )
            doc = response.json()
            assert doc["status"] == "success", f"{uid} / {title}: {doc.get('error')}"
