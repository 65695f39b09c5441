"""No secret value ever leaves the process: not in its logs, not in `config`, not in an error body.

Every secret-bearing setting gets a value of its own (API tokens, plain and as digests, the store's
and MongoDB's passwords in their URLs, the SASL and Redis passwords, credentials in the MLflow,
Schema Registry, OPA and OTLP addresses). The settings are found by kind, not listed by hand: a
SecretStr field, API_TOKENS, or any address setting (name ending in _url, _uri or _endpoint), so a
secret-bearing setting added later is covered without touching this test.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from orchestrator_dynamic.entrypoints.cli import app
from orchestrator_dynamic.settings import Settings
from tests.e2e.service import Service

pytestmark = pytest.mark.e2e

ADMIN_TOKEN = "tok-admin-Q7f2x9"
READ_TOKEN = "tok-read-Zp3k8w"  # configured only as its digest
WORKER_TOKEN = "tok-worker-Hc5m1v"


def _address_fields() -> list[str]:
    return [n for n in Settings.model_fields if n.endswith(("_url", "_uri", "_endpoint"))]


def _secret_fields() -> list[str]:
    return [n for n, f in Settings.model_fields.items() if f.annotation in (SecretStr, "SecretStr")]


def secret_env() -> tuple[dict[str, str], list[str]]:
    """Environment with a distinct secret in every secret-bearing setting, and the secrets."""
    env: dict[str, str] = {}
    secrets = [ADMIN_TOKEN, READ_TOKEN, WORKER_TOKEN]
    for name in _secret_fields():
        env[name.upper()] = secret = f"pw-{name}-9d1e"
        secrets.append(secret)
    for name in _address_fields():
        secret = f"pw-{name}-4b7a"
        scheme = {"store_url": "postgresql", "mongodb_uri": "mongodb"}.get(name, "http")
        # Nothing listens at port 9: with the store fail-open, `up` starts anyway.
        env[name.upper()] = f"{scheme}://user:{secret}@127.0.0.1:9/x"
        secrets.append(secret)
    env.pop("MONGODB_URI")  # one store at a time: PostgreSQL (down, fail-open) is the one used
    secrets.remove("pw-mongodb_uri-4b7a")
    digest = hashlib.sha256(READ_TOKEN.encode()).hexdigest()
    env["API_TOKENS"] = json.dumps(
        {ADMIN_TOKEN: "admin", f"sha256:{digest}": "read", WORKER_TOKEN: "worker:w1"}
    )
    return env, secrets


def test_the_settings_under_test_are_the_secret_bearing_ones() -> None:
    names = set(_secret_fields()) | set(_address_fields())
    assert {"kafka_sasl_password", "redis_password", "store_url", "mlflow_tracking_uri"} <= names
    assert {"mongodb_uri", "schema_registry_url", "opa_url", "otel_exporter_endpoint"} <= names


def test_config_shows_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    env, secrets = secret_env()
    env["MONGODB_URI"] = "mongodb://user:pw-mongodb_uri-4b7a@127.0.0.1:9/x"
    secrets.append("pw-mongodb_uri-4b7a")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    for args in (["config"], ["config", "--json"]):
        shown = runner.invoke(app, args)
        assert shown.exit_code == 0, shown.output
        leaked = [s for s in secrets if s in shown.output]
        assert leaked == [], f"{args} shows {leaked}"
        assert "***" in shown.output


def test_logs_and_error_bodies_show_no_secret(tmp_path: Path) -> None:
    env, secrets = secret_env()
    env.update(LOG_LEVEL="DEBUG", API_RATE_LIMIT="4/minute", ML_PREDICTIONS_ENABLED="false")
    svc = Service(tmp_path / "data", env)
    svc.start(demo_workers=0)
    bodies: list[str] = []
    try:
        with httpx.Client(base_url=svc.url, timeout=10) as http:

            def call(method: str, path: str, token: str | None, **kw: Any) -> httpx.Response:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                headers.update(kw.pop("headers", {}))
                response = http.request(method, path, headers=headers, **kw)
                bodies.append(f"{response.headers}\n{response.text}")
                return response

            # Past the token check; the store is down (nothing listens), so reads answer 503,
            # an error body that must not name the store's password either.
            assert call("GET", "/api/v1/workflows", READ_TOKEN).status_code in (200, 503)
            assert call("GET", "/api/v1/workflows", ADMIN_TOKEN + "x").status_code == 401
            assert call("POST", "/api/v1/decisions", READ_TOKEN, json={}).status_code == 403
            assert call("GET", "/api/v1/workflows", WORKER_TOKEN).status_code == 403
            assert (
                call("POST", "/api/v1/decisions", ADMIN_TOKEN, content=b"{bad").status_code == 422
            )
            assert call("POST", "/api/v1/workflows/nope/approve", ADMIN_TOKEN).status_code == 404
            codes = [
                call("POST", "/api/v1/workflows/nope/cancel", ADMIN_TOKEN).status_code
                for _ in range(4)
            ]
            assert codes[-1] == 429
            audit = call("GET", "/api/v1/audit", ADMIN_TOKEN)
            assert audit.status_code in (200, 503)
            call("GET", "/ready", None)
            call("GET", "/metrics", None)
            signin = call(
                "POST",
                "/ui/signin",
                None,
                data={"token": ADMIN_TOKEN + "x"},
                headers={"Origin": svc.url},
            )
            assert signin.status_code == 401
    finally:
        code = svc.stop()
    log = svc.log.read_text()
    assert code == 0, log
    assert "operator_action" in log  # the audit's log line is there, and says no more than this
    for secret in secrets:
        assert secret not in log, f"{secret} in the log"
        assert not any(secret in body for body in bodies), f"{secret} in a response"
