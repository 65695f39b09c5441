"""The Helm chart, linted and rendered by Helm's own engine.

helm-python-sdk bundles Helm's Go SDK (no helm binary): `lint` and `Chart.render` are what
`helm lint` and `helm template` run, values.schema.json included. Every rendered manifest is
validated against the Kubernetes schemas (kubernetes-validate); the two Prometheus Operator
kinds have no schema there, so the PrometheusRule's rules go through `promtool check rules`
instead and the ServiceMonitor is checked field by field.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests.integration.sla.test_ops_files import tool

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "orchestrator-dynamic"
RULES_DIR = ROOT / "ops" / "prometheus"
POLICIES = ROOT / "src" / "orchestrator_dynamic" / "policies"
KUBERNETES_VERSION = "1.37.0"
KUBE_VERSION_FOR_LINT = "v1.34.0"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}

Manifest = dict[str, Any]


def values_file(name: str) -> dict[str, Any]:
    return helm.values_from_yaml((CHART / name).read_text())


PRODUCTION = "values-production.yaml"


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    helm.disable_logging()  # the engine logs each followed symlink (rules/, policies/)
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def render(chart: helm.Chart, values: dict[str, Any] | None) -> list[Manifest]:
    out = chart.render(values, name="od", namespace="orchestration", is_install=True)
    docs: list[Manifest] = []
    for path, text in sorted(out.items()):
        if path.endswith(".txt"):
            continue
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def one(docs: list[Manifest], kind: str, name_part: str = "") -> Manifest:
    found = [d for d in docs if d["kind"] == kind and name_part in d["metadata"]["name"]]
    assert len(found) == 1, f"{kind} {name_part!r}: {[d['metadata']['name'] for d in found]}"
    return found[0]


def container(docs: list[Manifest]) -> dict[str, Any]:
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1
    result: dict[str, Any] = pod["containers"][0]
    return result


@pytest.fixture(scope="module", params=["values.yaml", PRODUCTION])
def rendered(request: pytest.FixtureRequest, chart: helm.Chart) -> tuple[str, list[Manifest]]:
    name: str = request.param
    values = None if name == "values.yaml" else values_file(name)
    return name, render(chart, values)


# ------------------------------------------------------------------ lint and Kubernetes schemas


@pytest.mark.parametrize("values", ["values.yaml", PRODUCTION])
def test_lint_is_clean(values: str) -> None:
    given = None if values == "values.yaml" else values_file(values)
    report = helm.lint(CHART, given, strict=True, kube_version=KUBE_VERSION_FOR_LINT)
    assert report["errors"] == []
    # Severity 1 is information ("icon is recommended"); warnings and errors fail.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_every_manifest_validates_against_the_kubernetes_schemas(
    rendered: tuple[str, list[Manifest]],
) -> None:
    _, docs = rendered
    kinds = set()
    for doc in docs:
        kinds.add(doc["kind"])
        if doc["kind"] in CRD_KINDS:
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    assert {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "NetworkPolicy"} <= kinds


# ------------------------------------------------------------------ the pod


def test_probes_security_and_data_dir(rendered: tuple[str, list[Manifest]]) -> None:
    _, docs = rendered
    deployment = one(docs, "Deployment", "-up")
    pod = deployment["spec"]["template"]["spec"]
    main = container(docs)
    assert main["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert main["startupProbe"]["httpGet"]["path"] == "/health"
    security = main["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert main["args"][0] == "up"
    assert main["resources"]["limits"]["memory"]
    # The one writable path is DATA_DIR, a mounted volume.
    env = {e["name"]: e for e in main["env"]}
    assert env["DATA_DIR"]["value"] == "/var/lib/orchestrator-dynamic"
    assert main["volumeMounts"] == [{"name": "data", "mountPath": "/var/lib/orchestrator-dynamic"}]
    assert env["API_HOST"]["value"] == "0.0.0.0"
    # The Service reaches this pod's http port.
    service = one(docs, "Service")
    assert (
        service["spec"]["selector"].items() <= deployment["spec"]["selector"]["matchLabels"].items()
    )
    assert service["spec"]["ports"][0]["targetPort"] == "http"


SCALED_OUT = """
roles:
  up: {enabled: false}
  worker: {enabled: true, replicaCount: 3}
  intake: {enabled: true}
  api: {enabled: true}
"""


def test_the_roles_scale_out_as_deployments_of_their_own(chart: helm.Chart) -> None:
    docs = render(chart, helm.values_from_yaml(SCALED_OUT))
    for doc in docs:
        if doc["kind"] not in CRD_KINDS:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    deployments = {
        d["metadata"]["name"].rsplit("-", 1)[1]: d for d in docs if d["kind"] == "Deployment"
    }
    assert set(deployments) == {"worker", "intake", "api"}
    assert deployments["worker"]["spec"]["replicas"] == 3
    for role, deployment in deployments.items():
        [main] = deployment["spec"]["template"]["spec"]["containers"]
        assert main["args"] == [role]
        serves = role == "api"
        assert ("readinessProbe" in main) is serves and ("ports" in main) is serves, role
    service = one(docs, "Service")
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "api"
    pdbs = {
        d["metadata"]["name"].rsplit("-", 1)[1] for d in docs if d["kind"] == "PodDisruptionBudget"
    }
    assert pdbs == {"worker", "intake", "api"}


def test_secrets_only_by_reference(rendered: tuple[str, list[Manifest]]) -> None:
    name, docs = rendered
    assert not [d for d in docs if d["kind"] == "Secret"], "the chart must not hold secrets"
    env = {e["name"]: e for e in container(docs)["env"]}
    assert env["API_TOKENS"]["valueFrom"]["secretKeyRef"] == {
        "name": "orchestrator-dynamic-api",
        "key": "api-tokens",
    }
    settings = one(docs, "ConfigMap", "-config")["data"]
    secret_names = ("API_TOKENS", "PASSWORD", "STORE_URL", "MONGODB_URI", "TOKEN")
    assert not [k for k in settings if any(s in k for s in secret_names)]
    if name == PRODUCTION:
        for variable, secret in (
            ("STORE_URL", "orchestrator-dynamic-postgresql"),
            ("KAFKA_SASL_PASSWORD", "orchestrator-dynamic-kafka"),
            ("REDIS_PASSWORD", "orchestrator-dynamic-redis"),
        ):
            assert env[variable]["valueFrom"]["secretKeyRef"]["name"] == secret
            assert "value" not in env[variable]


def test_pods_roll_when_the_settings_change(chart: helm.Chart) -> None:
    def checksum(values: dict[str, Any]) -> str:
        pod = one(render(chart, values), "Deployment")["spec"]["template"]
        annotation: str = pod["metadata"]["annotations"]["checksum/config"]
        return annotation

    assert checksum({}) != checksum({"config": {"LOG_LEVEL": "DEBUG"}})


# ------------------------------------------------------------------ production values


def test_production_connects_to_the_platform(chart: helm.Chart) -> None:
    docs = render(chart, values_file(PRODUCTION))
    settings = one(docs, "ConfigMap", "-config")["data"]
    assert settings["TEMPORAL_HOST"] and settings["KAFKA_BOOTSTRAP_SERVERS"]
    assert settings["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert settings["KAFKA_SASL_MECHANISM"].startswith("SCRAM-")
    assert len(settings["REDIS_CLUSTER_NODES"].split(",")) >= 3
    assert settings["OPA_URL"].startswith("http")
    assert settings["ML_MODEL_REGISTRY_URI"].startswith("http")
    assert settings["OTEL_EXPORTER_ENDPOINT"].endswith("/v1/traces")
    for value in settings.values():
        assert isinstance(value, str)  # ConfigMap data is strings only
    # Autoscaled: the HPA owns the replica count.
    deployment = one(docs, "Deployment")
    assert "replicas" not in deployment["spec"]
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2
    pvc = one(docs, "PersistentVolumeClaim")
    volume = deployment["spec"]["template"]["spec"]["volumes"][0]
    assert volume["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    policy = one(docs, "NetworkPolicy")
    assert policy["spec"]["ingress"][0]["from"]
    monitor = one(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items()
        <= one(docs, "Service")["metadata"]["labels"].items()
    )


def test_default_values_render_no_operator_resources(chart: helm.Chart) -> None:
    kinds = {d["kind"] for d in render(chart, None)}
    assert not kinds & CRD_KINDS
    assert "HorizontalPodAutoscaler" not in kinds


def rule_files() -> list[Path]:
    return sorted(p for p in RULES_DIR.glob("*.yml") if not p.name.endswith(".test.yml"))


def test_prometheus_rule_is_built_from_every_ops_rule_file(
    chart: helm.Chart, tmp_path: Path
) -> None:
    docs = render(chart, values_file(PRODUCTION))
    groups = one(docs, "PrometheusRule")["spec"]["groups"]
    base = values_file(PRODUCTION)["prometheusRule"]["runbookBaseUrl"]
    expected: list[dict[str, Any]] = []
    for path in rule_files():
        text = path.read_text().replace(
            'runbook_url: "docs/runbooks/', f'runbook_url: "{base}/docs/runbooks/'
        )
        expected += yaml.safe_load(text)["groups"]
    assert sorted(groups, key=lambda g: g["name"]) == sorted(expected, key=lambda g: g["name"])
    for group in groups:
        for rule in group["rules"]:
            if "alert" in rule:
                assert rule["annotations"]["runbook_url"].startswith(f"{base}/docs/runbooks/")
    # What the Prometheus Operator hands to Prometheus must load in Prometheus.
    extracted = tmp_path / "from-chart.yml"
    extracted.write_text(yaml.safe_dump({"groups": groups}))
    promtool = tool("promtool", "prometheus")
    done = subprocess.run(
        [promtool, "check", "rules", str(extracted)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    alerts = sum(1 for g in groups for r in g["rules"] if "alert" in r)
    assert f"SUCCESS: {alerts} rules found" in done.stdout


def test_opa_bundle_holds_every_policy_package(chart: helm.Chart) -> None:
    docs = render(chart, values_file(PRODUCTION))
    bundle = one(docs, "ConfigMap", "-opa-bundle")
    assert bundle["metadata"]["labels"]["openpolicyagent.org/policy"] == "rego"
    shipped = sorted(p for p in POLICIES.rglob("*.rego") if not p.name.endswith("_test.rego"))
    assert shipped
    data = bundle["data"]
    assert len(data) == len(shipped)
    for path in shipped:
        key = str(path.relative_to(POLICIES)).replace(os.sep, "_")
        assert data[key].strip() == path.read_text().strip()
        assert re.search(r"^package neuralhive\.orchestrator\.", data[key], re.M)


# ------------------------------------------------------------------ bad values are refused


BAD_VALUES = {
    "plain secret in the ConfigMap": (
        "config:\n  KAFKA_SASL_PASSWORD: hunter2\n",
        "/config/KAFKA_SASL_PASSWORD",
    ),
    "writable root filesystem": (
        "securityContext:\n  readOnlyRootFilesystem: false\n",
        "/securityContext/readOnlyRootFilesystem",
    ),
    "negative replicas": ("roles:\n  up:\n    replicaCount: -1\n", "/roles/up/replicaCount"),
    "a role that does not exist": (
        "roles:\n  scheduler:\n    enabled: true\n",
        "/roles",
    ),
    "unknown top-level key": ("replicas: 3\n", "replicas"),
    "secret reference without key": (
        "secretEnv:\n  REDIS_PASSWORD: {name: redis}\n",
        "/secretEnv/REDIS_PASSWORD",
    ),
    "lower-case setting name": ("config:\n  log_level: DEBUG\n", "/config"),
    "port out of range": ("service:\n  port: 70000\n", "/service/port"),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_a_bad_values_file_is_refused(chart: helm.Chart, tmp_path: Path, case: str) -> None:
    text, field = BAD_VALUES[case]
    path = tmp_path / "bad-values.yaml"
    path.write_text(text)
    values = helm.values_from_yaml(path.read_text())
    with pytest.raises(helm.HelmValuesError) as refused:
        chart.render(values, name="od")
    assert field in str(refused.value)
    report = helm.lint(CHART, values)
    assert any(field in e for e in report["errors"]), report


# ------------------------------------------------------------------ the chart README


def documented_paths(values: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every value an operator sets; free-form maps and lists count as one value."""
    free_form = {
        "config",
        "secretEnv",
        "resources",
        "podSecurityContext",
        "securityContext",
        "liveness",
        "readiness",
        "startup",
    }
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in free_form and "labels" not in key:
            yield from documented_paths(value, f"{path}.")
        else:
            yield path


def test_the_chart_readme_lists_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = []
    for path in documented_paths(defaults):
        parent, _, leaf = path.rpartition(".")
        if f"`{path}`" in readme:
            continue
        # A row naming two values: "`a.b.minReplicas` / `maxReplicas`".
        if re.search(rf"`{re.escape(parent)}\.[^`]+` / `{re.escape(leaf)}`", readme):
            continue
        if not parent and re.search(rf"`[^`.]+` / `{re.escape(leaf)}`", readme):
            continue
        missing.append(path)
    assert missing == []


def test_the_packaged_chart_carries_the_rule_files_and_policies(
    chart: helm.Chart, tmp_path: Path
) -> None:
    """`helm package` resolves the rules/ and policies/ links into files: the archive an
    operator installs renders the same manifests as the chart directory, tests left out."""
    archive = Path(chart.save(tmp_path))
    with helm.Chart.load(archive) as packaged:
        names = {f["name"] for f in packaged.files}
        assert {f"rules/{p.name}" for p in rule_files()} <= names
        assert not [n for n in names if n.endswith((".test.yml", "_test.rego", ".py"))]
        values = values_file(PRODUCTION)
        assert render(packaged, values) == render(chart, values)


def test_grafana_dashboards_ship_as_sidecar_config_maps(chart: helm.Chart) -> None:
    docs = render(chart, values_file(PRODUCTION))
    boards = [
        d for d in docs if d["kind"] == "ConfigMap" and "-dashboard-" in d["metadata"]["name"]
    ]
    committed = sorted((ROOT / "ops" / "grafana").glob("*.json"))
    assert len(boards) == len(committed) == 4
    by_key = {key: value for d in boards for key, value in d["data"].items()}
    for path in committed:
        assert json.loads(by_key[path.name]) == json.loads(path.read_text())
    for board in boards:
        assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert not [d for d in render(chart, None) if "-dashboard-" in d["metadata"]["name"]]
