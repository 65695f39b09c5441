"""The embedded Rego engine (regorus): policies loaded from a directory, reloaded on change."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog
import watchfiles

from orchestrator_dynamic.adapters.policy.compile import (
    ANSWER_CACHE_SIZE,
    PACKAGE,
    CompiledPolicies,
    fingerprint,
    read_modules,
)
from orchestrator_dynamic.adapters.policy.documents import (
    DECISION_RULE,
    OLDER_CONTRACT,
    OLDER_RULE,
    ContractProblem,
    mismatch_reason,
    parse_decision,
    rule_path,
    shape_problem,
)
from orchestrator_dynamic.domain.errors import PolicyContractMismatch, PolicyUnavailable
from orchestrator_dynamic.domain.ports import PolicyDecision
from orchestrator_dynamic.observability import policy_metrics
from orchestrator_dynamic.services.policy import input_json

log = structlog.get_logger(__name__)
# Distinct (package, answer) pairs whose parsed decision is kept: answers repeat (most tickets
# are allowed with the same flags), and parsing four answers costs a tenth of an evaluation.
PARSED_CACHE_SIZE = 512
OLDER = re.compile(rf"^{OLDER_RULE}\s*(:=|=|if\b|\{{)", re.MULTILINE)


class EmbeddedPolicyEngine:
    """PolicyEngine over regorus. The policies are compiled once into an RVM program reused
    for every evaluation; a reload compiles a new one and swaps it in only when it compiles,
    so a broken edit never takes the running policies down. regorus objects may only be used
    by the thread that created them: create and use this adapter on the event loop's thread."""

    name = "embedded"

    def __init__(self, directory: Path, answer_cache_size: int = ANSWER_CACHE_SIZE) -> None:
        self._directory = directory
        self._fingerprint = fingerprint(directory)
        self._answer_cache_size = answer_cache_size
        self._compiled = CompiledPolicies(directory, answer_cache_size)
        self._parsed: dict[tuple[str, str], PolicyDecision] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.reloads = 0
        self.reload_failures = 0

    @property
    def packages(self) -> list[str]:
        return sorted(
            p.removeprefix("data.").rsplit(".", 1)[0] for p in self._compiled.entry_points
        )

    async def evaluate(self, package: str, input_doc: Mapping[str, Any]) -> PolicyDecision:
        """Synchronous under the hood: one evaluation takes microseconds."""
        return (await self.evaluate_many([package], input_doc))[0]

    async def evaluate_many(
        self, packages: Sequence[str], input_doc: Mapping[str, Any]
    ) -> list[PolicyDecision]:
        """Several packages over one input, the input encoded and set once."""
        return await self.evaluate_json(packages, input_json(input_doc))

    async def evaluate_json(self, packages: Sequence[str], input_text: str) -> list[PolicyDecision]:
        """Several packages over one input given as JSON text (what the validator prepares);
        an identical input (a retried check) is answered from the compiled policies' cache."""
        compiled = self._compiled
        hits = compiled.cache_hits
        try:
            texts = compiled.answers([rule_path(p) for p in packages], input_text)
        except PolicyUnavailable:
            policy_metrics.EVALUATION_ERRORS.labels("evaluation").inc()
            raise
        if compiled.cache_hits != hits:
            policy_metrics.CACHE_HITS.inc()
        return [self._decision(p, t) for p, t in zip(packages, texts, strict=True)]

    def _decision(self, package: str, text: str) -> PolicyDecision:
        """The parsed answer; the same text always parses to the same (immutable) decision."""
        key = (package, text)
        decision = self._parsed.get(key)
        if decision is None:
            decision = parse_decision(package, json.loads(text))
            if len(self._parsed) >= PARSED_CACHE_SIZE:
                self._parsed.clear()  # answers naming tasks never repeat: start afresh
            self._parsed[key] = decision
        return decision

    async def check_contract(self, packages: Sequence[str], input_doc: Mapping[str, Any]) -> None:
        """Each package has a decision that answers the probe ``input_doc`` with our shape, or
        PolicyContractMismatch names those that do not (OPA_POLICY_DIR holding other policies)."""
        loaded = set(self.packages)
        present = [p for p in packages if p.strip("/").replace("/", ".") in loaded]
        docs = dict(
            zip(
                present,
                self._compiled.decisions([rule_path(p) for p in present], input_doc),
                strict=True,
            )
        )
        problems = [
            shape_problem(p, docs[p]) if p in docs else ContractProblem(p, self._absent(p))
            for p in packages
        ]
        found = [p for p in problems if p is not None]
        if found:
            setting = f"OPA_POLICY_DIR ({self._directory}) to a directory holding our policies"
            raise PolicyContractMismatch(mismatch_reason(found), setting)

    def _absent(self, package: str) -> str:
        """Why a package has no decision here: older rules under its name, or not there."""
        dotted = package.strip("/").replace("/", ".")
        texts = [
            text
            for _, text in read_modules(self._directory)
            if (found := PACKAGE.search(text)) and found.group(1) == dotted
        ]
        if any(OLDER.search(text) for text in texts):
            return f"no `{DECISION_RULE}` rule; {OLDER_CONTRACT}"
        if texts:
            return f"no `{DECISION_RULE}` rule"
        return "the package is not in the policy directory"

    def reload(self) -> bool:
        """Recompile from disk; keep the old policies (and say so) when the new ones break."""
        try:
            compiled = CompiledPolicies(self._directory, self._answer_cache_size)
        except PolicyUnavailable as exc:
            self.reload_failures += 1
            policy_metrics.EVALUATION_ERRORS.labels("reload").inc()
            log.error("policy_reload_failed", reason=str(exc))
            return False
        previous, self._compiled = self._compiled, compiled
        previous.release()
        self.reloads += 1
        log.info("policies_reloaded", directory=str(self._directory), packages=self.packages)
        return True

    async def ping(self) -> None:
        if not self._compiled.entry_points:
            raise PolicyUnavailable("policy", "no policy package loaded")

    async def start(self) -> None:
        """Watch the policy directory; every change batch triggers one reload."""
        self._stop.clear()
        self._watcher = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        """Stop watching the directory (evaluations keep working)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    async def close(self) -> None:
        """Stop watching and free the compiled policies on this thread; the engine then
        refuses to evaluate. Call it from the thread that created the engine."""
        await self.stop()
        self._compiled.release()

    async def _watch(self) -> None:
        # Change events wake us at once; the periodic wake-up (empty batch) also compares the
        # files' fingerprint, so an edit made before the OS watch was in place is not missed.
        async for _ in watchfiles.awatch(
            self._directory,
            stop_event=self._stop,
            debounce=200,
            step=50,
            rust_timeout=1000,
            yield_on_timeout=True,
        ):
            current = fingerprint(self._directory)
            if current != self._fingerprint:
                self._fingerprint = current
                self.reload()
