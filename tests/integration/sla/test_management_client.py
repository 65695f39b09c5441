"""The SLA management API client over real HTTP.

No SLA management service can run here: these tests use a stand-in HTTP server
(tests/servers/sla_management.py) serving the documented answer shape and the upstream SLA
management system's. Set
SLA_MANAGEMENT_TEST_URL (and optionally SLA_MANAGEMENT_TEST_SERVICE) to also run the last test
against a real deployment.
"""

from __future__ import annotations

import os

import pytest

from orchestrator_dynamic.adapters.sla.management import SlaManagementClient, base_url
from orchestrator_dynamic.domain.errors import DependencyDown
from orchestrator_dynamic.domain.sla_budget import BudgetStatus
from tests.servers.sla_management import StandIn, upstream_budget

pytestmark = pytest.mark.integration

BUDGET = {
    "service_name": "orch",
    "slo_id": "orch-availability",
    "error_budget_remaining": 15.5,
    "status": "CRITICAL",
    "target": 0.995,
    "burn_rates": [{"window_hours": 1, "rate": 3.5}, {"window_hours": 6, "rate": 1.25}],
}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_reads_budgets_and_caches_them_for_the_ttl(sla_api: StandIn) -> None:
    sla_api.body = {"budgets": [BUDGET]}
    clock = Clock()
    client = SlaManagementClient(sla_api.url, cache_ttl_s=10.0, clock=clock)
    try:
        [budget] = await client.budgets("orch") or []
        assert (budget.slo_id, budget.status, budget.target) == (
            "orch-availability",
            BudgetStatus.CRITICAL,
            0.995,
        )
        assert budget.remaining_percent == pytest.approx(15.5)
        assert budget.burn_rates == {1: 3.5, 6: 1.25}
        assert budget.source == "sla_management"
        assert sla_api.requests == [{"service_name": ["orch"]}]
        clock.now = 9.9
        await client.budgets("orch")
        assert len(sla_api.requests) == 1  # served from the cache
        clock.now = 10.0
        sla_api.body = [BUDGET]  # a bare list is accepted too
        assert await client.budgets("orch")
        assert len(sla_api.requests) == 2
    finally:
        await client.close()


async def test_reads_the_upstream_answer_shape(sla_api: StandIn) -> None:
    sla_api.upstream = [
        upstream_budget("orch", "orch-latency", remaining=42.0, status="WARNING",
                        slo_target=0.999, burn_rates={1: 2.5, 6: 1.0, 24: 0.5}),
        upstream_budget("other", "other-availability", remaining=90.0, status="HEALTHY",
                        slo_target=0.99),
        upstream_budget("orch", "orch-strict", remaining=0.0, status="EXHAUSTED", slo_target=1.0),
    ]  # fmt: skip
    client = SlaManagementClient(sla_api.url, default_target=0.95)
    try:
        latency, strict = await client.fetch("orch")
    finally:
        await client.close()
    assert sla_api.requests == [{"service_name": ["orch"]}]
    assert (latency.slo_id, latency.status, latency.target) == (
        "orch-latency",
        BudgetStatus.WARNING,
        0.999,  # upstream's slo_target, not the default
    )
    assert latency.remaining_percent == pytest.approx(42.0)
    assert latency.burn_rates == {1: 2.5, 6: 1.0, 24: 0.5}
    assert (strict.target, strict.status, strict.remaining) == (1.0, BudgetStatus.EXHAUSTED, 0.0)


async def test_slo_target_wins_over_target_and_either_may_be_absent(sla_api: StandIn) -> None:
    both = {**BUDGET, "slo_id": "both", "slo_target": 0.9, "target": 0.8}
    neither = {k: v for k, v in BUDGET.items() if k != "target"} | {"slo_id": "neither"}
    sla_api.body = [both, neither]
    client = SlaManagementClient(sla_api.url, default_target=0.97)
    try:
        got = {b.slo_id: b.target for b in await client.fetch("orch")}
    finally:
        await client.close()
    assert got == {"both": 0.9, "neither": 0.97}


@pytest.mark.parametrize(
    ("status", "raw", "reason"),
    [
        (503, b"{}", "HTTPStatusError"),
        (200, b"not json", "JSONDecodeError"),
        (200, b'{"budgets": 3}', "no list of budgets"),
        (200, b'[{"service_name": "orch", "slo_id": "x", "status": "BAD"}]', "bad budget"),
        (
            200,
            b'{"budgets": [{"service_name": "orch", "slo_id": "x", "status": "HEALTHY",'
            b' "error_budget_remaining": 50, "slo_target": 99.9}], "total": 1}',
            "slo_target",  # a percentage where a fraction belongs
        ),
    ],
)
async def test_failures_fail_open(sla_api: StandIn, status: int, raw: bytes, reason: str) -> None:
    sla_api.status, sla_api.raw = status, raw
    client = SlaManagementClient(sla_api.url)
    try:
        with pytest.raises(DependencyDown) as err:
            await client.fetch("orch")
        assert err.value.dependency == "sla_management"
        assert reason in err.value.reason
        assert await client.budgets("orch") is None
    finally:
        await client.close()


async def test_unreachable_server_fails_open() -> None:
    client = SlaManagementClient("http://127.0.0.1:9", timeout_s=0.5)
    try:
        assert await client.budgets("orch") is None
    finally:
        await client.close()


def test_base_url() -> None:
    assert base_url("sla.internal", 8000) == "http://sla.internal:8000"
    assert base_url("https://sla.example/", 8000) == "https://sla.example"


@pytest.mark.skipif(
    not os.environ.get("SLA_MANAGEMENT_TEST_URL"), reason="SLA_MANAGEMENT_TEST_URL not set"
)
async def test_real_sla_management_api() -> None:
    client = SlaManagementClient(os.environ["SLA_MANAGEMENT_TEST_URL"])
    try:
        budgets = await client.fetch(os.environ.get("SLA_MANAGEMENT_TEST_SERVICE", "orchestrator"))
        assert all(0.0 <= b.remaining <= 1.0 for b in budgets)
    finally:
        await client.close()
