"""Injected faults: rules per endpoint that slow, refuse or drop the sandbox's answers, seeded to replay.

A rule matches requests by method and path (below `/api/v1`, a glob: `/runs/*`) and then, when it
fires, adds latency, answers an error status without processing the request, or processes the request
and drops the connection before the answer. The string form, for `flora-mcp sandbox --faults`:

    spec    rules separated by ";" or new lines
    rule    [METHOD] PATH WORD...        METHOD: GET, POST, ... or * (any; the default)
                                         PATH:   /generate, /runs/*, or * (any API path)
    WORD    429 | 500 | 502 | 503 | ...  answer this status (error envelope), request not processed
            drop                         process the request, then close the connection unanswered
            first                        only the first request with each Idempotency-Key
            retry_after=S                with `Retry-After: S` (seconds; needs a status)
            latency=S                    wait S seconds before processing or answering
            p=P                          fire with probability P (0..1), drawn from the seeded random
            times=N                      fire at most N times

    "POST /generate drop first; * 429 retry_after=2 p=0.3; GET /runs/* latency=0.5"

Rules are consulted in the order added. Latency adds up over the rules that fire; the first rule that
fires with a status or a drop decides the answer, and later status or drop rules are not consulted
(so their `times`, `first` and random draws are not spent). A request without an Idempotency-Key
counts as the first of its own key.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Decision", "FaultRule", "FaultSet", "parse_faults"]

_API_PREFIX: Final = "/api/v1"
_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"})
_WORDS: Final = "a status (e.g. 503), drop, first, retry_after=S, latency=S, p=P, times=N"


@dataclass(frozen=True)
class FaultRule:
    """One fault; see the module docstring. `FaultRule.parse("POST /generate drop first")`."""

    method: str = "*"
    path: str = "*"
    status: int | None = None
    retry_after: float | None = None
    latency: float = 0.0
    drop_after_processing: bool = False
    probability: float = 1.0
    times: int | None = None
    first_only_per_idempotency_key: bool = False

    def __post_init__(self) -> None:
        path = self.path.removeprefix(_API_PREFIX) or "/"
        object.__setattr__(self, "method", self.method.upper())
        object.__setattr__(self, "path", path)
        problem = self._problem()
        if problem:
            raise ValueError(f"Fault rule {self}: {problem}")

    def _problem(self) -> str | None:
        if self.method not in _METHODS:
            return f"unknown method {self.method!r}"
        if self.path != "*" and not self.path.startswith("/"):
            return "the path must start with '/' or be '*'"
        if self.status is not None and not 400 <= self.status <= 599:
            return "the status must be an error status, 400 to 599"
        if self.status is not None and self.drop_after_processing:
            return "a rule either answers a status or drops the connection, not both"
        if self.status is None and not self.drop_after_processing and not self.latency:
            return f"it does nothing; give {_WORDS}"
        if self.retry_after is not None and (self.status is None or self.retry_after < 0):
            return "retry_after needs a status and must not be negative"
        if self.latency < 0 or not 0 <= self.probability <= 1:
            return "latency must not be negative and p must be between 0 and 1"
        if self.times is not None and self.times < 1:
            return "times must be at least 1"
        return None

    @property
    def has_outcome(self) -> bool:
        return self.status is not None or self.drop_after_processing

    def matches(self, method: str, path: str) -> bool:
        """`path` is below /api/v1, e.g. `/runs/run_1`."""
        return self.method in ("*", method) and (self.path == "*" or fnmatch.fnmatchcase(path, self.path))

    @classmethod
    def parse(cls, text: str) -> FaultRule:
        """One rule in the string form, e.g. `"* 429 retry_after=2 p=0.3"`."""
        words = text.split()
        if not words:
            raise ValueError("An empty fault rule")
        method = "*"
        if words[0].upper() in _METHODS and len(words) > 1 and _is_path(words[1]):
            method = words.pop(0)
        if not _is_path(words[0]):
            raise ValueError(f"Fault rule {text!r}: expected [METHOD] PATH first, got {words[0]!r}")
        status: int | None = None
        retry_after: float | None = None
        latency, probability, times, drop, first = 0.0, 1.0, None, False, False
        for word in words[1:]:
            name, _, value = word.partition("=")
            try:
                if word.isdigit():
                    status = int(word)
                elif word in ("drop", "first"):
                    drop, first = drop or word == "drop", first or word == "first"
                elif name == "retry_after":
                    retry_after = float(value)
                elif name == "latency":
                    latency = float(value)
                elif name in ("p", "probability"):
                    probability = float(value)
                elif name == "times":
                    times = int(value)
                else:
                    raise ValueError
            except ValueError:
                raise ValueError(f"Fault rule {text!r}: {word!r} is not one of: {_WORDS}") from None
        return cls(method, words[0], status, retry_after, latency, drop, probability, times, first)

    def __str__(self) -> str:
        """The string form; `FaultRule.parse(str(rule)) == rule`."""
        words = [self.method, self.path]
        words += [str(self.status)] if self.status is not None else []
        words += ["drop"] if self.drop_after_processing else []
        words += ["first"] if self.first_only_per_idempotency_key else []
        words += [f"retry_after={self.retry_after:g}"] if self.retry_after is not None else []
        words += [f"latency={self.latency:g}"] if self.latency else []
        words += [f"p={self.probability:g}"] if self.probability != 1 else []
        words += [f"times={self.times}"] if self.times is not None else []
        return " ".join(words)


def _is_path(word: str) -> bool:
    return word == "*" or word.startswith("/")


def parse_faults(spec: str) -> list[FaultRule]:
    """Rules separated by ";" or new lines (see the module docstring); ValueError names a bad one."""
    parts = (part.strip() for line in spec.splitlines() for part in line.split(";"))
    return [FaultRule.parse(part) for part in parts if part]


@dataclass(frozen=True)
class Decision:
    """What the faults make of one request."""

    latency: float = 0.0
    rule: FaultRule | None = None  # the rule that decides the answer (a status or a drop)

    @property
    def status(self) -> int | None:
        return self.rule.status if self.rule else None

    @property
    def retry_after(self) -> float | None:
        return self.rule.retry_after if self.rule else None

    @property
    def drop(self) -> bool:
        return self.rule is not None and self.rule.drop_after_processing


@dataclass
class _Entry:
    rule: FaultRule
    fired: int = 0
    keys_seen: set[tuple[str, str]] = field(default_factory=set)


class FaultSet:
    """The rules in force and the seeded random that decides probabilistic ones.

    `seed` None picks one at random; it is kept in `.seed` so a failing run can be replayed.
    Safe to change from a test's thread while the sandbox serves on its own.
    """

    def __init__(self, rules: Iterable[FaultRule] = (), *, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._entries = [_Entry(rule) for rule in rules]
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self._rng = random.Random(self.seed)

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return [entry.rule for entry in self._entries]

    def add(self, *rules: FaultRule) -> None:
        with self._lock:
            self._entries.extend(_Entry(rule) for rule in rules)

    def clear(self) -> None:
        """Remove every rule (and with them their counts and the keys they saw)."""
        with self._lock:
            self._entries.clear()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self.seed = seed
            self._rng = random.Random(seed)

    def fired(self, rule: FaultRule) -> int:
        """How many times `rule` (an added one, compared by value) has fired."""
        with self._lock:
            return sum(entry.fired for entry in self._entries if entry.rule == rule)

    def decide(self, method: str, path: str, api_key: str | None, idempotency_key: str | None) -> Decision:
        """Consult the rules for one request (`path` below /api/v1) and count the ones that fire."""
        latency, deciding = 0.0, None
        with self._lock:
            for entry in self._entries:
                rule = entry.rule
                if (deciding is not None and rule.has_outcome) or not rule.matches(method, path):
                    continue
                if rule.times is not None and entry.fired >= rule.times:
                    continue
                if rule.first_only_per_idempotency_key and idempotency_key is not None:
                    scoped = (api_key or "", idempotency_key)
                    if scoped in entry.keys_seen:
                        continue
                    entry.keys_seen.add(scoped)
                if rule.probability < 1 and self._rng.random() >= rule.probability:
                    continue
                entry.fired += 1
                latency += rule.latency
                if rule.has_outcome:
                    deciding = rule
        return Decision(latency, deciding)
