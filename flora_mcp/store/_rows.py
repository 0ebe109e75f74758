"""A journal row as plain data: the entry read back, the capped fields written, the account digest.

Shared by both databases: what is stored, and how big it may grow, does not depend on where.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from flora_mcp._folders import user_folder

RunKind = Literal["generation", "technique", "action"]
RUN_KINDS: frozenset[str] = frozenset({"generation", "technique", "action"})
INTENT = "intent"
"""`JournalEntry.status` of an intent: the POST was (about to be) sent, its answer never recorded."""

DEFAULT_MAX_ENTRIES = 5000
MAX_PROMPT_CHARS = 4000
MAX_PARAMS_BYTES = 8 * 1024
MAX_REFERENCES_BYTES = 4 * 1024
MAX_OUTPUTS_BYTES = 8 * 1024
MAX_SAVED_PATHS_BYTES = 4 * 1024
MAX_ERROR_CHARS = 1000
MAX_FIELD_CHARS = 200
"""Ids, model names, types and statuses: short by nature; capped so a bad caller cannot bloat a row."""

FILE_NAME = "runs.sqlite3"
_ACCOUNT_NAMESPACE = b"flora-mcp run journal account v1"
_TRUNCATION_MARK = "…"
_ACCOUNT_SHAPE = re.compile(r"[0-9a-f]{64}")

COLUMNS = (
    "local_id, run_id, kind, run_type, prompt, model, params, refs, workspace_id, project_id, "
    "quote_usd, started_at, status, cost_usd, outputs, seed, error, saved_paths, settled_at, truncated"
)
RUN_COLUMNS = (
    "kind",
    "run_type",
    "prompt",
    "model",
    "params",
    "refs",
    "workspace_id",
    "project_id",
    "quote_usd",
    "started_at",
)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One run (or intent) as the journal remembers it."""

    local_id: str
    run_id: str | None
    kind: str
    type: str | None
    prompt: str | None
    model: str | None
    params: dict[str, Any]
    references: list[str]
    workspace_id: str | None
    project_id: str | None
    quote_usd: float | None
    started_at: float
    status: str
    """`intent` until the run id is known, then FLORA's last status seen (pending … failed)."""
    cost_usd: float | None
    outputs: list[dict[str, Any]]
    seed: int | None
    error: str | None
    saved_paths: list[str]
    settled_at: float | None
    truncated: bool
    """A prompt, params, references or outputs were cut to fit the size caps."""


@dataclass(frozen=True, slots=True)
class RunFields:
    """What a run shares with its intent: the request that made it."""

    kind: RunKind
    type: str | None
    prompt: str | None
    model: str | None
    params: Mapping[str, Any]
    references: Iterable[str]
    workspace_id: str | None
    project_id: str | None
    quote_usd: float | None
    started_at: float

    def capped(self) -> tuple[dict[str, Any], bool]:
        """The columns, capped; and whether anything was cut."""
        if self.kind not in RUN_KINDS:
            raise ValueError(f"kind must be one of {sorted(RUN_KINDS)}, not {self.kind!r}")
        prompt_text, prompt_cut = cap_text(self.prompt, MAX_PROMPT_CHARS)
        params_json, params_cut = _capped_params(self.params)
        refs_json, refs_cut = capped_list(self.references, MAX_REFERENCES_BYTES)
        values = {
            "kind": self.kind,
            "run_type": short(self.type),
            "prompt": prompt_text,
            "model": short(self.model),
            "params": params_json,
            "refs": refs_json,
            "workspace_id": short(self.workspace_id),
            "project_id": short(self.project_id),
            "quote_usd": self.quote_usd,
            "started_at": self.started_at,
        }
        return values, prompt_cut or params_cut or refs_cut


def account_digest(key: str) -> str:
    """The journal's name for an API key: an HMAC-SHA256 under a fixed namespace.

    Not a bare `sha256(key)`, so the journal cannot be matched against another system's
    hashes of the same key; keys are long random strings, so guessing back is hopeless.
    """
    return hmac.new(_ACCOUNT_NAMESPACE, key.encode(), hashlib.sha256).hexdigest()


def check_account(account: str) -> None:
    # The promise is that no key is ever stored: refuse anything that is not a digest.
    if _ACCOUNT_SHAPE.fullmatch(account) is None:
        raise ValueError("account must be a digest from account_digest(key), never the key itself")


def default_journal_path(
    environ: Mapping[str, str] | None = None, *, platform: str | None = None, home: Path | None = None
) -> Path:
    """Where the journal lives unless settings say otherwise: the user's data folder (`_folders`)."""
    return user_folder("data", environ, platform=platform, home=home) / FILE_NAME


def entry_of(row: Any) -> JournalEntry:
    (local_id, run_id, kind, run_type, prompt, model, params, refs, workspace_id, project_id) = row[:10]
    (quote_usd, started_at, status, cost_usd, outputs, seed, error, saved_paths, settled_at) = row[10:19]
    return JournalEntry(
        local_id=local_id,
        run_id=run_id,
        kind=kind,
        type=run_type,
        prompt=prompt,
        model=model,
        params=json.loads(params),
        references=json.loads(refs),
        workspace_id=workspace_id,
        project_id=project_id,
        quote_usd=quote_usd,
        started_at=started_at,
        status=status,
        cost_usd=cost_usd,
        outputs=json.loads(outputs),
        seed=seed,
        error=error,
        saved_paths=json.loads(saved_paths),
        settled_at=settled_at,
        truncated=bool(row[19]),
    )


def dumps(value: Any) -> str:
    # default=str: params come from tool arguments and are JSON already; anything odd is kept as text.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def cap_text(text: str | None, limit: int) -> tuple[str | None, bool]:
    if text is None or len(text) <= limit:
        return text, False
    return text[: limit - len(_TRUNCATION_MARK)] + _TRUNCATION_MARK, True


def short(text: str | None) -> str | None:
    return cap_text(text, MAX_FIELD_CHARS)[0]


def _capped_params(params: Mapping[str, Any]) -> tuple[str, bool]:
    """Params as JSON within `MAX_PARAMS_BYTES`: the largest values are replaced by a note
    until it fits, so the small ones (aspect ratio, seed, …) that reproduce a run survive."""
    kept = dict(params)
    text = dumps(kept)
    if len(text.encode()) <= MAX_PARAMS_BYTES:
        return text, False
    by_size = sorted(kept, key=lambda name: len(dumps(kept[name]).encode()), reverse=True)
    for name in by_size:
        kept[name] = f"{_TRUNCATION_MARK} ({len(dumps(kept[name]).encode())} bytes, not journaled)"
        text = dumps(kept)
        if len(text.encode()) <= MAX_PARAMS_BYTES:
            return text, True
    return "{}", True


def capped_list(items: Iterable[Any], limit: int) -> tuple[str, bool]:
    """A JSON list of as many leading `items` as fit in `limit` bytes."""
    kept: list[Any] = []
    size = 2
    for item in items:
        size += len(dumps(item).encode()) + (1 if kept else 0)
        if size > limit:
            return dumps(kept), True
        kept.append(item)
    return dumps(kept), False
