"""Why `up` could not start, in one line: what failed, where, and which setting to change.

Everything that can stop a start (a refused setting, a taken port, a dependency that does not
answer) is translated here, at the edge, into a StartupError; the CLI prints its line and exits
with its code (2: the configuration must change, 1: a dependency is unreachable, try again).
Secrets never reach the line: URLs are shown masked and secret values are blanked out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from orchestrator_dynamic.adapters.local_ports import PortInUse
from orchestrator_dynamic.adapters.temporal_dev_server import DataDirInUse
from orchestrator_dynamic.domain.errors import (
    BusUnavailable,
    CacheUnavailable,
    DependencyDown,
    EngineUnavailable,
    PolicyContractMismatch,
    PolicyUnavailable,
    RegistryUnavailable,
    StoreUnavailable,
    Unauthorized,
)
from orchestrator_dynamic.settings import Settings, masked

CONFIGURATION = 2
UNREACHABLE = 1
REASON_CHARS = 240
PORT_SETTINGS = {
    "api": ("HTTP API", "API_PORT or --api-port"),
    "temporal": ("Temporal", "TEMPORAL_PORT"),
    "temporal_ui": ("Temporal UI", "TEMPORAL_UI_PORT"),
}
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)


class StartupError(Exception):
    """One reason `up` cannot start, and the exit code that goes with it."""

    def __init__(self, what: str, setting: str, *, code: int, reason: str = "") -> None:
        self.what = what
        self.setting = setting
        self.code = code
        self.reason = reason
        super().__init__(self.line())

    def line(self) -> str:
        reason = f": {self.reason}" if self.reason else ""
        setting = f" (set {self.setting})" if self.setting else ""
        return f"cannot start: {self.what}{reason}{setting}"


def mask(text: str, settings: Settings) -> str:
    """One line with every URL password shown as *** and every secret value blanked out."""
    text = _URL_PASSWORD.sub(r"\g<head>***@", " ".join(text.split()))
    secrets = [
        s.get_secret_value() for s in (settings.kafka_sasl_password, settings.redis_password)
    ]
    for value in [*secrets, *settings.api_tokens]:  # API tokens are the keys of API_TOKENS
        if value:
            text = text.replace(value, "***")
    for url in (settings.store_url, settings.mongodb_uri):
        password = urlsplit(url).password if "://" in url else None
        if password:
            text = text.replace(password, "***")
    return text


def store_target(settings: Settings) -> tuple[str, str]:
    """(masked URL, its setting) of the configured store."""
    values = masked(settings)
    if settings.store_url:
        return values["STORE_URL"], "STORE_URL"
    if settings.mongodb_uri:
        return values["MONGODB_URI"], "MONGODB_URI"
    return f"sqlite in {settings.data_dir}", "DATA_DIR"


def _short(reason: str, settings: Settings) -> str:
    text = mask(reason, settings)
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def startup_error(exc: BaseException, settings: Settings) -> StartupError:
    """The StartupError for anything raised while `up` starts."""
    if isinstance(exc, StartupError):
        return exc
    for kind, translate in _TRANSLATIONS:
        if isinstance(exc, kind):
            return translate(exc, settings)
    return StartupError(
        f"unexpected {type(exc).__name__}: {_short(str(exc), settings)}",
        "LOG_LEVEL=DEBUG to log the traceback",
        code=UNREACHABLE,
    )


def _port(exc: PortInUse, _settings: Settings) -> StartupError:
    name, setting = PORT_SETTINGS.get(exc.role, (exc.role, exc.role.upper() + "_PORT"))
    held = f" by {exc.holder}" if exc.holder else ""
    return StartupError(
        f"{name} port {exc.host}:{exc.port} is {exc.reason}{held}",
        f"{setting} to a free port" if exc.reason == "already in use" else setting,
        code=CONFIGURATION,
    )


def _data_dir(exc: DataDirInUse, _settings: Settings) -> StartupError:
    owner = f" (pid {exc.owner})" if exc.owner else ""
    return StartupError(
        f"data directory {exc.directory} is in use by another `up`{owner}",
        "DATA_DIR or --data-dir to another directory, or stop that `up`",
        code=CONFIGURATION,
    )


def _unauthorized(exc: Unauthorized, settings: Settings) -> StartupError:
    kafka = str(exc).startswith("kafka")
    setting = "KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD, or the broker's ACLs" if kafka else ""
    return StartupError(_short(str(exc), settings), setting, code=CONFIGURATION)


def _refused(exc: ValueError, settings: Settings) -> StartupError:
    """A refused configuration: the message names its variable already."""
    return StartupError(_short(str(exc), settings), "", code=CONFIGURATION)


def _bus(exc: BusUnavailable, settings: Settings) -> StartupError:
    servers = settings.kafka_bootstrap_servers
    reason = _short(exc.reason, settings)
    if not servers:
        return StartupError(
            f"the local bus in {settings.data_dir} cannot be opened",
            "DATA_DIR",
            code=CONFIGURATION,
            reason=reason,
        )
    from aiokafka import errors as kafka_errors

    if settings.kafka_enable_idempotence and isinstance(exc.__cause__, kafka_errors.UnknownError):
        # The broker answered, but not the idempotent-producer handshake (InitProducerId).
        return StartupError(
            f"the Kafka broker at {servers} does not support idempotent producers",
            "KAFKA_ENABLE_IDEMPOTENCE=false",
            code=CONFIGURATION,
        )
    return StartupError(
        f"Kafka at {servers} is unreachable",
        "KAFKA_BOOTSTRAP_SERVERS",
        code=UNREACHABLE,
        reason=reason,
    )


def _store(exc: StoreUnavailable, settings: Settings) -> StartupError:
    where, setting = store_target(settings)
    fallback = " or STORE_FAIL_OPEN=true" if not settings.store_fail_open else ""
    return StartupError(
        f"the store at {where} is unreachable",
        setting + fallback,
        code=UNREACHABLE,
        reason=_short(exc.reason, settings),
    )


def _cache(exc: CacheUnavailable, settings: Settings) -> StartupError:
    reason = _short(exc.reason, settings)
    auth = any(word in reason for word in ("AuthenticationError", "NOAUTH", "WRONGPASS"))
    return StartupError(
        f"Redis at {settings.redis_cluster_nodes} "
        + ("refused our credentials" if auth else "is unreachable"),
        "REDIS_PASSWORD" if auth else "REDIS_CLUSTER_NODES",
        code=CONFIGURATION if auth else UNREACHABLE,
        reason=reason,
    )


def _engine(exc: EngineUnavailable, settings: Settings) -> StartupError:
    reason = _short(exc.reason, settings)
    if settings.temporal.embedded:
        return StartupError(
            "the embedded Temporal dev server did not start",
            "TEMPORAL_PORT / TEMPORAL_UI_PORT / DATA_DIR, or TEMPORAL_HOST for a cluster",
            code=UNREACHABLE,
            reason=reason,
        )
    target = f"{settings.temporal.host}:{settings.temporal.port}"
    return StartupError(
        f"Temporal at {target} is unreachable",
        "TEMPORAL_HOST / TEMPORAL_PORT",
        code=UNREACHABLE,
        reason=reason,
    )


def _registry(exc: RegistryUnavailable, settings: Settings) -> StartupError:
    target = f"{settings.service_registry_host}:{settings.service_registry_port}"
    return StartupError(
        f"the Service Registry at {target} is unreachable",
        "SERVICE_REGISTRY_HOST / SERVICE_REGISTRY_PORT",
        code=UNREACHABLE,
        reason=_short(exc.reason, settings),
    )


def _policy(exc: PolicyUnavailable, settings: Settings) -> StartupError:
    where = mask(settings.opa_url, settings) or str(settings.opa_policy_dir)
    return StartupError(
        f"the policy engine ({where}) is unavailable",
        "OPA_URL / OPA_POLICY_DIR",
        code=UNREACHABLE,
        reason=_short(exc.reason, settings),
    )


def _policy_contract(exc: PolicyContractMismatch, settings: Settings) -> StartupError:
    """Answered, but not with our contract: configuration, not an outage. The reason names
    every package and what it answered, in full (it is the whole point of the line)."""
    where = mask(settings.opa_url, settings) or str(settings.opa_policy_dir)
    return StartupError(
        f"the policy engine ({where}) does not answer with our policy contract",
        exc.setting,
        code=CONFIGURATION,
        reason=mask(exc.reason, settings),
    )


def _dependency(exc: DependencyDown, settings: Settings) -> StartupError:
    return StartupError(
        f"{exc.dependency} is unreachable",
        "its connection settings",
        code=UNREACHABLE,
        reason=_short(exc.reason, settings),
    )


# Most specific first: the first class the error is an instance of decides.
_TRANSLATIONS: tuple[tuple[type[BaseException], Callable[[Any, Settings], StartupError]], ...] = (
    (PortInUse, _port),
    (DataDirInUse, _data_dir),
    (BusUnavailable, _bus),
    (StoreUnavailable, _store),
    (CacheUnavailable, _cache),
    (EngineUnavailable, _engine),
    (RegistryUnavailable, _registry),
    (PolicyContractMismatch, _policy_contract),
    (PolicyUnavailable, _policy),
    (DependencyDown, _dependency),
    (Unauthorized, _unauthorized),
    (ValueError, _refused),
)
