"""`up` against an OPA server whose packages answer another contract (the platform's older
``result`` rule): fail-closed refuses to start with one line naming the package, fail-open starts
with one warning, and ``/ready`` names the package either way. The OPA server is the stand-in of
tests/servers/opa_standin.py (no OPA server runs here; it speaks OPA's Data API over regorus)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator_dynamic.services.policy import RESOURCE_LIMITS, SLA_ENFORCEMENT
from orchestrator_dynamic.settings import DEFAULT_POLICY_DIR
from tests.e2e.service import Service
from tests.e2e.test_up_process import one_error_line, servers_of
from tests.integration.policy.policy_dirs import with_older_resource_limits
from tests.servers.opa_standin import OpaStandIn

pytestmark = pytest.mark.e2e
OLDER = "the package has a `result` rule instead"


@pytest.fixture(scope="module")
def older_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return with_older_resource_limits(tmp_path_factory.mktemp("older") / "policies")


@pytest.fixture
def opa() -> Iterator[OpaStandIn]:
    server = OpaStandIn(DEFAULT_POLICY_DIR)
    server.start()
    yield server
    server.stop()


def contract_of(svc: Service) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{svc.url}/ready", timeout=10)
    deps = {d["name"]: d for d in response.json()["dependencies"]}
    return response.status_code, deps["policy_contract"]


def test_fail_closed_refuses_to_start_in_one_line(
    tmp_path: Path, opa: OpaStandIn, older_dir: Path
) -> None:
    opa.load(older_dir)
    svc = Service(tmp_path / "data", {"OPA_URL": opa.url})
    done = svc.attempt()
    assert done.returncode == 2, done.stderr
    assert servers_of(svc.data_dir) == [], "the dev server stops with a refused start"
    line = one_error_line(done)
    assert line.startswith("cannot start: the policy engine"), line
    assert f"{RESOURCE_LIMITS}: /decision answered nothing (undefined); {OLDER}" in line, line
    assert SLA_ENFORCEMENT not in line, "only the package that differs is named"
    assert "(set OPA_URL to an OPA server that has our policy bundle loaded" in line, line


def test_ready_names_the_package_once_opa_holds_the_older_one(
    tmp_path: Path, opa: OpaStandIn, older_dir: Path
) -> None:
    svc = Service(tmp_path / "data", {"OPA_URL": opa.url})
    svc.start(demo_workers=0)
    try:
        status, contract = contract_of(svc)
        assert status == 200 and contract["ok"] and contract["required"], contract
        opa.load(older_dir)  # the platform's bundle replaced ours on the running server
        status, contract = contract_of(svc)
        assert status == 503 and not contract["ok"], contract
        assert RESOURCE_LIMITS in contract["error"] and OLDER in contract["error"], contract
        assert "OPA_URL" in contract["error"], contract
    finally:
        assert svc.stop() == 0


def test_fail_open_starts_with_one_warning(
    tmp_path: Path, opa: OpaStandIn, older_dir: Path
) -> None:
    opa.load(older_dir)
    svc = Service(tmp_path / "data", {"OPA_URL": opa.url, "OPA_FAIL_OPEN": "true"})
    svc.start(demo_workers=0)
    try:
        status, contract = contract_of(svc)
        assert status == 200, "fail-open: the policy engine does not decide readiness"
        assert not contract["ok"] and not contract["required"], contract
        assert RESOURCE_LIMITS in contract["error"], contract
    finally:
        assert svc.stop() == 0
    warnings = [line for line in svc.log.read_text().splitlines() if "policy_contract" in line]
    assert len(warnings) == 1 and RESOURCE_LIMITS in warnings[0], warnings
