"""The ModelRegistry port on MLflow.

Embedded default: MLflow's SQLite backend and an artifact directory inside DATA_DIR, no server
(``embedded_uri``). Production: ``MLFLOW_TRACKING_URI`` (an MLflow tracking server). Only the
client side of MLflow is needed (the ``mlflow-skinny`` package). Each version is the model's
bytes logged as one artifact of a training run, with the run's params and metrics; promotion
moves the registered model's ``production`` alias. Every MLflow or network error becomes
ModelRegistryUnavailable.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator_dynamic.domain.errors import ModelRegistryUnavailable
from orchestrator_dynamic.domain.ports import ModelVersion

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

ALIAS = "production"
ARTIFACT = "model.pkl"
ARTIFACT_DIR = "model"

# A registry that is down must fail fast (the caller keeps its last model), not retry for
# minutes as MLflow's HTTP client does by default.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
# MLflow announces its table migrations at INFO on first use; that is not news to our users.
logging.getLogger("mlflow").setLevel(logging.WARNING)


def embedded_uri(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'mlflow' / 'mlflow.db').resolve()}"


class MlflowRegistry:
    def __init__(self, tracking_uri: str, experiment: str, artifact_dir: Path | None = None):
        self._uri = tracking_uri
        self._experiment_name = experiment
        self._artifact_dir = artifact_dir
        self._experiment_id: str | None = None
        self._client_obj: MlflowClient | None = None

    @classmethod
    def embedded(cls, data_dir: Path, experiment: str) -> MlflowRegistry:
        root = data_dir / "mlflow"
        root.mkdir(parents=True, exist_ok=True)
        return cls(embedded_uri(data_dir), experiment, root / "artifacts")

    @property
    def uri(self) -> str:
        return self._uri

    def _client(self) -> MlflowClient:
        if self._client_obj is None:
            from mlflow.tracking import MlflowClient

            self._client_obj = MlflowClient(tracking_uri=self._uri, registry_uri=self._uri)
        return self._client_obj

    def _experiment(self) -> str:
        if self._experiment_id is None:
            client = self._client()
            found = client.get_experiment_by_name(self._experiment_name)
            if found is not None:
                self._experiment_id = str(found.experiment_id)
            else:
                location = self._artifact_dir.resolve().as_uri() if self._artifact_dir else None
                self._experiment_id = str(
                    client.create_experiment(self._experiment_name, artifact_location=location)
                )
        return self._experiment_id

    def log_version(
        self,
        name: str,
        params: Mapping[str, str],
        metrics: Mapping[str, float],
        artifact: bytes,
    ) -> ModelVersion:
        with _translated(self._uri):
            client = self._client()
            run = client.create_run(
                self._experiment(), tags={"model_name": name}, run_name=f"{name}-training"
            )
            run_id = run.info.run_id
            for key, value in params.items():
                client.log_param(run_id, key, value)
            for key, number in metrics.items():
                client.log_metric(run_id, key, float(number))
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / ARTIFACT
                path.write_bytes(artifact)
                client.log_artifact(run_id, str(path), ARTIFACT_DIR)
            client.set_terminated(run_id)
            try:
                client.get_registered_model(name)
            except Exception as exc:
                if "RESOURCE_DOES_NOT_EXIST" not in str(exc) and "not found" not in str(exc):
                    raise
                client.create_registered_model(name)
            source = f"{run.info.artifact_uri}/{ARTIFACT_DIR}"
            version = client.create_model_version(name, source, run_id)
            return ModelVersion(
                name,
                str(version.version),
                run_id,
                dict(metrics),
                int(version.creation_timestamp or 0),
            )

    def production(self, name: str) -> ModelVersion | None:
        with _translated(self._uri):
            client = self._client()
            try:
                version = client.get_model_version_by_alias(name, ALIAS)
            except Exception as exc:
                if _missing(exc):
                    return None
                raise
            metrics = client.get_run(str(version.run_id)).data.metrics
            return ModelVersion(
                name,
                str(version.version),
                str(version.run_id),
                dict(metrics),
                int(version.creation_timestamp or 0),
            )

    def promote(self, name: str, version: str) -> None:
        with _translated(self._uri):
            self._client().set_registered_model_alias(name, ALIAS, version)

    def load(self, version: ModelVersion) -> bytes:
        with _translated(self._uri), tempfile.TemporaryDirectory() as tmp:
            path = self._client().download_artifacts(
                version.run_id, f"{ARTIFACT_DIR}/{ARTIFACT}", tmp
            )
            return Path(path).read_bytes()


def _missing(exc: Exception) -> bool:
    text = str(exc)
    return any(s in text for s in ("RESOURCE_DOES_NOT_EXIST", "not found", "INVALID_PARAMETER"))


@contextmanager
def _translated(uri: str) -> Iterator[None]:
    """Every MLflow or network error as the domain's ModelRegistryUnavailable."""
    try:
        yield
    except ModelRegistryUnavailable:
        raise
    except Exception as exc:
        raise ModelRegistryUnavailable("mlflow", f"{_masked(uri)}: {exc}"[:300]) from exc


def _masked(uri: str) -> str:
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return uri
