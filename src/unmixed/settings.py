"""Configuration from flags or `UNMIXED_*` environment variables."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "unmixed"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNMIXED_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; a SQLite file in data_dir when unset."
    )
    api_key: str | None = Field(
        default=None, description="A key that is always valid, besides those made by `keys create`."
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'unmixed.db'}"
