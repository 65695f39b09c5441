"""Run every benchmark in turn: `python -m bench [name ...]`.

Each `bench/bench_*.py` module exposes `async def main()`; new benchmarks are picked up by name.
Benchmarks record the goals they measure (bench/goals.py); the run ends with one summary table
of every goal, also written to ``bench-summary.json`` (``BENCH_SUMMARY`` names another path).
A benchmark that fails is reported and the others still run; the exit code is then 1.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import traceback
from pathlib import Path

from bench import goals
from orchestrator_dynamic.observability.logging import configure_logging

SUMMARY_FILE = "bench-summary.json"


def available() -> list[str]:
    return sorted(path.stem for path in Path(__file__).parent.glob("bench_*.py"))


def run(name: str) -> bool:
    """One benchmark; False (and its traceback printed) when it failed."""
    print(f"\n== {name} ==", flush=True)
    try:
        module = importlib.import_module(f"bench.{name.removeprefix('bench.')}")
        asyncio.run(module.main())
    except Exception:  # one broken benchmark must not hide the others' figures
        traceback.print_exc()
        return False
    return True


def main(names: list[str]) -> int:
    # Benchmarks print tables; the service's INFO lines would bury them.
    configure_logging("WARNING")
    failed = [name for name in names or available() if not run(name)]
    rows = goals.summary()
    print("\n== summary: issue 19 goals ==", flush=True)
    print(goals.table(rows))
    path = Path(os.environ.get("BENCH_SUMMARY", SUMMARY_FILE))
    goals.write_json(rows, path)
    print(f"(written to {path})")
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
