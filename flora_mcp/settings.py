"""The one typed settings object; nothing else in the package reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_BASE_URL = "https://app.flora.ai/api/v1"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(BaseSettings):
    """Read from `FLORA_*` environment variables; the command line overrides them."""

    model_config = SettingsConfigDict(env_prefix="FLORA_", extra="ignore")

    api_key: SecretStr | None = Field(
        default=None, description="FLORA API key; without one the embedded sandbox is used"
    )
    base_url: str = Field(default=DEFAULT_BASE_URL, description="FLORA API base URL")
    timeout: float = Field(default=30.0, gt=0, description="seconds per FLORA API request")
    sandbox_speed: float = Field(
        default=0.25, gt=0, description="sandbox run time as a fraction of each model's estimate"
    )
    inline_max_side: int = Field(
        default=1024, ge=64, le=4096, description="longest side, in px, of images shown inline"
    )
    output_dir: Path = Field(default=Path("flora-demo"), description="where `flora-mcp demo` saves files")
    log_level: LogLevel = Field(default="WARNING", description="log level on stderr")

    @property
    def uses_sandbox(self) -> bool:
        return self.api_key is None or not self.api_key.get_secret_value().strip()
