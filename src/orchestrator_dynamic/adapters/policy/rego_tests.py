"""Run the Rego unit tests (every ``test_*`` rule of every package), as ``opa test`` would."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator_dynamic.adapters.policy.compile import compile_policies, policy_files
from orchestrator_dynamic.adapters.policy.documents import short_error

PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
TEST_RULE = re.compile(r"^(test_\w+)\s+if\b", re.MULTILINE)


@dataclass(frozen=True)
class RegoTestResult:
    package: str
    name: str
    passed: bool
    error: str = ""
    duration_us: float = 0.0


def discover(directory: Path) -> list[tuple[str, str]]:
    """(package, test rule) pairs in file order; a rule defined twice runs once."""
    found: dict[tuple[str, str], None] = {}
    for path in policy_files(directory):
        text = path.read_text("utf-8")
        package = PACKAGE.search(text)
        if package is None:
            continue
        for name in TEST_RULE.findall(text):
            found[(package.group(1), name)] = None
    return list(found)


def run_rego_tests(directory: Path) -> list[RegoTestResult]:
    """A test passes when its rule evaluates to true; undefined, false or an error fail it."""
    engine = compile_policies(directory)
    results = []
    for package, name in discover(directory):
        start = time.perf_counter()
        try:
            value = engine.eval_rule(f"data.{package}.{name}")
            error = "" if value is True else f"evaluated to {value!r}, expected true"
        except RuntimeError as exc:
            error = short_error(exc)
        elapsed = (time.perf_counter() - start) * 1e6
        results.append(RegoTestResult(package, name, not error, error, elapsed))
    return results
