"""The one typed settings object, and the one place each setting is declared.

A setting is a field of `Settings`: its name gives the environment variable (`FLORA_<NAME>`),
its `description` the help, its default the default, and an `Option` in its annotation the
command-line flag. The command line (`cli.py`), `--help` and the README's table are built from
these declarations; nothing else in the package reads the environment.

Plain pydantic rather than pydantic-settings: the only source is `FLORA_*` variables, which
take five lines to read, and the library's import would add a tenth to the server's start-up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo

from flora_mcp._constants import DEFAULT_BASE_URL, DEFAULT_PROJECT_NAME, LOOPBACK_HOSTS

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
Transport = Literal["stdio", "sse", "http"]
ENV_PREFIX = "FLORA_"


@dataclass(frozen=True)
class Option:
    """A setting's command-line flag: on every command ("all"), only when serving ("serve"),
    or only on `flora-mcp demo` ("demo")."""

    flag: str
    scope: Literal["all", "serve", "demo"] = "all"


class Settings(BaseModel):
    """Read from `FLORA_*` environment variables by `from_env`; the command line overrides them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr | None = Field(
        default=None,
        description="FLORA API key; without one the embedded sandbox is started on loopback and used",
    )
    base_url: Annotated[str, Option("--base-url")] = Field(
        default=DEFAULT_BASE_URL, description="FLORA API base URL"
    )
    timeout: Annotated[float, Option("--timeout")] = Field(
        default=30.0, gt=0, description="seconds per FLORA API request"
    )
    max_attempts: Annotated[int, Option("--max-attempts")] = Field(
        default=4,
        ge=1,
        le=10,
        description="tries per API request (1 = no retries); connection errors, timeouts, 408, 429 and "
        "5xx are retried with backoff, honouring Retry-After",
    )
    retry_budget: Annotated[float, Option("--retry-budget")] = Field(
        default=60.0, gt=0, description="seconds one request may spend retrying, waits included"
    )
    workspace_id: str | None = Field(
        default=None, description="workspace `generate` uses when not told (default: the only one)"
    )
    project_name: str = Field(
        default=DEFAULT_PROJECT_NAME, min_length=1, description="project `generate` finds or creates"
    )
    media_origins: list[str] = Field(
        default=["https://media.flora.ai", "https://*.flora.ai", "https://ik.imagekit.io"],
        description="comma-separated origins FLORA serves outputs from, which the gallery view may load; "
        "origins FLORA gives asset or output URLs on are added as they are seen",
    )
    allowed_folders: list[str] = Field(
        default=["~"],
        description="comma-separated folders whose files may be uploaded and where outputs may be saved, "
        "when the MCP client names no roots (stdio only)",
    )
    upload_max_mb: float = Field(
        default=50.0, gt=0, le=500, description="largest local file to upload, in MB"
    )
    journal: str = Field(
        default="auto",
        description="the local run journal (SQLite): 'auto' (the user's data folder), a file path, or 'off'",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user:password@host/db) that every replica shares for the "
        "run journal, start leases and claims, and consent across replicas; default: the SQLite journal",
    )
    confirm_above: float = Field(
        default=1.0,
        ge=0,
        description="ask the user (elicitation) before a call whose quoted cost is above this many USD",
    )
    inline_max_side: Annotated[int, Option("--inline-max-side")] = Field(
        default=1024, ge=64, le=4096, description="longest side, in px, of images shown inline"
    )
    sandbox_speed: Annotated[float, Option("--sandbox-speed")] = Field(
        default=0.25, gt=0, description="sandbox run time as a fraction of each model's estimate"
    )
    output_dir: Annotated[Path, Option("--out", scope="demo")] = Field(
        default=Path("flora-demo"), description="where `flora-mcp demo` saves outputs"
    )
    log_level: Annotated[LogLevel, Option("--log-level")] = Field(
        default="WARNING", description="log level; logs go to stderr"
    )
    transport: Annotated[Transport, Option("--transport", scope="serve")] = Field(
        default="stdio", description="stdio, http (streamable HTTP at /mcp) or sse (legacy, at /sse)"
    )
    host: Annotated[str, Option("--host", scope="serve")] = Field(
        default="127.0.0.1", description="interface the http/sse transports bind"
    )
    port: Annotated[int, Option("--port", scope="serve")] = Field(
        default=8000, ge=0, le=65535, description="port for http/sse (0: a free one)"
    )
    stateless: Annotated[bool, Option("--stateless", scope="serve")] = Field(
        default=False,
        description="http: no server-side sessions, JSON responses (replicas behind any balancer)",
    )
    auth_token: Annotated[SecretStr | None, Option("--auth-token", scope="serve")] = Field(
        default=None,
        description="http/sse: clients must send 'Authorization: Bearer <token>' (prefer the variable: "
        "command lines are visible to other users)",
    )
    require_client_key: Annotated[bool, Option("--require-client-key", scope="serve")] = Field(
        default=False, description="http/sse: each client must send its own FLORA key as its bearer token"
    )
    allow_unauthenticated: Annotated[bool, Option("--allow-unauthenticated", scope="serve")] = Field(
        default=False,
        description="allow a non-loopback bind with no authentication (e.g. behind an authenticating proxy)",
    )

    @field_validator("media_origins", "allowed_folders", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """FLORA_MEDIA_ORIGINS=https://a.example,https://b.example"""
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from `FLORA_<NAME>` variables (strings, converted by the field types), then overrides."""
        environ = os.environ if environ is None else environ
        # An empty variable counts as unset: hosts (e.g. a bundle's cleared field) pass "" for "none".
        values = {
            name: environ[env_name(name)]
            for name in cls.model_fields
            if environ.get(env_name(name), "").strip()
        }
        return cls(**(values | overrides))

    @property
    def uses_sandbox(self) -> bool:
        """No key anywhere: the embedded sandbox stands in for FLORA."""
        return not self.require_client_key and (
            self.api_key is None or not self.api_key.get_secret_value().strip()
        )

    def exposure_problem(self) -> str | None:
        """Why serving with these settings would be unsafe, or None."""
        if self.require_client_key and self.api_key is not None:
            return (
                "--require-client-key and FLORA_API_KEY exclude each other: with client keys the server "
                "holds none. Unset FLORA_API_KEY, or drop --require-client-key and use --auth-token."
            )
        guarded = self.auth_token is not None or self.require_client_key or self.allow_unauthenticated
        if self.transport != "stdio" and self.host not in LOOPBACK_HOSTS and not guarded:
            return (
                f"refusing to serve on {self.host} without authentication: anyone who can reach it could "
                "spend this server's credits. Use --auth-token (with FLORA_API_KEY), or "
                "--require-client-key (each client sends its own FLORA key), or, if a proxy in front "
                "authenticates, --allow-unauthenticated."
            )
        return None


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def option_of(info: FieldInfo) -> Option | None:
    return next((m for m in info.metadata if isinstance(m, Option)), None)


def shown_default(info: FieldInfo) -> str:
    """A default as a person would write it in the environment."""
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def declared() -> Iterator[tuple[str, FieldInfo, Option | None]]:
    """Every setting in declaration order: (field name, field, its command-line option or None)."""
    for name, info in Settings.model_fields.items():
        yield name, info, option_of(info)


def settings_table() -> str:
    """The README's settings table, generated here so that the two cannot drift (a test compares)."""
    rows = ["| environment variable | option | default | what it sets |", "|---|---|---|---|"]
    for name, info, option in declared():
        flag = f"`{option.flag}`" if option else "—"
        if option and option.scope == "demo":
            flag = f"`demo {option.flag}`"
        rows.append(f"| `{env_name(name)}` | {flag} | {shown_default(info)} | {info.description} |")
    return "\n".join(rows)
