"""The embedded Rego engine (regorus): policies loaded from a directory, reloaded on change."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import regorus
import structlog
import watchfiles

from orchestrator_dynamic.adapters.policy.documents import parse_decision, rule_path, short_error
from orchestrator_dynamic.domain.errors import PolicyUnavailable
from orchestrator_dynamic.domain.ports import PolicyDecision
from orchestrator_dynamic.observability import policy_metrics

log = structlog.get_logger(__name__)


def policy_files(directory: Path) -> list[Path]:
    """Every ``.rego`` file under ``directory``, tests included (they share their package)."""
    if not directory.is_dir():
        raise PolicyUnavailable("policy", f"policy directory {directory} does not exist")
    return sorted(directory.rglob("*.rego"))


def compile_policies(directory: Path) -> regorus.Engine:
    """A fresh engine with every policy of ``directory``; a syntax error names the file."""
    engine = regorus.Engine()
    for path in policy_files(directory):
        try:
            engine.add_policy(str(path.relative_to(directory)), path.read_text("utf-8"))
        except RuntimeError as exc:
            raise PolicyUnavailable("policy", f"{path.name}: {short_error(exc)}") from exc
    return engine


class EmbeddedPolicyEngine:
    """PolicyEngine over regorus. The compiled engine is reused for every evaluation (parsing
    is the expensive part); a reload compiles a new one and swaps it in only when it compiles,
    so a broken edit never takes the running policies down. A regorus engine may only be used
    by the thread that created it: create and use this adapter on the event loop's thread."""

    name = "embedded"

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._engine = compile_policies(directory)
        self._watcher: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.reloads = 0

    @property
    def packages(self) -> list[str]:
        return [str(p) for p in self._engine.get_packages()]

    async def evaluate(self, package: str, input_doc: Mapping[str, Any]) -> PolicyDecision:
        """Synchronous under the hood: one evaluation takes tens of microseconds."""
        engine = self._engine
        try:
            engine.set_input(dict(input_doc))
            raw = engine.eval_rule_as_json(rule_path(package))
        except RuntimeError as exc:
            policy_metrics.EVALUATION_ERRORS.labels("evaluation").inc()
            raise PolicyUnavailable("policy", f"{package}: {short_error(exc)}") from exc
        return parse_decision(package, json.loads(raw))

    def reload(self) -> bool:
        """Recompile from disk; keep the old policies (and say so) when the new ones break."""
        try:
            self._engine = compile_policies(self._directory)
        except PolicyUnavailable as exc:
            policy_metrics.EVALUATION_ERRORS.labels("reload").inc()
            log.error("policy_reload_failed", reason=str(exc))
            return False
        self.reloads += 1
        log.info("policies_reloaded", directory=str(self._directory), packages=self.packages)
        return True

    async def ping(self) -> None:
        if not self._engine.get_packages():
            raise PolicyUnavailable("policy", "no policy package loaded")

    async def start(self) -> None:
        """Watch the policy directory; every change batch triggers one reload."""
        self._stop.clear()
        self._watcher = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    async def _watch(self) -> None:
        async for changes in watchfiles.awatch(
            self._directory, stop_event=self._stop, debounce=200, step=50
        ):
            if any(path.endswith(".rego") for _, path in changes):
                self.reload()
