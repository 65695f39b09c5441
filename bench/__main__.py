"""Run every benchmark in turn: `python -m bench [name ...]`.

Each `bench/bench_*.py` module exposes `async def main()`; new benchmarks are picked up by name.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path

from orchestrator_dynamic.observability.logging import configure_logging


def available() -> list[str]:
    return sorted(path.stem for path in Path(__file__).parent.glob("bench_*.py"))


def main(names: list[str]) -> None:
    # Benchmarks print tables; the service's INFO lines would bury them.
    configure_logging("WARNING")
    for name in names or available():
        module = importlib.import_module(f"bench.{name.removeprefix('bench.')}")
        print(f"\n== {name} ==", flush=True)
        asyncio.run(module.main())


if __name__ == "__main__":
    main(sys.argv[1:])
