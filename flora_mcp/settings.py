"""The one typed settings object; nothing else in the package reads the environment.

Plain pydantic rather than pydantic-settings: the only source is `FLORA_*` variables, which
take five lines to read, and the library's import would add a tenth to the server's start-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_BASE_URL = "https://app.flora.ai/api/v1"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
Transport = Literal["stdio", "sse", "http"]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


ENV_PREFIX = "FLORA_"


class Settings(BaseModel):
    """Read from `FLORA_*` environment variables by `from_env`; the command line overrides them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr | None = Field(
        default=None, description="FLORA API key; without one the embedded sandbox is used"
    )
    base_url: str = Field(default=DEFAULT_BASE_URL, description="FLORA API base URL")
    timeout: float = Field(default=30.0, gt=0, description="seconds per FLORA API request")
    max_attempts: int = Field(default=4, ge=1, le=10, description="tries per API request (1 = no retries)")
    retry_budget: float = Field(default=60.0, gt=0, description="seconds one request may spend retrying")
    sandbox_speed: float = Field(
        default=0.25, gt=0, description="sandbox run time as a fraction of each model's estimate"
    )
    media_origins: list[str] = Field(
        default=["https://flora.ai", "https://*.flora.ai"],
        description="origins FLORA serves outputs from, which the gallery view may load",
    )
    inline_max_side: int = Field(
        default=1024, ge=64, le=4096, description="longest side, in px, of images shown inline"
    )
    output_dir: Path = Field(default=Path("flora-demo"), description="where `flora-mcp demo` saves files")
    log_level: LogLevel = Field(default="WARNING", description="log level on stderr")
    workspace_id: str | None = Field(default=None, description="workspace `generate` uses when not told")
    project_name: str = Field(
        default="Quick generations", min_length=1, description="project `generate` finds or creates"
    )

    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    stateless: bool = False
    auth_token: SecretStr | None = None
    require_client_key: bool = False
    allow_unauthenticated: bool = False

    @field_validator("media_origins", mode="before")
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
            name: environ[ENV_PREFIX + name.upper()]
            for name in cls.model_fields
            if environ.get(ENV_PREFIX + name.upper(), "").strip()
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
