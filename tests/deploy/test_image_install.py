"""The container image's install steps, run here for real.

There is no Docker engine on the machines that run this suite, so this test is the honest
stand-in for `docker build`: it runs the same steps the Dockerfile runs, in the same order, on the
same inputs: copy only what the build stage copies (pyproject.toml, README.md, src/), build the
wheel with `pip wheel --no-deps`, install that wheel alone (pip resolves only its runtime
dependencies, no dev extras, no source tree) into a fresh virtualenv, then start the entrypoint
`orchestrator-dynamic` from a directory outside the repository with DATA_DIR, HOME and TMPDIR set
as the image sets them. The policies and the Avro schemas must come from inside the wheel, so a
packaging mistake (a data file missing from package-data) fails here as it would in the image.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DECISIONS
from tests.e2e.service import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=400, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    return done.stdout


def copied_by_build_stage() -> list[str]:
    """The sources of every COPY of the Dockerfile's build stage (before the runtime FROM)."""
    build = DOCKERFILE.read_text().split(" AS runtime")[0]
    sources: list[str] = []
    for line in build.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            sources += line.split()[1:-1]
    return sources


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A fresh virtualenv with the wheel installed as the runtime stage installs it."""
    work = tmp_path_factory.mktemp("image")
    context = work / "src-context"
    context.mkdir()
    for name in copied_by_build_stage():
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source,
                context / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
            )
        else:
            shutil.copy2(source, context / name)
    wheels = work / "wheels"
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(wheels), "."],
        cwd=context,
    )
    built = sorted(wheels.glob("*.whl"))
    assert len(built) == 1, built
    prefix = work / "opt"
    venv.EnvBuilder(with_pip=True).create(prefix)
    pip = [str(prefix / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "--quiet", str(built[0])], cwd=work)
    data = work / "data"
    data.mkdir()
    # The runtime stage's ENV, with its two paths moved under this test's directory.
    env = {
        name: value.replace(IMAGE_DATA_DIR, str(data))
        .replace(IMAGE_VENV, str(prefix))
        .replace("$PATH", "/usr/bin:/bin")
        for name, value in runtime_env().items()
    }
    yield prefix, env


IMAGE_DATA_DIR = "/var/lib/orchestrator-dynamic"
IMAGE_VENV = "/opt/orchestrator-dynamic"


def runtime_env() -> dict[str, str]:
    """Every `ENV NAME=value` of the Dockerfile's runtime stage."""
    runtime = DOCKERFILE.read_text().split(" AS runtime", 1)[1].replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in runtime.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line))
    return env


def test_runtime_env_keeps_every_writable_path_under_data_dir() -> None:
    env = runtime_env()
    assert env["DATA_DIR"] == IMAGE_DATA_DIR
    for name in ("HOME", "TMPDIR"):
        assert env[name] == IMAGE_DATA_DIR, name
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["API_HOST"] == "0.0.0.0"


def test_the_image_refuses_an_open_api_in_one_line(image: tuple[Path, dict[str, str]]) -> None:
    """API_HOST is 0.0.0.0 in the image: without API_TOKENS `up` must stop, saying why."""
    _prefix, env = image
    done = subprocess.run(
        ["orchestrator-dynamic", "up"],
        cwd=env["DATA_DIR"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "API_TOKENS" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_build_stage_copies_only_the_package_sources() -> None:
    assert copied_by_build_stage() == ["pyproject.toml", "README.md", "src"]


def test_only_runtime_dependencies_are_installed(image: tuple[Path, dict[str, str]]) -> None:
    prefix, env = image
    listed = run([str(prefix / "bin" / "python"), "-m", "pip", "list", "--format=json"], ROOT, env)
    names = {p["name"].lower().replace("_", "-") for p in json.loads(listed)}
    assert "orchestrator-dynamic" in names and "temporalio" in names
    for dev_only in ("pytest", "ruff", "mypy", "hypothesis", "helm-python-sdk"):
        assert dev_only not in names


def test_help_from_the_installed_entrypoint(image: tuple[Path, dict[str, str]]) -> None:
    _prefix, env = image
    out = run(["orchestrator-dynamic", "--help"], cwd=Path(env["DATA_DIR"]), env=env)
    for command in ("plan", "up", "submit", "status", "policy"):
        assert re.search(rf"\b{command}\b", out), command


def test_plan_a_fixture_from_the_installed_package(image: tuple[Path, dict[str, str]]) -> None:
    _prefix, env = image
    fixture = DECISIONS / "approve-5-task-dag.json"
    out = run(["orchestrator-dynamic", "plan", str(fixture), "--json"], Path(env["DATA_DIR"]), env)
    doc = json.loads(out)
    assert doc["valid"] is True and len(doc["tickets"]) == 5


def test_policies_and_schemas_ship_inside_the_wheel(image: tuple[Path, dict[str, str]]) -> None:
    prefix, env = image
    cwd = Path(env["DATA_DIR"])
    report = json.loads(run(["orchestrator-dynamic", "policy", "test", "--json"], cwd, env))
    assert report["failed"] == [] and report["passed"] > 0
    probe = (
        "import orchestrator_dynamic, pathlib\n"
        "from orchestrator_dynamic.adapters.serialization.avro import SCHEMA_NAMES, schema_json\n"
        "print(pathlib.Path(orchestrator_dynamic.__file__).parent)\n"
        "print(sorted(schema_json(n)['name'] for n in SCHEMA_NAMES))\n"
    )
    out = run([str(prefix / "bin" / "python"), "-c", probe], cwd, env).splitlines()
    assert out[0].startswith(str(prefix)), "the package must be imported from the virtualenv"
    assert "ConsolidatedDecision" in out[1] and "ExecutionTicket" in out[1]


def test_dockerfile_shape() -> None:
    """What the issue asks of the image, checked in the file the image is built from."""
    text = DOCKERFILE.read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert "AS build" in text and "COPY --from=build /wheels" in text
    assert "pip wheel --no-deps" in text
    assert re.search(r"^USER 10001", text, re.M)
    assert "HEALTHCHECK" in text and "/health" in text
    assert 'ENTRYPOINT ["orchestrator-dynamic"]' in text
    assert "-slim" in text
    assert os.path.exists(ROOT / ".dockerignore")


def dockerfile_json(instruction: str) -> list[str]:
    """The exec-form JSON array of the runtime stage's CMD, or of HEALTHCHECK's CMD."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if line.startswith(f"{instruction} "):
            start = line.index("[", line.index("CMD") if instruction == "HEALTHCHECK" else 0)
            found: list[str] = json.loads(line[start:])
            return found
    raise AssertionError(f"no {instruction} in the Dockerfile")


def tree(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in root.rglob("*")}


def test_the_default_command_serves_health_and_writes_only_under_data_dir(
    image: tuple[Path, dict[str, str]],
) -> None:
    """CMD and HEALTHCHECK as the image runs them: `up` answers the health check, and the
    installed tree is left untouched (what a read-only root filesystem requires)."""
    prefix, env = image
    env = {
        **env,
        "API_TOKENS": '{"image-test-token": "admin"}',
        "API_PORT": str(free_port()),
        "TEMPORAL_PORT": str(free_port()),
        "TEMPORAL_UI_PORT": str(free_port()),
    }
    before = tree(prefix)
    log = Path(env["DATA_DIR"]) / "up.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["orchestrator-dynamic", *dockerfile_json("CMD")],
            cwd=env["DATA_DIR"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    healthcheck = dockerfile_json("HEALTHCHECK")
    try:
        deadline = time.monotonic() + 90
        healthy = False
        while time.monotonic() < deadline and not healthy:
            assert proc.poll() is None, log.read_text()
            check = subprocess.run(
                healthcheck, env=env, capture_output=True, timeout=10, check=False
            )
            healthy = check.returncode == 0
            if not healthy:
                time.sleep(0.5)
        assert healthy, log.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    assert code == 0, log.read_text()
    assert tree(prefix) == before, "the service wrote into its installed tree"
    assert (Path(env["DATA_DIR"]) / "temporal.db").exists()
