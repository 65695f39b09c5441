# Orchestrator Dynamic image: the wheel is built in the first stage, the runtime stage installs
# only that wheel and its runtime dependencies into a virtualenv. tests/deploy/test_image_install.py
# runs these same steps (build the wheel, fresh venv, install, `--help`, `plan`) on every `make test`.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the wheel, nothing else ----------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# Only what the wheel is made of (see .dockerignore): the package, its metadata and README.
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-deps --wheel-dir /wheels .

# ---- runtime: slim, non-root, read-only root friendly ----------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/orchestrator-dynamic/bin:$PATH
COPY --from=build /wheels /wheels
RUN python -m venv /opt/orchestrator-dynamic \
    && /opt/orchestrator-dynamic/bin/pip install /wheels/*.whl \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 orchestrator \
    && useradd --system --uid 10001 --gid orchestrator --no-create-home \
       --home-dir /var/lib/orchestrator-dynamic --shell /usr/sbin/nologin orchestrator \
    && install -d -o orchestrator -g orchestrator -m 0750 /var/lib/orchestrator-dynamic

# Every path the service writes is under DATA_DIR (embedded Temporal, local bus, SQLite store,
# store spool); HOME and TMPDIR point there too, so the root filesystem can be mounted read-only
# with a single writable volume (the chart mounts an emptyDir or a PVC here).
ENV DATA_DIR=/var/lib/orchestrator-dynamic \
    HOME=/var/lib/orchestrator-dynamic \
    TMPDIR=/var/lib/orchestrator-dynamic \
    API_HOST=0.0.0.0 \
    API_PORT=8000 \
    LOG_FORMAT=json
VOLUME ["/var/lib/orchestrator-dynamic"]
WORKDIR /var/lib/orchestrator-dynamic
USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('API_PORT', '8000') + '/health', timeout=4)"]

ENTRYPOINT ["orchestrator-dynamic"]
CMD ["up", "--demo-workers", "0"]
