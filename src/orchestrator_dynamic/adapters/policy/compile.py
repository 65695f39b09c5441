"""Loading a policy directory into regorus: the interpreter (for Rego tests and ad-hoc
queries) and the compiled RVM program the embedded engine evaluates decisions with."""

from __future__ import annotations

import contextlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import regorus

from orchestrator_dynamic.adapters.policy.documents import DECISION_RULE, short_error
from orchestrator_dynamic.domain.errors import PolicyUnavailable
from orchestrator_dynamic.services.policy import input_json

PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
DECISION = re.compile(rf"^{DECISION_RULE}\s*(:=|=|if\b|contains\b)", re.MULTILINE)
# What the RVM says when an evaluation outgrows its fixed instruction budget.
INSTRUCTION_LIMIT = "exceeded maximum instruction limit"
# Inputs whose answers are kept (identical tickets: a retried or replayed check), and the
# largest input kept: one ticket's input is about 1.3 KB, so the cache holds at most ~16 MB;
# a whole plan checked at C1 is never identical twice and is not kept.
ANSWER_CACHE_SIZE = 1024
CACHED_INPUT_CHARS = 16_384


def policy_files(directory: Path) -> list[Path]:
    """Every ``.rego`` file under ``directory``, tests included (they share their package)."""
    if not directory.is_dir():
        raise PolicyUnavailable("policy", f"policy directory {directory} does not exist")
    return sorted(directory.rglob("*.rego"))


def fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when a policy file is edited, added or removed."""
    out = []
    for path in sorted(directory.rglob("*.rego")):
        with contextlib.suppress(OSError):  # removed between listing and stat
            stat = path.stat()
            out.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(out)


def read_modules(directory: Path) -> list[tuple[str, str]]:
    return [
        (path.relative_to(directory).as_posix(), path.read_text("utf-8"))
        for path in policy_files(directory)
    ]


def compile_policies(directory: Path) -> regorus.Engine:
    """A fresh interpreter with every policy of ``directory``; a syntax error names the file."""
    engine = regorus.Engine()
    for name, text in read_modules(directory):
        try:
            engine.add_policy(name, text)
        except RuntimeError as exc:
            # Freed here, on this thread: kept by the traceback's frame, it would be freed by
            # the cyclic collector on whatever thread it runs, which regorus refuses.
            del engine
            raise PolicyUnavailable("policy", f"{name}: {short_error(exc)}") from exc
    return engine


class CompiledPolicies:
    """Every package's ``decision`` rule compiled once into an RVM program (regorus' Rego
    virtual machine): several times faster per evaluation than the interpreter, which
    re-walks the rules on every query. Tests (``*_test.rego``) are not compiled in: they run
    on the interpreter (see rego_tests.py). Bound to the thread that built it, like regorus."""

    def __init__(self, directory: Path, answer_cache_size: int = ANSWER_CACHE_SIZE) -> None:
        # The interpreter names syntax errors by file, before compiling, and stays as the
        # fallback for inputs the VM's fixed instruction budget cannot finish (a whole plan of
        # a thousand tasks checked at C1): slower, but with no such budget.
        self._interpreter: regorus.Engine | None = compile_policies(directory)
        modules = [(n, t) for n, t in read_modules(directory) if not n.endswith("_test.rego")]
        self.entry_points = {
            f"data.{package.group(1)}.{DECISION_RULE}"
            for _, text in modules
            if (package := PACKAGE.search(text)) and DECISION.search(text)
        }
        try:
            program = regorus.Program.compile_from_modules("{}", modules, sorted(self.entry_points))
        except RuntimeError as exc:
            raise PolicyUnavailable(
                "policy", f"compiling the policies: {short_error(exc)}"
            ) from exc
        self._vm: regorus.Rvm | None = regorus.Rvm()
        self._vm.load_program(program)
        # (entry points, input text) -> the answers' JSON texts. The program is deterministic
        # (no data, no clock but input.now_ms), so an identical input gets the identical
        # answer; a reload builds a new CompiledPolicies, so the cache goes with the program.
        self._answers: OrderedDict[tuple[tuple[str, ...], str], tuple[str, ...]] = OrderedDict()
        self._answer_cache_size = answer_cache_size
        self.cache_hits = 0

    def release(self) -> None:
        """Drop the VM now, on this thread. regorus refuses to be freed from another thread,
        and the cyclic garbage collector may run on any thread (a driver's worker thread)."""
        self._vm = None
        self._interpreter = None
        self._answers.clear()

    def decisions(self, entry_points: Sequence[str], input_doc: Mapping[str, Any]) -> list[Any]:
        """The decision documents of several packages for one input."""
        return [json.loads(text) for text in self.answers(entry_points, input_json(input_doc))]

    def answers(self, entry_points: Sequence[str], input_text: str) -> tuple[str, ...]:
        """The decisions of several packages, as JSON texts, for one input given as JSON text
        (set once: its parse costs as much as a package's evaluation). An input seen lately
        is answered from memory. Unknown package: PolicyUnavailable."""
        key = (tuple(entry_points), input_text)
        cached = self._answers.get(key)
        if cached is not None:
            self._answers.move_to_end(key)
            self.cache_hits += 1
            return cached
        texts = tuple(self._evaluate(key[0], input_text))
        if len(input_text) <= CACHED_INPUT_CHARS and self._answer_cache_size > 0:
            self._answers[key] = texts
            if len(self._answers) > self._answer_cache_size:
                self._answers.popitem(last=False)
        return texts

    def _evaluate(self, entry_points: Sequence[str], input_text: str) -> list[str]:
        for entry_point in entry_points:
            if entry_point not in self.entry_points:
                raise PolicyUnavailable("policy", f"no policy defines {entry_point}")
        vm = self._vm
        if vm is None:
            raise PolicyUnavailable("policy", "the policy engine is closed")
        try:
            vm.set_input_json(input_text)
            return [vm.execute_entry_point(e) for e in entry_points]
        except RuntimeError as exc:
            if INSTRUCTION_LIMIT not in str(exc):
                raise PolicyUnavailable("policy", f"evaluation failed: {short_error(exc)}") from exc
        return self._interpret(entry_points, input_text)

    def _interpret(self, entry_points: Sequence[str], input_text: str) -> list[str]:
        engine = self._interpreter
        if engine is None:
            raise PolicyUnavailable("policy", "the policy engine is closed")
        try:
            engine.set_input_json(input_text)
            return [engine.eval_rule_as_json(e) for e in entry_points]
        except RuntimeError as exc:
            raise PolicyUnavailable("policy", f"evaluation failed: {short_error(exc)}") from exc
