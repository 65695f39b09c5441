"""Startup errors: one line, the right exit code, the setting to change, and no secret in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka import errors as kafka_errors
from pydantic import SecretStr

from orchestrator_dynamic.adapters.local_ports import PortInUse
from orchestrator_dynamic.adapters.temporal_dev_server import DataDirInUse
from orchestrator_dynamic.domain.errors import (
    BusUnavailable,
    PolicyContractMismatch,
    PolicyUnavailable,
    StoreUnavailable,
)
from orchestrator_dynamic.entrypoints.startup_errors import (
    CONFIGURATION,
    UNREACHABLE,
    mask,
    startup_error,
)
from orchestrator_dynamic.settings import Settings

PASSWORD = "pa55-w0rd"


def settings(**values: object) -> Settings:
    return Settings.model_validate({"data_dir": Path("/tmp/od"), **values})


def test_mask_hides_url_passwords_and_secret_values() -> None:
    conf = settings(redis_password=SecretStr(PASSWORD))
    text = f"connect postgresql://bob:{PASSWORD}@db:5432/x\nfailed; auth {PASSWORD} refused"
    masked = mask(text, conf)
    assert PASSWORD not in masked and "\n" not in masked
    assert "postgresql://bob:***@db:5432/x" in masked


def test_idempotence_refused_by_the_broker_is_a_configuration_error() -> None:
    conf = settings(kafka_bootstrap_servers="broker:9092")
    exc = BusUnavailable("bus", "kafka connect to broker:9092: UnknownError")
    exc.__cause__ = kafka_errors.UnknownError()
    error = startup_error(exc, conf)
    assert error.code == CONFIGURATION
    assert "broker:9092" in error.line() and "KAFKA_ENABLE_IDEMPOTENCE=false" in error.line()


def test_an_unreachable_store_names_the_masked_url_and_the_settings() -> None:
    url = f"postgresql://bob:{PASSWORD}@db:5432/audit"
    conf = settings(store_url=url, store_fail_open=False)
    error = startup_error(StoreUnavailable("store", f"postgresql: refused {url}"), conf)
    assert error.code == UNREACHABLE
    line = error.line()
    assert PASSWORD not in line and "postgresql://bob:***@db:5432/audit" in line
    assert "STORE_URL or STORE_FAIL_OPEN=true" in line


def test_a_policy_contract_mismatch_is_a_configuration_error_naming_the_package() -> None:
    url = f"http://opa:{PASSWORD}@opa.policy:8181"
    reason = "neuralhive/orchestrator/resource_limits: /decision answered nothing (undefined)"
    exc = PolicyContractMismatch(reason, "OPA_URL to an OPA server with our bundle")
    error = startup_error(exc, settings(opa_url=url))
    assert error.code == CONFIGURATION
    line = error.line()
    assert "\n" not in line and PASSWORD not in line, line
    assert f"does not answer with our policy contract: {reason}" in line, line
    assert line.endswith("(set OPA_URL to an OPA server with our bundle)"), line
    # An engine that does not answer at all stays an outage (exit 1).
    assert startup_error(PolicyUnavailable("policy", "down"), settings()).code == UNREACHABLE


@pytest.mark.parametrize(
    ("role", "setting"),
    [("api", "API_PORT"), ("temporal", "TEMPORAL_PORT"), ("temporal_ui", "TEMPORAL_UI_PORT")],
)
def test_a_taken_port_names_its_holder_and_setting(role: str, setting: str) -> None:
    exc = PortInUse(role, "127.0.0.1", 7233, "pid 42 (temporal server start-dev)", "already in use")
    error = startup_error(exc, settings())
    assert error.code == CONFIGURATION
    assert "127.0.0.1:7233" in error.line() and "pid 42" in error.line()
    assert setting in error.line()


def test_a_data_dir_in_use_names_the_other_up() -> None:
    error = startup_error(DataDirInUse(Path("/tmp/od"), 4242), settings())
    assert error.code == CONFIGURATION and "pid 4242" in error.line()
    assert "DATA_DIR" in error.line()


def test_anything_unexpected_is_still_one_line() -> None:
    error = startup_error(RuntimeError("boom\nsecond line"), settings())
    assert error.code == UNREACHABLE and "\n" not in error.line()
    assert "RuntimeError: boom second line" in error.line()
