"""The HTTP API (FastAPI): health, readiness, metrics, and /api/v1 for operators and workers."""
